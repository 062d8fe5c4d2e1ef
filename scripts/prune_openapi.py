"""Write the pruned copy of Discord's OpenAPI description that the conformance tests use.

No package registry ships Discord's OpenAPI JSON, so the project keeps the part it
validates against in ``tests/schemas/discord-webhooks.json``: the two webhook request
schemas, the webhook paths that take a token (their query parameters, request bodies and
2xx answers), and every schema those reference, transitively. Only what validation reads
is kept (types, formats, enums, limits, patterns, required, properties, references...);
descriptions, titles, examples, defaults and Discord's ``x-discord-*`` notes are dropped.
The copy carries Discord's MIT notice and the commit it came from.

Usage::

    python scripts/prune_openapi.py [FULL.json] [--output PATH] [--check]

``FULL.json`` defaults to ``$DISCORD_OPENAPI``. The licence is read from ``LICENSE``
beside it and the commit from its ``README.md`` (a 40-digit hex id); without one, the
copy records the file's sha256 instead. ``--check`` writes nothing and exits with status 1
when the copy on disk differs from what the full file gives (CI's drift check).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT: Final = ROOT / "tests" / "schemas" / "discord-webhooks.json"

SCHEMAS: Final = ("IncomingWebhookRequestPartial", "IncomingWebhookUpdateRequestPartial")
PATHS: Final = (
    # execute; get, edit and delete the webhook with its token
    "/webhooks/{webhook_id}/{webhook_token}",
    # get, edit and delete one of its messages
    "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
)
METHODS: Final = ("get", "post", "patch", "delete")
SCHEMA_PREFIX: Final = "#/components/schemas/"

# JSON Schema keywords, by where their values hold schemas. Any keyword in none of these
# sets stops the script: a new one upstream must be looked at, never dropped silently.
_ONE_SCHEMA: Final = frozenset(
    {
        "additionalProperties",
        "contains",
        "else",
        "if",
        "items",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_SCHEMA_LISTS: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_MAPS: Final = frozenset({"$defs", "dependentSchemas", "patternProperties", "properties"})
_VALUES: Final = frozenset(
    {
        "$ref",
        "const",
        "contentEncoding",
        "contentMediaType",
        "dependentRequired",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "maxContains",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minContains",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "nullable",
        "pattern",
        "required",
        "type",
        "uniqueItems",
    }
)
# Annotations: validation never reads them.
_DROPPED: Final = frozenset(
    {
        "$comment",
        "default",
        "deprecated",
        "description",
        "example",
        "examples",
        "externalDocs",
        "readOnly",
        "summary",
        "title",
        "writeOnly",
    }
)


class PruneError(Exception):
    """The full description holds something this script does not know how to keep."""


def prune_schema(schema: Any, where: str) -> Any:
    """``schema`` with only what validation reads, recursively.

    Args:
        schema: A JSON Schema (an object or a boolean).
        where: Its JSON pointer in the full description, for error messages.

    Returns:
        The pruned copy; ``schema`` is left as it was.

    Raises:
        PruneError: A keyword is neither a known validation keyword nor an annotation.
    """
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        raise PruneError(f"{where}: a schema must be an object or a boolean, got {schema!r}")
    pruned: dict[str, Any] = {}
    for key, value in schema.items():
        at = f"{where}/{key}"
        if key in _DROPPED or key.startswith("x-"):
            continue
        if key in _ONE_SCHEMA:
            pruned[key] = prune_schema(value, at)
        elif key in _SCHEMA_LISTS:
            pruned[key] = [prune_schema(v, f"{at}/{i}") for i, v in enumerate(value)]
        elif key in _SCHEMA_MAPS:
            pruned[key] = {name: prune_schema(v, f"{at}/{name}") for name, v in value.items()}
        elif key in _VALUES:
            pruned[key] = value
        else:
            raise PruneError(f"{at}: unknown keyword {key!r}; add it to prune_openapi.py")
    return pruned


def _refs(value: Any) -> Iterable[str]:
    """Every ``$ref`` in ``value``, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _schema_closure(schemas: dict[str, Any], roots: Iterable[str]) -> set[str]:
    """The names of ``roots`` and of every schema they reference, transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in schemas:
            raise PruneError(f"{SCHEMA_PREFIX}{name}: referenced, but not in the description")
        seen.add(name)
        for ref in _refs(schemas[name]):
            if not ref.startswith(SCHEMA_PREFIX):
                raise PruneError(f"{SCHEMA_PREFIX}{name}: unsupported $ref {ref!r}")
            todo.append(ref.removeprefix(SCHEMA_PREFIX))
    return seen


def _parameter(parameter: dict[str, Any], where: str) -> dict[str, Any]:
    kept: dict[str, Any] = {k: parameter[k] for k in ("in", "name", "required") if k in parameter}
    kept["schema"] = prune_schema(parameter["schema"], f"{where}/schema")
    return kept


def _content(content: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        media: {"schema": prune_schema(body["schema"], f"{where}/{media}/schema")}
        for media, body in content.items()
    }


def _operation(operation: dict[str, Any], where: str) -> dict[str, Any]:
    kept: dict[str, Any] = {"operationId": operation["operationId"]}
    parameters = operation.get("parameters", [])
    kept["parameters"] = [
        _parameter(p, f"{where}/parameters/{i}") for i, p in enumerate(parameters)
    ]
    if "requestBody" in operation:
        body = operation["requestBody"]
        kept["requestBody"] = {
            "required": body.get("required", False),
            "content": _content(body["content"], f"{where}/requestBody/content"),
        }
    # Only the answers that carry a body: errors are Discord's generic ones, by $ref.
    kept["responses"] = {
        status: {"content": _content(answer["content"], f"{where}/responses/{status}")}
        for status, answer in operation["responses"].items()
        if status.startswith("2") and "content" in answer
    }
    return kept


def _paths(paths: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for path in PATHS:
        if path not in paths:
            raise PruneError(f"paths: {path!r} is not in the description")
        item = paths[path]
        where = f"#/paths/{path.replace('/', '~1')}"
        entry: dict[str, Any] = {
            method: _operation(item[method], f"{where}/{method}")
            for method in METHODS
            if method in item
        }
        entry["parameters"] = [
            _parameter(p, f"{where}/parameters/{i}")
            for i, p in enumerate(item.get("parameters", []))
        ]
        kept[path] = entry
    return kept


def prune(document: dict[str, Any], *, notice: str, source: dict[str, str]) -> dict[str, Any]:
    """The pruned description: the same JSON pointers, only what validation reads.

    Args:
        document: The full OpenAPI description.
        notice: Discord's licence text, carried in ``x-license-notice``.
        source: Where the full description came from (``x-source``).

    Returns:
        A new OpenAPI document; ``#/components/schemas/<name>`` resolves in it exactly as
        in ``document`` for every schema that is kept.
    """
    paths = _paths(document["paths"])
    schemas = document["components"]["schemas"]
    names = _schema_closure(schemas, [*SCHEMAS, *_local_names(_refs(paths))])
    return {
        "openapi": document["openapi"],
        "info": {
            "title": document["info"]["title"],
            "version": document["info"]["version"],
            "license": document["info"].get("license", {"name": "MIT"}),
        },
        "x-license-notice": notice.strip().splitlines(),
        "x-source": source,
        "paths": paths,
        "components": {
            "schemas": {
                name: prune_schema(schemas[name], f"{SCHEMA_PREFIX}{name}") for name in names
            }
        },
    }


def _local_names(refs: Iterable[str]) -> list[str]:
    names = []
    for ref in refs:
        if not ref.startswith(SCHEMA_PREFIX):
            raise PruneError(f"paths: unsupported $ref {ref!r}")
        names.append(ref.removeprefix(SCHEMA_PREFIX))
    return names


def source_info(path: Path, data: bytes, version: str) -> dict[str, str]:
    """What the copy says about its origin: the commit from README.md, else the sha256."""
    info = {
        "generator": "scripts/prune_openapi.py",
        "file": "specs/openapi.json of github.com/discord/discord-api-spec",
        "info.version": version,
    }
    readme = path.with_name("README.md")
    commit = re.search(r"\b[0-9a-f]{40}\b", readme.read_text("utf-8")) if readme.is_file() else None
    if commit is not None:
        info["commit"] = commit.group(0)
    else:
        info["sha256"] = hashlib.sha256(data).hexdigest()
    return info


def render(pruned: dict[str, Any]) -> str:
    """The copy's text: sorted keys and one value a line, so that diffs read well."""
    return json.dumps(pruned, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def generate(path: Path) -> str:
    """The pruned copy of the full description at ``path``, as text.

    Raises:
        PruneError: The description holds something the script cannot keep, or
            ``LICENSE`` is missing beside it.
    """
    licence = path.with_name("LICENSE")
    if not licence.is_file():
        raise PruneError(f"{licence}: Discord's licence must sit beside the description")
    data = path.read_bytes()
    document = json.loads(data)
    source = source_info(path, data, document["info"]["version"])
    return render(prune(document, notice=licence.read_text("utf-8"), source=source))


def _diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), name, "regenerated"
    )
    return "".join(list(lines)[:60])


def main(argv: list[str] | None = None, out: Callable[[str], object] = print) -> int:
    """Run the script; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0] if __doc__ else "")
    parser.add_argument("source", nargs="?", default=os.environ.get("DISCORD_OPENAPI"))
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the copy is stale")
    args = parser.parse_args(argv)
    if not args.source:
        out("error: give the full description's path, or set DISCORD_OPENAPI")
        return 2
    source = Path(args.source)
    if not source.is_file():
        out(f"error: no file at {source}")
        return 2
    try:
        text = generate(source)
    except PruneError as exc:
        out(f"error: {exc}")
        return 1
    output: Path = args.output
    if args.check:
        old = output.read_text("utf-8") if output.is_file() else ""
        if old == text:
            out(f"{output.name} is up to date with {source}")
            return 0
        out(_diff(old, text, str(output)))
        out(f"{output} is stale; regenerate it: python scripts/prune_openapi.py {source}")
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, "utf-8")
    out(f"wrote {output} ({len(text):,} characters) from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
