"""Scheduled work on the routing state that is not a single decision: refreshing the
capacity prices of the dual-price method from a forecast of the coming demand.

The caller owns the clock (the simulator's, an API worker's): ``next_reprice_at`` says when
the next refresh is due and ``reprice_due`` whether it is now (one schedule), ``reprice``
computes the prices and ``RoutingState.set_prices`` installs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from engine.decide import Plan, plan
from engine.domain import Lead
from engine.policies import Scorer
from engine.policies.scoring import (
    DEFAULT_HORIZON_S,
    DEFAULT_REPRICE_EVERY_S,
    DUAL_KEYS,
    ValueParams,
    next_refresh_s,
)
from engine.roster import NO_CAP, Roster
from engine.rules import Policy
from engine.state import RoutingState

__all__ = ["DEFAULT_HORIZON_S", "DEFAULT_REPRICE_EVERY_S", "forecast_eligibility",
           "forecast_values", "horizon_s", "next_reprice_at", "recent_demand", "reprice",
           "reprice_due", "reprice_every_s"]


def reprice_every_s(policy: Policy) -> float | None:
    """Seconds between price refreshes for a method that reads capacity prices; None for
    other methods (``SelectionPolicy.reprice_every_s``)."""
    return policy.selector.reprice_every_s


def horizon_s(policy: Policy) -> float:
    """Seconds of demand a price refresh looks ahead (``SelectionPolicy.horizon_s``)."""
    return policy.selector.horizon_s or DEFAULT_HORIZON_S


def recent_demand(seen: Iterable[Lead], now: datetime, horizon: float) -> list[Lead]:
    """The forecast a caller without a demand model reprices with: the leads received in
    the last ``horizon`` seconds before ``now``, each moved ``horizon`` seconds ahead (the
    coming hours look like the last ones; the future itself is never looked at)."""
    since = now - timedelta(seconds=horizon)
    ahead = timedelta(seconds=horizon)
    return [replace(lead, received_at=lead.received_at + ahead) for lead in seen
            if since <= lead.received_at <= now]


def reprice_due(policy: Policy, roster: Roster, state: RoutingState, now: datetime) -> bool:
    """Whether prices should be refreshed at ``now``: the schedule of ``next_reprice_at``
    has reached it (so not while nobody is on shift)."""
    due = next_reprice_at(policy, roster, state, now)
    return due is not None and due <= now


def next_reprice_at(policy: Policy, roster: Roster, state: RoutingState, now: datetime
                    ) -> datetime | None:
    """When prices are next due for a refresh: ``reprice_every_s`` after the last one (now if
    that has passed), or, when no officer is on shift then, at the first shift opening after
    it: prices only steer decisions that have someone to offer a lead to, so a night or a
    Sunday needs no refreshes. None for methods without prices."""
    every = reprice_every_s(policy)
    if every is None:
        return None
    at_s = next_refresh_s(roster, state.prices_set_s, every, now.timestamp())
    return datetime.fromtimestamp(at_s, tz=now.tzinfo)


def forecast_values(scorer: Scorer, forecast: Sequence[Lead], roster: Roster,
                    state: RoutingState, arrival_s: np.ndarray | None = None) -> np.ndarray:
    """(N, M) the scorer's estimates for each forecast lead as if routed when it arrives:
    leads are scored by the hour they arrive in, at the start of that hour (the response a
    lead can expect depends on who is on shift then, not when the forecast is made).
    ``arrival_s``: the leads' POSIX arrival seconds, when the caller has them."""
    value = np.empty((len(forecast), len(roster)))
    if not forecast:
        return value
    hours = (_arrival_s(forecast) if arrival_s is None else arrival_s) // 3600
    tz = forecast[0].received_at.tzinfo
    for hour in np.unique(hours):
        rows = np.flatnonzero(hours == hour)
        at = datetime.fromtimestamp(int(hour) * 3600, tz=tz)
        value[rows] = scorer.score([forecast[r] for r in rows.tolist()], roster, state, at)
    return value


def _arrival_s(forecast: Sequence[Lead]) -> np.ndarray:
    """(N,) int64 POSIX seconds of each lead's arrival."""
    return np.fromiter((int(lead.received_at.timestamp()) for lead in forecast),
                       dtype=np.int64, count=len(forecast))


