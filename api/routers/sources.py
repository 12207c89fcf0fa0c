"""``/v1/sources``: leads delivered by their sources in the sources' own formats, each mapped
by a pure adapter (``api.sources``) to the canonical lead and then stored and routed exactly
as ``POST /v1/leads`` does.

- Authenticity first, on the raw bytes: Meta's ``X-Hub-Signature-256``, Google's
  ``google_key``, an ingest key for vendors, web forms and referrals. A delivery that fails
  is answered 401/403 and nothing of it is kept.
- An authentic delivery that cannot be read as a lead is answered 422 naming each field, and
  kept (raw body, errors) for an admin: ``GET /v1/sources/rejected``.
- The source's own id is the lead's external id: a repeated delivery finds the stored lead
  (the database's unique constraint on source and external id), never a second lead.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, IngestDep
from api.models import RejectedDelivery, SourceFetch
from api.problems import PROBLEM_JSON, TITLES, ApiProblem, field_errors
from api.settings import Settings
from api.sources import google_ads, meta, vendors
from api.sources.common import Refused
from api.sources.mapping import MappingError, SourceMap
from api.sources.registry import GOOGLE_ADS, WEB, SourceMaps
from api.sources.store import Delivered, Unreadable, deliver, keep_rejected

router = APIRouter(prefix="/v1/sources", tags=["sources"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no signature or key", **PROBLEM},
    403: {"description": "a wrong signature or key, or the source is not configured",
          **PROBLEM},
}
UNREADABLE: dict[int | str, dict[str, Any]] = {
    413: {"description": "the body is larger than LEADROUTE_SOURCE_MAX_BODY_BYTES", **PROBLEM},
    422: {"description": "an authentic delivery that cannot be read as a lead: each field "
                         "named; the delivery is kept for inspection", **PROBLEM},
}
NAMES = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def _raw_body_doc(*types: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        t: {"schema": {"type": "object", "additionalProperties": True}} for t in types}}}


async def read_body(request: Request) -> bytes:
    """The raw body, refused (413) above the configured size before it is all read."""
    settings: Settings = request.app.state.settings
    limit = settings.source_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiProblem(413, f"the body is larger than {limit} bytes", kind="too-large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiProblem(413, f"the body is larger than {limit} bytes", kind="too-large")
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(exc: Refused) -> ApiProblem:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return ApiProblem(exc.status, exc.detail,
                      kind="unauthorized" if exc.status == 401 else "forbidden",
                      headers=headers)


def _unreadable(state: Any, source: str, raw: bytes, content_type: str,
                errors: list[dict[str, Any]], detail: str, now: datetime,
                extra: dict[str, Any] | None = None) -> JSONResponse:
    """Keep the delivery and answer 422 naming each field (with the vendor's own failure
    fields, which the map may not let replace the problem's members) and the kept id."""
    kept = keep_rejected(state, source, raw, content_type, errors, detail, now)
    body: dict[str, Any] = {**(extra or {}),
                            "type": "urn:leadroute:problem:unreadable-delivery",
                            "title": TITLES[422], "status": 422,
                            "detail": f"{detail}; kept for inspection as rejected delivery "
                                      f"{kept}",
                            "errors": errors, "rejected_id": kept}
    return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)


def _summary(d: Delivered) -> dict[str, Any]:
    a = d.out.assignment
    return {"id": d.out.id, "external_id": d.out.external_id, "source": d.out.source,
            "status": a.status, "officer_id": a.officer_id, "repeated": d.repeated}


# ----------------------------------------------------------------------------- Meta


@router.get("/meta/webhook", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {}}, "description": "the challenge"},
                       403: {"description": "the verify token does not match", **PROBLEM}})
