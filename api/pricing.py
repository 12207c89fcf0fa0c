"""Capacity prices for the ``dual_price`` method, refreshed by the worker on the policy's
schedule (``engine.maintenance``: every ``reprice_every_s`` while someone is on shift, then
at the next shift opening).

The forecast is the demand of the last horizon moved one horizon ahead
(``engine.maintenance.recent_demand``), read from the stored leads, the same rule
``leadroute route`` follows. The refresh runs in one write transaction that locks the
officers' state rows (PostgreSQL) or holds the write lock (SQLite), so a decision never sees
half a price vector; a second worker finds the prices fresh and does nothing. The prices are
those of the active policy: a candidate in A/B or shadow mode routes with them too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from api.db import Database
from api.models import Lead as LeadRow
from api.runtime import Runtime
from api.store import SqlStateStore
from engine.maintenance import horizon_s, recent_demand, reprice, reprice_due

log = logging.getLogger("leadroute.pricing")


def reprice_if_due(db: Database, runtime: Runtime, now: datetime) -> bool:
    """Refresh the active policy's capacity prices when they are due; whether it did."""
    with db.writing() as s:
        cfg = runtime.config(s)
        routing = runtime.routing(s, cfg.active_id)
        policy, scorer = routing.policy, routing.scorer
        if policy.selector.reprice_every_s is None or scorer is None:
            return False
        roster = runtime.roster(s, cfg.roster_version)
        if not len(roster):
            return False
        store = SqlStateStore(s)
        state = store.load(roster.ids_tuple, cfg.prices_set_s)
        if not reprice_due(policy, roster, state, now):
            return False
        horizon = horizon_s(policy)
        rows = s.scalars(select(LeadRow).where(
            LeadRow.received_at >= now - timedelta(seconds=horizon),
            LeadRow.received_at <= now).order_by(LeadRow.received_at, LeadRow.id)).all()
        seen = []
        for row in rows:
            try:
                seen.append(runtime.lead(row))
            except ValueError:  # stored before a stricter parser: not part of the demand
                continue
        forecast = recent_demand(seen, now, horizon)
        state.set_prices(reprice(policy, roster, state, now, scorer, forecast),
                         now.timestamp())
        store.flush()
        log.info("prices refreshed", extra={"fields": {"forecast_leads": len(forecast),
                                                       "officers": len(roster)}})
        return True
