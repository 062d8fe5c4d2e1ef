"""Two transitions of the rate-limit state: a route's bucket resolved, a channel joined.

Part of :mod:`._state` (which re-exports them and documents every transition): a store
calls them inside its atomic update when an answer first names a route's bucket hash or
its channel.
"""

from __future__ import annotations

from collections import Counter

from trio_webhook.ratelimit._records import HISTORY, BucketState

__all__ = ["join_channel", "resolve_bucket"]


def resolve_bucket(
    key: str, placeholder: BucketState | None, resolved: BucketState | None
) -> BucketState:
    """UNKNOWN to resolved: the state under ``key`` once an answer names the bucket's hash.

    The placeholder (or an outdated bucket) hands its reservations, block and history to
    the real bucket, as hikari does when ``X-RateLimit-Bucket`` first arrives; with no
    state under ``key`` yet, the placeholder itself becomes it.

    Args:
        key: The bucket's key (:func:`~trio_webhook.ratelimit._keys.bucket_key`).
        placeholder: The state the route used until now, if the store still holds it.
        resolved: The state already under ``key`` (another route of the same bucket).

    Returns:
        The state to keep under ``key``.
    """
    if resolved is None:
        target = placeholder if placeholder is not None else BucketState(key)
        target.key = key
        return target
    if placeholder is not None:
        resolved.in_flight = tuple(sorted((*resolved.in_flight, *placeholder.in_flight)))
        resolved.blocked_until = max(resolved.blocked_until, placeholder.blocked_until)
        _merge_grants(resolved.grants, placeholder.grants)
    return resolved


def join_channel(bucket: BucketState, channel: BucketState) -> None:
    """Count the grants ``bucket`` made before its channel was known in ``channel``.

    Without them a channel of n webhooks learns a limit n too low. Only what the channel's
    history lacks is added, so joining twice counts nothing twice.
    """
    bucket.channel_synced = True
    if not bucket.grants:
        return
    # Counted in C: the channel's history holds up to HISTORY grants, and each webhook
    # of a busy channel joins it once a lane (a new lane's bucket has one or two).
    present = Counter(channel.grants)
    missing: list[float] = []
    for t in bucket.grants:
        if present[t] > 0:
            present[t] -= 1
        else:
            missing.append(t)
    _merge_grants(channel.grants, missing)


def _merge_grants(grants: list[float], more: list[float]) -> None:
    if more:
        grants[:] = sorted([*grants, *more])[-HISTORY:]
