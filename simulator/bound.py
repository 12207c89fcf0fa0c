"""The hindsight bound: the best assignment of a realized lead stream, relaxed.

With the whole stream, the true probabilities and every officer's response draw for every
lead known in advance, how many conversions could the best assignment expect? No policy can
pass this ceiling, because every term and constraint is a relaxation of what a run can do:

- a pair (lead, officer) is allowed only if the officer is licensed in the property's state on
  the lead's date and not on status away;
- its value is the true p(funded) at the pair's *best-case* contact time: notified at arrival
  (or when their time off ends), after their notification latency, starting at the next
  moment they are on shift and not on time off (never, once they have left: the run's
  officers start no response while away either), at load zero, with their own response draw
  for that lead, minimized over every later hour they could be notified in (the hour-of-day
  multiplier varies). A run can only be later (load, later notification, SLA re-routes), and
  the truth falls with delay. A contact at or after the end is worth nothing: the run stops
  there (and no capacity day or hour starts at the end);
- each officer-local day takes at most the officer's daily cap; a lead that becomes an
  officer's on a later local day than it arrived counts against that day and is contacted no
  earlier than its start; such leads wait in a backlog;
- each of the officer's local hours takes at most their hourly cap (leads may wait for a
  later hour of the same local day); hours and days are the officer's own, as the engine
  counts them, also in zones off UTC by a half or quarter hour;
- a lead is worked at most once.

Not modeled (a relaxation, so the bound stays valid): the cap on open leads, and daily caps
spent on offers that timed out. With hindsight of the response draws, the bound can pick for
each lead the officer whose own draw was fast; a run cannot know the draws (a broadcast gets
the fastest of the officers it offers to), so the ratio carries that clairvoyance.

The constraints form a network (``Network``), solved exactly as a min-cost flow with OR-Tools
(the LP relaxation of a network is integral); ``method="lp"`` solves the same network with
HiGHS through ``scipy.optimize.linprog`` as a check. Independent of ``engine/solver``.
``ratio_to_bound`` divides a run's expected conversions (the sum of the true probabilities of
what happened) by this value, so it cannot exceed 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from engine.roster import NO_CAP, zone
from simulator.clock import EPOCH_ORDINAL as _EPOCH_ORDINAL
from simulator.model import Inputs


@dataclass(frozen=True)
class BoundResult:
    """value: the bound (expected conversions); status: the solver's message; lead_value:
    (L,) each lead's share of the optimum (sum over officers of value x assignment)."""

    value: float
    status: str
    wall_s: float
    pairs: int
    arcs: int
    nodes: int
    lead_value: np.ndarray


