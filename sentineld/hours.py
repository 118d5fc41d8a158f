"""Weekly opening hours in a time zone: when a playbook rule is active, and how a first-response
SLA counts only business time.

``WeeklyHours(timezone="Europe/London", days=["mon", ..., "fri"], start="09:00", end="17:30")``
is open on those days between those local times. Times are compared in the zone with
`zoneinfo`, so daylight saving changes move the opening with the local clock, as people expect.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from sentineld.options import Options

__all__ = ["DAYS", "WeeklyHours"]

DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: A deadline further than this many days of calendar away is not searched (a closed calendar).
_MAX_DAYS: Final = 800


def _parse_clock(text: str, key: str) -> time | None:
    """``"09:00"`` → 09:00; ``"24:00"`` → None (the end of the day)."""
    if text == "24:00":
        return None
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{key}: expected a local time such as \"09:00\", got {text!r}") from None


class WeeklyHours(Options):
    """Open hours repeating every week, in one time zone."""

    #: IANA time zone name ("Europe/London", "America/New_York", "UTC").
    timezone: str = "UTC"
    #: Open days, as "mon" … "sun".
    days: list[str] = msgspec.field(default_factory=lambda: list(DAYS[:5]))
    #: Opening time, local ("09:00").
    start: str = "09:00"
    #: Closing time, local ("17:30"; "24:00" for midnight).
    end: str = "17:00"
    #: Dates (YYYY-MM-DD) on which it stays closed all day (public holidays).
    closed_on: list[str] = []

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        for day in self.days:
            if day not in DAYS:
                raise ValueError(f"days: {day!r} is not one of {', '.join(DAYS)}")
        opens = _parse_clock(self.start, "start")
        closes = _parse_clock(self.end, "end")
        if opens is None:
            raise ValueError("start: 24:00 is not an opening time")
        if closes is not None and closes <= opens:
            raise ValueError("end must be after start (hours that span midnight: use two rules)")
        for day in self.closed_on:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise ValueError(f"closed_on: {day!r} is not a date (YYYY-MM-DD)") from None

    # The parsed forms are derived on demand (Options are frozen msgspec structs).

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _open_interval(self, day: date) -> tuple[float, float] | None:
        """[open, close) of a calendar day in POSIX seconds, or None when closed that day."""
        if DAYS[day.weekday()] not in self.days or day.isoformat() in self.closed_on:
            return None
        zone = self.zone
        opens = _parse_clock(self.start, "start")
        closes = _parse_clock(self.end, "end")
        assert opens is not None
        begin = datetime.combine(day, opens, zone).timestamp()
        if closes is None:
            finish = datetime.combine(day + timedelta(days=1), time(0), zone).timestamp()
        else:
            finish = datetime.combine(day, closes, zone).timestamp()
        return begin, finish

    def _local_day(self, moment: float) -> date:
        return datetime.fromtimestamp(moment, UTC).astimezone(self.zone).date()

    def contains(self, moment: float) -> bool:
        """True when `moment` (POSIX seconds) falls in open hours."""
        interval = self._open_interval(self._local_day(moment))
        return interval is not None and interval[0] <= moment < interval[1]

    def deadline(self, start: float, seconds: float) -> float:
        """The moment when `seconds` of open time have passed since `start`: a one-hour SLA on
        a message sent Friday 18:00 with Mon–Fri 9–17 hours falls due Monday 10:00."""
        remaining = max(0.0, float(seconds))
        day = self._local_day(start)
        cursor = start
        for _ in range(_MAX_DAYS):
            interval = self._open_interval(day)
            if interval is not None:
                begin, finish = max(interval[0], cursor), interval[1]
                if begin < finish:
                    if remaining <= finish - begin:
                        return begin + remaining
                    remaining -= finish - begin
            day += timedelta(days=1)
        raise ValueError("business hours never open: check days, start, end and closed_on")

    def next_open(self, moment: float) -> float:
        """`moment` itself when open, else when the hours open next."""
        return self.deadline(moment, 0.0)