def forecast_eligibility(policy: Policy, roster: Roster, forecast: Sequence[Lead]
                         ) -> np.ndarray:
    """(N, M) bool: the officers each forecast lead's rule chain allows at its own arrival
    time (licensing, hours, time off; caps are left to the capacity constraint). Depends on
    nothing but the leads, so a caller with a fixed forecast sample computes it once."""
    fresh = RoutingState.empty(roster.ids_tuple)
    out = np.zeros((len(forecast), len(roster)), dtype=bool)
    on_call = policy.routing.after_hours.pool is not None
    for row, lead in enumerate(forecast):
        if not on_call and roster.off_shift(lead.received_at).all():
            continue  # nobody works then: nobody is eligible (and no hold to explain)
        found = plan(lead, roster, policy, fresh, lead.received_at)
        if isinstance(found, Plan):
            out[row] = found.eligible
    return out


def reprice(policy: Policy, roster: Roster, state: RoutingState, now: datetime,
            scorer: Scorer, forecast: Sequence[Lead], *, eligible: np.ndarray | None = None,
            arrival_s: np.ndarray | None = None) -> np.ndarray:
    """Capacity prices ((M,), value units) from the LP relaxation of assigning ``forecast``
    (leads expected over the horizon, with their expected arrival times: a sample of the
    demand, never the realized future) to officers under their daily caps.

    A forecast lead's eligible officers are those its rule's chain allows at its own arrival
    time (``forecast_eligibility``, or ``eligible`` when the caller has it; ``arrival_s``,
    their POSIX arrival seconds, likewise), with caps left
    to the capacity constraint; its value is the scorer's estimate at that time
    (``forecast_values``). An officer with a daily cap
    has one capacity per local day the horizon reaches (what is left of today's cap, then
    full caps), and a forecast lead uses the capacity of the day it arrives on (in the
    officer's time zone); the price is that of today's capacity. So a slot left late in the
    day is priced by the leads still expected that day, not by tomorrow's.
    """
    from engine.solver import capacity_prices

    if state.officer_ids != roster.ids_tuple:
        state = state.for_officers(roster.ids_tuple)
    params = ValueParams.parse(policy.routing.params, DUAL_KEYS)
    horizon_s = policy.selector.horizon_s or DEFAULT_HORIZON_S
    if not forecast:
        return np.zeros(len(roster))
    if eligible is None:
        eligible = forecast_eligibility(policy, roster, forecast)
    elif eligible.shape != (len(forecast), len(roster)):
        raise ValueError(f"eligible must have shape ({len(forecast)}, {len(roster)}), "
                         f"got {eligible.shape}")
    arrival_s = _arrival_s(forecast) if arrival_s is None else arrival_s.astype(np.int64)
    value = forecast_values(scorer, forecast, roster, state, arrival_s)
    if params.objective == "revenue":
        amounts = np.array([lead.loan_amount_usd for lead in forecast])
        value = value * (amounts * params.margin_rate)[:, None]
    value[~eligible] = np.nan
    n = len(forecast)
    m = len(roster)
    _, today, _ = roster.local_clock(now)
    days = int(np.ceil(horizon_s / 86400.0)) + 1  # today and each later day reached
    capped = roster.cap_daily != NO_CAP
    # local day of arrival, relative to today (fixed within a quarter hour of UTC)
    quarters, first = np.unique(arrival_s // 900, return_inverse=True)
    tz = forecast[0].received_at.tzinfo
    days_by_quarter = np.array([roster.local_clock(datetime.fromtimestamp(int(q) * 900, tz=tz))[1]
                                for q in quarters])
    lead_day = days_by_quarter[first] - today
    # columns (officer, day): a capped officer's lead goes to the day it arrives on; an
    # uncapped officer has one column (day 0) for every lead
    on_day = lead_day[:, :, None] == np.arange(days)
    on_day[:, ~capped, :] = False
    on_day[:, ~capped, 0] = True
    wide = np.where(on_day, value[:, :, None], np.nan)
    used_today = np.where(state.day_key == today, state.day_count, 0)
    cap = np.where(capped, roster.cap_daily, n)
    capacity = np.empty((m, days), dtype=np.int64)
    capacity[:, 0] = np.where(capped, np.maximum(cap - used_today, 0), n)
    capacity[:, 1:] = np.where(capped, cap, 0)[:, None]
    capacity = np.minimum(capacity, n)
    prices = capacity_prices(wide.reshape(n, m * days), capacity.reshape(-1), method="network")
    return np.asarray(prices, dtype=float).reshape(m, days)[:, 0]
