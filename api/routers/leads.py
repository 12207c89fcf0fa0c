"""``/v1/leads``: post a lead, read it with its history, list leads, and the officer's
answers (accept, decline) and the outcome."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response
from sqlalchemy import select

from api.deps import (
    DbDep,
    IngestDep,
    IngestorDep,
    LeadId,
    NowDep,
    OfficerDep,
    ReaderDep,
    RuntimeDep,
)
from api.flow import STATUSES, Tx, act, lock_lead, record, request_hash
from api.ingest import Job
from api.intake import read_lead
from api.models import Lead as LeadRow
from api.models import LeadOfficer
from api.problems import ApiProblem
from api.schemas import AcceptIn, DeclineIn, LeadOut, LeadPage, OutcomeIn, lead_body_schema
from api.security import Caller, Scope
from api.views import decode_cursor, encode_cursor, lead_out
from engine.lifecycle import Stage

router = APIRouter(prefix="/v1/leads", tags=["leads"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no API key, or not a valid one", **PROBLEM},
    403: {"description": "the key's scope does not allow this", **PROBLEM},
    429: {"description": "rate limit reached (Retry-After)", **PROBLEM},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such lead (or not one of this officer's)", **PROBLEM}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the lead is not in a state where this applies", **PROBLEM}}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "invalid fields, each named with the reason", **PROBLEM}}


def _visible(db_session: Any, row: LeadRow | None, caller: Caller) -> LeadRow:
    """The lead if this caller may see it; 404 otherwise (an officer sees the leads they were
    offered or assigned)."""
    if row is None:
        raise ApiProblem(404, "no such lead", kind="not-found")
    if caller.scope is Scope.OFFICER:
        told = db_session.scalar(select(LeadOfficer.lead_id).where(
            LeadOfficer.lead_id == row.id, LeadOfficer.officer_id == caller.officer_id))
        if told is None:
            raise ApiProblem(404, "no such lead", kind="not-found")
    return row


def _fields_for(caller: Caller) -> str:
    return "masked" if caller.scope is Scope.ANALYST else "full"


@router.post(
    "", status_code=201, response_model=LeadOut,
    responses={200: {"description": "the same lead posted before (Idempotency-Key, or the "
                                    "same source and lead_id): the stored lead"},
               400: {"description": "the body is not JSON", **PROBLEM},
               **ERRORS, **INVALID},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": lead_body_schema()}}}},
)
def post_lead(
    response: Response, caller: IngestDep, db: DbDep, runtime: RuntimeDep, now: NowDep,
    ingestor: IngestorDep,
    body: Annotated[dict[str, Any], Body()],
    idempotency_key: Annotated[str | None, Header(max_length=255, pattern=r"^[\x21-\x7e]+$")]
    = None,
) -> LeadOut:
    """Route a lead now. The answer (201) holds its id, the assignment and the explanation,
    stored in the same transaction as the decision. A retry with the same `Idempotency-Key`
    (or the same `source` and `lead_id`) answers 200 with the stored lead; the same key with
    another body is a 422."""
    payload, external_id, lead = read_lead(body, runtime.parser, now)
    digest = request_hash(payload | {"lead_id": external_id})
    out = ingestor.submit(Job(payload, external_id, lead, digest, caller.key_id,
                              idempotency_key, now))
    if out is None:  # posted before: the stored lead
        out = _posted_before(db, caller, idempotency_key, lead.source, external_id, digest)
        response.status_code = 200
    return out


def _posted_before(db: DbDep, caller: Caller, key: str | None, source: str,
                   external_id: str | None, digest: str) -> LeadOut:
    with db.reading() as s:
        row = None
        if key is not None:
            row = s.scalar(select(LeadRow).where(LeadRow.api_key_id == caller.key_id,
                                                 LeadRow.idempotency_key == key))
            if row is not None and row.request_sha256 != digest:
                raise ApiProblem(422, "this Idempotency-Key was used with another body",
                                 kind="idempotency-key-reused",
                                 errors=[{"field": "Idempotency-Key", "value": key,
                                          "message": "already used with another lead"}])
        if row is None and external_id is not None:
            row = s.scalar(select(LeadRow).where(LeadRow.source == source,
                                                 LeadRow.external_id == external_id))
        if row is None:  # pragma: no cover - a constraint failed on nothing we can find
            raise ApiProblem(409, "the lead conflicts with one being stored; retry",
                             kind="conflict")
        return lead_out(row)


@router.get("/{lead_id}", response_model=LeadOut, responses={**ERRORS, **NOT_FOUND})
def get_lead(lead_id: LeadId, caller: ReaderDep, db: DbDep) -> LeadOut:
    """A lead with its assignment, explanation and full history (each transition with the
    policy version and propensity)."""
    with db.reading() as s:
        row = _visible(s, s.get(LeadRow, lead_id), caller)
        return lead_out(row, fields=_fields_for(caller), history=s)


@router.get("", response_model=LeadPage, responses={**ERRORS, **INVALID})
def list_leads(
    caller: ReaderDep, db: DbDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    officer_id: Annotated[str | None, Query(max_length=64,
                                            description="leads offered or assigned to this "
                                                        "officer")] = None,
    status: Annotated[str | None, Query(description=", ".join(STATUSES))] = None,
) -> LeadPage:
    """Leads, newest first, a page at a time (`next` is the cursor of the next page). An
    officer key lists its own leads."""
    if status is not None and status not in STATUSES:
        raise ApiProblem(422, "unknown status", kind="validation", errors=[
            {"field": "status", "value": status,
             "message": "expected one of " + ", ".join(STATUSES)}])
    if caller.scope is Scope.OFFICER:
        if officer_id not in (None, caller.officer_id):
            raise ApiProblem(403, "an officer key lists its own leads only", kind="forbidden")
        officer_id = caller.officer_id
    q = select(LeadRow).order_by(LeadRow.id.desc()).limit(limit + 1)
    if cursor is not None:
        q = q.where(LeadRow.id < int(decode_cursor(cursor, number=True)))
    if source is not None:
        q = q.where(LeadRow.source == source.strip().lower())
    if status is not None:
        q = q.where(LeadRow.status == status)
    if officer_id is not None:
        q = q.where(LeadRow.id.in_(select(LeadOfficer.lead_id)
                                   .where(LeadOfficer.officer_id == officer_id)))
    with db.reading() as s:
        rows = list(s.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    fields = _fields_for(caller)
    return LeadPage(items=[lead_out(r, fields=fields) for r in rows],
                    next=encode_cursor(rows[-1].id) if more and rows else None)


def _who(caller: Caller, officer_id: str | None) -> str:
    """The officer answering: an officer key's own, or the one an admin names."""
    if caller.scope is Scope.OFFICER:
        if officer_id not in (None, caller.officer_id):
            raise ApiProblem(403, "an officer key answers for its own officer only",
                             kind="forbidden")
        assert caller.officer_id is not None  # officer keys name their officer
        return caller.officer_id
    if not officer_id:
        raise ApiProblem(422, "an admin key names the officer who answers", kind="validation",
                         errors=[{"field": "officer_id", "value": None,
                                  "message": "is required with an admin key"}])
    return officer_id


