"""Stored rows as wire schemas (``api.schemas``)."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Lead as LeadRow
from api.models import LeadEvent
from api.problems import ApiProblem
from api.schemas import Assignment, HistoryLine, LeadOut
from engine.errors import PERSONAL_FIELDS, mask


def assignment(row: LeadRow) -> Assignment:
    case = row.case or {}
    offer = case.get("offer")
    return Assignment(
        officer_id=row.officer_id, status=row.status,
        accept_by=None if offer is None else offer["accept_by"],
        offered_to=[] if offer is None else offer["officer_ids"][: offer["told"]],
        due_at=row.due_at, reason=case.get("reason", ""))


def outcome(row: LeadRow) -> dict[str, Any]:
    return {"outcome": row.outcome,
            "accepted_at": row.accepted_at, "contacted_at": row.contacted_at,
            "application_at": row.application_at, "closed_at": row.closed_at,
            "funded_amount": None if row.funded_amount_cents is None
            else f"{row.funded_amount_cents // 100}.{row.funded_amount_cents % 100:02d}"}


def masked(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: (mask(v) if k in PERSONAL_FIELDS and v else v) for k, v in payload.items()}


def lead_out(row: LeadRow, *, fields: str = "none", history: Session | None = None
             ) -> LeadOut:
    """``fields``: ``none``, ``masked`` (contact details hidden) or ``full``; ``history``: a
    session to read the lead's history with."""
    lines = None
    if history is not None:
        lines = [HistoryLine(at=e.at, kind=e.kind, officer_id=e.officer_id, detail=e.detail,
                             policy_version=e.policy_version, propensity=e.propensity,
                             data=e.data)
                 for e in history.scalars(select(LeadEvent).where(LeadEvent.lead_id == row.id)
                                          .order_by(LeadEvent.id))]
    lead = None if fields == "none" else row.payload if fields == "full" \
        else masked(row.payload)
    return LeadOut(
        id=row.id, external_id=row.external_id, source=row.source,
        received_at=row.received_at, created_at=row.created_at, assignment=assignment(row),
        explanation=row.explanation or {},
        policy={"id": row.policy_id, "name": row.policy_name, "version": row.policy_version,
                "arm": row.arm, "share": row.arm_share},
        duplicate_of=row.duplicate_of, outcome=outcome(row), lead=lead, history=lines,
        is_test=bool(row.is_test))


def encode_cursor(value: int | str) -> str:
    """An opaque cursor: the last item's key."""
    return base64.urlsafe_b64encode(f"v1:{value}".encode()).decode().rstrip("=")


def decode_cursor(text: str, *, number: bool = False) -> str:
    """The key in a cursor from ``encode_cursor``; 422 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        tag, _, value = raw.partition(":")
        if tag != "v1" or (number and not value.isdigit()) or len(value) > 100:
            raise ValueError(tag)
        return value
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(422, "the cursor is not one this API gave", kind="validation",
                         errors=[{"field": "cursor", "message": "not a cursor from a "
                                  "previous page", "value": text[:100]}]) from None
