"""Output of the command line: one-line errors, progress bars, tables and dry-run plans.

rich is imported when something is drawn, so that commands which print plain lines
(``validate``, ``send``) start fast.
"""

from __future__ import annotations

import functools
import math
import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, ParamSpec, TypeVar

import click

from trio_webhook._errors import TransportError, ValidationError, WebhookError
from trio_webhook._extras import MissingExtraError
from trio_webhook._limits import validate
from trio_webhook._models import Message, PlannedRequest
from trio_webhook._planning import plan_requests
from trio_webhook._url import redact
from trio_webhook.cli._input import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from trio_webhook._sender import SenderStats
    from trio_webhook.cli._demo import DemoResult

__all__ = [
    "demo_rows",
    "fail",
    "friendly",
    "print_plan",
    "print_table",
    "stats_rows",
    "with_progress",
]

P = ParamSpec("P")
T = TypeVar("T")


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


# A person meets a TLS failure on the command line mostly against `serve-fake`.
_CA_FILE_HINT: Final = (
    "; to trust a CA of your own (such as the one `trio-webhook serve-fake --ca-out ca.pem` "
    "writes), pass --ca-file ca.pem"
)


def _describe(exc: BaseException) -> str | None:
    """One line for an error the user can act on, or ``None`` for a bug."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return f"the message breaks Discord's limits: {exc}"
    if isinstance(exc, TransportError) and exc.kind == "tls":
        return f"{exc}{_CA_FILE_HINT}"
    if isinstance(exc, WebhookError):
        return str(exc)
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}{_CA_FILE_HINT}"
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or exc}"
    return None


class _MissingExtra(click.ClickException):
    exit_code = 2


class _Interrupted(click.ClickException):
    exit_code = 130


_BY_CODE: Final[Mapping[int, type[click.ClickException]]] = {2: _MissingExtra, 130: _Interrupted}


def fail(text: str, code: Literal[1, 2, 130] = 1) -> NoReturn:
    """Stop the command with ``Error: text`` on one line of stderr (token redacted).

    ``code`` is the exit status: 1 for bad input or a failed delivery, 2 for a missing
    extra, 130 for Ctrl-C.
    """
    raise _BY_CODE.get(code, click.ClickException)(redact(" ".join(text.split())))


def friendly(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn the errors a command can meet into one line on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BaseException as exc:
            ctx = click.get_current_context(silent=True)
            if ctx is not None and ctx.find_root().params.get("traceback"):
                raise
            for leaf in _leaves(exc):
                if isinstance(leaf, MissingExtraError):
                    fail(str(leaf), 2)
                text = _describe(leaf)
                if text is not None:
                    fail(text)
            leaf = next(_leaves(exc))
            if isinstance(leaf, KeyboardInterrupt):
                fail("interrupted", 130)
            fail(
                f"internal error: {type(leaf).__name__}: {leaf} "
                "(run `trio-webhook --traceback ...` and report it)"
            )

    return wrapper


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


class ProgressLine:
    """The two callbacks a progress bar takes: counts, and what the sender waits on."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar = bar
        self._task = task

    def __call__(self, delivered: int, dead: int) -> None:
        self._bar.update(self._task, completed=delivered + dead, delivered=delivered, dead=dead)

    def status(self, text: str) -> None:
        self._bar.update(self._task, status=text)

    def say(self, text: str) -> None:
        """Print ``text`` on its own line above the bar (it stays when the bar moves)."""
        self._bar.console.print(text, highlight=False)


def with_progress(total: int, run: Callable[[ProgressLine], T], label: str) -> T:
    """Call ``run`` with a :class:`ProgressLine` drawing ``total`` messages on stderr."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("delivered {task.fields[delivered]}  dead {task.fields[dead]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("[yellow]{task.fields[status]}"),
        console=_console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=total, delivered=0, dead=0, status="")
        return run(ProgressLine(bar, task))


def stats_rows(stats: SenderStats) -> list[tuple[str, str]]:
    """The sender's counters, as rows of a summary table."""
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


def print_table(title: str, rows: Iterable[tuple[str, ...]]) -> None:
    """Print a table of ``(what, value)`` or ``(what, value, meaning)`` rows on stdout."""
    from rich.table import Table

    rows = list(rows)
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", justify="right")
    if any(len(row) > 2 for row in rows):
        table.add_column("meaning", style="dim")
    for row in rows:
        table.add_row(*row)
    _console().print(table)


# The fault kinds the fake answers with a 429 (the others are 5xx, delays and drops).
_INJECTED_429S: Final = frozenset({"retry_after_ms", "rate_limit_no_body"})

# What each row of the demo's table means, for a reader seeing it the first time.
_DEMO_MEANINGS: Final[Mapping[str, str]] = {
    "messages enqueued": "handed to the sender",
    "delivered": "stored by the fake, each exactly once",
    "dead letters": "given up on, each with its reason",
    "requests": "HTTP requests the sender made, retries included",
    "planned requests": "requests the messages needed without retries",
    "fake: requests received": "as the fake counted them",
    "fake: messages stored": "what a reader of the channel sees",
    "fake: 429s sent": "real limits reached, and injected 429s",
    "fake: faults injected": "5xx, delays and 429s the fake made up",
    "429s received": "by scope; each was waited out and retried",
    "retries": "ambiguous: the request may have been stored (a timeout, a 5xx)",
    "limiter waits": "pauses taken before a request, to avoid a 429",
    "attachments shed": "files dropped to keep the queue within its cap",
    "dead-letter records": "lines written to the dead-letter sink",
    "elapsed / minimum": "minimum: the least time Discord's limits allow",
    "every message accounted for": "delivered + dead letters = enqueued",
}


def demo_rows(result: DemoResult) -> list[tuple[str, str, str]]:
    """The demo's summary: the sender's counters, the fake's and the timing, explained."""
    s = result.stats
    injected = sum(v for k, v in result.fake_faults.items() if k in _INJECTED_429S)
    real = sum(result.fake_rate_limited.values())
    fake_limited = ", ".join(f"{k} {v}" for k, v in sorted(result.fake_rate_limited.items()) if v)
    faults = ", ".join(f"{k} {v}" for k, v in sorted(result.fake_faults.items())) or "none"
    ratio = result.elapsed / result.minimum if result.minimum else math.nan
    rows = stats_rows(s)
    rows[4:4] = [
        ("planned requests", str(result.planned_requests)),
        ("fake: requests received", str(result.fake_requests)),
        ("fake: messages stored", str(result.fake_messages)),
        (
            "fake: 429s sent",
            f"{real + injected} ({real} real{': ' + fake_limited if fake_limited else ''}; "
            f"{injected} injected)",
        ),
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
    return [(what, value, _DEMO_MEANINGS.get(what, "")) for what, value in rows]


def print_plan(message: Message) -> None:
    """Print the requests a message takes, with their JSON (``send --dry-run``).

    Raises:
        ValidationError: The message breaks Discord's limits.
    """
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
