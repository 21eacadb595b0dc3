"""Publishing slots: a plan (a time zone, the first slot of a day, an interval, slots a day) and the free slots
it leaves around videos already scheduled.

Slots are wall-clock times in the plan's zone (06:00, 08:00, ... stay 06:00, 08:00 across a daylight-saving
change), kept and sent as UTC. A wall time that does not exist on a spring-forward day moves to the first
instant after the gap; one that happens twice on a fall-back day is the first of the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shortskit.errors import ConfigError

__all__ = ["PACIFIC", "SlotPlan", "free_slots", "next_pacific_midnight", "parse_rfc3339", "rfc3339"]

PACIFIC = "America/Los_Angeles"  # YouTube's quotas reset at midnight Pacific time


@dataclass(frozen=True)
class SlotPlan:
    """Where uploads go: ``per_day`` slots from ``first`` every ``every``, in ``zone``."""

    zone: str = "UTC"  # IANA time zone of the channel's audience, e.g. America/New_York
    first: time = time(6, 0)  # the first slot of each day, wall-clock time in ``zone``
    every: timedelta = timedelta(hours=2)  # from one slot to the next on the same day
    per_day: int = 6  # slots a day
    lead: timedelta = timedelta(minutes=30)  # the earliest slot is at least this far from now (uploads take time)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {self.zone!r} (an IANA name like Europe/Berlin)") from None
        if self.per_day < 1:
            raise ConfigError(f"slots a day must be at least 1 (got {self.per_day})")
        if self.every <= timedelta(0) and self.per_day > 1:
            raise ConfigError("the interval between slots must be more than 0")
        last = datetime.combine(date(2000, 1, 1), self.first) + self.every * (self.per_day - 1)
        if last.date() != date(2000, 1, 1):
            raise ConfigError(
                "a day's slots must end before midnight: fewer slots, an earlier first or a shorter interval"
            )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def day(self, d: date) -> list[datetime]:
        """The slots of day ``d`` as UTC instants."""
        out = []
        for i in range(self.per_day):
            wall = datetime.combine(d, self.first) + self.every * i
            local = wall.replace(tzinfo=self.tz)
            instant = local.astimezone(timezone.utc)
            if instant.astimezone(self.tz).replace(tzinfo=None) != wall:  # in a spring-forward gap
                instant = _after_gap(wall, self.tz)
            out.append(instant)
        return out

    def slots(self, after: datetime) -> Iterator[datetime]:
        """Every slot after the instant ``after`` (aware), in order."""
        d = after.astimezone(self.tz).date()
        while True:
            for s in self.day(d):
                if s > after:
                    yield s
            d += timedelta(days=1)

    def show(self, instant: datetime) -> str:
        """``instant`` as the channel's wall time, with its zone's abbreviation."""
        return instant.astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z")


def _after_gap(wall: datetime, tz: ZoneInfo) -> datetime:
    # the first UTC minute whose wall time in tz is at or after ``wall``
    guess = wall.replace(tzinfo=timezone.utc) - timedelta(hours=14)
    while guess.astimezone(tz).replace(tzinfo=None) < wall:
        guess += timedelta(minutes=1)
    return guess


def free_slots(plan: SlotPlan, taken: Iterable[datetime], count: int, *, now: datetime) -> list[datetime]:
    """The first ``count`` slots after ``now`` + ``plan.lead`` that no video in ``taken`` holds.

    A video holds the slot it falls in: from half an interval before the slot to half an interval after, so
    one scheduled by hand at 08:05 still fills the 08:00 slot.
    """
    if count <= 0:
        return []
    half = (plan.every if plan.per_day > 1 else timedelta(hours=12)) / 2
    held = sorted(t.astimezone(timezone.utc) for t in taken)
    out: list[datetime] = []
    for slot in plan.slots(now + plan.lead):
        if not any(abs(t - slot) < half for t in held):
            out.append(slot)
            if len(out) == count:
                return out
    raise AssertionError("unreachable")  # pragma: no cover - slots() never ends


def rfc3339(instant: datetime) -> str:
    """``instant`` in UTC as YouTube takes it: 2027-03-14T13:00:00Z."""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when it is not one."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def next_pacific_midnight(now: datetime) -> datetime:
    """When YouTube's daily quotas reset next: the coming midnight in America/Los_Angeles, as UTC."""
    tz = ZoneInfo(PACIFIC)
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=tz).astimezone(timezone.utc)
