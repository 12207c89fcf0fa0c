"""Leads decided in time order a chunk at a time, by one call of the routing core per chunk.

A file of leads (``leadroute route``) is decided lead after lead, each against the state the
ones before it left. Under a rotation (round robin, weighted round robin) the whole of such a
decision is the core's: the hard constraints and the chain (``core.constraints``), the
rotation's order, the turn and the claim on the caps' counters. ``decide_in_order`` hands
the core a chunk of leads at once (``core.route_chunk``), so the per-lead cost of calling it
is paid once a chunk; the core writes the state's counters and rotations as it goes. What
depends on the lead alone is computed here first: its facts and rule match
(``engine.decide.lead_match``), its chain's masks, its licences and local clocks. The
``Decision`` of each lead is then built, when asked for, by the same functions
``engine.decide.decide`` builds it with (``unplaced``, ``placed``), from the core's results;
a record that needs only the lead's row (the route file) reads its ``Brief``, written from
the same results by the functions ``Decision.json_parts`` writes with (``runs_in_order``).

A lead the core does not decide (an offer to several officers, an after-hours pool) goes to
the caller's own path, one lead, after which the chunk goes on from the next lead.
``tests/engine/test_chunked.py`` holds the decisions and explanations to those of
``engine.decide.decide`` lead after lead, on random rosters, policies and leads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np

from engine import core
from engine.decide import (
    Decision,
    JsonCache,
    Status,
    StepTrace,
    _escape,
    _held_reason,
    _pool_names,
    assigned_reason,
    decision_keys,
    explanation_parts,
    lead_match,
    offer_of,
    placed,
    unplaced,
)
from engine.domain import Lead
from engine.eligibility import (
    _NO_WAIVER,
    ChainMasks,
    _applicable,
    _blank,
    _time_off,
    chain_masks,
    lead_local_day,
    waits_from,
)
from engine.policies.rotation import Rotation, seeded_order
from engine.roster import NEVER_OPENS, Roster
from engine.rules.policy import CompiledAction, Policy
from engine.state import PoolRotation, RotationStep, RoutingState, StateDelta

# Leads handed to the core at once, at most: the per-call cost is spread thin well before
# this. A chunk's tables take some (3 + steps) + 8 + 1 bytes a lead and officer (codes,
# rank order, off shift), so a large roster gets fewer leads a chunk (``chunk_size``).
CHUNK = 512
CHUNK_BYTES = 32 * 2**20
_BYTES_PER_OFFICER = 24  # a lead's tables per officer, chains of up to a dozen steps


def chunk_size(officers: int) -> int:
    """Leads a chunk for a roster of ``officers``: at most ``CHUNK``, and few enough that
    the chunk's tables stay near ``CHUNK_BYTES`` (512 up to about 2,700 officers, 69 for
    20,000)."""
    return max(1, min(CHUNK, CHUNK_BYTES // (_BYTES_PER_OFFICER * max(1, officers))))


def chunkable(policy: Policy) -> bool:
    """Whether ``decide_in_order`` can decide this policy's leads: a rotation, deciding each
    lead as it arrives."""
    selector = policy.selector
    return isinstance(selector, Rotation) and selector.batch_window_s is None


class _Chunk:
    """What the core reads for a chunk of leads: per lead, indices into tables of the
    distinct licences, clocks and chains, and the rows that change lead by lead."""

    def __init__(self, leads: Sequence[Lead], roster: Roster, policy: Policy) -> None:
        n, m = len(leads), len(roster)
        self.leads = leads
        self.matches: list[tuple[dict[str, Any], list[str], CompiledAction,
                                 list[dict[str, Any]]]] = []
        self.masks: list[ChainMasks] = []
        chain_at: dict[tuple[int, str], int] = {}
        expiry_at: dict[int, int] = {}
        expiries: list[np.ndarray] = []
        minutes0: list[np.ndarray] = []
        days: list[np.ndarray] = []
        hours: list[np.ndarray] = []
        chain_of, expiry_of, date_of, quarter_of, into_of, now_s = [], [], [], [], [], []
        off_shift: list[np.ndarray] = []
        away = len(roster.with_away_periods) > 0
        self.time_off = np.zeros((n if away else 1, m), dtype=np.bool_)
        self.time_off_of = np.arange(n, dtype=np.int64) if away else np.zeros(n, dtype=np.int64)
        # leads come in time order: the quarter hour's clocks and the minute's shifts are
        # looked up when they change
        last_quarter: int | None = None
        last_minute: int | None = None
        q = -1
        off_row = np.zeros(m, dtype=np.bool_)  # the first lead's minute replaces it
        for k, lead in enumerate(leads):
            now = lead.received_at
            match = lead_match(lead, policy)
            self.matches.append(match)
            key = (id(match[2]), lead.language)
            c = chain_at.get(key)
            if c is None:
                masks = chain_masks(roster, policy, match[2], lead.language)
                c = chain_at[key] = len(self.masks)
                self.masks.append(masks)
            chain_of.append(c)
            expiry = roster.license_expiry(lead.state)
            e = expiry_at.get(id(expiry))
            if e is None:
                e = expiry_at[id(expiry)] = len(expiries)
                expiries.append(expiry)
            expiry_of.append(e)
            date_of.append(lead_local_day(lead, now))
            epoch_s = now.timestamp()
            now_s.append(epoch_s)
            minute = int(epoch_s) // 60
            if minute // 15 != last_quarter:
                last_quarter = minute // 15
                minute0, _, day, hour = roster.local_quarter(now)
                q += 1
                minutes0.append(minute0)
                days.append(day)
                hours.append(hour)
            quarter_of.append(q)
            into_of.append(minute - last_quarter * 15)
            if minute != last_minute:
                last_minute = minute
                off_row = roster.off_shift(now)
            off_shift.append(off_row)
            if away:
                self.time_off[k] = _time_off(roster, now)
        self.chain_list = chain_of  # the same indices as a list: read lead by lead in Python
        self.chain_of = np.array(chain_of, dtype=np.int64)
        self.expiry_of = np.array(expiry_of, dtype=np.int64)
        self.date_of = np.array(date_of, dtype=np.int64)
        self.quarter_of = np.array(quarter_of, dtype=np.int64)
        self.into_of = np.array(into_of, dtype=np.int64)
        self.now_s = np.array(now_s, dtype=np.float64)
        self.off_shift = np.array(off_shift, dtype=np.bool_).reshape(n, m)
        self.expiry = np.stack(expiries)
        steps = max(len(mk.action.steps) for mk in self.masks)
        self.chains = np.zeros((len(self.masks), 3, steps, m), dtype=np.bool_)
        self.requires = np.zeros((len(self.masks), 2, steps), dtype=np.bool_)
        self.steps_of = np.array([len(mk.action.steps) for mk in self.masks], dtype=np.int64)
        self.places = np.array([mk.action.offer.mode == "assign" for mk in self.masks],
                               dtype=np.bool_)
        self.pools: list[str] = []
        self.pool_of = np.zeros((len(self.masks), steps), dtype=np.int64)
        pool_at: dict[str, int] = {}
        for c, mk in enumerate(self.masks):
            s = len(mk.action.steps)
            self.chains[c, :, :s] = mk.chain
            self.requires[c, :, :s] = mk.requires
            for j, step in enumerate(mk.action.steps):
                p = pool_at.get(step.pool)
                if p is None:
                    p = pool_at[step.pool] = len(self.pools)
                    self.pools.append(step.pool)
                self.pool_of[c, j] = p
        # each distinct quarter hour's local clocks, (Q, M): minute of the week, day, hour
        self.minute0 = np.stack(minutes0)
        self.day = np.stack(days)
        self.hour = np.stack(hours)
        zones = len(roster.tz_groups)
        self.codes = np.zeros((n, core.CODE_STEPS + steps, m), dtype=np.int8)
        self.summary = np.empty((n, core.SUMMARY_WAITS + 3 * zones), dtype=np.int64)
        self.order = np.empty((n, m), dtype=np.int64)
        self.placed = np.empty((n, 2), dtype=np.int64)
        self.moved = np.empty((n, 3), dtype=np.float64)


def _run(chunk: _Chunk, start: int, roster: Roster, policy: Policy, state: RoutingState
         ) -> int:
    """The core over the chunk's leads from ``start``: the first lead it did not decide."""
    blank = _blank(roster)
    active = _applicable(roster, False, _NO_WAIVER)
    found = [state.rotations.get(pool) for pool in chunk.pools]
    passes = np.zeros((len(chunk.pools), len(roster)))
    times = np.zeros(len(chunk.pools))
    for p, rot in enumerate(found):
        if rot is not None:
            passes[p] = rot.passes
            times[p] = rot.virtual_time
    pending = state.reserved if state.reserved_total else blank.counts
    stop = core.route_chunk(
        start, len(chunk.leads), active.codes, blank.everyone, blank.flags, chunk.expiry,
        chunk.expiry_of, chunk.date_of, roster.status_away, chunk.time_off,
        chunk.time_off_of, chunk.off_shift, chunk.quarter_of, chunk.into_of, chunk.minute0,
        chunk.day, chunk.hour, state.open_leads, state.day_key, state.day_count,
        state.hour_key, state.hour_count, state.last_assigned_s, pending, roster.caps,
        chunk.chains, chunk.requires, chunk.steps_of, chunk.chain_of, chunk.places,
        policy.routing.after_hours.pool is not None, roster.next_open, NEVER_OPENS,
        roster.tz_of, len(roster.tz_groups), roster.weights, policy.selector.weighted,
        seeded_order(roster, policy.routing.seed), passes, times, chunk.pool_of,
        chunk.now_s, chunk.codes, chunk.summary, chunk.order, chunk.placed, chunk.moved)
    # the rotations the core moved, back into the state (a pool's first turn creates it, as
    # ``RoutingState.apply`` does)
    turned = chunk.placed[start:stop, core.PLACED_OFFICER] >= 0
    moved = set(chunk.pool_of[chunk.chain_of[start:stop][turned],
                              chunk.summary[start:stop, core.SUMMARY_FIRST][turned]].tolist())
    for p in moved:
        rot = found[p]
        if rot is None:
            state.rotations[chunk.pools[p]] = PoolRotation(passes[p].copy(), float(times[p]))
        else:
            rot.passes[:] = passes[p]
            rot.virtual_time = float(times[p])
    return int(stop)


