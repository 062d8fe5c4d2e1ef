"""The ``trio-webhook`` command line (the ``cli`` extra: click and rich).

One role a module: ``_input`` reads what the user gives (messages through
``Message.from_json``), ``_send`` and ``_demo`` do the work, ``_output`` draws it,
``_commands`` holds the click commands. :func:`main`, the console entry point, imports
the commands (and with them click) only when it runs, so that an install without the
extra explains itself in one line instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of ``trio-webhook`` and ``python -m trio_webhook``.

    Without the ``cli`` extra it prints the one line that says how to install it and
    exits with status 2.
    """
    try:
        from trio_webhook.cli._commands import cli

        # The commands import rich when they draw; check for it before any runs.
        importlib.import_module("rich")
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
