"""Discord's OpenAPI description for the tests: the pruned copy, or the full file.

By default the tests validate against ``tests/schemas/discord-webhooks.json``, the part of
Discord's description we use (``scripts/prune_openapi.py`` makes it). ``DISCORD_OPENAPI``,
when set, names the full description to use instead; set but missing is a failure, so a
run that asked for the full file cannot pass without it. Both resolve the same JSON
pointers (``#/components/schemas/<name>``), and ``test_schemas.py`` checks that they
validate alike.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Final

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

PRUNED: Final = Path(__file__).resolve().parent / "schemas" / "discord-webhooks.json"
DOCUMENT_URI: Final = "urn:discord-openapi"


def full_path() -> Path | None:
    """The full description named by ``DISCORD_OPENAPI``, or ``None`` when it is unset."""
    path = os.environ.get("DISCORD_OPENAPI")
    if not path:
        return None
    if not Path(path).is_file():
        pytest.fail(f"DISCORD_OPENAPI={path!r} is set but no such file exists")
    return Path(path)


def document_path() -> Path:
    """The description the conformance tests validate against."""
    return full_path() or PRUNED


@functools.cache
def load_document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@functools.cache
def validator_for(path: Path, schema_name: str) -> Draft202012Validator:
    """A validator for one component schema of the description at ``path``.

    Cached: building the registry costs far more than a check.
    """
    resource = Resource.from_contents(load_document(path), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry)


def validator(schema_name: str) -> Draft202012Validator:
    """A validator for ``schema_name`` in the description in use (see the module)."""
    return validator_for(document_path(), schema_name)