def _traces(chunk: _Chunk, n: int, upto: int, action: CompiledAction) -> list[StepTrace]:
    """Lead ``n``'s steps walked without an eligible officer: its first ``upto``."""
    pools = chunk.masks[chunk.chain_list[n]].in_pool
    codes = chunk.codes[n]
    steps = action.steps
    return [StepTrace(steps[s], pools[s], codes[core.CODE_STEPS + s], None, None)
            for s in range(upto)]


def _ranked(chunk: _Chunk, n: int, first: int, action: CompiledAction) -> StepTrace:
    """Lead ``n``'s step ``first``, its eligible officers in the rotation's order."""
    k = int(chunk.placed[n, core.PLACED_CANDIDATES])
    return StepTrace(action.steps[first], chunk.masks[chunk.chain_list[n]].in_pool[first],
                     chunk.codes[n, core.CODE_STEPS + first], chunk.order[n, :k], None)


def _waits(chunk: _Chunk, n: int, head: list[int], roster: Roster
           ) -> tuple[datetime | None, list[int]]:
    """When held lead ``n`` may be placed and its held officers' counts by reason, from its
    summary as a list (``head``)."""
    z = len(roster.tz_groups)
    w = core.SUMMARY_WAITS
    held = checks = None
    if len(roster.with_away_periods):  # read only for an officer on time off
        codes = chunk.codes[n]
        held, checks = codes[core.CODE_HELD].view(np.bool_), codes[core.CODE_CHECKS]
    return waits_from([head[w:w + z], head[w + z:w + 2 * z], head[w + 2 * z:w + 3 * z]],
                      head[core.SUMMARY_COUNTS:w], held, checks, roster,
                      chunk.leads[n].received_at)


