"""The checks' primitives: a collector of violations and the rules fields share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from trio_webhook._errors import Violation

__all__ = ["SNOWFLAKE", "Collector"]

SNOWFLAKE: Final = re.compile(r"(0|[1-9][0-9]*)")


class Collector:
    """Gathers every violation of one check, so all are reported at once.

    Its methods are the rules that recur over fields: a length limit (with the
    encodability check riding along), required text, snowflakes and uniqueness.
    """

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, path: str, limit: int, actual: int, detail: str) -> None:
        self.violations.append(Violation(path, limit, actual, detail))

    def max_len(self, path: str, name: str, value: str | None, limit: int) -> None:
        if value is None:
            return
        if len(value) > limit:
            self.add(
                path,
                limit,
                len(value),
                f"{name} has {len(value)} characters, Discord allows {limit}; shorten it",
            )
        # Every text field passes here once: the encodability check rides along, and
        # costs one isascii() for the usual ASCII text.
        if not value.isascii() or type(value) is not str:
            self.encodable(path, name, value)

    def encodable(self, path: str, name: str, value: str | None) -> None:
        """Add a violation if ``value`` would make encoding the request fail."""
        text: object = value
        if text is None:
            return
        if not isinstance(text, str):
            # Reachable only with attrs validators disabled; the delivery task's
            # json.dumps would raise instead.
            self.add(path, 0, 0, f"{name} is {type(text).__name__}, not str; give text")
            return
        if text.isascii():
            return
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            lone = sum(1 for ch in text if "\ud800" <= ch <= "\udfff")
            self.add(
                path,
                0,
                lone,
                f"{name} contains a lone surrogate U+{ord(text[exc.start]):04X} at index "
                f"{exc.start}; strings must be valid UTF-8 (encode and decode text with "
                "errors='strict', or drop the surrogates)",
            )

    def required_text(self, path: str, name: str, value: str) -> None:
        if not value.strip():
            self.add(path, 1, 0, f"{name} is empty or only whitespace; Discord requires text")

    def snowflakes(self, path: str, ids: Iterable[str]) -> None:
        for i, value in enumerate(ids):
            if not SNOWFLAKE.fullmatch(value):
                self.add(
                    f"{path}[{i}]",
                    0,
                    0,
                    f"{value!r} is not a snowflake (a decimal id without leading zeros)",
                )

    def unique(self, path: str, values: Sequence[str]) -> None:
        if len(set(values)) != len(values):
            dupes = sorted({v for v in values if values.count(v) > 1})
            self.add(
                path,
                len(set(values)),
                len(values),
                f"lists {', '.join(dupes)} more than once; Discord wants each once",
            )
