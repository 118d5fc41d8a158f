"""Weekly hours: open or closed, and deadlines that count only open time, in a time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sentineld.hours import WeeklyHours
from sentineld.options import OptionsError, convert_options

LONDON = ZoneInfo("Europe/London")


def local(*parts: int, zone: ZoneInfo = LONDON) -> float:
    return datetime(*parts, tzinfo=zone).timestamp()


def hours(**fields: object) -> WeeklyHours:
    return convert_options({"timezone": "Europe/London", **fields}, WeeklyHours, "hours")


def test_open_on_weekdays_between_start_and_end_local_time() -> None:
    week = hours(start="09:00", end="17:30")
    assert week.contains(local(2026, 11, 24, 9, 0))  # Tuesday
    assert not week.contains(local(2026, 11, 24, 8, 59))
    assert not week.contains(local(2026, 11, 24, 17, 30))
    assert not week.contains(local(2026, 11, 28, 12, 0))  # Saturday


def test_deadline_skips_the_night_and_the_weekend() -> None:
    week = hours(start="09:00", end="17:00")
    friday_evening = local(2026, 11, 27, 18, 0)
    assert week.deadline(friday_evening, 3600) == local(2026, 11, 30, 10, 0)
    friday_late_afternoon = local(2026, 11, 27, 16, 30)
    assert week.deadline(friday_late_afternoon, 3600) == local(2026, 11, 30, 9, 30)
    inside = local(2026, 11, 24, 10, 0)
    assert week.deadline(inside, 1800) == inside + 1800


def test_deadline_follows_daylight_saving_in_the_zone() -> None:
    week = hours(start="09:00", end="17:00", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    # London leaves summer time on 2026-10-25: 09:00 local is 08:00 UTC before, 09:00 UTC after.
    before = week.deadline(local(2026, 10, 24, 7, 0), 0)
    after = week.deadline(local(2026, 10, 24, 20, 0), 0)
    assert datetime.fromtimestamp(before, LONDON).hour == 9
    assert datetime.fromtimestamp(after, LONDON).hour == 9
    assert after - before == 25 * 3600  # the night of the change is an hour longer


def test_closed_on_holidays() -> None:
    week = hours(closed_on=["2026-12-25"])
    christmas_eve_evening = local(2026, 12, 24, 18, 0)  # Thursday
    assert week.deadline(christmas_eve_evening, 60) == local(2026, 12, 28, 9, 1)


@pytest.mark.parametrize("fields, message", [
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"days": ["monday"]}, "is not one of"),
    ({"start": "17:00", "end": "09:00"}, "end must be after start"),
    ({"start": "9h"}, "expected a local time"),
    ({"closed_on": ["25/12"]}, "is not a date"),
])
def test_bad_hours_are_explained(fields: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        convert_options(fields, WeeklyHours, "hours")