async def meta_handshake(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """Meta's subscription check: the bare `hub.challenge` when `hub.verify_token` is ours
    (`LEADROUTE_META_VERIFY_TOKEN`), 403 otherwise."""
    settings: Settings = request.app.state.settings
    secret = settings.meta_verify_token
    try:
        answer = meta.handshake(mode, token, challenge,
                                secret.get_secret_value() if secret else None)
    except Refused as exc:
        raise _refused(exc) from None
    return PlainTextResponse(answer)


class Acknowledged(BaseModel):
    received: int = Field(description="leads announced (each fetched once by the worker)")


@router.post("/meta/webhook", response_model=Acknowledged,
             responses={**REFUSED, **UNREADABLE},
             openapi_extra=_raw_body_doc("application/json"))
async def meta_notification(request: Request) -> Any:
    """A Lead Ads notification, accepted only with a valid `X-Hub-Signature-256` (HMAC-SHA256
    of the raw body keyed by `LEADROUTE_META_APP_SECRET`). Each `leadgen_id` (kept exact) is
    written down and acknowledged at once; the worker fetches the lead from the Graph API
    with retries."""
    state = request.app.state
    settings: Settings = state.settings
    raw = await read_body(request)
    secret = settings.meta_app_secret
    try:
        meta.verify_signature(raw, request.headers.get(meta.SIGNATURE_HEADER),
                              secret.get_secret_value() if secret else None)
    except Refused as exc:
        raise _refused(exc) from None
    now = state.clock()
    try:
        refs = meta.parse_notification(raw)
    except MappingError as exc:
        return await run_in_threadpool(
            _unreadable, state, "meta", raw, request.headers.get("content-type", ""),
            field_errors(exc.problems), "the notification cannot be read", now)
    if refs:
        await run_in_threadpool(_announce, state, refs, now)
        state.fetcher.wake()
    return {"received": len(refs)}


_FETCHES = cast(Table, SourceFetch.__table__)


def _announce(state: Any, refs: list[meta.LeadgenRef], now: datetime) -> None:
    """One fetch row per leadgen id (a repeated notification adds none)."""
    rows = [{"source": "meta", "external_id": r.leadgen_id, "status": "pending",
             "attempts": 0, "notice": r.to_record(), "created_at": now,
             "next_attempt_at": now, "last_error": "", "lead_id": None} for r in refs]
    with state.db.writing() as s:
        insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        s.execute(insert(_FETCHES).on_conflict_do_nothing(), rows)


# ----------------------------------------------------------------------------- Google Ads


class Stored(BaseModel):
    id: int
    external_id: str | None
    source: str
    status: str = Field(description="the lead's status (closed for a test lead)")
    officer_id: str | None
    repeated: bool = Field(description="the same lead was delivered before")


@router.post("/google-ads/webhook", response_model=Stored, responses={**REFUSED,
                                                                         **UNREADABLE},
             openapi_extra=_raw_body_doc("application/json"))
async def google_ads_lead(request: Request) -> Any:
    """A Google Ads lead form delivery, accepted only when `google_key` is
    `LEADROUTE_GOOGLE_ADS_KEY`. A repeated `lead_id` answers 200 with the stored lead; an
    `is_test` lead is stored and flagged, not routed."""
    state = request.app.state
    settings: Settings = state.settings
    raw = await read_body(request)
    key = settings.google_ads_key
    try:
        data = google_ads.authenticate(raw, key.get_secret_value() if key else None)
    except Refused as exc:
        raise _refused(exc) from None
    maps: SourceMaps = state.sources
    m = maps.get(GOOGLE_ADS)
    if m is None:
        raise ApiProblem(403, f"Google Ads has no map ({GOOGLE_ADS} in the sources folder)",
                         kind="forbidden")
    return await run_in_threadpool(_google, state, m, raw,
                                   request.headers.get("content-type", ""), data)


def _google(state: Any, m: SourceMap, raw: bytes, content_type: str, data: dict[str, Any]
            ) -> Any:
    now = state.clock()
    try:
        got = google_ads.map_delivery(data, m)
        delivered = deliver(state, got.mapped, api_key_id=None, now=now, is_test=got.is_test)
    except MappingError as exc:
        return _unreadable(state, m.source, raw, content_type, field_errors(exc.problems),
                           "the lead cannot be read", now)
    except Unreadable as exc:
        return _unreadable(state, m.source, raw, content_type, exc.errors, exc.detail, now)
    return _summary(delivered)


# ----------------------------------------------------------------------------- vendors


async def _mapped_post(request: Request, caller_key: int, m: SourceMap | None, what: str
                       ) -> Any:
    if m is None:
        raise ApiProblem(404, f"no such {what}: add its map to the sources folder",
                         kind="not-found")
    raw = await read_body(request)
    return await run_in_threadpool(_vendor, request.app.state, m, raw,
                                   request.headers.get("content-type", ""), caller_key)


def _vendor(state: Any, m: SourceMap, raw: bytes, content_type: str, key_id: int) -> Any:
    now = state.clock()
    try:
        mapped = vendors.map_post(raw, content_type, m)
        delivered = deliver(state, mapped, api_key_id=key_id, now=now)
    except MappingError as exc:
        errors = field_errors(exc.problems)
        return _unreadable(state, m.source, raw, content_type, errors,
                           "the lead cannot be read", now,
                           vendors.failure_fields(m, _reason(errors)))
    except Unreadable as exc:
        return _unreadable(state, m.source, raw, content_type, exc.errors, exc.detail, now,
                           vendors.failure_fields(m, _reason(exc.errors)))
    status, body = vendors.answer(m, lead_id=delivered.out.id,
                                  external_id=delivered.out.external_id,
                                  status=delivered.out.assignment.status,
                                  repeated=delivered.repeated)
    return JSONResponse(body, status_code=status)


def _reason(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)[:500]


VENDOR_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "the same lead posted before, in the vendor's shape"},
    201: {"description": "stored and routed; the body is in the shape the vendor's map "
                         "gives (LeadConduit: {outcome, lead: {id}})"},
    404: {"description": "no map for this name", **PROBLEM},
    **UNREADABLE,
}
Name = Annotated[str, Path(pattern=NAMES, description="the map's name (its file)")]


