"""Input of the command line: message files, JSONL batches, options, webhook URLs.

Every problem is an :class:`InputError` whose message names the file, the line and the
field at fault, as ``batch.jsonl:3: embeds[0].fields[1]: missing required field 'value'``.
"""

from __future__ import annotations

import functools
import json
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from trio_webhook._errors import JSONMessageError
from trio_webhook._from_json import Snowflake, read_json
from trio_webhook._models import Embed, Message, message_from_json
from trio_webhook._url import parse_webhook_url

__all__ = [
    "ENV_URL",
    "InputError",
    "ca_context",
    "embed_option",
    "load_message",
    "parse_snowflake",
    "read_jsonl_messages",
    "require_url",
    "split_url_and_file",
]

ENV_URL: Final = "TRIO_WEBHOOK_URL"
"""The environment variable every command reads the webhook URL from when none is given."""

T = TypeVar("T")


class InputError(ValueError):
    """Input the command line cannot use: the message names the file and field at fault."""


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def _prefixed(where: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (InputError, JSONMessageError) as exc:
        raise InputError(f"{where}: {exc}") from None


def _message(data: Any, base: Path) -> Message:
    """The message of one JSON document; its files must exist (relative to ``base``)."""
    if not isinstance(data, dict):
        # Parsed already (a JSON string is no message text); read_json words the error.
        return read_json(data, Message)
    message = message_from_json(data, base_dir=base)
    for i, part in enumerate(message.attachments):
        if part.path is not None and not part.path.is_file():
            raise InputError(f"attachments[{i}].path: no readable file at {part.path}")
    return message


def load_message(path: str) -> Message:
    """Read one message from a JSON file (``-`` for stdin).

    Raises:
        InputError: The file is unreadable, not JSON, or not a message.
    """
    data = _parse_json(_read_text(path), path)
    base = Path(path).parent if path != "-" else Path()
    return _prefixed(path, lambda: _message(data, base))


def read_jsonl_messages(path: str) -> list[Message]:
    """Read a JSONL file of messages (one JSON object a line; blank lines skipped).

    Every line is read before anything is sent, so a bad line fails the whole file.

    Raises:
        InputError: A line is not JSON or not a message (named as ``file:line``).
    """
    text = _read_text(path)
    base = Path(path).parent if path != "-" else Path()
    messages = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        data = _parse_json(line, where)
        messages.append(_prefixed(where, functools.partial(_message, data, base)))
    if not messages:
        raise InputError(f"{path}: no messages in the file")
    return messages


def embed_option(value: str) -> Embed:
    """An embed given as ``--embed``: Discord's JSON, or ``@file.json``.

    Raises:
        InputError: The file is unreadable, or the JSON is not an embed.
    """
    if value.startswith("@"):
        where = value[1:]
        data = _parse_json(_read_text(where), where)
    else:
        where = "--embed"
        data = _parse_json(value, where)
    return _prefixed(where, lambda: read_json(data, Embed, root="embed"))


def parse_snowflake(value: str, option: str) -> str:
    """A snowflake id given on the command line (``--thread-id``).

    Raises:
        InputError: ``value`` is not digits.
    """
    try:
        return read_json(value, Snowflake, root=option)
    except JSONMessageError as exc:
        raise InputError(str(exc)) from None


def require_url(url: str | None) -> str:
    """The webhook URL, checked (the token never appears in the error).

    Raises:
        InputError: No URL was given.
        InvalidWebhookURL: The URL is not a webhook's.
    """
    if not url:
        raise InputError(f"no webhook URL: give it as an argument or set {ENV_URL}")
    parse_webhook_url(url)  # raises InvalidWebhookURL, which never shows the token
    return url


def ca_context(ca_file: str | None) -> ssl.SSLContext | None:
    """An SSL context that trusts ``ca_file`` too (``--ca-file``), or ``None`` without one.

    Raises:
        InputError: The file is missing or not a PEM certificate.
    """
    if ca_file is None:
        return None
    if not Path(ca_file).is_file():
        raise InputError(f"--ca-file: no such file {ca_file}")
    try:
        return ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:
        raise InputError(f"--ca-file {ca_file}: not a PEM certificate ({exc.reason})") from None


def split_url_and_file(args: tuple[str, ...], url_env: str | None, what: str) -> tuple[str, str]:
    """Split ``[URL] FILE`` arguments; the URL defaults to ``url_env``.

    Raises:
        InputError: No URL anywhere, or not one or two arguments.
    """
    if len(args) == 2:
        first, second = args
        if "://" in second and "://" not in first:
            # FILE URL: the order `replay` took before every command put the URL first.
            first, second = second, first
        return first, second
    if len(args) == 1:
        if not url_env:
            raise InputError(f"no webhook URL: give it before {what} or set {ENV_URL}")
        return url_env, args[0]
    raise InputError(f"expected [URL] {what}, got {len(args)} arguments")
