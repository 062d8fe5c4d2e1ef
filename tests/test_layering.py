"""The pure core stays pure: its modules never import trio, at run time, even indirectly.

Importing a submodule always runs ``trio_webhook/__init__`` (which imports trio), so this
reads the modules' import statements instead of importing them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "trio_webhook"


def _module_path(name: str) -> Path:
    parts = name.split(".")[1:]
    as_package = PACKAGE.joinpath(*parts, "__init__.py")
    return as_package if as_package.exists() else PACKAGE.joinpath(*parts).with_suffix(".py")


def _runtime_imports(name: str) -> set[str]:
    """Modules ``name`` imports when it runs (``if TYPE_CHECKING:`` blocks left out)."""
    tree = ast.parse(_module_path(name).read_text())
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and ast.unparse(node.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                visit(node.orelse)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)

    visit(tree.body)
    return found


def _closure(name: str) -> set[str]:
    """Every module ``name`` imports at run time, following the package's own modules."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        for imported in _runtime_imports(current):
            if imported in seen:
                continue
            seen.add(imported)
            if imported.startswith("trio_webhook.") and _module_path(imported).exists():
                todo.append(imported)
    return seen


@pytest.mark.parametrize("module", ["trio_webhook._records", "trio_webhook._config"])
def test_pure_modules_do_not_import_trio_or_the_shell(module: str) -> None:
    imported = _closure(module)
    assert not {m for m in imported if m == "trio" or m.startswith("trio.")}, imported
    shell = {"trio_webhook._sinks", "trio_webhook._sender", "trio_webhook._replay"}
    assert not imported & shell
