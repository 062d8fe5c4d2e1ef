"""RelayConfig: where the relay listens, who may use it, and where it sends.

Read from keywords, a TOML file (``[relay]``, with the senders' settings in
``[relay.sender]``) or ``TRIO_WEBHOOK_RELAY_*`` variables (the senders' from the usual
``TRIO_WEBHOOK_*``). A bad value raises one :class:`ConfigError` naming the key; a
secret is never echoed.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from trio_webhook._config import SenderConfig
from trio_webhook._errors import ConfigError, InvalidWebhookURL
from trio_webhook._url import _is_loopback, parse_webhook_url

__all__ = ["DEFAULT_OUTBOX", "ENV_PREFIX", "RelayConfig", "split_listen"]

ENV_PREFIX: Final = "TRIO_WEBHOOK_RELAY_"
DEFAULT_OUTBOX: Final = "trio-webhook-relay.sqlite3"
_MIB: Final = 1024 * 1024


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` (or ``"[::1]:8080"``) as ``(host, port)``.

    Raises:
        ConfigError: Not ``host:port`` with a port from 0 to 65535.
    """
    host, sep, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError("listen", listen, "host:port, as 127.0.0.1:8080 or [::1]:8080")
    return host, int(port)


def _default_sender() -> SenderConfig:
    return SenderConfig(outbox=DEFAULT_OUTBOX)


