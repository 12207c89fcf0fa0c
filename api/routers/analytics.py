"""``GET /v1/analytics/{report}`` (analyst scope): speed-to-lead, funnel, sla, workload,
accuracy and cost over the leads that reached the API in ``[since, until)``, as
``{"items": [...]}`` or, with ``?format=csv``, as a CSV file. See docs/analytics.md."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api import analytics as an
from api.deps import AnalystDep, DbDep, NowDep, RuntimeDep
from api.models import Lead as LeadRow
from api.problems import ApiProblem
from engine.io import spreadsheet_safe
from engine.leads import TIMESTAMP_YEARS

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
MAX_RANGE = timedelta(days=400)
DEFAULT_RANGE = timedelta(days=30)
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}},
          "description": "the report's rows (docs/analytics.md names every key)"},
    401: {"description": "no API key, or not a valid one", **PROBLEM},
    403: {"description": "the key's scope does not allow this", **PROBLEM},
    422: {"description": "a parameter out of range, named", **PROBLEM},
}
Report = Literal["speed-to-lead", "funnel", "sla", "workload", "accuracy", "cost"]


def _bad(field: str, value: Any, message: str) -> ApiProblem:
    return ApiProblem(422, f"{field}: {message}", kind="validation",
                      errors=[{"field": field, "message": message, "value": str(value)[:100]}])


def _window(since: datetime | None, until: datetime | None, tz: str, now: datetime
            ) -> an.Window:
    for name, value in (("since", since), ("until", until)):
        if value is None:
            continue
        if value.tzinfo is None:
            raise _bad(name, value.isoformat(), "needs a UTC offset, e.g. 2026-03-01T00:00Z")
        if not TIMESTAMP_YEARS[0] <= value.year <= TIMESTAMP_YEARS[1]:  # UTC stays in range
            raise _bad(name, value.isoformat(), f"expected a year from {TIMESTAMP_YEARS[0]} "
                                                f"to {TIMESTAMP_YEARS[1]}")
    until = until or now + timedelta(microseconds=1)  # leads of this instant included
    since = since or until - DEFAULT_RANGE
    if since >= until:
        raise _bad("since", since.isoformat(), f"must be before until ({until.isoformat()})")
    if until - since > MAX_RANGE:
        raise _bad("since", since.isoformat(), f"the range is at most {MAX_RANGE.days} days")
    try:
        zone = ZoneInfo(tz) if "/" in tz or tz == "UTC" else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        raise _bad("tz", tz, "expected an IANA timezone such as America/Chicago or UTC")
    return an.Window(since, until, zone)


@router.get("/{report}", responses=RESPONSES)
def report(report: Report, caller: AnalystDep, db: DbDep, runtime: RuntimeDep, now: NowDep,
           request: Request,
           since: Annotated[datetime | None, Query(description="from (inclusive), with "
                                                   "offset; default until - 30 days")] = None,
           until: Annotated[datetime | None, Query(description="to (exclusive), with "
                                                   "offset; default now")] = None,
           by: Annotated[str | None, Query(description="grouping; see docs/analytics.md",
                                           max_length=20)] = None,
           tz: Annotated[str, Query(description="timezone of the hour groups",
                                    max_length=64)] = "UTC",
           format: Annotated[Literal["json", "csv"], Query()] = "json",
           ) -> Response:
    """One report's rows (`{"items": [...]}`; `workload` adds a `summary`)."""
    w = _window(since, until, tz, now)
    groups = an.GROUPS[report]
    by = by or groups[0]
    if by not in groups:
        raise _bad("by", by, f"{report} groups by {', '.join(groups)}")
    summary: dict[str, Any] | None = None
    with db.reading() as s:
        rows = an.load_leads(s, w, full=report == "accuracy")
        if report == "speed-to-lead":
            items = an.speed_to_lead(rows, by, w)
        elif report == "funnel":
            items = an.funnel(rows, an.told_leads(s, [r.id for r in rows]), by, w)
        elif report == "sla":
            items = an.sla(rows, an.load_events(s, [r.id for r in rows], an.SLA_KINDS), by, w)
        elif report == "workload":
            items, summary = an.workload(
                rows, an.load_events(s, [r.id for r in rows], ("notice",)),
                runtime.roster(s), an.open_leads(s))
        elif report == "accuracy":
            leads = {}
            for r in rows:
                try:
                    leads[r.id] = runtime.lead(LeadRow(id=r.id, payload=r.payload,
                                                       request_sha256=r.request_sha256))
                except Exception:  # a stored lead that no longer parses is left out
                    continue
            items = an.accuracy(rows, leads, runtime.roster(s), by, w)
        else:
            items = an.cost(rows, request.app.state.settings.lead_cost_usd)
    if format == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, an.COLUMNS[report], extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for item in items:
            writer.writerow({k: "" if v is None else spreadsheet_safe(v)
                             for k, v in item.items()})
        return Response(buf.getvalue(), media_type="text/csv", headers={
            "Content-Disposition": f"attachment; filename={report}.csv"})
    body: dict[str, Any] = {"report": report, "by": by, "since": w.since.isoformat(),
                            "until": w.until.isoformat(), "items": items}
    if summary is not None:
        body["summary"] = summary
    return JSONResponse(body)
