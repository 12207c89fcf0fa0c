"""What an officer is told: calling hours in the borrower's timezone (8:00 to 21:00, across
daylight-saving changes), the first action, no contact details."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.notify.message import build_notice, calling_hours
from tests.conftest import make_lead


@pytest.mark.parametrize(("utc", "tz", "open_now", "call_from"), [
    # Chicago is UTC-6 in winter: 15:00 UTC is 9:00 there
    ("2025-03-04T15:00", "America/Chicago", True, None),
    # 13:59 UTC is 7:59 in Chicago: call from 8:00 the same day
    ("2025-03-04T13:59", "America/Chicago", False, "2025-03-04T08:00:00-06:00"),
    # 21:00 local is closed; next call 8:00 the day after
    ("2025-03-05T03:00", "America/Chicago", False, "2025-03-05T08:00:00-06:00"),
    # the night clocks go forward (Sunday 9 March 2025, 2:00 -> 3:00): 8:00 is CDT
    ("2025-03-09T07:30", "America/Chicago", False, "2025-03-09T08:00:00-05:00"),
    # the night clocks go back (2 November 2025): 8:00 is CST again
    ("2025-11-02T07:30", "America/Chicago", False, "2025-11-02T08:00:00-06:00"),
    # Honolulu keeps no DST: 19:00 UTC is 9:00 there
    ("2025-07-01T19:00", "Pacific/Honolulu", True, None),
    # 20:59 open, 21:00 closed (New York, UTC-4 in July)
    ("2025-07-02T00:59", "America/New_York", True, None),
    ("2025-07-02T01:00", "America/New_York", False, "2025-07-02T08:00:00-04:00"),
])
def test_calling_hours_in_the_borrowers_timezone(utc: str, tz: str, open_now: bool,
                                                 call_from: str | None):
    """Open from 8:00 (inclusive) to 21:00 (exclusive) local time; otherwise the next 8:00."""
    got = calling_hours(tz, datetime.fromisoformat(utc).replace(tzinfo=UTC))
    assert got.open_now is open_now
    assert (got.call_from.isoformat() if got.call_from else None) == call_from


def _notice(at: str, **lead: str):
    return build_notice(key="lr_k", officer_id="A", lead_id=7, kind="notify",
                        payload={"mode": "assign", "accept_by": "2025-03-04T15:15:00+00:00"},
                        lead=make_lead("L7", **lead),
                        now=datetime.fromisoformat(at).replace(tzinfo=UTC))


def test_notice_says_call_now_inside_calling_hours():
    """Inside the hours the first action is to call."""
    n = _notice("2025-03-04T15:00")
    assert n.data["first_action"] == "call"
    assert "call the borrower now" in n.text


def test_notice_says_write_first_outside_calling_hours():
    """At 23:30 for a Dallas borrower: write now, call from 8:00, with the wait spelt out."""
    n = _notice("2025-03-05T05:30")
    assert n.data["first_action"] == "write"
    assert n.data["call_from"] == "2025-03-05T08:00:00-06:00"
    assert "in 8 h 30 min" in n.text


def test_notice_carries_no_contact_details():
    """Names, email and phone of the borrower appear nowhere in the notice."""
    n = _notice("2025-03-04T15:00", first_name="Zelda", last_name="Ümlaut-O'Brien",
                email="zelda@example.com", phone="(312) 555-0177")
    blob = n.subject + n.text + repr(n.data)
    for personal in ("Zelda", "Ümlaut", "zelda@", "555-0177", "5550177"):
        assert personal not in blob


def test_withdrawal_notice_says_why():
    """A withdrawal names the lead and the lifecycle's reason."""
    n = build_notice(key="k", officer_id="A", lead_id=9, kind="withdraw",
                     payload={"why": "accepted by another officer"}, lead=None,
                     now=datetime(2025, 3, 4, tzinfo=UTC))
    assert n.data["type"] == "lead.withdrawn"
    assert "accepted by another officer" in n.text
