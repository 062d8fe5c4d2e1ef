"""Sphinx configuration: Markdown pages (MyST) and an API reference from docstrings."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trio_webhook import SenderConfig, __version__  # noqa: E402

project = "trio-webhook"
author = "the trio-webhook authors"
copyright = "2026, the trio-webhook authors"
release = __version__
version = __version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_parser"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated/*.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
# The pytest plugin lists its fixtures under a "Fixtures:" heading.
napoleon_custom_sections = [("Fixtures", "params_style")]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "separated"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False

# furo shows code blocks whole (alabaster cut long lines off).
html_theme = "furo"
html_title = f"trio-webhook {release}"

# The public namespaces, the top level last so that it wins for the names it shares.
PUBLIC_NAMESPACES = (
    "trio_webhook.testing",
    "trio_webhook.components",
    "trio_webhook.polls",
    "trio_webhook.messages",
    "trio_webhook.sync",
    "trio_webhook.asyncio",
    "trio_webhook.relay",
    "trio_webhook.hub",
    "trio_webhook.outbox",
    "trio_webhook.worker",
    "trio_webhook.transport",
    "trio_webhook.limits",
    "trio_webhook.ratelimit",
    "trio_webhook.deadletter",
    "trio_webhook.errors",
    "trio_webhook",
)


def _show_public_homes() -> None:
    """Name each public class by the namespace users import it from, in this build only.

    Type hints and base classes are rendered from ``__module__``, which points into the
    private modules (``trio_webhook._models.Message``): neither readable nor a link. The
    package itself is left alone (its classes' ``__module__`` stays true at run time).
    """
    import importlib

    for namespace in PUBLIC_NAMESPACES:
        module = importlib.import_module(namespace)
        for name in module.__all__:
            value = getattr(module, name)
            home = getattr(value, "__module__", None)
            if isinstance(value, type) and home and home.startswith("trio_webhook"):
                value.__module__ = namespace


_show_public_homes()


def _config_table() -> str:
    """The configuration reference table, built from ``SenderConfig`` itself."""
    doc = SenderConfig.__doc__ or ""
    section = doc.split("Attributes:", 1)[1].split("Example::", 1)[0]
    described: dict[str, str] = {}
    name = ""
    for line in section.splitlines():
        match = re.match(r"^ {8}(\w+): (.*)$", line)
        if match:
            name = match.group(1)
            described[name] = match.group(2).strip()
        elif name and line.strip():
            described[name] += " " + line.strip()
    rows = [
        "| setting | default | environment variable | TOML key | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for field in attrs.fields(SenderConfig):
        default = field.default
        shown = "`None`" if default is None else f"`{default!r}`"
        text = described.get(field.name, "").replace("|", "\\|").replace("``", "`")
        rows.append(
            f"| `{field.name}` | {shown} | `TRIO_WEBHOOK_{field.name.upper()}` "
            f"| `{field.name}` | {text} |"
        )
    return "\n".join(rows) + "\n"


generated = Path(__file__).parent / "_generated"
generated.mkdir(exist_ok=True)
(generated / "config-table.md").write_text(_config_table(), encoding="utf-8")


def _cli_help() -> str:
    """``--help`` of every command, as the command line prints it."""
    import click

    from trio_webhook.cli._commands import cli

    parts = []
    with click.Context(cli, info_name="trio-webhook", terminal_width=88) as root:
        parts.append("```text\n$ trio-webhook --help\n" + cli.get_help(root) + "\n```\n")
        for name in sorted(cli.commands):
            command = cli.commands[name]
            with click.Context(command, info_name=name, parent=root, terminal_width=88) as ctx:
                parts.append(
                    f"### `{name}`\n\n```text\n$ trio-webhook {name} --help\n"
                    + command.get_help(ctx)
                    + "\n```\n"
                )
    return "\n".join(parts)


(generated / "cli-help.md").write_text(_cli_help(), encoding="utf-8")


def _data_directives(namespace: str, source: str, names: list[str]) -> str:
    """``py:data`` entries for constants re-exported by ``namespace`` from ``source``.

    autodoc finds an attribute's docstring only in the module that assigns it, so a
    constant documented under its public name would show ``int``'s docstring instead.
    """
    import importlib

    from sphinx.pycode import ModuleAnalyzer

    analyzer = ModuleAnalyzer.for_module(source)
    docs = analyzer.find_attr_docs()
    module = importlib.import_module(namespace)
    parts = []
    for name in sorted(names, key=lambda n: analyzer.tagorder.get(n, 0)):
        value = getattr(module, name)
        if isinstance(value, frozenset):
            shown = "frozenset({" + ", ".join(repr(v) for v in sorted(value)) + "})"
        elif isinstance(value, str) and "|" in value:
            shown = value  # a type alias written as a string
        else:
            shown = repr(value)
        lines = [f".. py:data:: {name}", f"   :module: {namespace}", f"   :value: {shown}", ""]
        lines += [f"   {line}" for line in docs.get(("", name), [])]
        parts.append("\n".join(lines).rstrip())
    return "\n\n".join(parts) + "\n"


def _constants() -> None:
    import trio_webhook.limits

    limits = [n for n in trio_webhook.limits.__all__ if n.isupper()]
    codes = ["UNKNOWN_WEBHOOK", "UNKNOWN_MESSAGE", "INVALID_TOKEN", "ENTITY_TOO_LARGE"]
    for file, namespace, source, names in [
        ("limits.inc", "trio_webhook.limits", "trio_webhook._limits", limits),
        ("error-codes.inc", "trio_webhook.errors", "trio_webhook._errors", codes),
        (
            "transport-data.inc",
            "trio_webhook.transport",
            "trio_webhook.transport._base",
            ["DEFAULT_USER_AGENT"],
        ),
        ("outbox-data.inc", "trio_webhook.outbox", "trio_webhook.outbox._base", ["OutboxTarget"]),
    ]:
        text = _data_directives(namespace, source, names)
        (generated / file).write_text(text, encoding="utf-8")


_constants()
