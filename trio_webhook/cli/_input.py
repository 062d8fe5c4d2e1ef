"""Input of the command line: messages as Discord's JSON, JSONL batches, webhook URLs, files.

Every problem is an :class:`InputError` whose message names the file, the line and the
field at fault, as ``batch.jsonl:3: embeds[0].fields[1]: missing required field 'value'``.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from trio_webhook._models import (
    AllowedMentions,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
)
from trio_webhook._url import parse_webhook_url

__all__ = [
    "ENV_URL",
    "InputError",
    "ca_context",
    "embed_option",
    "load_message",
    "message_from_json",
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


# --------------------------------------------------------------------------- message JSON


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _expect(value: object, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    ok = isinstance(value, kind) and not (
        isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
    )
    if not ok:
        raise InputError(f"{path}: expected {what}, got {_type_name(value)}")
    return value


def _keys(data: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            where = f"{path}: " if path else ""
            raise InputError(f"{where}unknown field {key!r}{hint}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _opt_str(data: Mapping[str, Any], key: str, path: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    return cast(str, _expect(value, str, _join(path, key), "a string"))


def _req_str(data: Mapping[str, Any], key: str, path: str) -> str:
    if key not in data:
        raise InputError(f"{path}: missing required field {key!r}")
    return cast(str, _expect(data[key], str, _join(path, key), "a string"))


def _opt_bool(data: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    return cast(bool, _expect(value, bool, _join(path, key), "true or false"))


def _opt_int(data: Mapping[str, Any], key: str, path: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    return cast(int, _expect(value, int, _join(path, key), "an integer"))


def _snowflake(value: object, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isdigit():
        return value
    raise InputError(f"{path}: expected a snowflake id (digits), got {_type_name(value)}")


def _obj(value: object, path: str) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], _expect(value, dict, path, "an object"))


def _list(data: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    return cast(list[Any], _expect(value, list, _join(path, key), "a list"))


def _media(value: object, path: str) -> EmbedMedia:
    data = _obj(value, path)
    # Discord echoes these back on received embeds; they are read-only, so ignore them.
    _keys(data, ("url", "proxy_url", "height", "width"), path)
    return EmbedMedia(_req_str(data, "url", path))


def _embed(value: object, path: str) -> Embed:
    data = _obj(value, path)
    _keys(
        data,
        (
            "title",
            "description",
            "url",
            "timestamp",
            "color",
            "footer",
            "image",
            "thumbnail",
            "author",
            "fields",
            "type",
        ),
        path,
    )
    kind = data.get("type")
    if kind is not None and kind != "rich":
        raise InputError(f"{path}.type: webhooks send only 'rich' embeds, not {kind!r}")
    timestamp: datetime | None = None
    raw_ts = _opt_str(data, "timestamp", path)
    if raw_ts is not None:
        try:
            timestamp = datetime.fromisoformat(raw_ts)
        except ValueError:
            raise InputError(
                f"{path}.timestamp: {raw_ts!r} is not an ISO 8601 time "
                "(as 2024-05-01T12:00:00+00:00)"
            ) from None
    footer = author = None
    if data.get("footer") is not None:
        fp = f"{path}.footer"
        fd = _obj(data["footer"], fp)
        _keys(fd, ("text", "icon_url", "proxy_icon_url"), fp)
        footer = EmbedFooter(_req_str(fd, "text", fp), icon_url=_opt_str(fd, "icon_url", fp))
    if data.get("author") is not None:
        ap = f"{path}.author"
        ad = _obj(data["author"], ap)
        _keys(ad, ("name", "url", "icon_url", "proxy_icon_url"), ap)
        author = EmbedAuthor(
            _req_str(ad, "name", ap),
            url=_opt_str(ad, "url", ap),
            icon_url=_opt_str(ad, "icon_url", ap),
        )
    fields = []
    for i, raw in enumerate(_list(data, "fields", path)):
        fp = f"{path}.fields[{i}]"
        fd = _obj(raw, fp)
        _keys(fd, ("name", "value", "inline"), fp)
        fields.append(
            EmbedField(
                _req_str(fd, "name", fp),
                _req_str(fd, "value", fp),
                inline=_opt_bool(fd, "inline", fp),
            )
        )
    return Embed(
        title=_opt_str(data, "title", path),
        description=_opt_str(data, "description", path),
        url=_opt_str(data, "url", path),
        timestamp=timestamp,
        color=_opt_int(data, "color", path),
        footer=footer,
        image=_media(data["image"], f"{path}.image") if data.get("image") is not None else None,
        thumbnail=(
            _media(data["thumbnail"], f"{path}.thumbnail")
            if data.get("thumbnail") is not None
            else None
        ),
        author=author,
        fields=fields,
    )


def _attachment(value: object, path: str, base_dir: Path) -> FilePart:
    data = _obj(value, path)
    _keys(data, ("path", "filename", "description", "spoiler", "content_type"), path)
    if "path" not in data:
        raise InputError(
            f"{path}: an attachment needs a 'path' to a local file "
            "(Discord's attachment ids are not accepted here)"
        )
    file_path = Path(_req_str(data, "path", path)).expanduser()
    if not file_path.is_absolute():
        file_path = base_dir / file_path
    if not file_path.is_file():
        raise InputError(f"{path}.path: no readable file at {file_path}")
    return FilePart.from_path(
        file_path,
        filename=_opt_str(data, "filename", path),
        description=_opt_str(data, "description", path),
        spoiler=bool(_opt_bool(data, "spoiler", path)),
        content_type=_opt_str(data, "content_type", path),
    )


def _allowed_mentions(value: object, path: str) -> AllowedMentions:
    data = _obj(value, path)
    _keys(data, ("parse", "users", "roles", "replied_user"), path)

    def strs(key: str) -> tuple[str, ...] | None:
        if data.get(key) is None:
            return None
        return tuple(
            _expect(v, str, f"{path}.{key}[{i}]", "a string")
            for i, v in enumerate(_list(data, key, path))
        )

    def ids(key: str) -> tuple[str, ...] | None:
        if data.get(key) is None:
            return None
        return tuple(
            _snowflake(v, f"{path}.{key}[{i}]") for i, v in enumerate(_list(data, key, path))
        )

    return AllowedMentions(
        parse=strs("parse"),
        users=ids("users"),
        roles=ids("roles"),
        replied_user=_opt_bool(data, "replied_user", path),
    )


_MESSAGE_KEYS: Final = (
    "content",
    "username",
    "avatar_url",
    "tts",
    "embeds",
    "attachments",
    "allowed_mentions",
    "flags",
    "thread_id",
    "thread_name",
    "applied_tags",
)


def message_from_json(data: object, *, base_dir: str | os.PathLike[str] = ".") -> Message:
    """Build a :class:`Message` from Discord's execute-webhook JSON.

    Accepts the body Discord documents (``content``, ``username``, ``avatar_url``,
    ``tts``, ``embeds``, ``allowed_mentions``, ``flags``, ``thread_name``,
    ``applied_tags``), plus ``thread_id`` (a query parameter on the wire) and
    ``attachments`` as a list of ``{"path": ..., "filename"?, "description"?,
    "spoiler"?, "content_type"?}`` naming local files. Unknown fields are errors, with a
    suggestion when one is close (``colour`` → ``color``).

    Args:
        data: The parsed JSON value.
        base_dir: Relative attachment paths are taken from here.

    Returns:
        The message (not yet checked against Discord's limits: see ``validate``).

    Raises:
        InputError: A field has the wrong type or name; the message gives its path, as
            ``embeds[0].fields[2].name``.
    """
    msg = _obj(data, "message")
    _keys(msg, _MESSAGE_KEYS, "")
    base = Path(base_dir)
    embeds = [_embed(e, f"embeds[{i}]") for i, e in enumerate(_list(msg, "embeds", ""))]
    files = [
        _attachment(a, f"attachments[{i}]", base)
        for i, a in enumerate(_list(msg, "attachments", ""))
    ]
    thread_id = None
    if msg.get("thread_id") is not None:
        thread_id = _snowflake(msg["thread_id"], "thread_id")
    tags = None
    if msg.get("applied_tags") is not None:
        tags = [
            _snowflake(t, f"applied_tags[{i}]")
            for i, t in enumerate(_list(msg, "applied_tags", ""))
        ]
    mentions = None
    if msg.get("allowed_mentions") is not None:
        mentions = _allowed_mentions(msg["allowed_mentions"], "allowed_mentions")
    return Message(
        content=_opt_str(msg, "content", ""),
        username=_opt_str(msg, "username", ""),
        avatar_url=_opt_str(msg, "avatar_url", ""),
        tts=_opt_bool(msg, "tts", ""),
        embeds=embeds,
        attachments=files,
        allowed_mentions=mentions,
        flags=_opt_int(msg, "flags", ""),
        thread_id=thread_id,
        thread_name=_opt_str(msg, "thread_name", ""),
        applied_tags=tags,
    )


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
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def load_message(path: str) -> Message:
    """Read one message from a JSON file (``-`` for stdin).

    Raises:
        InputError: The file is unreadable, not JSON, or not a message.
    """
    data = _parse_json(_read_text(path), path)
    base = Path(path).parent if path != "-" else Path()
    return _prefixed(path, lambda: message_from_json(data, base_dir=base))


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
        messages.append(_prefixed(where, functools.partial(message_from_json, data, base_dir=base)))
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
    return _prefixed(where, lambda: _embed(data, "embed"))


def parse_snowflake(value: str, option: str) -> str:
    """A snowflake id given on the command line (``--thread-id``).

    Raises:
        InputError: ``value`` is not digits.
    """
    return _snowflake(value, option)


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
        return args[0], args[1]
    if len(args) == 1:
        if not url_env:
            raise InputError(f"no webhook URL: give it before {what} or set {ENV_URL}")
        return url_env, args[0]
    raise InputError(f"expected [URL] {what}, got {len(args)} arguments")
