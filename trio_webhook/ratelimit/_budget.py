"""Discord's invalid-request limit: the budget the tracker keeps under, and its counter."""

from __future__ import annotations

import math
from collections import deque
from typing import Final

import attrs

from trio_webhook._errors import ConfigError
from trio_webhook.ratelimit._headers import RateLimitInfo

__all__ = [
    "DEFAULT_BUDGET",
    "INVALID_STATUSES",
    "InvalidRequestBudget",
    "InvalidRequestWindow",
    "counts_as_invalid",
]

# The statuses Discord's edge counts towards its invalid-request ban (429s scoped
# ``shared`` excepted).
INVALID_STATUSES: Final = frozenset({401, 403, 429})


def _positive_finite(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{type(instance).__name__}.{attribute.name}", value, "a finite number above 0"
        )


def _share(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 < value <= 1.0):
        raise ConfigError(f"{type(instance).__name__}.{attribute.name}", value, "a share in (0, 1]")


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{type(instance).__name__}.{attribute.name}", value, "an int >= 1")


@attrs.frozen
class InvalidRequestBudget:
    """Discord's invalid-request limit, and how close to it the tracker may go.

    Discord's edge bans an IP address for an hour after ``limit`` answers with status
    401, 403 or 429 in ``window`` seconds; 429s scoped ``shared`` do not count
    (discord-api-docs, "Rate Limits" -> "Invalid Request Limit aka Cloudflare bans").
    The tracker counts them (:class:`InvalidRequestWindow`), and:

    - below ``slow_at`` (``slow_share`` of the limit) it adds nothing;
    - from ``slow_at`` to ``stop_at`` it spaces grants (across every route) at least
      :meth:`spacing` seconds apart;
    - from ``stop_at`` (``stop_share`` of the limit) on, it refuses to send until the
      count falls below it again.

    Attributes:
        limit: Invalid answers allowed per window (Discord's 10,000).
        window: Seconds (Discord's 10 minutes).
        slow_share: Share of ``limit`` where slowing down begins.
        stop_share: Share of ``limit`` where sending stops (at least ``slow_share``).
        granularity: Seconds per counting slot: the count keeps one number per slot, so
            memory is ``window / granularity`` slots whatever the traffic, and the count
            may hold up to one slot of answers older than ``window`` (it errs on the side
            of counting too many).
    """

    limit: int = attrs.field(default=10_000, validator=_at_least_one)
    window: float = attrs.field(default=600.0, validator=_positive_finite)
    slow_share: float = attrs.field(default=0.5, validator=_share)
    stop_share: float = attrs.field(default=0.95, validator=_share)
    granularity: float = attrs.field(default=1.0, validator=_positive_finite)
    # Derived once: reserve reads them on every request.
    _slow_at: int = attrs.field(init=False, repr=False, eq=False)
    _stop_at: int = attrs.field(init=False, repr=False, eq=False)
    _slots: int = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.slow_share > self.stop_share:
            raise ConfigError(
                "InvalidRequestBudget.slow_share",
                self.slow_share,
                f"a share no larger than stop_share={self.stop_share!r}",
            )
        if self.granularity > self.window:
            raise ConfigError(
                "InvalidRequestBudget.granularity",
                self.granularity,
                f"at most window={self.window!r} seconds",
            )
        object.__setattr__(self, "_slow_at", max(0, round(self.slow_share * self.limit)))
        object.__setattr__(self, "_stop_at", max(1, round(self.stop_share * self.limit)))
        object.__setattr__(self, "_slots", math.ceil(self.window / self.granularity))

    @property
    def slow_at(self) -> int:
        """The count from which grants are spaced out (``slow_share`` of ``limit``)."""
        return self._slow_at

    @property
    def stop_at(self) -> int:
        """The count from which nothing is sent (``stop_share`` of ``limit``)."""
        return self._stop_at

    @property
    def slots(self) -> int:
        """Counting slots a window spans (the count keeps one more: the current one)."""
        return self._slots

    def spacing(self, count: int) -> float:
        """The least time between two grants when ``count`` invalid answers are counted.

        ``spacing(c) = window * (c - slow_at) / ((stop_at - slow_at) * (stop_at - c))`` for
        ``slow_at <= c < stop_at``, else 0. The first factor ramps from 0 at ``slow_at`` to
        1 at ``stop_at``; the second, ``window / (stop_at - c)``, is the spacing that makes
        what is left of the budget last a whole window even if every answer from now on
        were invalid. With the defaults: 0 s at 5,000, 0.13 s at 7,250, 1.07 s at 9,000,
        about 600 s at 9,499 (then :meth:`stop_at`).
        """
        slow, stop = self.slow_at, self.stop_at
        if count < slow or count >= stop:
            return 0.0
        return self.window * (count - slow) / ((stop - slow) * (stop - count))

    def refusal(self, count: int, resume: float) -> str:
        """Why nothing may be sent with ``count`` invalid answers counted (token-free)."""
        return (
            f"invalid-request budget spent: {count} answers with status 401, 403 or 429 in "
            f"the last {self.window:g} s, at or above the stop point of {self.stop_at} "
            f"(Discord's edge bans the IP address for an hour at {self.limit} per "
            f"{self.window:g} s); sending may resume in {resume:.1f} s"
        )