def _decision(chunk: _Chunk, n: int, head: list[int], roster: Roster, policy: Policy
              ) -> Decision:
    """Lead ``n``'s decision from the core's results (``head``: its summary as a list),
    built as ``engine.decide`` builds it."""
    lead = chunk.leads[n]
    _, notes, action, rule_path = chunk.matches[n]  # the lead's own lists (lead_match)
    first = head[core.SUMMARY_FIRST]
    if first < 0:
        traces = _traces(chunk, n, len(action.steps), action)
        if not any(head[core.SUMMARY_COUNTS:core.SUMMARY_WAITS]):
            return unplaced(lead, roster, policy, action, rule_path, traces, notes, None, None)
        until, counts = _waits(chunk, n, head, roster)
        return unplaced(lead, roster, policy, action, rule_path, traces, notes, until, counts)
    traces = _traces(chunk, n, first, action)
    traces.append(_ranked(chunk, n, first, action))
    i = int(chunk.placed[n, core.PLACED_OFFICER])
    weight, new_pass, new_time = chunk.moved[n].tolist()
    step = action.steps[first]
    oid = roster.ids_tuple[i]
    q = chunk.quarter_of[n]
    delta = StateDelta(officer_id=oid, assigned_at=lead.received_at,
                       day_key=int(chunk.day[q, i]), hour_key=int(chunk.hour[q, i]),
                       rotation=RotationStep(step.pool, oid, new_pass, new_time))
    return placed(lead, roster, policy, action, rule_path, traces, notes, step.pool, (oid,),
                  weight, delta, 1.0)


