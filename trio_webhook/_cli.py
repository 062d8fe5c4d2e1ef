"""The ``trio-webhook`` command line: demo, send, send-batch, replay, serve-fake, validate.

Every command turns bad input (a malformed URL, an unreadable file, invalid JSON, a
message over Discord's limits, an error from Discord) into one line on stderr and a
non-zero exit status; webhook tokens are redacted from everything it prints, except the
URL of the fake that ``serve-fake`` creates for you.

The work itself lives in plain async functions (:func:`send_message`,
:func:`send_messages`, :func:`replay_file`) that take an optional ``http_transport`` and
``ssl_context``, so that tests reach an in-process fake without sockets.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import logging
import math
import os
import ssl
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn, ParamSpec, TypeVar, cast, get_args

import attrs
import click
import trio

from trio_webhook._config import SenderConfig, Strategy
from trio_webhook._errors import DeliveryFailed, ValidationError, WebhookError
from trio_webhook._limits import validate
from trio_webhook._models import (
    AllowedMentions,
    Delivery,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
)
from trio_webhook._planning import PlannedRequest, plan_requests
from trio_webhook._url import parse_webhook_url, redact
from trio_webhook._version import __version__

if TYPE_CHECKING:
    import httpx
    from rich.console import Console

    from trio_webhook._demo import DemoResult
    from trio_webhook._sender import ReplayResult, SenderStats

__all__ = [
    "ENV_URL",
    "InputError",
    "cli",
    "load_message",
    "main",
    "message_from_json",
    "read_jsonl_messages",
    "replay_file",
    "send_message",
    "send_messages",
]

ENV_URL: Final = "TRIO_WEBHOOK_URL"
"""The environment variable every command reads the webhook URL from when none is given."""

P = ParamSpec("P")
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


def _embed_option(value: str) -> Embed:
    if value.startswith("@"):
        where = value[1:]
        data = _parse_json(_read_text(where), where)
    else:
        where = "--embed"
        data = _parse_json(value, where)
    return _prefixed(where, lambda: _embed(data, "embed"))


# --------------------------------------------------------------------------- the work


async def send_message(
    url: str,
    message: Message,
    *,
    ssl_context: ssl.SSLContext | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> Delivery:
    """Send one message with a :class:`~trio_webhook.WebhookClient` and return the delivery.

    Raises:
        WebhookError: Any failure (validation, Discord's answer, transport, retries).
    """
    from trio_webhook._client import WebhookClient

    async with WebhookClient(url, ssl_context=ssl_context, http_transport=http_transport) as c:
        return await c.execute(message, wait=True)


ProgressFn = Callable[[int, int], None]


async def send_messages(
    url: str,
    messages: Iterable[Message],
    *,
    config: SenderConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    progress: ProgressFn | None = None,
) -> SenderStats:
    """Send many messages through a sender, waiting for room rather than shedding.

    Args:
        url: The webhook URL.
        messages: The messages, in order.
        config: The sender's config (dead-letter target included).
        ssl_context: Trust for the server's certificate.
        http_transport: An httpx transport instead of the network (tests).
        progress: Called with ``(delivered, dead)`` as each message resolves.

    Returns:
        The sender's counters after it closed.
    """
    from trio_webhook._sender import Receipt, open_webhook_sender

    done = [0, 0]

    async def watch(receipts: trio.MemoryReceiveChannel[Receipt]) -> None:
        async for receipt in receipts:
            try:
                await receipt.wait()
                done[0] += 1
            except DeliveryFailed:
                done[1] += 1
            if progress is not None:
                progress(done[0], done[1])

    async with (
        open_webhook_sender(
            url, config=config, ssl_context=ssl_context, http_transport=http_transport
        ) as sender,
        trio.open_nursery() as nursery,
    ):
        send_channel, receive_channel = trio.open_memory_channel[Receipt](math.inf)
        nursery.start_soon(watch, receive_channel)
        async with send_channel:
            for message in messages:
                send_channel.send_nowait(await sender.send(message))
    return sender.stats()


async def replay_file(
    path: str,
    url: str,
    *,
    dead_letter: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> ReplayResult:
    """Replay a dead-letter file with :func:`trio_webhook.deadletter.replay`.

    Args:
        path: The dead-letter JSONL file (left unchanged).
        url: The webhook to deliver to.
        dead_letter: Append the records that fail again to this JSONL file.
        ssl_context: Trust for the server's certificate.
        http_transport: An httpx transport instead of the network (tests).

    Returns:
        The replay's result.
    """
    from trio_webhook._deadletter import JsonlSink
    from trio_webhook.deadletter import replay

    result = await replay(path, url, ssl_context=ssl_context, http_transport=http_transport)
    if dead_letter is not None and result.failed:
        sink = JsonlSink(dead_letter)
        for record, error in result.failed:
            await sink.put(attrs.evolve(record, error=error))
    return result


# --------------------------------------------------------------------------- errors


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _describe(exc: BaseException) -> str | None:
    """One line for an error the user can act on, or ``None`` for a bug."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return f"the message breaks Discord's limits: {exc}"
    if isinstance(exc, WebhookError):
        return str(exc)
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or exc}"
    return None