@router.post("/vendors/{vendor}", status_code=201, responses=VENDOR_ANSWERS,
             openapi_extra=_raw_body_doc("application/json",
                                         "application/x-www-form-urlencoded"))
async def vendor_lead(vendor: Name, request: Request, caller: IngestDep) -> Any:
    """A lead vendor's post (JSON or form-encoded) through `vendors/<vendor>.yaml`, answered
    in the vendor's shape. An ingest key."""
    maps: SourceMaps = request.app.state.sources
    return await _mapped_post(request, caller.key_id, maps.named("vendors", vendor), "vendor")


@router.post("/web", status_code=201, responses=VENDOR_ANSWERS,
             openapi_extra=_raw_body_doc("application/json",
                                         "application/x-www-form-urlencoded"))
async def web_form(request: Request, caller: IngestDep) -> Any:
    """A web form's post (JSON or form-encoded) through `web.yaml`; a
    `requested_officer_id` (an officer's own page) is honoured when that officer is
    eligible. An ingest key (the site's server posts it)."""
    maps: SourceMaps = request.app.state.sources
    return await _mapped_post(request, caller.key_id, maps.get(WEB), "web form map")


@router.post("/referrals/{partner}", status_code=201, responses=VENDOR_ANSWERS,
             openapi_extra=_raw_body_doc("application/json",
                                         "application/x-www-form-urlencoded"))
async def referral(partner: Name, request: Request, caller: IngestDep) -> Any:
    """A referral from a CRM or a realtor partner through `referrals/<partner>.yaml`,
    naming the officer asked for: taken first when eligible, and the explanation says
    whether. An ingest key."""
    maps: SourceMaps = request.app.state.sources
    return await _mapped_post(request, caller.key_id, maps.named("referrals", partner),
                              "referral partner")


# ----------------------------------------------------------------------------- admin


class RejectedOut(BaseModel):
    id: int
    source: str
    external_id: str | None
    received_at: datetime
    content_type: str
    detail: str
    errors: list[dict[str, Any]]
    body: str = Field(description="the raw body as received (it may hold personal data)")


class RejectedPage(BaseModel):
    items: list[RejectedOut]
    next: str | None


def _cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"r{value}".encode()).decode().rstrip("=")


def _newest_first(request: Request, q: Any, id_column: Any, limit: int, cursor: str | None
                  ) -> tuple[list[Any], str | None]:
    """One keyset page of ``q``: up to ``limit`` rows newest first (by ``id_column``) after
    ``cursor``, and the cursor of the next page (None on the last)."""
    q = q.order_by(id_column.desc()).limit(limit + 1)
    if cursor is not None:
        q = q.where(id_column < _uncursor(cursor))
    with request.app.state.db.reading() as s:
        rows = list(s.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_cursor(rows[-1].id) if more and rows else None)