class Brief(NamedTuple):
    """What a record of a lead's decision reads (the route file's row): the status, the
    officer assigned, the reason and the explanation with the decision's keys as the parts
    of its compact JSON (``Decision.json_parts``)."""

    status: str
    officer_id: str | None
    reason: str
    parts: list[str]


def brief(decision: Decision, detail: str, cache: JsonCache, quote: bool) -> Brief:
    """A decision's ``Brief``: its JSON as ``json_parts(detail=, cache=, quote=)``."""
    return Brief(decision.status.value, decision.officer_id, decision.reason,
                 decision.json_parts(detail=detail, cache=cache, quote=quote))


def _brief(chunk: _Chunk, n: int, head: list[int], roster: Roster, policy: Policy,
           detail: str, cache: JsonCache, quote: bool) -> Brief:
    """``brief`` of lead ``n``'s decision without building it: its explanation and keys
    written from the core's results by the functions ``Decision.json_parts`` writes with
    (an unassigned lead, which is rare, has its decision built)."""
    first = head[core.SUMMARY_FIRST]
    if first < 0 and not any(head[core.SUMMARY_COUNTS:core.SUMMARY_WAITS]):
        return brief(_decision(chunk, n, head, roster, policy), detail, cache, quote)
    _, notes, action, rule_path = chunk.matches[n]
    # the decision's own keys, the same few texts lead after lead: kept (``cache``, escaped
    # or not) per priority and the hold instant (held) or the offer and officer (assigned),
    # the instant and the offer found by identity and kept beside the text (an instant
    # equals the same moment in another zone, whose text differs)
    if first < 0:
        traces = _traces(chunk, n, len(action.steps), action)
        until, counts = _waits(chunk, n, head, roster)
        status, officer_id = _HELD, None
        reason = _held_reason(_pool_names(action), counts)
        key: tuple[Any, ...] = ("held", action.priority, id(until), quote)
        found = cache.get(key)
        if found is None or found[0] is not until:
            found = cache[key] = (until, _escape(decision_keys(
                Status.HELD, 1.0, action.priority.value, None, until), quote))
    else:
        traces = _traces(chunk, n, first, action)
        traces.append(_ranked(chunk, n, first, action))
        status = _ASSIGNED
        officer_id = roster.ids_tuple[int(chunk.placed[n, core.PLACED_OFFICER])]
        reason = assigned_reason(action.steps[first].pool)
        spec = action.offer
        key = ("assigned", action.priority, id(spec), officer_id, quote)
        found = cache.get(key)
        if found is None or found[0] is not spec:
            found = cache[key] = (spec, _escape(decision_keys(
                Status.ASSIGNED, 1.0, action.priority.value,
                offer_of(action, (officer_id,)), None), quote))
    parts: list[str] = []
    explanation_parts(policy.name, policy.version, policy.routing.method, rule_path, traces,
                      notes, roster, detail, cache, parts, quote)
    parts.append(found[1])
    return Brief(status, officer_id, reason, parts)


