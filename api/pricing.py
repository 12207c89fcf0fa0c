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
from sqlalchemy.orm import Session

from api.db import Database
from api.models import Lead as LeadRow
from api.runtime import Routing, Runtime
from api.store import SqlStateStore
from engine.invariant import present
from engine.maintenance import horizon_s, recent_demand, reprice, reprice_due
from engine.roster import Roster

log = logging.getLogger("leadroute.pricing")


def reprice_if_due(db: Database, runtime: Runtime, now: datetime) -> bool:
    """Refresh the active policy's capacity prices when they are due; whether it did. The
    schedule is read without the write lock (every worker round asks; most rounds, and every
    round of a policy without prices, need nothing), then read again under it."""
    with db.reading() as s:
        if not _due(s, runtime, now, lock=False):
            return False
    with db.writing() as s:
        found = _due(s, runtime, now, lock=True)
        if not found:  # another worker refreshed them meanwhile
            return False
        store, routing, roster = found
        policy, scorer = routing.policy, present(routing.scorer, "a due refresh has a scorer")
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
        state = present(store.state, "the state is loaded")
        state.set_prices(reprice(policy, roster, state, now, scorer, forecast),
                         now.timestamp())
        store.flush()
        log.info("prices refreshed", extra={"fields": {"forecast_leads": len(forecast),
                                                       "officers": len(roster)}})
        return True


def _due(s: Session, runtime: Runtime, now: datetime, *, lock: bool
         ) -> tuple[SqlStateStore, Routing, Roster] | None:
    """The state store (loaded), routing and roster when the active policy's prices are due
    at ``now``; None when they are not, or the policy has no prices."""
    cfg = runtime.config(s)
    routing = runtime.routing(s, cfg.active_id)
    if routing.policy.selector.reprice_every_s is None or routing.scorer is None:
        return None
    roster = runtime.roster(s, cfg.roster_version)
    if not len(roster):
        return None
    store = SqlStateStore(s, lock=lock)
    state = store.load(roster.ids_tuple, cfg.prices_set_s)
    if not reprice_due(routing.policy, roster, state, now):
        return None
    return store, routing, roster