def _pairs(inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """(lead, officer) index arrays of the allowed pairs: licensed on the lead's date, not
    on status away."""
    roster = inputs.world.roster
    leads = inputs.stream.leads
    by_state: dict[str, list[int]] = {}
    for i, lead in enumerate(leads):
        by_state.setdefault(lead.state, []).append(i)
    date_ord = np.array([lead.received_at.astimezone(zone(lead.timezone)).date().toordinal()
                         if lead.timezone else lead.received_at.date().toordinal()
                         for lead in leads], dtype=np.int64)
    ls, os_ = [], []
    active = ~roster.status_away
    for state, rows in by_state.items():
        expiry = roster.license_expiry(state)
        officers = np.flatnonzero((expiry > 0) & active)
        if len(officers) == 0:
            continue
        r = np.array(rows)
        ok = expiry[officers][None, :] >= date_ord[r][:, None]
        li, oi = np.nonzero(ok)
        ls.append(r[li])
        os_.append(officers[oi])
    if not ls:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lead_idx = np.concatenate(ls)
    officer_idx = np.concatenate(os_)
    order = np.lexsort((officer_idx, lead_idx))
    return lead_idx[order], officer_idx[order]


def earliest_contact_s(inputs: Inputs, lead_idx: np.ndarray, officer_idx: np.ndarray,
                       notify_s: np.ndarray) -> np.ndarray:
    """Lower bound on when each officer could make the first contact attempt on each lead if
    notified no earlier than ``notify_s`` (SimPy seconds; inf when not strictly before the
    end, when the run stops)."""
    world = inputs.world
    clock = inputs.clock
    hour_mult = np.array(world.params.response.hour_multipliers)
    median = world.traits.median_response_s[officer_idx]
    factor = inputs.draws.response_factor[lead_idx, officer_idx]
    busy = inputs.draws.busy_s[lead_idx, officer_idx]
    end = inputs.end_s
    # the notice and the start of the response both fall outside time off (a departed
    # officer never starts one), and the response starts on shift
    notify = clock.after_away_many(officer_idx, notify_s)
    start = clock.ready_many(officer_idx, notify + world.traits.latency_s[officer_idx])
    # a contact at the end is not made: the run stops before it
    feasible = start < end
    best = np.full(len(start), np.inf)
    s = np.where(feasible, start, end)
    best[feasible] = s[feasible] + median[feasible] * hour_mult[
        clock.local_hour_many(officer_idx[feasible], s[feasible])] * factor[feasible] + \
        busy[feasible]
    # A later notification hour can only win through a smaller hour multiplier; stop once
    # even the smallest multiplier could not beat the best contact found.
    quickest = median * hour_mult.min() * factor + busy
    live = np.flatnonzero(feasible)
    while len(live):
        # the next moment the officer's local hour (and so the multiplier) can change: their
        # next local hour, or a change of their UTC offset
        nxt = np.minimum(clock.next_offset_change_many(officer_idx[live], s[live]),
                         clock.next_local_boundary_many(officer_idx[live], s[live], 3600))
        nxt = clock.ready_many(officer_idx[live], np.minimum(nxt, end))
        keep = (nxt + quickest[live] < best[live]) & (nxt < end)
        live = live[keep]
        nxt = nxt[keep]
        s[live] = nxt
        cand = nxt + median[live] * hour_mult[clock.local_hour_many(officer_idx[live], nxt)] * \
            factor[live] + busy[live]
        best[live] = np.minimum(best[live], cand)
    best[best >= end] = np.inf
    return best


@dataclass(frozen=True)
class Network:
    """The bound as a min-cost-flow network: one unit of supply per lead, to the sink.

    Arcs (``tail``, ``head``, ``capacity``, ``value`` per arc; value is what one unit of
    flow on it earns): lead -> sink (not worked, 0); lead -> its officer's hour node of
    arrival (worked the same local day, w_now) or officer's backlog node of the next local
    day (worked on a later day, w_late); hour -> next hour of the same local day (waits
    within the day); hour -> day (at most the hourly cap); backlog -> next backlog and
    backlog -> day (late leads served on that day); day -> sink (at most the daily cap).
    Officers without an hourly cap skip the hour nodes; officers without any cap, the late
    arcs (a same-day arc is worth at least as much and nothing limits it).
    """

    n_nodes: int
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    value: np.ndarray
    supply: np.ndarray  # (n_nodes,) +1 per lead node, minus the total at the sink
    lead_of_arc: np.ndarray  # (arcs,) lead index of lead arcs, -1 otherwise
    pairs: int


_UNLIMITED = 1 << 40


def build_network(inputs: Inputs) -> Network:
    """The network of one replication (see ``Network``)."""
    world = inputs.world
    roster = world.roster
    clock = inputs.clock
    arrival = inputs.stream.arrival_s
    lead_idx, officer_idx = _pairs(inputs)
    base = inputs.features.contact_base

    def values(rows: np.ndarray, contact: np.ndarray) -> np.ndarray:
        li, oi = lead_idx[rows], officer_idx[rows]
        w = np.zeros(len(rows))
        ok = contact < inputs.end_s  # the run stops at the end: nothing is worked there
        q = world.decay.contact_probabilities(base[li[ok]], contact[ok] - arrival[li[ok]])
        w[ok] = q * inputs.value[li[ok], oi[ok]]
        return w

    every = np.arange(len(lead_idx))
    contact_now = earliest_contact_s(inputs, lead_idx, officer_idx, arrival[lead_idx])
    w_now = values(every, contact_now)
    keep = w_now > 0
    lead_idx, officer_idx, w_now, contact_now = (lead_idx[keep], officer_idx[keep], w_now[keep],
                                                 contact_now[keep])
    every = np.arange(len(lead_idx))
    daily = roster.cap_daily
    hourly = roster.cap_hourly
    late = np.flatnonzero((daily[officer_idx] != NO_CAP) | (hourly[officer_idx] != NO_CAP))
    # worked on a later local day: contacted no earlier than that day's start
    midnight = clock.next_local_midnight_many(officer_idx[late], arrival[lead_idx[late]])
    w_late = values(late, np.maximum(contact_now[late], midnight))

    m = len(roster)
    n_leads = len(inputs.stream)
    officers = np.arange(m)
    first_day = clock.local_day_many(officers, np.zeros(m))
    # the last moment anything is worked is just before the end: no capacity day or hour
    # that starts at the end
    last_s = np.full(m, np.nextafter(inputs.end_s, -np.inf))
    last_day = clock.local_day_many(officers, last_s)
    # hour nodes count in each officer's local hours, as the engine's hourly caps do
    first_hour = clock.local_hour_index_many(officers, np.zeros(m))
    n_hours = clock.local_hour_index_many(officers, last_s) - first_hour + 1

    # node numbering: leads, sink, then per officer its day, backlog and hour nodes
    sink = n_leads
    next_node = n_leads + 1
    day_node = np.zeros(m, dtype=np.int64)  # first day node of each officer
    backlog_node = np.zeros(m, dtype=np.int64)
    hour_node = np.full(m, -1, dtype=np.int64)
    n_days = (last_day - first_day + 1).astype(np.int64)
    for o in officers:
        day_node[o] = next_node
        next_node += n_days[o]
        backlog_node[o] = next_node
        next_node += n_days[o] + 1
        if hourly[o] != NO_CAP:
            hour_node[o] = next_node
            next_node += int(n_hours[o])

    tails: list[np.ndarray] = []
    heads: list[np.ndarray] = []
    caps: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    leads_of: list[np.ndarray] = []

    def arcs(t: np.ndarray, h: np.ndarray, cap: np.ndarray | int, val: np.ndarray | float,
             lead: np.ndarray | None = None) -> None:
        t = np.asarray(t, dtype=np.int64)
        tails.append(t)
        heads.append(np.asarray(h, dtype=np.int64))
        caps.append(np.broadcast_to(np.asarray(cap, dtype=np.int64), t.shape))
        vals.append(np.broadcast_to(np.asarray(val, dtype=float), t.shape))
        leads_of.append(np.full(t.shape, -1, dtype=np.int64) if lead is None else lead)

    used = np.unique(lead_idx)
    arcs(used, np.full(len(used), sink), 1, 0.0)
    # same-day arcs: to the hour node (hourly cap) or straight to the day node
    day_now = clock.local_day_many(officer_idx, arrival[lead_idx])
    arrival_hour = clock.local_hour_index_many(officer_idx, arrival[lead_idx]) - \
        first_hour[officer_idx]
    target = np.where(hour_node[officer_idx] >= 0, hour_node[officer_idx] + arrival_hour,
                      day_node[officer_idx] + day_now - first_day[officer_idx])
    arcs(lead_idx, target, 1, w_now, lead_idx)
    # later-day arcs: to the backlog node of the next local day
    lo = officer_idx[late]
    arcs(lead_idx[late], backlog_node[lo] + day_now[late] - first_day[lo] + 1, 1, w_late,
         lead_idx[late])
    for o in officers:
        d = np.arange(n_days[o])
        cap = int(daily[o]) if daily[o] != NO_CAP else _UNLIMITED
        arcs(day_node[o] + d, np.full(len(d), sink), cap, 0.0)
        # backlog: carried to the next day, or served on this one; none left after the last
        arcs(backlog_node[o] + d, backlog_node[o] + d + 1, _UNLIMITED, 0.0)
        arcs(backlog_node[o] + d, day_node[o] + d, _UNLIMITED, 0.0)
        if hour_node[o] >= 0:
            h = np.arange(n_hours[o])
            day_of_hour = (first_hour[o] + h) * 3600 // 86400 + _EPOCH_ORDINAL - first_day[o]
            day_of_hour = np.clip(day_of_hour, 0, n_days[o] - 1)
            arcs(hour_node[o] + h, day_node[o] + day_of_hour, int(hourly[o]), 0.0)
            same_day = np.flatnonzero(day_of_hour[:-1] == day_of_hour[1:])
            arcs(hour_node[o] + same_day, hour_node[o] + same_day + 1, _UNLIMITED, 0.0)
    supply = np.zeros(next_node, dtype=np.int64)
    supply[used] = 1
    supply[sink] = -len(used)
    return Network(next_node, np.concatenate(tails), np.concatenate(heads),
                   np.concatenate(caps), np.concatenate(vals), supply, np.concatenate(leads_of),
                   len(lead_idx))


_SCALE = 1e9  # value units per cost unit of the integer solver


def hindsight_bound(inputs: Inputs, *, method: str = "flow") -> BoundResult:
    """Solve the bound of one replication.

    ``method="flow"``: OR-Tools min-cost flow on the network (integer costs, each value
    rounded up to 1e-9 so the result stays an upper bound). ``method="lp"``: the same network
    as an LP with HiGHS (``scipy.optimize.linprog``), exact values; slower, for checks.
    """
    started = time.perf_counter()
    net = build_network(inputs)
    n_leads = len(inputs.stream)
    n_arcs = len(net.tail)
    if net.pairs == 0:
        return BoundResult(0.0, "no feasible pairs", time.perf_counter() - started, 0, 0, 0,
                           np.zeros(n_leads))
    if method == "flow":
        from ortools.graph.python import min_cost_flow

        solver = min_cost_flow.SimpleMinCostFlow()
        cost = -np.ceil(net.value * _SCALE).astype(np.int64)
        solver.add_arcs_with_capacity_and_unit_cost(
            net.tail.astype(np.int32), net.head.astype(np.int32), net.capacity, cost)
        solver.set_nodes_supplies(np.arange(net.n_nodes, dtype=np.int32), net.supply)
        status = solver.solve()
        if status != solver.OPTIMAL:
            raise RuntimeError(f"hindsight bound: min-cost flow status {status}")
        flow = solver.flows(np.arange(n_arcs, dtype=np.int32)).astype(float)
        value = float(-solver.optimal_cost() / _SCALE)
        message = "optimal (min-cost flow)"
    elif method == "lp":
        incidence = sp.csr_matrix(
            (np.concatenate((np.ones(n_arcs), -np.ones(n_arcs))),
             (np.concatenate((net.tail, net.head)), np.concatenate((np.arange(n_arcs),) * 2))),
            shape=(net.n_nodes, n_arcs))
        res = linprog(-net.value, A_eq=incidence, b_eq=net.supply.astype(float),
                      bounds=np.column_stack((np.zeros(n_arcs), net.capacity.astype(float))),
                      method="highs")
        if res.status != 0 or res.x is None:
            raise RuntimeError(f"hindsight bound LP did not solve: {res.message}")
        flow = res.x
        value = float(-res.fun)
        message = str(res.message)
    else:
        raise ValueError(f"method must be flow or lp, got {method!r}")
    lead_value = np.zeros(n_leads)
    on_lead = net.lead_of_arc >= 0
    np.add.at(lead_value, net.lead_of_arc[on_lead], (net.value * flow)[on_lead])
    return BoundResult(value, message, time.perf_counter() - started, net.pairs, n_arcs,
                       net.n_nodes, lead_value)
