"""``GET /v1/history.csv``: the routed leads with their outcomes, in the history format the
scoring model trains on (docs/scoring.md), so ``leadroute model train --history`` and the
simulator read production data directly. Contact details are masked unless an admin asks
for them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from api.deps import AnalystDep, DbDep
from api.models import Lead as LeadRow
from api.problems import ApiProblem
from api.routers.leads import ERRORS
from api.security import Scope
from api.views import masked
from engine.leads import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from engine.scoring.history import ASSIGNMENT_COLUMNS, OUTCOME_COLUMNS

router = APIRouter(tags=["history"])
COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *ASSIGNMENT_COLUMNS, *OUTCOME_COLUMNS,
           "external_id", "arm")
PAGE = 1000


def history_row(row: LeadRow, contact: bool) -> dict[str, Any]:
    """One worked lead as a history row (stages cumulative: funded implies an application,
    an application a contact)."""
    fields = row.payload if contact else masked(row.payload)
    funded = row.outcome == "funded"
    application = funded or row.application_at is not None
    contacted = application or row.contacted_at is not None
    delay = ""
    if row.contacted_at is not None and row.assigned_at is not None:
        delay = f"{max(0.0, (row.contacted_at - row.assigned_at).total_seconds()):.3f}"
    propensity = float((row.case or {}).get("propensity", 1.0)) * row.arm_share
    out: dict[str, Any] = {c: fields.get(c, "") for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
    out.update({
        "lead_id": str(row.id), "received_at": row.received_at.isoformat(),
        "officer_id": row.officer_id or "",
        "assigned_at": (row.assigned_at or row.accepted_at or row.created_at).isoformat(),
        "policy": row.policy_name, "policy_version": row.policy_version,
        "propensity": f"{propensity:.6g}",
        "officer_open_leads": row.officer_open_leads if row.officer_open_leads is not None
        else 0,
        "response_delay_s": delay, "contacted": int(contacted),
        "application": int(application), "funded": int(funded),
        "lost": int(row.outcome == "lost"),
        "external_id": row.external_id or "", "arm": row.arm,
    })
    return out


@router.get("/v1/history.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}},
                             "description": "one row per lead an officer accepted"},
                       **ERRORS})
def history_csv(caller: AnalystDep, db: DbDep,
                contact: Annotated[bool, Query(description="admin only: contact details "
                                                           "unmasked")] = False,
                closed_only: Annotated[bool, Query(description="only leads funded or "
                                                               "lost")] = False
                ) -> StreamingResponse:
    """Every lead an officer accepted, oldest first, with its outcome so far. `propensity`
    is the decision's times the A/B arm's share."""
    if contact and caller.scope is not Scope.ADMIN:
        raise ApiProblem(403, "contact details need an admin key", kind="forbidden")

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        last = 0
        while True:
            q = select(LeadRow).where(LeadRow.accepted_at.is_not(None), LeadRow.id > last,
                                      LeadRow.is_test.is_(False))
            if closed_only:
                q = q.where(LeadRow.outcome.is_not(None))
            with db.reading() as s:
                page = list(s.scalars(q.order_by(LeadRow.id).limit(PAGE)))
            for r in page:
                writer.writerow(history_row(r, contact))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if len(page) < PAGE:
                return
            last = page[-1].id

    return StreamingResponse(rows(), media_type="text/csv",
                             headers={"Content-Disposition": "attachment; filename=history.csv"})