DEFAULT_BUDGET: Final = InvalidRequestBudget()


@attrs.define
class InvalidRequestWindow:
    """The invalid answers of the last window, counted per slot (bounded memory).

    Slot ``k`` holds the answers observed at times ``t`` with ``floor(t / granularity) ==
    k``. At ``now`` (slot ``K``) the count is the sum of slots ``K - budget.slots`` to
    ``K``: every answer of the last ``window`` seconds, plus those of the oldest,
    partly expired slot, so ``brute(window) <= count <= brute(window + granularity)``
    when ``window`` is a whole number of slots. At most ``slots + 1`` slots are kept.

    Attributes:
        slots: ``[slot index, answers]`` pairs, oldest first.
        total: The sum of their answers.
    """

    slots: deque[list[int]] = attrs.Factory(deque)
    total: int = 0

    def prune(self, now: float, budget: InvalidRequestBudget) -> int:
        """Drop the slots that left the window; return the count at ``now``."""
        if not self.slots:
            return 0
        oldest = math.floor(now / budget.granularity) - budget.slots
        while self.slots and self.slots[0][0] < oldest:
            self.total -= self.slots.popleft()[1]
        return self.total

    def count(self, now: float, budget: InvalidRequestBudget) -> int:
        """The count at ``now``, without changing anything."""
        oldest = math.floor(now / budget.granularity) - budget.slots
        return sum(n for k, n in self.slots if k >= oldest)

    def add(self, now: float, budget: InvalidRequestBudget) -> None:
        """Count one invalid answer observed at ``now``."""
        self.prune(now, budget)
        slot = math.floor(now / budget.granularity)
        if self.slots and self.slots[-1][0] >= slot:
            # Same slot (or a clock that stepped back): keep the slots in order.
            self.slots[-1][1] += 1
        else:
            self.slots.append([slot, 1])
        self.total += 1

    def resume_after(self, now: float, budget: InvalidRequestBudget) -> float:
        """Seconds until the count falls below ``budget.stop_at`` (0 if it already is)."""
        count = self.prune(now, budget)
        for slot, answers in self.slots:
            if count < budget.stop_at:
                break
            count -= answers
            # Slot k leaves the count when the current slot reaches k + slots + 1.
            leaves_at = (slot + budget.slots + 1) * budget.granularity
            if count < budget.stop_at:
                return max(leaves_at - now, 1e-6)
        return 0.0


def counts_as_invalid(info: RateLimitInfo) -> bool:
    """Whether Discord's edge counts ``info`` towards its invalid-request ban.

    Status 401, 403 or 429, except a 429 scoped ``shared`` (another sender's limit on a
    shared resource: not this client's fault, and Discord says it does not count).
    """
    return info.status in INVALID_STATUSES and not (info.status == 429 and info.scope == "shared")
