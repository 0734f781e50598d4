"""Local-time arithmetic for the policy gate: days, windows and caps as intervals of UTC instants.

Wall clocks jump (DST, and the odd zone that skipped a whole day), so every rule here is stated over
instants, never over wall-clock readings: local day ``d`` is ``[day_start(d), day_start(d + 1))``,
where ``day_start(d)`` is the first instant whose wall clock reads ``d 00:00`` or later, and a window
is the sub-interval between the first instants reading its start and its end. Those intervals are
ordered and never overlap, which keeps "is it allowed now?" and "when next?" consistent and exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contactfix.policy.profile import MINUTES_PER_DAY, Window

# Far more local days than any rule can need: every rule here clears within a year.
_MAX_DAYS_AHEAD = 400


def first_instant_at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The earliest UTC instant whose wall clock in ``zone`` reads ``day`` + ``minute`` or later."""
    if minute >= MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), minute - MINUTES_PER_DAY
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    earlier = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if earlier.astimezone(zone).replace(tzinfo=None) == wall:
        return earlier  # the wall time exists; fold=0 is its first occurrence
    # The wall time falls in a gap: the answer is the transition, which lies between the two readings
    # of the gap (zoneinfo offsets and transitions are whole seconds, so search whole seconds).
    other = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = int(min(earlier, other).timestamp()), int(max(earlier, other).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant local day ``day`` begins in ``zone`` (day caps reset here)."""
    return first_instant_at(day, 0, zone)


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The local day whose interval holds ``instant`` (a repeated hour belongs to the earlier day)."""
    day = instant.astimezone(zone).date()
    while instant < day_start(day, zone):
        day -= timedelta(days=1)
    while instant >= day_start(day + timedelta(days=1), zone):
        day += timedelta(days=1)
    return day


@dataclass(frozen=True, slots=True)
class Hours:
    """Allowed on ``workdays`` (ISO weekdays; all when None) between a window's start and end."""

    window: Window
    zone: ZoneInfo
    workdays: frozenset[int] | None = None

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        start = first_instant_at(day, self.window.start_minute, self.zone)
        return start, first_instant_at(day, self.window.end_minute, self.zone)

    def _works(self, day: date) -> bool:
        return self.workdays is None or day.isoweekday() in self.workdays

    def allows(self, instant: datetime) -> bool:
        """True when ``instant`` lies inside the window of a working local day."""
        day = local_day(instant, self.zone)
        start, end = self._bounds(day)
        return self._works(day) and start <= instant < end

    def earliest_from(self, instant: datetime) -> datetime:
        """The first allowed instant at or after ``instant``."""
        day = local_day(instant, self.zone)
        for _ in range(_MAX_DAYS_AHEAD):
            start, end = self._bounds(day)
            # start == end: a transition swallowed the whole window on that day.
            if self._works(day) and start < end and instant < end:
                return max(start, instant)
            day += timedelta(days=1)
        raise AssertionError("unreachable: a window with start < end opens within a year")


@dataclass(frozen=True, slots=True)
class CallCap:
    """At most ``cap`` calls in any ``days`` consecutive local days, today included."""

    cap: int
    days: int
    call_days: tuple[date, ...]  # local day of each earlier call attempt, sorted
    zone: ZoneInfo

    @classmethod
    def of(cls, cap: int, days: int, calls: Iterable[datetime], zone: ZoneInfo) -> CallCap:
        """A cap over the local days of the ``calls`` made so far."""
        return cls(cap, days, tuple(sorted(local_day(call, zone) for call in calls)), zone)

    def _counted(self, day: date) -> list[date]:
        # Calls dated after ``day`` count too: a clock skew must not buy extra calls.
        first = day - timedelta(days=self.days - 1)
        return [call_day for call_day in self.call_days if call_day >= first]

    def allows(self, instant: datetime) -> bool:
        """True when one more call at ``instant`` stays within the cap."""
        return len(self._counted(local_day(instant, self.zone))) < self.cap

    def earliest_from(self, instant: datetime) -> datetime:
        """The first instant at or after ``instant`` when enough calls have left the period."""
        counted = self._counted(local_day(instant, self.zone))
        if len(counted) < self.cap:
            return instant
        # Once the call at this index leaves the period, fewer than ``cap`` remain in it.
        leaving = counted[len(counted) - self.cap]
        return max(instant, day_start(leaving + timedelta(days=self.days), self.zone))


@dataclass(frozen=True, slots=True)
class Pause:
    """No contact before local day ``until_day`` begins."""

    until_day: date
    zone: ZoneInfo

    def allows(self, instant: datetime) -> bool:
        """True once local day ``until_day`` has begun."""
        return instant >= day_start(self.until_day, self.zone)

    def earliest_from(self, instant: datetime) -> datetime:
        """The later of ``instant`` and the start of ``until_day``."""
        return max(instant, day_start(self.until_day, self.zone))
