"""Optional dependencies: import one, or say in one line which extra brings it.

The parts that need an extra (the Redis store and outbox, the fake's upload parser)
import it through :func:`require` when they are first used, so that a base install
imports every module and a missing extra reads ``... pip install 'trio-webhook[redis]'``
instead of ``No module named 'coredis'`` from deep inside a task.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ModuleNotFoundError):
    """A module of an optional extra is not installed; the message names the install.

    A ``ModuleNotFoundError``, so code that already catches that keeps working. The
    command line prints it as one line and exits with status 2.
    """


def require(module: str, *, extra: str, needed_by: str) -> ModuleType:
    """Import ``module``, which the ``extra`` extra installs.

    Args:
        module: The module to import (``"coredis"``).
        extra: The extra that brings it (``"redis"``).
        needed_by: What needs it, the start of the message (``"a redis:// outbox"``).

    Returns:
        The module.

    Raises:
        MissingExtraError: ``module`` (or a package it is in) is not installed. An import
            error from inside an installed module is not one and propagates as it is.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if not (module == missing or module.startswith(f"{missing}.")):
            raise
        raise MissingExtraError(
            f"{needed_by} needs the {extra!r} extra ({missing} is not installed): "
            f"pip install 'trio-webhook[{extra}]'",
            name=missing,
        ) from None
