"""Scheduled work on the routing state that is not a single decision: refreshing the
capacity prices of the dual-price method from a forecast of the coming demand.

The caller owns the schedule (the simulator's clock, an API worker): ``reprice_due`` says when,
``reprice`` computes the prices and ``RoutingState.set_prices`` installs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from engine.decide import Plan, plan
from engine.domain import Lead
from engine.policies import Scorer
from engine.policies.scoring import DUAL_KEYS, ValueParams
from engine.roster import NO_CAP, Roster
from engine.rules import Policy
from engine.state import RoutingState

DEFAULT_REPRICE_EVERY_S = 3600.0
DEFAULT_HORIZON_S = 86400.0


def reprice_every_s(policy: Policy) -> float | None:
    """Seconds between price refreshes for a dual-price policy; None for other methods."""
    if policy.routing.method != "dual_price":
        return None
    return float(policy.routing.params.get("reprice_every_s", DEFAULT_REPRICE_EVERY_S))


def reprice_due(policy: Policy, state: RoutingState, now: datetime) -> bool:
    every = reprice_every_s(policy)
    return every is not None and now.timestamp() - state.prices_set_s >= every


def horizon_capacity(roster: Roster, state: RoutingState, now: datetime, horizon_s: float,
                     n_leads: int) -> np.ndarray:
    """(M,) leads each officer can take over the next ``horizon_s`` seconds under daily caps:
    what is left of today's cap plus a full cap for each further local day the horizon
    reaches. Officers without a daily cap get ``n_leads`` (not binding)."""
    _, day, _ = roster.local_clock(now)
    used_today = np.where(state.day_key == day, state.day_count, 0)
    extra_days = int(np.ceil(horizon_s / 86400.0)) - 1
    capped = roster.cap_daily != NO_CAP
    cap = np.where(capped, roster.cap_daily, 0)
    out = np.where(capped, np.maximum(cap - used_today, 0) + cap * max(extra_days, 0), n_leads)
    return np.minimum(out, n_leads).astype(np.int64)


def reprice(policy: Policy, roster: Roster, state: RoutingState, now: datetime,
            scorer: Scorer, forecast: Sequence[Lead]) -> np.ndarray:
    """Capacity prices ((M,), value units) from the LP relaxation of assigning ``forecast``
    (leads expected over the horizon, with their expected arrival times: a sample of the
    demand, never the realized future) to officers under their horizon capacity.

    A forecast lead's eligible officers are those its rule's chain allows at its own arrival
    time (licensing, hours, time off), with caps left to the capacity constraint.
    """
    from engine.solver import capacity_prices

    if state.officer_ids != roster.ids_tuple:
        state = state.for_officers(roster.ids_tuple)
    params = ValueParams.parse(policy.routing.params, DUAL_KEYS)
    horizon_s = float(policy.routing.params.get("horizon_s", DEFAULT_HORIZON_S))
    if not forecast:
        return np.zeros(len(roster))
    fresh = RoutingState.empty(roster.ids_tuple)  # caps belong to the capacity, not to eligibility
    value = np.asarray(scorer.score(list(forecast), roster, state, now), dtype=float)
    if params.objective == "revenue":
        amounts = np.array([lead.loan_amount_usd for lead in forecast])
        value = value * (amounts * params.margin_rate)[:, None]
    for row, lead in enumerate(forecast):
        found = plan(lead, roster, policy, fresh, lead.received_at)
        if isinstance(found, Plan):
            value[row, ~found.eligible] = np.nan
        else:
            value[row, :] = np.nan
    capacity = horizon_capacity(roster, state, now, horizon_s, len(forecast))
    return np.asarray(capacity_prices(value, capacity, method="network"), dtype=float)