def _answer(lead_id: LeadId, caller: Caller, db: DbDep, runtime: RuntimeDep, now: NowDep,
            what: str, officer_id: str, **kw: Any) -> LeadOut:
    with db.writing() as s:
        row = _visible(s, lock_lead(s, lead_id), caller)
        tx = Tx.open(s, runtime, now)
        act(tx, row, what, officer_id, **kw)
        tx.finish()
        return lead_out(row, fields="full")


@router.post("/{lead_id}/accept", response_model=LeadOut,
             responses={**ERRORS, **NOT_FOUND, **CONFLICT, **INVALID})
def accept(lead_id: LeadId, caller: OfficerDep, db: DbDep, runtime: RuntimeDep, now: NowDep,
           body: Annotated[AcceptIn | None, Body()] = None) -> LeadOut:
    """The officer takes the lead. The first acceptance wins; a second, or one by an officer
    the lead is no longer offered to, is a 409."""
    officer_id = _who(caller, body.officer_id if body else None)
    return _answer(lead_id, caller, db, runtime, now, "accept", officer_id)


@router.post("/{lead_id}/decline", response_model=LeadOut,
             responses={**ERRORS, **NOT_FOUND, **CONFLICT, **INVALID})
def decline(lead_id: LeadId, caller: OfficerDep, db: DbDep, runtime: RuntimeDep, now: NowDep,
            body: Annotated[DeclineIn | None, Body()] = None) -> LeadOut:
    """The officer turns the lead down: it moves on at once (their backup first)."""
    officer_id = _who(caller, body.officer_id if body else None)
    why = (body.reason if body else "") or "declined"
    return _answer(lead_id, caller, db, runtime, now, "decline", officer_id, why=why)


def _cents(amount: str | int | None) -> int:
    bad = ApiProblem(422, "a funded outcome needs the loan amount", kind="validation",
                     errors=[{"field": "amount", "value": amount,
                              "message": "expected dollars as a decimal string, e.g. "
                                         "\"350000.00\", more than 0"}])
    if amount is None or isinstance(amount, bool):
        raise bad
    try:
        value = Decimal(str(amount).strip().replace(",", "").removeprefix("$"))
    except InvalidOperation:
        raise bad from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e12"):
        raise bad
    return int((value * 100).quantize(Decimal(1)))


@router.post("/{lead_id}/outcome", response_model=LeadOut,
             responses={**ERRORS, **NOT_FOUND, **CONFLICT, **INVALID})
def report_outcome(lead_id: LeadId, body: OutcomeIn, caller: OfficerDep, db: DbDep,
                   runtime: RuntimeDep, now: NowDep) -> LeadOut:
    """What became of an accepted lead: `contacted`, `application`, `funded` (with `amount`)
    or `lost`. Funded and lost close the lead and free the officer's slot."""
    cents = _cents(body.amount) if body.outcome == "funded" else None
    with db.writing() as s:
        row = _visible(s, lock_lead(s, lead_id), caller)
        if caller.scope is Scope.OFFICER and row.officer_id != caller.officer_id:
            raise ApiProblem(409, "the lead is not accepted by this officer", kind="conflict")
        if row.stage != Stage.ACCEPTED.value:
            raise ApiProblem(409, f"the lead is {row.status}, not accepted: no outcome yet",
                             kind="conflict")
        tx = Tx.open(s, runtime, now)
        if body.outcome in ("contacted", "application"):
            if body.outcome == "contacted" and row.contacted_at is None:
                row.contacted_at = now
            if body.outcome == "application" and row.application_at is None:
                row.application_at = now
            record(tx, row, body.outcome, row.officer_id, body.outcome)
        else:
            act(tx, row, "release", outcome=body.outcome)
            row.outcome, row.closed_at = body.outcome, now
            if cents is not None:
                row.funded_amount_cents = cents
                record(tx, row, "funded", row.officer_id, "funded",
                       {"amount_cents": cents})
        tx.finish()
        return lead_out(row, fields="full")