def _ids(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return tuple(str(v).strip() for v in value)  # type: ignore[attr-defined]


def _urls(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    return tuple(str(v).strip() for v in value)  # type: ignore[attr-defined]


@attrs.frozen(kw_only=True)
class RelayConfig:
    """How a relay listens, whom it serves, and how it delivers.

    Attributes:
        listen: ``host:port`` to bind (default ``127.0.0.1:8080``, loopback only).
        public: Allow a non-loopback ``listen`` (also needs ``secret`` or ``allow``).
        secret: The shared secret a request must carry (``Authorization: Bearer ...`` or
            ``?relay_key=...``); ``None``: none asked for. Never shown in a repr.
        allow: The webhook ids the relay serves; empty: any id (then only with a secret
            beyond loopback).
        upstream: The Discord origin URLs are rewritten to. A test or staging setting
            (a FakeDiscord's ``https://127.0.0.1:PORT``); leave it for real Discord.
        ca_file: A PEM CA to trust for ``upstream`` (with a fake's certificate).
        webhooks: Webhook URLs (secrets: never shown) whose backlog in the outbox is
            delivered at start; the backlog of any other webhook waits for its next post,
            since the outbox keeps ids, never tokens.
        idle_timeout: Seconds a webhook's sender stays open with nothing to do.
        max_body_bytes: The largest request body read (Discord's own limit is 25 MiB).
        sender: The senders' settings (outbox, retries, strategy, Redis, dead letters).
    """

    listen: str = "127.0.0.1:8080"
    public: bool = False
    secret: str | None = attrs.field(default=None, repr=lambda s: "None" if s is None else "***")
    allow: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    upstream: str = "https://discord.com"
    ca_file: str | None = None
    webhooks: tuple[str, ...] = attrs.field(
        default=(), converter=_urls, repr=lambda u: f"<{len(u)}>"
    )
    idle_timeout: float = 300.0
    max_body_bytes: int = 25 * _MIB
    sender: SenderConfig = attrs.field(factory=_default_sender)

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` split into host and port."""
        return split_listen(self.listen)

    def refusal(self) -> str | None:
        """Why this relay must not start (one line), or ``None`` when it may.

        Beyond loopback it needs ``public`` and a secret or an allow-list: a relay that
        anyone can reach and that posts for anyone is an open proxy.
        """
        host, _ = self.host_port
        if _is_loopback(host):
            return None
        if not self.public:
            return (
                f"refusing to listen on {self.listen}: beyond loopback needs --public "
                "(and a secret or an allow-list of webhook ids)"
            )
        if self.secret is None and not self.allow:
            return (
                f"refusing to listen publicly on {self.listen} without protection: set a "
                "secret (--secret-env, TRIO_WEBHOOK_RELAY_SECRET) or an allow-list of "
                "webhook ids (--allow), or the relay is an open proxy"
            )
        return None

    @classmethod
    def from_toml(
        cls, path: str | os.PathLike[str], *, base: RelayConfig | None = None
    ) -> RelayConfig:
        """A config from a TOML file's ``[relay]`` table (senders: ``[relay.sender]``).

        Raises:
            ConfigError: The table is missing, or a key is unknown or invalid.
            OSError: The file cannot be read.
        """
        p = Path(path)
        with p.open("rb") as f:
            data = tomllib.load(f)
        table = data.get("relay")
        if not isinstance(table, dict):
            raise ConfigError("table", "relay", f"a [relay] table in {p}", where=str(p))
        values = {k: v for k, v in table.items() if k != "sender"}
        base = base if base is not None else cls()
        if "sender" in table:
            values["sender"] = SenderConfig.from_toml(p, table="relay.sender", base=base.sender)
        return _evolve(base, values, where=f"{p} [relay]")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, base: RelayConfig | None = None
    ) -> RelayConfig:
        """A config from ``TRIO_WEBHOOK_RELAY_<KEY>`` variables over ``base``.

        ``PUBLIC`` takes 1/0, true/false; ``ALLOW`` ids and ``WEBHOOKS`` URLs are
        whitespace- (or, for ids, comma-) separated; the senders' settings are read by
        :meth:`SenderConfig.from_env` (``TRIO_WEBHOOK_OUTBOX``, ``TRIO_WEBHOOK_REDIS_URL``...).

        Raises:
            ConfigError: A variable is invalid (named in the message).
        """
        env = os.environ if environ is None else environ
        base = base if base is not None else cls()
        values: dict[str, Any] = {}
        for key in _KEYS:
            var = ENV_PREFIX + key.upper()
            if var in env:
                values[key] = _from_text(key, var, env[var])
        values["sender"] = SenderConfig.from_env(env, base=base.sender)
        return _evolve(base, values, where="the environment")


_KEYS: Final = (
    "listen",
    "public",
    "secret",
    "allow",
    "upstream",
    "ca_file",
    "webhooks",
    "idle_timeout",
    "max_body_bytes",
)


def _from_text(key: str, var: str, raw: str) -> object:
    text = raw.strip()
    if key == "public":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(var, raw, "a boolean: 1/0, true/false, yes/no or on/off")
    try:
        if key == "idle_timeout":
            return float(text)
        if key == "max_body_bytes":
            return int(text.replace("_", ""))
    except ValueError:
        raise ConfigError(var, raw, "a number") from None
    if key in ("secret", "ca_file"):
        return text or None
    return text


def _evolve(base: RelayConfig, values: dict[str, Any], *, where: str) -> RelayConfig:
    unknown = sorted(set(values) - {*_KEYS, "sender"})
    if unknown:
        raise ConfigError(
            "unknown keys", ", ".join(unknown), "only " + ", ".join(_KEYS), where=where
        )
    try:
        return attrs.evolve(base, **values)
    except ConfigError as exc:
        raise ConfigError(exc.key, exc.value, exc.expected, where=where) from None


def _validate(c: RelayConfig) -> None:
    split_listen(c.listen)
    if not isinstance(c.public, bool):
        raise ConfigError("public", c.public, "true or false")
    if c.secret is not None and (not isinstance(c.secret, str) or len(c.secret) < 16):
        raise ConfigError("secret", "***", "a string of at least 16 characters")
    for webhook_id in c.allow:
        if not webhook_id.isdigit():
            raise ConfigError("allow", webhook_id, "webhook ids (snowflakes: digits only)")
    if not c.upstream.startswith(("https://", "http://127.", "http://[::1]")):
        raise ConfigError("upstream", c.upstream, "an https:// origin (http only to loopback)")
    for url in c.webhooks:
        try:
            parse_webhook_url(url)
        except InvalidWebhookURL as exc:
            raise ConfigError("webhooks", "<a URL, not shown>", str(exc)) from None
    if (
        not isinstance(c.idle_timeout, int | float)
        or not math.isfinite(c.idle_timeout)
        or c.idle_timeout <= 0
    ):
        raise ConfigError("idle_timeout", c.idle_timeout, "a finite number of seconds > 0")
    if not isinstance(c.max_body_bytes, int) or c.max_body_bytes < 1024:
        raise ConfigError("max_body_bytes", c.max_body_bytes, "an integer >= 1024")
    if c.sender.outbox is None:
        raise ConfigError(
            "sender.outbox",
            None,
            "a SQLite path or a redis:// URL: the relay answers 204 "
            "only once a message is committed",
        )
