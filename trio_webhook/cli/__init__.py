"""The ``trio-webhook`` command line (the ``cli`` extra: click and rich).

:func:`main` is the console entry point. It imports the commands, and with them click,
only when it runs, so that an install without the extra explains itself in one line
instead of a traceback. The other names are imported on first use, for the same reason.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trio_webhook.cli._commands import cli
    from trio_webhook.cli._input import (
        ENV_URL,
        InputError,
        load_message,
        message_from_json,
        read_jsonl_messages,
    )
    from trio_webhook.cli._send import replay_file, send_message, send_messages

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

_MODULES = {
    "cli": "_commands",
    "ENV_URL": "_input",
    "InputError": "_input",
    "load_message": "_input",
    "message_from_json": "_input",
    "read_jsonl_messages": "_input",
    "replay_file": "_send",
    "send_message": "_send",
    "send_messages": "_send",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of ``trio-webhook`` and ``python -m trio_webhook``.

    Without the ``cli`` extra it prints the one line that says how to install it and
    exits with status 2.
    """
    try:
        import rich  # noqa: F401  (drawn later, by the commands; checked before any runs)

        from trio_webhook.cli._commands import cli
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in ("click", "rich"):
            raise
        sys.stderr.write(
            f"Error: trio-webhook needs the 'cli' extra ({missing} is not installed): "
            "pip install 'trio-webhook[cli]'\n"
        )
        raise SystemExit(2) from None
    cli(prog_name="trio-webhook")
