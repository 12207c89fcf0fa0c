"""What an officer is told: a notice built from an outbox row, the lead's routing facts and
the time. Pure: no network, no database.

A notice names the lead by its id and says what the officer is to do first, within the
borrower's calling hours (8:00 to 21:00 in the borrower's timezone): call now, or write now
and call from 8:00 their time. It carries no contact details (name, email, phone): the
officer reads those from the API, where access is checked, so a notice that goes astray
gives nothing away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.domain import Lead

CALL_FROM = time(8, 0)
CALL_UNTIL = time(21, 0)


@dataclass(frozen=True, slots=True)
class CallingHours:
    """The borrower's local time and whether a call is welcome now; ``call_from``: when it
    next is (None while it is)."""

    local: datetime
    open_now: bool
    call_from: datetime | None


def calling_hours(tz_name: str, now: datetime) -> CallingHours:
    """8:00-21:00 in ``tz_name`` (a lead's IANA timezone); ``now`` is timezone-aware. Across a
    daylight-saving change the next 8:00 is the wall-clock 8:00 of that day."""
    tz = ZoneInfo(tz_name)
    local = now.astimezone(tz)
    if CALL_FROM <= local.time() < CALL_UNTIL:
        return CallingHours(local, True, None)
    day = local.date() if local.time() < CALL_FROM else local.date() + timedelta(days=1)
    return CallingHours(local, False, datetime.combine(day, CALL_FROM, tzinfo=tz))


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice ready for any channel: ``subject`` and ``text`` for people, ``data`` for
    machines (the webhook body)."""

    key: str
    officer_id: str
    lead_id: int
    kind: str  # notify, withdraw
    subject: str
    text: str
    data: dict[str, Any]


def _hm(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def build_notice(*, key: str, officer_id: str, lead_id: int, kind: str,
                 payload: dict[str, Any], lead: Lead | None, now: datetime,
                 link: str = "") -> Notice:
    """The notice for an outbox row. ``payload`` is the row's (``effect_record`` of a
    ``Notify`` or ``Withdraw``); ``lead`` the stored lead's routing facts (None when it cannot
    be read: the notice then says only what the row says)."""
    data: dict[str, Any] = {"type": f"lead.{'offered' if kind == 'notify' else 'withdrawn'}",
                            "delivery_key": key, "lead_id": lead_id,
                            "officer_id": officer_id, "sent_at": now.isoformat()}
    where = f" ({link})" if link else ""
    if kind == "withdraw":
        why = str(payload.get("why", ""))
        data["why"] = why
        subject = f"Lead {lead_id} is no longer yours to take"
        text = f"The offer of lead {lead_id} has been withdrawn: {why or 'no reason given'}."
        return Notice(key, officer_id, lead_id, kind, subject, text, data)
    mode = str(payload.get("mode", "assign"))
    accept_by = str(payload.get("accept_by", ""))
    data.update(mode=mode, accept_by=accept_by)
    lines = []
    if mode == "assign":
        subject = f"New lead {lead_id} assigned to you"
        lines.append(f"Lead {lead_id} is assigned to you. Accept it by {accept_by} (UTC).")
    else:
        subject = f"Lead {lead_id} offered to you: the first to accept takes it"
        lines.append(f"Lead {lead_id} is offered to you ({mode}); the first officer to accept "
                     f"takes it. The offer stands until {accept_by} (UTC).")
    if lead is not None:
        facts = {"source": lead.source, "state": lead.state, "timezone": lead.timezone,
                 "loan_purpose": lead.loan_purpose.value,
                 "loan_program": lead.loan_program.value,
                 "loan_amount_usd": round(lead.loan_amount_usd), "language": lead.language}
        data["lead"] = facts
        lines.append(f"{lead.loan_purpose.value.replace('_', ' ').capitalize()}, "
                     f"{lead.loan_program.value.replace('_', ' ')}, "
                     f"${lead.loan_amount_usd:,.0f}, {lead.state}, from {lead.source}"
                     + (f", speaks {lead.language}" if lead.language != "en" else "") + ".")
        hours = calling_hours(lead.timezone, now)
        local = hours.local.strftime("%H:%M %Z")
        if hours.open_now:
            first = "call"
            lines.append(f"First: call the borrower now (it is {local} for them).")
        else:  # call_from is set whenever a call is not welcome now
            call_from = hours.call_from or hours.local
            first = "write"
            lines.append(f"First: email or text the borrower now; it is {local} for them, "
                         f"so call from 08:00 their time (in {_hm(call_from - now)}).")
            data["call_from"] = call_from.isoformat()
        data.update(first_action=first, borrower_local_time=hours.local.isoformat())
    lines.append(f"Open the lead to accept it and see the borrower's details{where}.")
    return Notice(key, officer_id, lead_id, kind, subject, "\n".join(lines), data)
