"""Parsing of working hours such as ``Mon-Fri 08:00-18:00;Sat 09:00-13:00``."""

from __future__ import annotations

import re

from engine.domain import WEEKDAYS, WeeklySchedule

_PART = re.compile(
    r"^\s*(?P<days>[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?(?:\s*,\s*[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?)*)"
    r"\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


def _minute(hhmm: str, *, end: bool = False) -> int:
    """Minute of the day of ``HH:MM``; 24:00 is allowed only as the end of a range."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError(f"{hhmm!r} is not a time of day")
    if hours == 24 and not end:
        raise ValueError(f"{hhmm!r} can only end a range (start at 00:00)")
    return hours * 60 + minutes


def _days(spec: str) -> list[int]:
    days: list[int] = []
    for chunk in spec.split(","):
        ends = [d.strip().lower() for d in chunk.split("-")]
        for d in ends:
            if d not in WEEKDAYS:
                raise ValueError(f"{d!r} is not a weekday (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)")
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        days.extend(span)
    return days


def parse_work_hours(text: str) -> WeeklySchedule:
    """Parse ``Mon-Fri 08:00-18:00;Sat 09:00-13:00`` (``;``-separated parts).

    Empty text means always available. An end before the start runs past midnight
    (``Fri 22:00-02:00`` is Friday 22:00 to Saturday 02:00). Raises ValueError naming the part.
    """
    text = text.strip()
    if not text:
        return WeeklySchedule()
    intervals: list[tuple[int, int]] = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _PART.match(part)
        if not match:
            raise ValueError(
                f"{part!r} is not like 'Mon-Fri 08:00-18:00' (days, a space, start-end in 24h)"
            )
        try:
            start, end = _minute(match["start"]), _minute(match["end"], end=True)
            days = _days(match["days"])
        except ValueError as exc:
            raise ValueError(f"{part!r}: {exc}") from None
        if start == end:
            raise ValueError(f"{part!r} has the same start and end")
        length = (end - start) % (24 * 60) or 24 * 60
        for day in days:
            s = day * 1440 + start
            e = s + length
            if e <= 7 * 1440:
                intervals.append((s, e))
            else:  # Sunday night into Monday morning wraps around the week
                intervals.append((s, 7 * 1440))
                intervals.append((0, e - 7 * 1440))
    if not intervals:  # only separators, e.g. ";": not "always", and not "never" either
        raise ValueError(f"{text!r} has no days and hours (leave it empty for always available)")
    return WeeklySchedule(tuple(sorted(intervals)), always=False)
