"""The layering of ``docs/architecture.md``, enforced: each rule there is a test here.

The pure core never imports trio, the shell or a transport; only the transport speaks
HTTP and it knows nothing above it; nothing but ``testing/`` and ``cli/`` imports the
fake; no import cycles, not even through a lazy or an annotation-only import. Importing
a submodule always runs ``trio_webhook/__init__`` (which imports trio), so this reads
the modules' import statements instead of importing them.
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


def _all_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["trio_webhook", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _imports_anywhere(name: str) -> set[str]:
    """Every module ``name`` may import, function bodies included, ``TYPE_CHECKING`` not.

    ``from a import b`` counts as importing ``a`` and ``a.b`` (``b`` may be a module).
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(_module_path(name).read_text()))
    return found


def _is_under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


MODULES = _all_modules()

# The pure core (docs/architecture.md, "The parts"): decisions, values, protocols.
CORE = [
    "trio_webhook._models",
    "trio_webhook._converter",
    "trio_webhook._from_json",
    "trio_webhook._json_hooks",
    "trio_webhook._received",
    "trio_webhook._edits",
    "trio_webhook._edit_checks",
    "trio_webhook._webhook_update",
    "trio_webhook._name_checks",
    "trio_webhook._embeds",
    "trio_webhook._files",
    "trio_webhook._components",
    "trio_webhook._component_fields",
    "trio_webhook._selects",
    "trio_webhook._component_tree",
    "trio_webhook._polls",
    "trio_webhook._validators",
    "trio_webhook._attachments",
    "trio_webhook._errors",
    "trio_webhook._extras",
    "trio_webhook._url",
    "trio_webhook._config",
    "trio_webhook._config_load",
    "trio_webhook._limits",
    "trio_webhook._limit_values",
    "trio_webhook._checks",
    "trio_webhook._embed_checks",
    "trio_webhook._file_checks",
    "trio_webhook._quick_checks",
    "trio_webhook._component_checks",
    "trio_webhook._planning",
    "trio_webhook._content_split",
    "trio_webhook._encoding",
    "trio_webhook._outcome",
    "trio_webhook._retry",
    "trio_webhook._records",
    "trio_webhook._progress",
    "trio_webhook._shed",
    *(m for m in MODULES if m.startswith("trio_webhook.ratelimit._")),
    "trio_webhook.transport._values",
    "trio_webhook.transport._base",
    "trio_webhook.transport._multipart",
    "trio_webhook.transport._codec",
    "trio_webhook.transport._fields",
    "trio_webhook.outbox._base",
    "trio_webhook.outbox._shared",
    "trio_webhook.stores._redis_state",
]
SHELL = {
    "trio_webhook._sender",
    "trio_webhook._client_setup",
    "trio_webhook._delivery",
    "trio_webhook._draining",
    "trio_webhook._buffer",
    "trio_webhook._client",
    "trio_webhook._exchange",
    "trio_webhook._operations",
    "trio_webhook._durable",
    "trio_webhook._shared_delivery",
    "trio_webhook._sinks",
    "trio_webhook._replay",
}
TRANSPORTS = {
    "trio_webhook.transport",
    "trio_webhook.transport._h11",
    "trio_webhook.transport._pool",
    "trio_webhook.transport._stream",
    "trio_webhook.transport._httpx",
    "trio_webhook.transport._dryrun",
    "trio_webhook.transport._default",
    "trio_webhook.transport._wire",
    "trio_webhook.transport._tls",
}


def test_the_core_is_listed_from_modules_that_exist() -> None:
    assert set(CORE) <= set(MODULES), set(CORE) - set(MODULES)
    assert "trio_webhook.ratelimit._state" in CORE


@pytest.mark.parametrize("module", CORE)
def test_the_core_does_not_import_trio(module: str) -> None:
    imported = _closure(module)
    assert not {m for m in imported if m == "trio" or m.startswith("trio.")}, imported


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_neither_the_shell_nor_a_transport_nor_the_edges(module: str) -> None:
    imported = _closure(module)
    assert not imported & (SHELL | TRANSPORTS)
    assert not {m for m in imported if _is_under(m, "trio_webhook.cli", "trio_webhook.testing")}
    assert not {m for m in imported if _is_under(m, "httpx", "h11", "sqlite3")}


def test_only_the_transport_and_the_fake_import_httpx_or_h11() -> None:
    offenders = {
        module: sorted(m for m in _imports_anywhere(module) if _is_under(m, "httpx", "h11"))
        for module in MODULES
        if not _is_under(module, "trio_webhook.transport", "trio_webhook.testing")
    }
    assert not {m: found for m, found in offenders.items() if found}


@pytest.mark.parametrize("module", [m for m in MODULES if _is_under(m, "trio_webhook.transport")])
def test_the_transport_knows_nothing_above_it(module: str) -> None:
    allowed = {"trio_webhook._errors", "trio_webhook._url", "trio_webhook._version"}
    above = {
        m
        for m in _runtime_imports(module)
        if m.startswith("trio_webhook") and not _is_under(m, "trio_webhook.transport")
    }
    assert above <= allowed, above - allowed


# The fake is for tests; trio.testing costs about 70 ms to import (its RaisesGroup), for
# every program that imports the package.
@pytest.mark.parametrize("package", ["trio_webhook.testing", "trio.testing"])
def test_nothing_but_testing_and_the_cli_imports(package: str) -> None:
    offenders = {
        module: sorted(m for m in _imports_anywhere(module) if _is_under(m, package))
        for module in MODULES
        if not _is_under(module, "trio_webhook.testing", "trio_webhook.cli")
    }
    assert not {m: found for m, found in offenders.items() if found}


FACADES = {"trio_webhook.sync", "trio_webhook.asyncio", "trio_webhook._background"}


def test_nothing_but_the_facades_imports_the_facades() -> None:
    offenders = {
        module: sorted(_imports_anywhere(module) & FACADES)
        for module in MODULES
        if module not in FACADES
    }
    assert not {m: found for m, found in offenders.items() if found}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _every_import(name: str) -> set[str]:
    """Every module ``name`` names in an import: in a function, under ``TYPE_CHECKING``, anywhere.

    A lazy import still ties the two modules (each needs the other to be understood), and
    an annotation-only one ties their ideas, so neither is a way out of a cycle. Relative
    imports are resolved; ``from a import b`` counts ``a`` and ``a.b``.
    """
    path = _module_path(name)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_every_import_is_read_lazy_and_annotation_only_ones_too() -> None:
    assert "trio_webhook._operations" in _every_import("trio_webhook._client")
    # In a function, then under TYPE_CHECKING:
    assert "trio_webhook._client" in _every_import("trio_webhook.cli._send")
    assert "trio_webhook._sinks" in _every_import("trio_webhook._config")


def test_no_import_cycles_counting_lazy_and_type_checking_imports() -> None:
    graph = {m: {i for i in _every_import(m) if i in MODULES and i != m} for m in MODULES}
    cycles = [sorted(c) for c in _cycles(graph)]
    assert not cycles, cycles