class _Interrupted(click.ClickException):
    exit_code = 130


def _fail(text: str, code: int = 1) -> NoReturn:
    kind = _Interrupted if code == 130 else click.ClickException
    raise kind(redact(" ".join(text.split())))


def _friendly(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn the errors a command can meet into one line on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BaseException as exc:
            ctx = click.get_current_context(silent=True)
            if ctx is not None and ctx.find_root().params.get("traceback"):
                raise
            for leaf in _leaves(exc):
                text = _describe(leaf)
                if text is not None:
                    _fail(text)
            leaf = next(_leaves(exc))
            if isinstance(leaf, KeyboardInterrupt):
                _fail("interrupted", 130)
            _fail(
                f"internal error: {type(leaf).__name__}: {leaf} "
                "(run `trio-webhook --traceback ...` and report it)"
            )

    return wrapper


def _require_url(url: str | None) -> str:
    if not url:
        _fail(f"no webhook URL: give it as an argument or set {ENV_URL}")
    parse_webhook_url(url)  # raises InvalidWebhookURL, which never shows the token
    return url


def _ssl_context(ca_file: str | None) -> ssl.SSLContext | None:
    if ca_file is None:
        return None
    if not Path(ca_file).is_file():
        raise InputError(f"--ca-file: no such file {ca_file}")
    try:
        return ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:
        raise InputError(f"--ca-file {ca_file}: not a PEM certificate ({exc.reason})") from None


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _with_progress(total: int, run: Callable[[ProgressFn], T], label: str) -> T:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("delivered {task.fields[delivered]}  dead {task.fields[dead]}"),
        TimeElapsedColumn(),
        console=_console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=total, delivered=0, dead=0)

        def update(delivered: int, dead: int) -> None:
            bar.update(task, completed=delivered + dead, delivered=delivered, dead=dead)

        return run(update)


def _stats_rows(stats: SenderStats) -> list[tuple[str, str]]:
    limited = ", ".join(f"{k} {v}" for k, v in sorted(stats.rate_limited.items())) or "none"
    return [
        ("messages enqueued", str(stats.enqueued)),
        ("delivered", str(stats.delivered)),
        ("dead letters", str(stats.dead)),
        ("requests", str(stats.requests)),
        ("429s received", f"{sum(stats.rate_limited.values())} ({limited})"),
        ("retries", f"{stats.retries} ({stats.ambiguous_retries} ambiguous)"),
        ("limiter waits", f"{stats.waits} ({stats.wait_seconds:.2f} s)"),
        ("attachments shed", f"{stats.shed_attachments} (from {stats.shed_messages} messages)"),
    ]


