"""Who a message is posted as and where it goes: display names, avatar, thread, forum post.

One check of a display name serves a message's ``username`` and a webhook's ``name``.
"""

from __future__ import annotations

from collections.abc import Sequence

from trio_webhook._checks import SNOWFLAKE, Collector
from trio_webhook._limit_values import (
    APPLIED_TAGS_MAX,
    THREAD_NAME_MAX,
    THREAD_NAME_MIN,
    URL_MAX,
    USERNAME_FORBIDDEN,
    USERNAME_MAX,
    USERNAME_MIN,
)

__all__ = ["check_identity", "check_name", "check_thread"]


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


def check_identity(c: Collector, username: str | None, avatar_url: str | None) -> None:
    """Check who a message is posted as: its ``username`` and ``avatar_url``."""
    if username is not None:
        check_name(
            c,
            "username",
            username,
            minimum=USERNAME_MIN,
            maximum=USERNAME_MAX,
            if_empty="give a name or leave it unset",
        )
    c.max_len("avatar_url", "avatar_url", avatar_url, URL_MAX)


def check_thread(
    c: Collector,
    thread_id: str | None,
    thread_name: str | None,
    applied_tags: Sequence[str] | None,
) -> None:
    """Check where a message goes: a thread, or a new forum post and its tags."""
    if thread_id is not None and not SNOWFLAKE.fullmatch(thread_id):
        c.add("thread_id", 0, 0, f"thread_id {thread_id!r} is not a snowflake")
    if thread_name is not None:
        if len(thread_name.strip()) < THREAD_NAME_MIN:
            c.add("thread_name", THREAD_NAME_MIN, 0, "thread_name is empty; name the forum post")
        c.max_len("thread_name", "thread_name", thread_name, THREAD_NAME_MAX)
        if thread_id is not None:
            c.add(
                "thread_name",
                0,
                1,
                "thread_id and thread_name together are an error (220002): post into the "
                "thread, or create a forum post, not both",
            )
    if applied_tags is not None:
        if len(applied_tags) > APPLIED_TAGS_MAX:
            c.add(
                "applied_tags",
                APPLIED_TAGS_MAX,
                len(applied_tags),
                f"{len(applied_tags)} tags, Discord allows {APPLIED_TAGS_MAX}; apply fewer",
            )
        c.snowflakes("applied_tags", applied_tags)
        c.unique("applied_tags", applied_tags)
