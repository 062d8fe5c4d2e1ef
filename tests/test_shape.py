"""The package's shape, enforced: no module over 400 lines, no function over 60.

A module that grows past the limit is split by role (as ``outbox/_sqlite*`` or
``_sender`` / ``_delivery`` / ``_draining``), a function past it into named steps. A
function's lines run from its ``def`` to its last line, docstring included; decorators
(the command line's click options) are declarations, not body, and do not count.

The allow-lists name each exception and why; an entry that is no longer needed fails too,
so the lists only shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "trio_webhook"

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Module paths relative to trio_webhook/, with the reason each may stay long for now.
LONG_MODULES: dict[str, str] = {}
# "module:Qualified.name", with the reason each may stay long for now.
LONG_FUNCTIONS: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _module_lengths() -> dict[str, int]:
    return {_name(path): len(path.read_text().splitlines()) for path in _modules()}


def _function_lengths() -> dict[str, int]:
    """Every function and method, as ``module:Qualified.name``, and its length in lines."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, module: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, module, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                assert child.end_lineno is not None
                found[f"{module}:{prefix}{child.name}"] = child.end_lineno - child.lineno + 1
                visit(child, module, f"{prefix}{child.name}.")
            else:
                visit(child, module, prefix)

    for path in _modules():
        visit(ast.parse(path.read_text()), _name(path), "")
    return found


def test_no_module_is_over_400_lines() -> None:
    too_long = {
        name: lines
        for name, lines in _module_lengths().items()
        if lines > MAX_MODULE_LINES and name not in LONG_MODULES
    }
    assert not too_long, f"split these by role (limit {MAX_MODULE_LINES} lines): {too_long}"


def test_no_function_is_over_60_lines() -> None:
    too_long = {
        name: lines
        for name, lines in _function_lengths().items()
        if lines > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS
    }
    assert not too_long, f"cut these into steps (limit {MAX_FUNCTION_LINES} lines): {too_long}"


def test_every_allowed_exception_is_still_needed() -> None:
    modules = _module_lengths()
    functions = _function_lengths()
    stale = [name for name in LONG_MODULES if modules.get(name, 0) <= MAX_MODULE_LINES]
    stale += [name for name in LONG_FUNCTIONS if functions.get(name, 0) <= MAX_FUNCTION_LINES]
    assert not stale, f"no longer over the limit (or gone): drop from the allow-list: {stale}"


def test_the_counting_sees_functions_and_methods() -> None:
    # Guards the test itself: a walk that found nothing would pass everything.
    functions = _function_lengths()
    assert "_sender.py:open_webhook_sender" in functions
    assert "_exchange.py:Exchange.send_answered" in functions
    # Its docstring alone is over 20 lines: the count runs from def to the last line.
    assert functions["_exchange.py:Exchange.send_answered"] > 40
