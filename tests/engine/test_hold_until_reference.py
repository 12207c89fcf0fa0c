"""``hold_until`` against a slow reference written with zoneinfo alone: each held officer's
wait turned into an instant in their own zone, whatever zone ``now`` is written in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.eligibility import Constraints, Reason, hold_until
from engine.roster import NEVER_OPENS
from tests.conftest import make_roster


def _reference(held, codes, minute, roster, now):  # type: ignore[no-untyped-def]
    """The earliest instant over held officers of (start of now's minute, in the officer's
    zone, plus their wall-clock wait), at least one minute after that start."""
    start_utc = now.astimezone(UTC).replace(second=0, microsecond=0)
    best = None
    for i in held.tolist():
        code = int(codes[i])
        if code == Reason.OFF_SHIFT:
            opens = int(roster.next_open[i, minute[i]])
            if opens == NEVER_OPENS:
                continue
            wait = opens
        elif code == Reason.AT_HOURLY_CAP:
            wait = 60 - int(minute[i]) % 60
        elif code == Reason.AT_DAILY_CAP:
            wait = 1440 - int(minute[i]) % 1440
        else:
            continue
        tz = ZoneInfo(roster.officers[i].timezone)
        local = start_utc.astimezone(tz).replace(tzinfo=None)
        at = (local + timedelta(minutes=wait)).replace(tzinfo=tz).astimezone(UTC)
        at = max(at, start_utc + timedelta(minutes=1))
        best = at if best is None or at < best else best
    return best


ZONES = ["America/New_York", "America/Phoenix", "Australia/Lord_Howe", "America/St_Johns",
         "Asia/Kathmandu", "Pacific/Chatham"]
NOW_ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe"]
CHANGES = [datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 3, 30, 1, tzinfo=UTC),
           datetime(2025, 4, 5, 15, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC),
           datetime(2025, 10, 26, 1, tzinfo=UTC), datetime(2025, 10, 4, 16, tzinfo=UTC)]


@settings(max_examples=600, deadline=None)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=4),
    hours=st.lists(st.sampled_from(["", "Mon-Fri 08:00-17:00", "Sun 01:30-02:30",
                                    "Mon-Sun 23:00-01:00"]), min_size=4, max_size=4),
    codes=st.lists(st.sampled_from([Reason.OFF_SHIFT, Reason.AT_HOURLY_CAP,
                                    Reason.AT_DAILY_CAP]), min_size=4, max_size=4),
    change=st.sampled_from(CHANGES),
    now_zone=st.sampled_from(NOW_ZONES),
    offset_min=st.integers(-2 * 1440, 2 * 1440),
    seconds=st.integers(0, 59),
)
def test_hold_until_matches_a_zoneinfo_reference(zones, hours, codes, change, now_zone,
                                                 offset_min, seconds):  # type: ignore[no-untyped-def]
    """Around clock changes in zones with odd offsets, and with ``now`` written in any zone,
    hold_until is the instant the slow zoneinfo reference gives."""
    roster = make_roster(*[(f"O{i}", {"timezone": z, "work_hours": hours[i]})
                           for i, z in enumerate(zones)])
    now = (change + timedelta(minutes=offset_min, seconds=seconds)).astimezone(
        ZoneInfo(now_zone))
    minute, day, hour = roster.local_clock(now)
    code_arr = np.array(codes[:len(zones)], dtype=np.int8)
    code_arr[(code_arr == Reason.OFF_SHIFT) & ~roster.off_shift(now)] = Reason.AT_HOURLY_CAP
    hc = Constraints(code_arr, minute, day, hour, None)  # type: ignore[arg-type]
    held = np.arange(len(zones), dtype=np.int64)
    got = hold_until(held, hc, roster, now)
    want = _reference(held, code_arr, minute, roster, now)
    assert (got and got.astimezone(UTC)) == want, (got, want)
    # written in now's zone as a real local time (astimezone: never one the clocks skip)
    if got is not None:
        assert got.tzinfo is now.tzinfo
        assert got == got.astimezone(UTC).astimezone(now.tzinfo)
