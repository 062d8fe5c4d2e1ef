"""SenderConfig: every knob of a sender, validated once, from keywords, the environment or TOML.

A bad value raises one :class:`ConfigError` naming the key (or the environment variable, or
the file and table), the value, and what is expected, so a typo in a deployment fails at
start-up and says where to look.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal, cast

import attrs

from trio_webhook._config_load import Kind, load_env, load_toml
from trio_webhook._errors import ConfigError

if TYPE_CHECKING:
    # For the annotation only: importing the sinks at run time would pull trio into config.
    from trio_webhook._sinks import DeadLetterTarget
    from trio_webhook.outbox import Outbox
    from trio_webhook.ratelimit._store import AsyncRateLimitStore, RateLimitStore

__all__ = ["DEFAULT_CONFIG", "ConfigError", "SenderConfig", "Strategy"]

Strategy = Literal["reactive", "proactive", "adaptive"]
_STRATEGIES: Final = ("reactive", "proactive", "adaptive")

KiB: Final = 1024
MiB: Final = 1024 * KiB


def _is_int(value: object) -> bool:
    # bool is an int subclass; ``queue_cap=True`` is a mistake, not 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(cast(float, value))


@attrs.frozen(kw_only=True)
class SenderConfig:
    """How a sender queues, paces, retries and gives up.

    Every argument is keyword-only and validated; see :meth:`from_env` and
    :meth:`from_toml` for the other two sources.

    Attributes:
        queue_cap: Messages next in line for the sender task: never shed, and not
            counted against ``high_water`` or ``max_buffered``.
        high_water: Buffered messages past which ``send_nowait`` sheds attachments
            (oldest first); ``None`` means ``2 * queue_cap``. See :attr:`high_water_mark`.
        max_buffered: Hard cap of buffered messages; ``send_nowait`` raises ``QueueFull``
            past it.
        connect_timeout: Seconds allowed to connect.
        total_timeout: Seconds allowed for a whole request (connect, send, response, body).
        max_response_bytes: Response bodies are read up to this many bytes.
        max_attempts: Requests made for one planned request before it is dead-lettered.
        backoff_base: Smallest retry delay in seconds (decorrelated jitter).
        backoff_cap: Largest retry delay in seconds.
        retry_ambiguous: Retry faults that may have posted the message already (a read
            timeout, 500, 504); ``False`` dead-letters them instead (at-most-once).
        strategy: Rate-limit strategy: ``reactive``, ``proactive`` or ``adaptive``.
        proactive_threshold: With ``proactive``, start spreading requests when
            ``X-RateLimit-Remaining`` falls to this.
        drain_timeout: Seconds allowed, on leaving the sender, to deliver what is queued;
            the rest is dead-lettered as ``shutdown``.
        dead_letter: Where dead letters go: a JSONL path, a sink, a callable, or ``None``.
        dead_letter_attachments: Whether dead-letter records keep file bytes (lossless
            replay) or only their metadata.
        max_upload_bytes: Largest file accepted for upload (Discord's default is 10 MiB a
            file; a boosted server allows more).
        max_request_bytes: Most bytes all files of one request may upload (25 MiB by
            default, as observed); the sender splits the files of a message to fit.
        wait: Execute with ``wait=true`` so receipts carry Discord's message ids.
        dry_run: Do everything but the final POST; receipts get synthetic ids.
        split_content: Cut content over 2000 characters into several messages;
            ``False`` refuses it at ``send_nowait`` (see ``docs/messages.md``).
        seed: Seed of the retry jitter's random generator (``None``: unpredictable).
        outbox: Where accepted messages are kept until settled, so a crash loses none:
            a SQLite file path, an :class:`~trio_webhook.outbox.Outbox`, or ``None``
            (memory only). See ``docs/durability.md``.
        share_outbox: When another process holds the webhook's lease on a shared outbox
            (Redis), open anyway as an *appender*: commit to it, let the holder deliver,
            and take over when its lease is free. ``False`` refuses with
            ``OutboxLeaseHeld``, as does an outbox that cannot be shared (SQLite). See
            ``docs/many-processes.md``.
        rate_limit_store: Where the rate-limit state lives: a ``redis://`` URL (shared by
            every process and machine using it; senders of one process with the same URL
            share one store and connection pool), a store object, or ``None`` (this
            process's memory). From the environment: ``TRIO_WEBHOOK_REDIS_URL`` (or
            ``TRIO_WEBHOOK_RATE_LIMIT_STORE``). See ``docs/many-processes.md``.

    Example::

        SenderConfig(queue_cap=50, strategy="proactive", dead_letter="dead.jsonl")
    """

    queue_cap: int = 100
    high_water: int | None = None
    max_buffered: int = 10_000
    connect_timeout: float = 2.0
    total_timeout: float = 10.0
    max_response_bytes: int = 1 * MiB
    max_attempts: int = 5
    backoff_base: float = 0.25
    backoff_cap: float = 10.0
    retry_ambiguous: bool = True
    strategy: Strategy = "adaptive"
    proactive_threshold: int = 1
    drain_timeout: float = 30.0
    dead_letter: DeadLetterTarget = None
    dead_letter_attachments: bool = True
    max_upload_bytes: int = 10 * MiB
    max_request_bytes: int = 25 * MiB
    wait: bool = True
    dry_run: bool = False
    split_content: bool = True
    seed: int | None = None
    outbox: str | os.PathLike[str] | Outbox | None = None
    share_outbox: bool = False
    rate_limit_store: str | RateLimitStore | AsyncRateLimitStore | None = attrs.field(
        default=None, repr=lambda value: repr(_redact_password(value))
    )

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @property
    def high_water_mark(self) -> int:
        """The effective high-water mark: ``high_water``, or ``2 * queue_cap`` when unset."""
        return self.high_water if self.high_water is not None else 2 * self.queue_cap

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        prefix: str = "TRIO_WEBHOOK_",
        base: SenderConfig | None = None,
    ) -> SenderConfig:
        """A config from ``TRIO_WEBHOOK_*`` environment variables over ``base``.

        Each setting reads ``<prefix><KEY>`` (``TRIO_WEBHOOK_QUEUE_CAP=50``). Booleans
        take ``1/0``, ``true/false``, ``yes/no``, ``on/off``; ``high_water`` and ``seed``
        take ``none`` (or an empty value) for ``None``; ``dead_letter`` is a JSONL path
        (empty or ``none`` for no sink); ``TRIO_WEBHOOK_REDIS_URL`` sets
        ``rate_limit_store`` unless ``TRIO_WEBHOOK_RATE_LIMIT_STORE`` does. Variables not
        set keep ``base``'s values.

        Args:
            environ: The variables to read; ``os.environ`` when ``None``.
            prefix: The variable prefix.
            base: The config to start from; ``SenderConfig()`` when ``None``.

        Returns:
            The new config.

        Raises:
            ConfigError: A variable does not parse, or the result is inconsistent; the
                message names the variable and the expected form.
        """
        start = base if base is not None else cls()
        return load_env(
            functools.partial(attrs.evolve, start), environ, prefix=prefix, kinds=_KINDS
        )

    @classmethod
    def from_toml(
        cls,
        path: str | os.PathLike[str],
        *,
        table: str = "trio_webhook",
        base: SenderConfig | None = None,
    ) -> SenderConfig:
        """A config from a TOML file's ``[trio_webhook]`` (or ``[tool.trio_webhook]``) table.

        The ``[tool.<table>]`` form is what a ``pyproject.toml`` holds. A relative
        ``dead_letter`` or ``outbox`` path is taken relative to the TOML file's directory,
        so the config means the same whatever the working directory.

        Args:
            path: The TOML file.
            table: The table's name (dotted for nesting, as ``app.webhook``).
            base: The config to start from; ``SenderConfig()`` when ``None``.

        Returns:
            The new config.

        Raises:
            ConfigError: The table is missing, holds unknown keys (each named), or a value
                is invalid (the message names the file, table and key).
            OSError: The file cannot be read.
            tomllib.TOMLDecodeError: The file is not valid TOML.
        """
        start = base if base is not None else cls()
        return load_toml(functools.partial(attrs.evolve, start), path, table=table, kinds=_KINDS)


# How each setting is spelt in an environment variable.
_KINDS: Final[dict[str, Kind]] = {
    "queue_cap": "int",
    "high_water": "opt_int",
    "max_buffered": "int",
    "connect_timeout": "float",
    "total_timeout": "float",
    "max_response_bytes": "int",
    "max_attempts": "int",
    "backoff_base": "float",
    "backoff_cap": "float",
    "retry_ambiguous": "bool",
    "strategy": "strategy",
    "proactive_threshold": "int",
    "drain_timeout": "float",
    "dead_letter": "path",
    "dead_letter_attachments": "bool",
    "max_upload_bytes": "int",
    "max_request_bytes": "int",
    "wait": "bool",
    "dry_run": "bool",
    "split_content": "bool",
    "seed": "opt_int",
    "outbox": "path",
    "share_outbox": "bool",
    "rate_limit_store": "path",
}


def _check_int(key: str, value: object, low: int) -> None:
    if not _is_int(value) or cast(int, value) < low:
        raise ConfigError(key, value, f"an integer >= {low}")


def _check_seconds(key: str, value: object, *, allow_zero: bool = False) -> None:
    if not _is_number(value) or cast(float, value) < 0 or (not allow_zero and value == 0):
        what = ">= 0" if allow_zero else "> 0"
        raise ConfigError(key, value, f"a finite number of seconds {what}")


def _validate(c: SenderConfig) -> None:
    _check_int("queue_cap", c.queue_cap, 1)
    if c.high_water is not None:
        _check_int("high_water", c.high_water, 1)
        if c.high_water < c.queue_cap:
            raise ConfigError(
                "high_water", c.high_water, f"an integer >= queue_cap ({c.queue_cap}) or None"
            )
    _check_int("max_buffered", c.max_buffered, 1)
    if c.max_buffered < c.high_water_mark:
        raise ConfigError(
            "max_buffered",
            c.max_buffered,
            f"an integer >= the high-water mark ({c.high_water_mark})",
        )
    _check_seconds("connect_timeout", c.connect_timeout)
    _check_seconds("total_timeout", c.total_timeout)
    if c.connect_timeout > c.total_timeout:
        raise ConfigError(
            "connect_timeout",
            c.connect_timeout,
            f"at most total_timeout ({c.total_timeout}), which bounds the whole request",
        )
    _check_int("max_response_bytes", c.max_response_bytes, 1)
    _check_int("max_attempts", c.max_attempts, 1)
    _check_seconds("backoff_base", c.backoff_base)
    _check_seconds("backoff_cap", c.backoff_cap)
    if c.backoff_base > c.backoff_cap:
        raise ConfigError("backoff_base", c.backoff_base, f"at most backoff_cap ({c.backoff_cap})")
    for key in (
        "retry_ambiguous",
        "dead_letter_attachments",
        "wait",
        "dry_run",
        "split_content",
        "share_outbox",
    ):
        value = getattr(c, key)
        if not isinstance(value, bool):
            raise ConfigError(key, value, "True or False")
    if c.strategy not in _STRATEGIES:
        raise ConfigError("strategy", c.strategy, "one of " + ", ".join(map(repr, _STRATEGIES)))
    _check_int("proactive_threshold", c.proactive_threshold, 0)
    _check_seconds("drain_timeout", c.drain_timeout, allow_zero=True)
    _check_dead_letter(c.dead_letter)
    _check_outbox(c.outbox)
    _check_rate_limit_store(c.rate_limit_store)
    _check_int("max_upload_bytes", c.max_upload_bytes, 1)
    _check_int("max_request_bytes", c.max_request_bytes, 1)
    if c.seed is not None and not _is_int(c.seed):
        raise ConfigError("seed", c.seed, "an integer or None")


def _check_outbox(target: object) -> None:
    if target is None or isinstance(target, os.PathLike):
        return
    if isinstance(target, str):
        if not target.strip():
            raise ConfigError("outbox", target, "a non-empty SQLite file path, an Outbox or None")
        return
    if callable(getattr(target, "append", None)) and callable(getattr(target, "take", None)):
        return
    raise ConfigError("outbox", target, "a SQLite file path, an Outbox object, or None")


_REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://")
_PASSWORD_RE: Final = re.compile(r"(//[^:/@]*:)[^@/]*@")


def _redact_password(value: object) -> object:
    return _PASSWORD_RE.sub(r"\1***@", value) if isinstance(value, str) else value


def _check_rate_limit_store(target: object) -> None:
    if target is None:
        return
    if isinstance(target, str):
        if not target.startswith(_REDIS_SCHEMES):
            # Never echo the value: a Redis URL may carry a password.
            shown = target.split("://", 1)[0] + "://..." if "://" in target else "<not a URL>"
            raise ConfigError(
                "rate_limit_store", shown, "a redis://, rediss:// or unix:// URL, a store or None"
            )
        return
    if callable(getattr(target, "reserve", None)) and callable(getattr(target, "update", None)):
        return
    raise ConfigError(
        "rate_limit_store",
        target,
        "a redis:// URL, a RateLimitStore (reserve and update), or None",
    )


def _check_dead_letter(target: object) -> None:
    if target is None or isinstance(target, os.PathLike):
        return
    if isinstance(target, str):
        if not target.strip():
            raise ConfigError("dead_letter", target, "a non-empty path, a sink, a callable or None")
        return
    if callable(getattr(target, "put", None)) or callable(target):
        return
    raise ConfigError(
        "dead_letter",
        target,
        "a JSONL path, an object with async put(record), a callable, or None",
    )


DEFAULT_CONFIG: Final = SenderConfig()
"""The config of a sender given none: built and validated once (it is frozen), not per sender."""