def _uncursor(text: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        if raw[:1] != "r" or not raw[1:].isdigit():
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(422, "the cursor is not one this API gave", kind="validation",
                         errors=[{"field": "cursor", "value": text[:40],
                                  "message": "expected the next value of a page"}]) from None


@router.get("/rejected", response_model=RejectedPage,
            responses={401: {"description": "no key", **PROBLEM},
                       403: {"description": "not an admin key", **PROBLEM},
                       422: {"description": "a bad cursor", **PROBLEM}})
def rejected(
    request: Request, caller: AdminDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
) -> RejectedPage:
    """Deliveries that were authentic but could not be read as leads, newest first, with
    their raw bodies and errors (admin keys only: bodies hold personal data)."""
    q = select(RejectedDelivery)
    if source is not None:
        q = q.where(RejectedDelivery.source == source)
    rows, next_cursor = _newest_first(request, q, RejectedDelivery.id, limit, cursor)
    return RejectedPage(
        items=[RejectedOut(id=r.id, source=r.source, external_id=r.external_id,
                           received_at=r.received_at, content_type=r.content_type,
                           detail=r.detail, errors=list(r.errors), body=r.body)
               for r in rows],
        next=next_cursor)


class FetchOut(BaseModel):
    id: int
    source: str
    external_id: str = Field(description="the source's id of the lead (a Meta leadgen id)")
    status: str = Field(description="pending, done, rejected (kept as a rejected delivery) "
                                    "or dead (the attempts ran out)")
    attempts: int
    next_attempt_at: datetime
    last_error: str
    lead_id: int | None
    created_at: datetime


class FetchPage(BaseModel):
    items: list[FetchOut]
    next: str | None


FETCH_STATUSES = ("pending", "done", "rejected", "dead")


def _fetch_out(r: SourceFetch) -> FetchOut:
    return FetchOut(id=r.id, source=r.source, external_id=r.external_id, status=r.status,
                    attempts=r.attempts, next_attempt_at=r.next_attempt_at,
                    last_error=r.last_error, lead_id=r.lead_id, created_at=r.created_at)


@router.get("/fetches", response_model=FetchPage,
            responses={401: {"description": "no key", **PROBLEM},
                       403: {"description": "not an admin key", **PROBLEM},
                       422: {"description": "a bad cursor or status", **PROBLEM}})
def fetches(
    request: Request, caller: AdminDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(description=", ".join(FETCH_STATUSES))] = None,
) -> FetchPage:
    """The leads sources announced for fetching (Meta leadgen ids), newest first, with their
    attempts and last error (admin keys)."""
    if status is not None and status not in FETCH_STATUSES:
        raise ApiProblem(422, "unknown status", kind="validation", errors=[
            {"field": "status", "value": status,
             "message": "expected one of " + ", ".join(FETCH_STATUSES)}])
    q = select(SourceFetch)
    if status is not None:
        q = q.where(SourceFetch.status == status)
    rows, next_cursor = _newest_first(request, q, SourceFetch.id, limit, cursor)
    return FetchPage(items=[_fetch_out(r) for r in rows], next=next_cursor)


@router.post("/fetches/{fetch_id}/retry", response_model=FetchOut,
             responses={401: {"description": "no key", **PROBLEM},
                        403: {"description": "not an admin key", **PROBLEM},
                        404: {"description": "no such fetch", **PROBLEM},
                        409: {"description": "the fetch is pending or done", **PROBLEM}})
def retry_fetch(request: Request, caller: AdminDep,
                fetch_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> FetchOut:
    """Fetch a `dead` or `rejected` lead again now (after a token or a map was put right),
    with its attempts counted afresh."""
    state = request.app.state
    with state.db.writing() as s:
        row = s.get(SourceFetch, fetch_id)
        if row is None:
            raise ApiProblem(404, "no such fetch", kind="not-found")
        if row.status not in ("dead", "rejected"):
            raise ApiProblem(409, f"the fetch is {row.status}: only dead or rejected ones are "
                                  "tried again", kind="conflict")
        row.status, row.attempts, row.next_attempt_at = "pending", 0, state.clock()
        row.last_error = f"tried again by an admin after: {row.last_error}"[:500]
        s.flush()
        out = _fetch_out(row)
    state.fetcher.wake()
    return out
