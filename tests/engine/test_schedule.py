"""Working hours: parsing ``Mon-Fri 08:00-18:00;Sat 09:00-13:00`` and the weekly schedule."""

from __future__ import annotations

import pytest

from engine.domain import MINUTES_PER_WEEK, WeeklySchedule
from engine.schedule import parse_work_hours

DAY = 24 * 60
MON, TUE, WED, THU, FRI, SAT, SUN = (d * DAY for d in range(7))


def hm(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


@pytest.mark.parametrize(("text", "intervals"), [
    ("Mon 09:00-17:00", [(MON + hm(9), MON + hm(17))]),
    ("mon 9:00-17:00", [(MON + hm(9), MON + hm(17))]),
    ("  Mon - Wed   08:30 - 12:15 ", [(d + hm(8, 30), d + hm(12, 15)) for d in (MON, TUE, WED)]),
    ("Mon-Fri 08:00-18:00;Sat 09:00-13:00",
     [(d + hm(8), d + hm(18)) for d in (MON, TUE, WED, THU, FRI)]
     + [(SAT + hm(9), SAT + hm(13))]),
    ("Mon,Wed,Fri 09:00-12:00", [(d + hm(9), d + hm(12)) for d in (MON, WED, FRI)]),
    ("Tue 00:00-24:00", [(TUE, TUE + DAY)]),
    ("Sun 20:00-24:00", [(SUN + hm(20), MINUTES_PER_WEEK)]),
    # an end before the start runs past midnight
    ("Fri 22:00-02:00", [(FRI + hm(22), SAT + hm(2))]),
    ("Mon 18:00-00:00", [(MON + hm(18), TUE)]),
    # Sunday night into Monday morning wraps around the week
    ("Sun 22:00-02:00", [(0, hm(2)), (SUN + hm(22), MINUTES_PER_WEEK)]),
    # a day range may wrap from the end of the week to its start
    ("Fri-Mon 09:00-10:00", [(d + hm(9), d + hm(10)) for d in (MON, FRI, SAT, SUN)]),
    (";Mon 09:00-10:00;;", [(MON + hm(9), MON + hm(10))]),
])
def test_parse_work_hours_minute_of_week_intervals(text, intervals):
    """Each part becomes [start, end) minute-of-week intervals (Monday 00:00 = 0), sorted."""
    schedule = parse_work_hours(text)
    assert not schedule.always
    assert schedule.intervals == tuple(sorted(intervals))


@pytest.mark.parametrize("text", ["", "   "])
def test_parse_work_hours_empty_means_always(text):
    """Empty working hours mean always available."""
    schedule = parse_work_hours(text)
    assert schedule.always and schedule.is_open(hm(3))


@pytest.mark.parametrize(("text", "message"), [
    ("Mon 8-17", "'Mon 8-17' is not like 'Mon-Fri 08:00-18:00'"),
    ("Monday 09:00-17:00", "'Monday 09:00-17:00' is not like"),
    ("Mon-Fri 08:00-18:00;garbage", "'garbage' is not like"),
    ("Mon-Fri 08:00-18:00, Sat 09:00-13:00", "is not like"),
    ("Fry 08:00-09:00", "'Fry 08:00-09:00': 'fry' is not a weekday"),
    ("Mon-Fri 08:00-18:00;Sat-Sux 09:00-10:00", "'Sat-Sux 09:00-10:00': 'sux' is not a weekday"),
    ("Mon 25:00-26:00", "'Mon 25:00-26:00': '25:00' is not a time of day"),
    ("Mon 08:60-09:00", "'Mon 08:60-09:00': '08:60' is not a time of day"),
    ("Mon 08:00-24:30", "'Mon 08:00-24:30': '24:30' is not a time of day"),
    ("Mon 24:00-02:00", "'Mon 24:00-02:00': '24:00' can only end a range"),
    ("Mon 08:00-08:00", "'Mon 08:00-08:00' has the same start and end"),
    (";", "has no days and hours"),
    (" ; ; ", "has no days and hours"),
])
def test_parse_work_hours_error_names_the_bad_part(text, message):
    """A bad part is refused with a ValueError quoting that part and what is wrong in it."""
    with pytest.raises(ValueError) as info:
        parse_work_hours(text)
    assert message in str(info.value)


# ---------------------------------------------------------------- WeeklySchedule

WEEKDAYS_8_18 = parse_work_hours("Mon-Fri 08:00-18:00")


@pytest.mark.parametrize(("minute", "is_open", "wait"), [
    (MON + hm(7, 59), False, 1),
    (MON + hm(8), True, 0),
    (MON + hm(17, 59), True, 0),
    (MON + hm(18), False, hm(14)),  # until Tuesday 08:00
    (FRI + hm(18), False, 2 * DAY + hm(14)),  # until Monday 08:00
    (SUN + hm(23, 59), False, hm(8, 1)),  # wraps to Monday 08:00 of the next week
    (0, False, hm(8)),
])
def test_weekly_schedule_open_and_minutes_until_open(minute, is_open, wait):
    """is_open holds inside [start, end); minutes_until_open counts to the next opening,
    wrapping around the week, 0 while open."""
    assert WEEKDAYS_8_18.is_open(minute) is is_open
    assert WEEKDAYS_8_18.minutes_until_open(minute) == wait


@pytest.mark.parametrize(("minute", "is_open", "wait"), [
    (SUN + hm(21, 59), False, 1),
    (SUN + hm(22), True, 0),
    (SUN + hm(23, 59), True, 0),
    (0, True, 0),  # Monday 00:00 is still Sunday night's shift
    (hm(1, 59), True, 0),
    (hm(2), False, SUN + hm(22) - hm(2)),
])
def test_weekly_schedule_sunday_night_shift_runs_into_monday(minute, is_open, wait):
    """A Sunday 22:00-02:00 shift is open on Sunday night and early Monday, not after 02:00."""
    schedule = parse_work_hours("Sun 22:00-02:00")
    assert schedule.is_open(minute) is is_open
    assert schedule.minutes_until_open(minute) == wait


def test_weekly_schedule_overnight_friday_shift_covers_saturday_morning():
    """Fri 22:00-02:00 is open at Saturday 01:00 and closed at Friday 21:00."""
    schedule = parse_work_hours("Fri 22:00-02:00")
    assert schedule.is_open(SAT + hm(1))
    assert not schedule.is_open(FRI + hm(21))
    assert schedule.minutes_until_open(FRI + hm(21)) == 60


def test_weekly_schedule_always_and_never():
    """An 'always' schedule is open with no wait; one with no intervals never opens."""
    always = WeeklySchedule()
    never = WeeklySchedule((), always=False)
    for minute in (0, MON + hm(12), SUN + hm(23, 59)):
        assert always.is_open(minute) and always.minutes_until_open(minute) == 0
        assert not never.is_open(minute) and never.minutes_until_open(minute) is None


def test_weekly_schedule_open_minutes_match_the_text():
    """Mon-Fri 08:00-18:00;Sat 09:00-13:00 is open 5 * 600 + 240 minutes a week."""
    schedule = parse_work_hours("Mon-Fri 08:00-18:00;Sat 09:00-13:00")
    open_minutes = sum(schedule.is_open(m) for m in range(MINUTES_PER_WEEK))
    assert open_minutes == 5 * 600 + 240
