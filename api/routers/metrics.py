"""``GET /metrics``: Prometheus text (``api.metrics``). Open like ``/healthz``: it carries
counts and timings, no lead's data; keep it off the public network (or behind the proxy's
auth) as any metrics endpoint."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from api import metrics
from api.deps import DbDep, NowDep
from api.models import Outbox

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def scrape(db: DbDep, now: NowDep) -> Response:
    """Leads routed, decision latency, notices sent and failed, the outbox backlog."""
    with db.reading() as s:
        counts = {status: int(n) for status, n in s.execute(
            select(Outbox.status, func.count()).where(Outbox.status != "sent")
            .group_by(Outbox.status))}
        oldest: datetime | None = s.scalar(select(func.min(Outbox.created_at))
                                           .where(Outbox.status.in_(("pending", "sending"))))
    age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return Response(metrics.render(counts, age), media_type=CONTENT_TYPE_LATEST)
