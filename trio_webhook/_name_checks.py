"""The check of a display name: a message's ``username`` and a webhook's ``name``."""

from __future__ import annotations

from trio_webhook._checks import Collector
from trio_webhook._limit_values import USERNAME_FORBIDDEN

__all__ = ["check_name"]


def check_name(
    c: Collector, path: str, name: str, *, minimum: int, maximum: int, if_empty: str
) -> None:
    """Check a display name (a message's ``username``, a webhook's ``name``).

    Discord wants ``minimum`` to ``maximum`` characters, not only whitespace, and neither
    "discord" nor "clyde" in any letter case.
    """
    if len(name.strip()) < minimum:
        c.add(path, minimum, 0, f"{path} is empty; {if_empty}")
    c.max_len(path, path, name, maximum)
    lowered = name.lower()
    for word in USERNAME_FORBIDDEN:
        if word in lowered:
            c.add(
                path,
                0,
                lowered.count(word),
                f"{path} {name!r} contains {word!r}, which Discord rejects; choose another name",
            )