def _print_table(title: str, rows: Iterable[tuple[str, str]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for what, value in rows:
        table.add_row(what, value)
    _console().print(table)


# --------------------------------------------------------------------------- commands

_STRATEGIES: Final = get_args(Strategy)
URL_HELP: Final = f"The webhook URL; defaults to ${ENV_URL} (keeps it out of shell history)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, prog_name="trio-webhook")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log warnings (-v: retries, dead letters) or everything (-vv).",
)
@click.option(
    "--traceback", is_flag=True, hidden=True, help="Show a traceback on errors (debugging)."
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, traceback: bool) -> None:
    """Deliver Discord webhook messages from trio: queued, paced, retried, dead-lettered.

    Start with `trio-webhook demo`: it needs no Discord and no network.
    """
    _configure_logging(ctx, {0: logging.ERROR, 1: logging.WARNING}.get(verbose, logging.DEBUG))
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _configure_logging(ctx: click.Context, level: int) -> None:
    """Log the library's records at ``level`` to stderr while the command runs.

    Only the ``trio_webhook`` logger is touched, and it is restored when the command
    ends, so that embedding ``cli`` (as tests do) leaves logging as it found it.
    """
    logger = logging.getLogger("trio_webhook")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    ctx.call_on_close(restore)


def _url_argument(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("url", required=False, envvar=ENV_URL)(fn)


_ca_option = click.option(
    "--ca-file",
    metavar="PEM",
    help="Trust this CA certificate too (for `serve-fake` over TLS).",
)


@cli.command()
@click.option("--messages", default=300, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--faults",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Probability of an injected 5xx or 429 in each request.",
)
@click.option("--strategy", type=click.Choice(_STRATEGIES), default="adaptive", show_default=True)
@click.option(
    "--time-scale",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0.0, 10.0, min_open=True),
    help="Multiplies Discord's windows (2 s bucket, 60 s channel limit).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--burst",
    is_flag=True,
    help="Enqueue with send_nowait in a tight loop (shows shedding) instead of await send().",
)
@_friendly
def demo(
    messages: int, faults: float, strategy: str, time_scale: float, seed: int, burst: bool
) -> None:
    """Send messages to a fake Discord over TLS on 127.0.0.1 and show what happened.

    The fake enforces Discord's limits (5 requests per 2 s per webhook, the unannounced
    30 messages per minute per channel), scaled by --time-scale, and injects a few
    faults. Exits 0 when every message ended delivered or dead-lettered.
    """
    from trio_webhook._demo import DemoOptions, run_demo

    options = DemoOptions(
        messages=messages,
        faults=faults,
        strategy=cast(Strategy, strategy),
        time_scale=time_scale,
        seed=seed,
        burst=burst,
    )
    result = _with_progress(
        messages,
        lambda update: trio.run(functools.partial(run_demo, options, progress=update)),
        "demo",
    )
    _print_table("trio-webhook demo", _demo_rows(result))
    if not result.ok:
        s = result.stats
        _fail(
            f"lost track of messages: enqueued {s.enqueued}, delivered {s.delivered}, "
            f"dead {s.dead}, in flight {s.in_flight}"
        )


def _demo_rows(result: DemoResult) -> list[tuple[str, str]]:
    s = result.stats
    fake_limited = ", ".join(f"{k} {v}" for k, v in sorted(result.fake_rate_limited.items()))
    faults = ", ".join(f"{k} {v}" for k, v in sorted(result.fake_faults.items())) or "none"
    ratio = result.elapsed / result.minimum if result.minimum else math.nan
    rows = _stats_rows(s)
    rows[4:4] = [
        ("planned requests", str(result.planned_requests)),
        ("fake: requests received", str(result.fake_requests)),
        ("fake: messages stored", str(result.fake_messages)),
        ("fake: 429s sent", f"{sum(result.fake_rate_limited.values())} ({fake_limited})"),
        ("fake: faults injected", faults),
    ]
    rows.append(("dead-letter records", str(result.dead_letters)))
    rows.append(
        (
            "elapsed / minimum",
            f"{result.elapsed:.2f} s / {result.minimum:.2f} s (x{ratio:.2f})",
        )
    )
    rows.append(("every message accounted for", "yes" if result.ok else "NO"))
    return rows


@cli.command()
@_url_argument
@click.option("--content", help="The message text.")
@click.option(
    "--embed",
    "embeds",
    multiple=True,
    metavar="JSON|@FILE",
    help="An embed as Discord's JSON, or @file.json (repeatable).",
)
@click.option("--file", "files", multiple=True, metavar="PATH", help="Attach a file (repeatable).")
@click.option(
    "--json",
    "message_file",
    metavar="FILE",
    help="Start from a whole message in Discord's JSON (- for stdin).",
)
@click.option("--thread-id", help="Post into this thread.")
@click.option("--username", help="Override the webhook's name.")
@click.option("--avatar-url", help="Override the webhook's avatar.")
@click.option("--dry-run", is_flag=True, help="Plan, validate and print the requests; send none.")
@_ca_option
@_friendly
def send(
    url: str | None,
    content: str | None,
    embeds: tuple[str, ...],
    files: tuple[str, ...],
    message_file: str | None,
    thread_id: str | None,
    username: str | None,
    avatar_url: str | None,
    dry_run: bool,
    ca_file: str | None,
) -> None:
    """Send one message and print the id of each message Discord created.

    URL defaults to $TRIO_WEBHOOK_URL.
    """
    message = load_message(message_file) if message_file is not None else Message()
    changes: dict[str, Any] = {}
    if content is not None:
        changes["content"] = content
    if username is not None:
        changes["username"] = username
    if avatar_url is not None:
        changes["avatar_url"] = avatar_url
    if thread_id is not None:
        changes["thread_id"] = _snowflake(thread_id, "--thread-id")
    if embeds:
        changes["embeds"] = (*message.embeds, *(_embed_option(e) for e in embeds))
    if files:
        parts = []
        for f in files:
            if not Path(f).is_file():
                raise InputError(f"--file {f}: no such file")
            parts.append(FilePart.from_path(f))
        changes["attachments"] = (*message.attachments, *parts)
    message = attrs.evolve(message, **changes)
    if dry_run:
        if url:
            _require_url(url)
        _print_plan(message)
        return
    url = _require_url(url)
    violations = validate(message)
    if violations:
        raise ValidationError(violations)
    context = _ssl_context(ca_file)
    delivery = trio.run(functools.partial(send_message, url, message, ssl_context=context))
    for sent in delivery.messages:
        click.echo(sent.id)


def _print_plan(message: Message) -> None:
    from trio_webhook._encoding import encode_execute

    violations = validate(message)
    if violations:
        raise ValidationError(violations)
    plan = plan_requests(message)
    for request in plan:
        click.echo(_describe_request(request, len(plan)))
        body = encode_execute(request)
        raw = body.json if body.json is not None else body.payload_json
        assert raw is not None
        click.echo("  " + raw.decode())
        for part in body.files:
            click.echo(f"  {part.field}: {part.filename} ({part.content_type}, {len(part.data)} B)")
    click.echo(f"dry run: {len(plan)} request(s) planned, nothing sent")


def _describe_request(request: PlannedRequest, total: int) -> str:
    where = f" into thread {request.thread_id}" if request.thread_id else ""
    return (
        f"request {request.index + 1}/{total}{where}: "
        f"{len(request.embeds)} embed(s), {len(request.files)} file(s), "
        f"{len(request.content or '')} content characters"
    )


def _split_url_and_file(args: tuple[str, ...], url_env: str | None, what: str) -> tuple[str, str]:
    if len(args) == 2:
        return args[0], args[1]
    if len(args) == 1:
        if not url_env:
            _fail(f"no webhook URL: give it before {what} or set {ENV_URL}")
        return url_env, args[0]
    _fail(f"expected [URL] {what}, got {len(args)} arguments")


@cli.command("send-batch")
@click.argument("args", nargs=-1, metavar="[URL] MESSAGES.jsonl")
@click.option("--dead-letter", metavar="FILE", help="Append undeliverable messages to this JSONL.")
@click.option("--strategy", type=click.Choice(_STRATEGIES), help="The rate-limit strategy.")
@click.option(
    "--config", "config_file", metavar="TOML", help="Read [trio_webhook] settings from this file."
)
@_ca_option
@_friendly
def send_batch(
    args: tuple[str, ...],
    dead_letter: str | None,
    strategy: str | None,
    config_file: str | None,
    ca_file: str | None,
) -> None:
    """Send every message of a JSONL file (one message a line), in order, with progress.

    URL defaults to $TRIO_WEBHOOK_URL. Settings come from TRIO_WEBHOOK_* variables,
    then --config, then the options. Exits 1 if any message was dead-lettered.
    """
    url, path = _split_url_and_file(args, os.environ.get(ENV_URL), "MESSAGES.jsonl")
    url = _require_url(url)
    config = SenderConfig.from_env()
    if config_file is not None:
        config = SenderConfig.from_toml(config_file, base=config)
    changes: dict[str, Any] = {}
    if dead_letter is not None:
        changes["dead_letter"] = dead_letter
    if strategy is not None:
        changes["strategy"] = strategy
    config = attrs.evolve(config, **changes)
    messages = read_jsonl_messages(path)
    for n, message in enumerate(messages, start=1):
        violations = validate(message)
        if violations:
            detail = "; ".join(str(v) for v in violations)
            raise InputError(f"{path}: message {n} breaks Discord's limits: {detail}")
    context = _ssl_context(ca_file)
    stats = _with_progress(
        len(messages),
        lambda update: trio.run(
            functools.partial(
                send_messages, url, messages, config=config, ssl_context=context, progress=update
            )
        ),
        "sending",
    )
    _print_table("send-batch", _stats_rows(stats))
    if stats.dead:
        where = f" to {config.dead_letter}" if isinstance(config.dead_letter, str) else ""
        _fail(f"{stats.dead} of {stats.enqueued} message(s) dead-lettered{where}")


@cli.command()
@click.argument("path", metavar="DEAD.jsonl")
@_url_argument
@click.option(
    "--dead-letter", metavar="FILE", help="Append messages that fail again to this JSONL."
)
@_ca_option
@_friendly
def replay(path: str, url: str | None, dead_letter: str | None, ca_file: str | None) -> None:
    """Send the messages of a dead-letter file again, skipping parts already delivered.

    URL defaults to $TRIO_WEBHOOK_URL.
    """
    url = _require_url(url)
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    if dead_letter is not None and Path(dead_letter).resolve() == Path(path).resolve():
        raise InputError("--dead-letter must differ from the file being replayed")
    context = _ssl_context(ca_file)
    result = trio.run(
        functools.partial(replay_file, path, url, dead_letter=dead_letter, ssl_context=context)
    )
    for record, error in result.failed:
        click.echo(redact(f"failed again ({record.reason}): {error}"), err=True)
    _print_table(
        "replay",
        [
            ("delivered", str(result.delivered)),
            ("failed again", str(len(result.failed))),
            ("skipped (already delivered)", str(result.skipped)),
        ],
    )
    if result.failed:
        where = f"; written to {dead_letter}" if dead_letter else ""
        _fail(f"{len(result.failed)} record(s) failed again{where}")


@cli.command("validate")
@click.argument("path", metavar="MESSAGE.json")
@_friendly
def validate_cmd(path: str) -> None:
    """Check a message (Discord's JSON) against Discord's limits; print every violation."""
    message = load_message(path)
    violations = validate(message)
    if not violations:
        try:
            plan = plan_requests(message)
        except ValidationError as exc:
            violations = list(exc.violations)
        else:
            click.echo(f"{path}: ok ({len(plan)} request(s))")
            return
    for violation in violations:
        click.echo(f"{path}: {violation}")
    _fail(f"{path}: {len(violations)} violation(s) of Discord's limits")


@cli.command("serve-fake")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tls/--no-tls", default=True, show_default=True)
@click.option("--ca-out", metavar="PEM", help="Write the CA certificate (TLS) to this file.")
@click.option("--bucket-limit", default=5, show_default=True, type=click.IntRange(1))
@click.option("--bucket-window", default=2.0, show_default=True, type=click.FloatRange(0.0))
@click.option(
    "--channel-limit",
    default=30,
    show_default=True,
    type=click.IntRange(0),
    help="Messages per channel per window, never announced; 0 turns it off.",
)
@click.option("--channel-window", default=60.0, show_default=True, type=click.FloatRange(0.0))
@click.option("--global-limit", type=click.IntRange(1), help="Requests per second over all.")
@click.option(
    "--time-scale", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True)
)
@click.option("--faults", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--exit-after", type=float, hidden=True, help="Stop after this many seconds.")
@_friendly
def serve_fake(
    host: str,
    port: int,
    tls: bool,
    ca_out: str | None,
    bucket_limit: int,
    bucket_window: float,
    channel_limit: int,
    channel_window: float,
    global_limit: int | None,
    time_scale: float,
    faults: float,
    seed: int,
    exit_after: float | None,
) -> None:
    """Serve a fake Discord and print a ready webhook URL; runs until Ctrl-C."""
    from trio_webhook.testing import FakeDiscord, serve_fake_discord

    if tls and ca_out is None:
        click.echo("note: without --ca-out clients cannot trust the certificate", err=True)
    fake = FakeDiscord(
        seed=seed,
        bucket_limit=bucket_limit,
        bucket_window=bucket_window,
        channel_limit=channel_limit or None,
        channel_window=channel_window,
        global_limit=global_limit,
        time_scale=time_scale,
    )
    if faults:
        fake.fault_rate(faults)
    hook = fake.create_webhook()

    async def serve() -> None:
        async with serve_fake_discord(fake, tls=tls, host=host, port=port) as server:
            if tls and ca_out is not None:
                server.ca.cert_pem.write_to_path(ca_out)
            url = server.webhook_url(hook)
            click.echo(f"serving a fake Discord at {server.url}")
            if tls and ca_out is not None:
                click.echo(f"CA certificate: {ca_out} (pass --ca-file {ca_out})")
            click.echo(f"webhook URL: {url}")
            click.echo(f"export {ENV_URL}='{url}'", err=True)
            sys.stdout.flush()
            if exit_after is None:
                await trio.sleep_forever()
            else:
                await trio.sleep(exit_after)

    with contextlib.suppress(KeyboardInterrupt):
        trio.run(serve)
    stats = fake.stats()
    click.echo(f"stopped: {stats.requests} request(s), {stats.messages} message(s) stored")


def main() -> None:
    """Entry point of ``trio-webhook`` and ``python -m trio_webhook``."""
    cli(prog_name="trio-webhook")
