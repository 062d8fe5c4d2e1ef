"""How much of Discord's webhook request schemas our messages reach.

Generates messages and edits with the hypothesis strategies, plans and encodes them, and
walks each body beside the schema (``$ref`` resolved; of a ``oneOf``/``anyOf``, the
branch that validates), recording every (schema, property) pair a body sets. Prints how
many of the properties reachable from ``IncomingWebhookRequestPartial`` and
``IncomingWebhookUpdateRequestPartial`` were reached, and the others.

A lower bound of what the models can express: a property the strategies never generate
counts as missing. Run: ``python scripts/openapi_coverage.py [--examples N]`` (the
pruned copy in tests/schemas by default; ``DISCORD_OPENAPI`` names the full file).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parent.parent
PRUNED = ROOT / "tests" / "schemas" / "discord-webhooks.json"
TOPS = ("IncomingWebhookRequestPartial", "IncomingWebhookUpdateRequestPartial")


class Walker:
    """Records the schema properties that bodies set."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:d", resource)
        self.validators: dict[str, Draft202012Validator] = {}
        self.seen: set[tuple[str, str]] = set()

    def reachable(self) -> set[tuple[str, str]]:
        """Every (schema, property) pair reachable from the two request schemas."""
        names: set[str] = set(TOPS)
        found: set[tuple[str, str]] = set()
        todo = [(self.schemas[n], n) for n in TOPS]
        while todo:
            node, owner = todo.pop()
            if isinstance(node, list):
                todo += [(x, owner) for x in node]
            elif isinstance(node, dict):
                if "$ref" in node:
                    name = node["$ref"].rsplit("/", 1)[-1]
                    if name not in names:
                        names.add(name)
                        todo.append((self.schemas[name], name))
                    continue
                for key, value in node.get("properties", {}).items():
                    found.add((owner, key))
                    todo.append((value, owner))
                todo += [(v, owner) for k, v in node.items() if k != "properties"]
        return found

    def _valid(self, schema: dict[str, Any], value: Any) -> bool:
        key = json.dumps(schema, sort_keys=True)
        if key not in self.validators:
            self.validators[key] = Draft202012Validator(schema, registry=self.registry)
        return bool(self.validators[key].is_valid(value))

    def visit(self, schema: dict[str, Any], owner: str, value: Any) -> None:
        """Walk ``value`` beside ``schema``, recording the properties it sets."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            self.visit(self.schemas[name], name, value)
            return
        for key in ("oneOf", "anyOf"):
            for branch in schema.get(key, []):
                ref = branch.get("$ref")
                probe = (
                    {"$ref": f"urn:d#/components/schemas/{ref.rsplit('/', 1)[-1]}"}
                    if ref
                    else branch
                )
                if self._valid(probe, value):
                    self.visit(branch, owner, value)
                    if key == "oneOf":
                        break
        for branch in schema.get("allOf", []):
            self.visit(branch, owner, value)
        properties = schema.get("properties", {})
        if isinstance(value, dict):
            for key, item in value.items():
                if key in properties:
                    self.seen.add((owner, key))
                    self.visit(properties[key], owner, item)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for item in value:
                self.visit(schema["items"], owner, item)


def _body(encoded: Any) -> Any:
    return json.loads(encoded.json if encoded.json is not None else encoded.payload_json)


def run(walker: Walker, examples: int) -> None:
    """Generate messages and edits and walk their bodies."""
    from trio_webhook._encoding import encode_edit, encode_execute
    from trio_webhook._limits import validate
    from trio_webhook._planning import plan_requests
    from trio_webhook.testing import strategies
    from trio_webhook.testing.strategies import rich_messages

    quiet = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    execute = {"$ref": f"urn:d#/components/schemas/{TOPS[0]}"}
    edit = {"$ref": f"urn:d#/components/schemas/{TOPS[1]}"}

    @quiet
    @given(st.one_of(strategies.messages(), rich_messages()))
    def messages(message: Any) -> None:
        if validate(message):
            return
        for planned in plan_requests(message):
            walker.visit(execute, TOPS[0], _body(encode_execute(planned)))

    @quiet
    @given(strategies.message_edits())
    def edits(change: Any) -> None:
        walker.visit(edit, TOPS[1], _body(encode_edit(change)))

    messages()
    edits()


def main() -> None:
    """Print the coverage figure and what is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1500)
    args = parser.parse_args()
    path = Path(os.environ.get("DISCORD_OPENAPI") or PRUNED)
    walker = Walker(json.loads(path.read_text(encoding="utf-8")))
    run(walker, args.examples)
    total = walker.reachable()
    print(f"covered {len(walker.seen & total)} of {len(total)} reachable properties ({path.name})")
    for owner, key in sorted(total - walker.seen):
        print(f"  missing {owner}.{key}")


if __name__ == "__main__":
    main()