_HELD, _ASSIGNED = Status.HELD.value, Status.ASSIGNED.value


class Run:
    """Leads decided one after another, each against the state the ones before it left:
    a lead's ``Decision``, or only its ``Brief``, read by its place in the run."""

    leads: Sequence[Lead]

    def decision(self, k: int) -> Decision:
        raise NotImplementedError

    def brief(self, k: int, detail: str, cache: JsonCache, quote: bool) -> Brief:
        raise NotImplementedError


class Decided(Run):
    """Leads whose decisions were made whole (the caller's own path)."""

    def __init__(self, leads: Sequence[Lead], decisions: Sequence[Decision]) -> None:
        self.leads = leads
        self.decisions = decisions

    def decision(self, k: int) -> Decision:
        return self.decisions[k]

    def brief(self, k: int, detail: str, cache: JsonCache, quote: bool) -> Brief:
        return brief(self.decisions[k], detail, cache, quote)


class _CoreRun(Run):
    """Leads ``start`` to ``stop`` of a chunk, decided by one call of the core: a lead's
    ``Decision`` is built only when asked for, from the chunk's arrays (which nothing
    changes after the call)."""

    def __init__(self, chunk: _Chunk, start: int, stop: int, roster: Roster, policy: Policy
                 ) -> None:
        self.chunk, self.start = chunk, start
        self.leads = chunk.leads[start:stop]
        self.heads = chunk.summary[start:stop].tolist()
        self.roster, self.policy = roster, policy

    def decision(self, k: int) -> Decision:
        return _decision(self.chunk, self.start + k, self.heads[k], self.roster, self.policy)

    def brief(self, k: int, detail: str, cache: JsonCache, quote: bool) -> Brief:
        return _brief(self.chunk, self.start + k, self.heads[k], self.roster, self.policy,
                      detail, cache, quote)


def runs_in_order(leads: Sequence[Lead], roster: Roster, policy: Policy, state: RoutingState,
                  one: Callable[[Lead], Decision]) -> Iterator[Run]:
    """``decide_in_order``'s leads as ``Run`` s: a record that needs only each lead's
    ``Brief`` (the route file) never has the ``Decision`` built. A run is read before the
    next is asked for (its leads' decisions are made; what they are built from stays)."""
    if not chunkable(policy):
        raise ValueError(f"routing method {policy.routing.method} is not decided in chunks")
    if state.officer_ids != roster.ids_tuple:  # the core writes the state's arrays in place
        raise ValueError("state must be laid out for the roster (RoutingState.for_officers)")
    size = chunk_size(len(roster))
    for k in range(0, len(leads), size):
        chunk = _Chunk(leads[k:k + size], roster, policy)
        start = 0
        while start < len(chunk.leads):
            stop = _run(chunk, start, roster, policy, state)
            yield _CoreRun(chunk, start, stop, roster, policy)
            if stop < len(chunk.leads):
                lead = chunk.leads[stop]
                yield Decided([lead], [one(lead)])
            start = stop + 1


def decide_in_order(leads: Sequence[Lead], roster: Roster, policy: Policy,
                    state: RoutingState, one: Callable[[Lead], Decision]
                    ) -> Iterator[tuple[Sequence[Lead], list[Decision]]]:
    """The leads of ``leads`` (in time order, each decided at its ``received_at``) with their
    decisions, a run of them at a time, as ``decide`` would give them lead after lead with
    every decision's state change applied to ``state`` before the next (``state`` is changed
    so). ``one(lead)`` decides a lead the core leaves to the caller, applying its changes to
    ``state`` itself. The policy must be ``chunkable``; ``state`` must be laid out for
    ``roster``."""
    for run in runs_in_order(leads, roster, policy, state, one):
        yield run.leads, [run.decision(k) for k in range(len(run.leads))]


__all__ = ["CHUNK", "Brief", "Decided", "Run", "brief", "chunk_size", "chunkable",
           "decide_in_order", "runs_in_order"]
