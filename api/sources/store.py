"""A mapped lead stored and routed as ``POST /v1/leads`` stores it, and an unreadable
delivery kept for inspection: what the source routes and the Graph fetcher share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from api.flow import request_hash
from api.ingest import Ingestor, Job
from api.intake import read_lead
from api.models import Lead as LeadRow
from api.models import RejectedDelivery
from api.problems import ApiProblem
from api.schemas import LeadOut
from api.sources.mapping import Mapped
from api.views import lead_out

MAX_KEPT_BODY = 200_000  # characters of a rejected body kept


@dataclass(frozen=True, slots=True)
class Delivered:
    """A lead a source delivered, stored (or found stored)."""

    out: LeadOut
    repeated: bool


def _named(problem: ApiProblem, origin: dict[str, str]) -> list[dict[str, Any]]:
    """The lead's own errors named by the source's fields (``mortgage.loan.amount``, read as
    ``loan_amount``)."""
    out = []
    for e in problem.errors or []:
        lead_field = str(e.get("field", ""))
        source_field = origin.get(lead_field, lead_field)
        message = str(e.get("message", ""))
        if source_field != lead_field:
            message = f"{message} (read as the lead's {lead_field})"
        out.append({**e, "field": source_field, "message": message})
    return out


class Unreadable(Exception):
    """An authentic delivery that is not a lead: answered 422, kept for inspection."""

    def __init__(self, errors: list[dict[str, Any]], detail: str) -> None:
        super().__init__(detail)
        self.errors, self.detail = errors, detail


def keep_rejected(request_or_state: Any, source: str, raw: bytes, content_type: str,
                  errors: list[dict[str, Any]], detail: str, now: datetime,
                  external_id: str | None = None) -> int:
    """Store an unreadable delivery for an admin; returns its id."""
    db = request_or_state.db
    text = raw.decode("utf-8", "replace")
    if len(text) > MAX_KEPT_BODY:
        text = text[:MAX_KEPT_BODY] + f"... ({len(text) - MAX_KEPT_BODY} characters cut)"
    with db.writing() as s:
        row = RejectedDelivery(source=source, external_id=external_id, received_at=now,
                               content_type=content_type[:200], body=text, errors=errors,
                               detail=detail)
        s.add(row)
        s.flush()
        return int(row.id)


def deliver(state: Any, mapped: Mapped, *, api_key_id: int | None, now: datetime,
            is_test: bool = False) -> Delivered:
    """Store and route a mapped lead as ``POST /v1/leads`` does (blocking: call it from a
    worker thread). ``Unreadable`` when the lead's own checks fail."""
    try:
        payload, external_id, lead = read_lead(mapped.fields, state.runtime.parser, now)
    except ApiProblem as exc:
        if exc.status != 422:
            raise
        raise Unreadable(_named(exc, mapped.origin), exc.detail) from None
    digest = request_hash(payload | {"lead_id": external_id})
    ingestor: Ingestor = state.ingestor
    out = ingestor.submit(Job(payload, external_id, lead, digest, api_key_id, None, now,
                              is_test=is_test))
    if out is not None:
        return Delivered(out, repeated=False)
    with state.db.reading() as s:
        row = s.scalar(select(LeadRow).where(LeadRow.source == lead.source,
                                             LeadRow.external_id == external_id))
        if row is None:  # pragma: no cover - a constraint failed on nothing we can find
            raise ApiProblem(409, "the lead conflicts with one being stored; retry",
                             kind="conflict")
        return Delivered(lead_out(row), repeated=True)


