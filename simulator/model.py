"""The SimPy model: leads arrive, ``engine.decide`` routes them, officers respond, leads close.

Processes (one SimPy process per lead, plus the arrival process, the held-queue worker and,
for the methods that need them, a batcher and a price refresher):

- arrival: starts each lead's process at its arrival time;
- routing: ``engine.decide`` with the simulated clock as ``now`` (the scenario's start plus
  SimPy seconds) and the very same policy file as production; every choice of officer comes
  from it (or from ``decide_batch`` for ``batch_optimal``);
- notification: the officer hears of the lead after their fastest channel's latency;
- response: after a delay drawn from the officer's distribution (median x hour-of-day x load
  x the lead's draw, plus time tied up if they are busy), counted from when they are on shift;
- SLA: not accepted within the policy's ``accept_within_s``, the officer is released and the
  lead re-routed with ``exclude`` (everyone tried) and ``prefer`` (the backup officer); a
  broadcast goes to the first officer to accept, a cascade to one officer at a time for
  ``step_s`` each; when every officer was tried, a new round starts after a pause;
- held leads wait in a held queue whose worker retries them at ``hold_until`` (periodically
  when it is None), all leads due at a moment oldest first (or newest first), and retries the
  first lead an officer could take when they release a slot under their cap on open leads;
- contact: the outcome stages are drawn from the world's truth at the actual delay;
- closing: the officer's open lead is released (``state.release``) days later.

A claim on an offer is checked with ``engine.decide.officer_constraint`` at the moment of
acceptance: the engine's ``claim_delta`` does not re-check caps, and an officer who took
other leads since the offer may be at a cap by then.
"""

from __future__ import annotations

import copy
import heapq
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

import numpy as np
import simpy

from engine.decide import Decision, Status, claim_delta, decide, officer_constraint
from engine.io import collector_paused
from engine.policies import SCORING_METHODS, Scorer, batch_window_s
from engine.policies.rotation import eligible_weight
from engine.rules import Policy
from engine.state import RoutingState, StateDelta
from simulator.clock import OfficerClock
from simulator.crn import Draws
from simulator.forecast import Forecast
from simulator.streams import LeadStream
from simulator.world import LeadFeatures, World


class Event(IntEnum):
    """Kinds of lead events (events.parquet spells them out by name)."""

    ARRIVED = 0
    ASSIGNED = 1  # decide gave one officer the lead
    OFFERED = 2  # decide offered it to several (broadcast, cascade)
    HELD = 3
    UNASSIGNED = 4
    SLA_BREACH = 5  # the officer(s) did not accept within accept_within_s
    CLAIM_REFUSED = 6  # an officer accepted an offer but was no longer eligible
    CONTACT = 7  # accepted and made the first contact attempt
    CLOSED = 8  # funded or lost; the officer's slot is released
    ABANDONED = 9  # no officer after every round
    NEW_ROUND = 10  # every officer tried; offers start again


EVENT_NAMES = tuple(e.name.lower() for e in Event)
NO_OFFICER = -1


class _OfferEnd(IntEnum):
    """How an offer ended without a winner."""

    TIMED_OUT = 0  # nobody accepted within accept_within_s (an SLA breach)
    REFUSED = 1  # every officer offered accepted in time, none was still eligible


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Options of one simulated run.

    record_events: keep one row per lead event (events.parquet); off for speed runs.
    exploration: logging-policy randomization for off-policy evaluation: with this
        probability an assigned lead goes to a uniformly drawn officer among the engine's
        ranked candidates instead of its first choice, and the propensity is recorded.
    shadow: a candidate policy asked, at every placing decision, what it would have chosen
        (off-policy evaluation); it changes nothing. The run then records one round per
        placing decision in ``RunResult.rounds``.
    shadow_scorer: the candidate's conversion estimates (None: its own model file, if any).
    shadow_forecast: for a dual-price candidate, its demand forecast: its capacity prices are
        refreshed on its own schedule from the run's state and used for its decisions only.
    """

    record_events: bool = True
    exploration: float = 0.0
    shadow: Policy | None = None
    shadow_scorer: Scorer | None = None
    shadow_forecast: Forecast | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.exploration <= 1.0:
            raise ValueError(f"exploration must be in [0, 1], got {self.exploration!r}")


@dataclass(frozen=True)
class Inputs:
    """What every policy of a replication shares: the stream, the truth and the draws.

    value: (L, M) application x funding probability (``World.value_matrix``).
    application: (L, M) application probability.
    """

    world: World
    stream: LeadStream
    features: LeadFeatures
    application: np.ndarray
    value: np.ndarray
    draws: Draws
    clock: OfficerClock
    end_s: float
    hold_retry_s: float
    unassigned_retry_s: float
    max_rounds: int
    held_order: str = "fifo"
    refund_timed_out_caps: bool = False
    replication: int = 0


@dataclass
class RunResult:
    """One policy's run over one replication. Arrays are (L,) in lead order unless noted;
    times are SimPy seconds, NaN when it did not happen.

    officer: who worked the lead (accepted and attempted contact), -1 if nobody.
    offered_s: when that officer was notified; assigned_s: when the lead became theirs
        (the decision for an assignment, the acceptance for an offer); contact_s: first
        contact attempt.
    p_funded: the true probability of funding given what happened (0 if never worked).
    intervals: (K, 3) officer, start_s, end_s of every open lead (end NaN if still open).
    refunded: (K', 4) officer, start_s, day, hour of the assignments that timed out and were
        taken off the officer's caps (``operations.refund_timed_out_caps``); day and hour are
        1.0 where that count was lowered (only while its day or hour was still current).
    """

    label: str
    policy: str
    policy_version: str
    replication: int
    officer: np.ndarray
    offered_s: np.ndarray
    assigned_s: np.ndarray
    contact_s: np.ndarray
    contacted: np.ndarray
    application: np.ndarray
    funded: np.ndarray
    p_funded: np.ndarray
    open_at_assign: np.ndarray
    propensity: np.ndarray
    sla_breaches: np.ndarray
    decide_calls: np.ndarray
    held: np.ndarray
    abandoned: np.ndarray
    claim_refusals: int
    intervals: np.ndarray
    refunded: np.ndarray
    events: dict[str, np.ndarray] | None
    rounds: dict[str, np.ndarray] | None = None
    wall_s: float = 0.0


@dataclass(slots=True)
class _Routed:
    """A routing decision as the simulation acted on it: for an assignment, the officer who
    got the lead (the engine's choice, or the logging policy's draw) with its propensity; the
    state change is already applied."""

    decision: Decision
    officer: int = NO_OFFICER
    propensity: float = 1.0
    delta: StateDelta | None = None


@dataclass(slots=True)
class _Held:
    """A lead in the held queue: what to retry it with, and how to hand it back."""

    seq: int
    exclude: dict[str, str]
    prefer: str | None
    wake: simpy.Event


class _Run:
    """One policy over one replication (the processes above share this object's state)."""

    def __init__(self, inputs: Inputs, policy: Policy, label: str, options: RunOptions,
                 scorer: Scorer | None) -> None:
        self.inputs = inputs
        self.world = world = inputs.world
        self.roster = roster = world.roster
        self.policy = policy
        self.label = label
        self.options = options
        self.scorer = scorer
        self.env = simpy.Environment()
        self.state = RoutingState.empty(roster.ids_tuple)
        self.clock = inputs.clock
        self.leads = inputs.stream.leads
        self.arrival = inputs.stream.arrival_s.tolist()
        n = len(self.leads)
        self.ids = roster.ids_tuple
        self.index = roster.index
        self.backup = [roster.index.get(o.backup_officer_id, NO_OFFICER) for o in roster.officers]
        self.cap_open = roster.cap_open.tolist()
        traits = world.traits
        response = world.params.response
        self.latency = traits.latency_s.tolist()
        self.median = traits.median_response_s.tolist()
        self.hour_mult = list(response.hour_multipliers)
        self.load_slope = response.load_slope
        self.factor = inputs.draws.response_factor
        self.busy = inputs.draws.busy_s
        self.outcome_u = inputs.draws.outcome_u.tolist()
        self.close_u = inputs.draws.close_u.tolist()
        self.explore_u = inputs.draws.explore_u.tolist()
        self.explored = [False] * n  # whether lead i used its first-decision uniforms
        self.explore_later = np.random.default_rng(inputs.draws.explore_seed)
        self.contact_base = inputs.features.contact_base.tolist()
        self.funding = inputs.features.funding.tolist()
        self.application = inputs.application
        self.closing = world.params.closing
        self.decay = world.decay
        # per-lead records (plain lists: cheaper to write one item at a time than arrays)
        nan = math.nan
        self.officer = [NO_OFFICER] * n
        self.offered_s = [nan] * n
        self.assigned_s = [nan] * n
        self.contact_s = [nan] * n
        self.contacted = [0] * n
        self.applied = [0] * n
        self.funded = [0] * n
        self.p_funded = [0.0] * n
        self.open_at = [0] * n
        self.propensity = [1.0] * n
        self.breaches = [0] * n
        self.calls = [0] * n
        self.held = [False] * n
        self.abandoned = [False] * n
        self.claim_refusals = 0
        self.open_since: dict[tuple[int, int], float] = {}
        self.intervals: list[tuple[int, float, float]] = []
        self.refunded: list[tuple[int, float, float, float]] = []
        self.events: list[tuple[int, float, int, int]] | None = \
            [] if options.record_events else None
        # the held queue: lead -> entry, and a heap of (due time, seq, lead)
        self.held_entries: dict[int, _Held] = {}
        self.held_heap: list[tuple[float, int, int]] = []
        self.held_seq = 0
        self.held_kick: simpy.Event | None = None
        self.newest_first = inputs.held_order == "newest_first"
        self.batch_window = batch_window_s(policy.routing.method, policy.routing.params)
        self.batch: list[tuple[int, simpy.Event]] = []
        self.weighted = policy.routing.method != "round_robin"
        # off-policy evaluation: one round per placing decision
        # [lead, officer, propensity, candidate's officer, its true p, reward]
        self.rounds: list[list[float]] | None = [] if options.shadow is not None else None
        self.shadow_prices: tuple[np.ndarray, float] | None = None  # a dual-price candidate's
        self.last_round: dict[int, int] = {}

    # -- helpers -----------------------------------------------------------------------------

    def _log(self, i: int, kind: Event, officer: int = NO_OFFICER) -> None:
        if self.events is not None:
            self.events.append((i, self.env.now, int(kind), officer))

    def _now(self, t_s: float) -> datetime:
        return self.clock.datetime_at(t_s)

    def _response_at(self, i: int, o: int, notified_s: float, load: int) -> float:
        """When officer ``o`` notified at ``notified_s`` with ``load`` open leads accepts and
        makes the first contact attempt (SimPy seconds)."""
        start = notified_s + self.latency[o]
        start += self.clock.wait_to_shift_s(o, start)
        if math.isinf(start):
            return start
        hour = self.clock.local_hour(o, start)
        return start + self.median[o] * self.hour_mult[hour] * \
            (1.0 + self.load_slope * load) * float(self.factor[i, o]) + float(self.busy[i, o])

    def _open(self, o: int, i: int) -> None:
        self.open_since[(o, i)] = self.env.now

    def _release(self, o: int, i: int) -> None:
        """Officer ``o``'s open lead ``i`` closes (or leaves them): one fewer open; when they
        were at their cap on open leads and are on shift, the held queue's first lead they
        could take (in arrival order, or newest first by ``operations.held_order``; the
        queue's own order is by last retry) is retried now."""
        state = self.state
        was_full = state.open_leads[o] >= self.cap_open[o]
        state.release(self.ids[o])
        start = self.open_since.pop((o, i))
        self.intervals.append((o, start, self.env.now))
        if was_full and self.held_entries and self.clock.on_shift_now(o, self.env.now):
            licensed = self.roster.license_expiry
            for j in sorted(self.held_entries, reverse=self.newest_first):  # index = arrival
                if licensed(self.leads[j].state)[o] > 0:
                    self._schedule_held(j, self.env.now)
                    break

    def _refund(self, o: int, assigned_s: float, delta: StateDelta) -> None:
        """Un-count a timed-out assignment in the officer's daily and hourly counters (the
        scenario's ``operations.refund_timed_out_caps``), through the engine's
        ``RoutingState.uncount``, which lowers only a count whose day or hour is current;
        what it lowered is recorded."""
        day, hour = self.state.uncount(delta)
        if day or hour:
            self.refunded.append((o, assigned_s, float(day), float(hour)))

    def _route(self, i: int, exclude: dict[str, str], prefer: str | None) -> _Routed:
        """``engine.decide`` now; an assignment is applied to the state at once (a logging
        policy may draw another of the engine's candidates, with its propensity)."""
        t_s = self.env.now
        self.calls[i] += 1
        d = decide(self.leads[i], self.roster, self.policy, self.state, self._now(t_s),
                   exclude=exclude or None, prefer=prefer, scorer=self.scorer)
        status = d.status
        placed = status is Status.ASSIGNED or status is Status.OFFERED
        target = self._shadow(i, t_s, exclude, prefer) \
            if placed and self.rounds is not None else None
        if status is Status.ASSIGNED:
            assert d.officer_id is not None
            o, propensity, delta = self.index[d.officer_id], d.propensity, d.state_delta
            if self.options.exploration > 0:
                o, propensity, delta = self._explore(i, d, t_s)
            self._round(i, o, propensity, target)
            self.state.apply(delta)
            self._open(o, i)
            self._log(i, Event.ASSIGNED, o)
            return _Routed(d, o, propensity, delta)
        if status is Status.OFFERED:
            assert d.offer is not None
            first = self.index[d.offer.officer_ids[0]]
            self._round(i, first, d.propensity, target)
            self._log(i, Event.OFFERED, first)
        elif status is Status.HELD:
            self.held[i] = True
            self._log(i, Event.HELD)
        else:
            self._log(i, Event.UNASSIGNED)
        return _Routed(d, NO_OFFICER, d.propensity)

    def _round(self, i: int, o: int, propensity: float, target: tuple[int, float] | None
               ) -> None:
        """Log one placing decision for off-policy evaluation (its reward is set when the lead
        is worked in this round)."""
        if self.rounds is not None and target is not None:
            self.last_round[i] = len(self.rounds)
            self.rounds.append([i, o, propensity, target[0], target[1], 0.0])

    def _shadow(self, i: int, t_s: float, exclude: dict[str, str], prefer: str | None
                ) -> tuple[int, float]:
        """What the candidate policy would do here, on the same state (off-policy evaluation):
        its officer and the true probability that this round funds with them (0 if they
        would not answer within its SLA)."""
        options = self.options
        assert options.shadow is not None
        d = decide(self.leads[i], self.roster, options.shadow, self._shadow_state(),
                   self._now(t_s), exclude=exclude or None, prefer=prefer,
                   scorer=options.shadow_scorer)
        first = d.officer_id or (d.offer.officer_ids[0] if d.offer else None)
        if first is None or d.offer is None:
            return NO_OFFICER, 0.0
        o = self.index[first]
        r = self._response_at(i, o, t_s, int(self.state.open_leads[o]))
        if r > t_s + d.offer.accept_within_s:
            return o, 0.0
        return o, self._truth(i, o, r)[0]

    def _truth(self, i: int, o: int, contact_s: float) -> tuple[float, float, float]:
        """(p funded, p contact, p application) of lead ``i`` worked by ``o`` at ``contact_s``."""
        if math.isinf(contact_s):
            return 0.0, 0.0, 0.0
        q = self.decay.contact_probability(self.contact_base[i], contact_s - self.arrival[i])
        a = float(self.application[i, o])
        return q * a * self.funding[i], q, a

    def _explore(self, i: int, d: Decision, t_s: float) -> tuple[int, float, Any]:
        """The logging policy's pick among the engine's ranked candidates: (officer,
        propensity, state delta)."""
        order = d.explanation.steps[-1].order
        assert order is not None and d.officer_id is not None
        eps = self.options.exploration
        k = len(order)
        if self.explored[i]:  # fresh uniforms for every later decision of the lead
            u_explore, u_pick = self.explore_later.random(2).tolist()
        else:
            u_explore, u_pick = self.explore_u[i]
            self.explored[i] = True
        o = int(order[min(int(u_pick * k), k - 1)]) if u_explore < eps else int(order[0])
        propensity = eps / k + ((1.0 - eps) if o == int(order[0]) else 0.0)
        if o == self.index[d.officer_id]:
            return o, propensity, d.state_delta
        weight = eligible_weight(self.roster, order, self.weighted)
        delta = claim_delta(self.roster, self.policy, self.state, d.pool or "", o,
                            self._now(t_s), weight)
        return o, propensity, delta

    def _claim(self, i: int, d: Decision, o: int) -> bool:
        """Officer ``o`` accepts the offer now: take the lead if the engine still finds them
        eligible (caps may have filled since the offer)."""
        now = self._now(self.env.now)
        if officer_constraint(self.leads[i], self.roster, self.state, now, o):
            self.claim_refusals += 1
            self._log(i, Event.CLAIM_REFUSED, o)
            return False
        self.state.apply(claim_delta(self.roster, self.policy, self.state, d.pool or "", o, now,
                                     d.pool_weight))
        return True

    # -- the held queue ----------------------------------------------------------------------

    def _hold(self, i: int, d: Decision, exclude: dict[str, str], prefer: str | None,
              wake: simpy.Event) -> None:
        """Queue a held lead until ``hold_until`` (or the periodic retry when None)."""
        self.held_seq += 1
        self.held_entries[i] = _Held(self.held_seq, exclude, prefer, wake)
        if d.hold_until is not None:
            due = max((d.hold_until - self.clock.start).total_seconds(), self.env.now + 1.0)
        else:
            due = self.env.now + self.inputs.hold_retry_s
        self._schedule_held(i, due)

    def _schedule_held(self, i: int, due: float) -> None:
        entry = self.held_entries[i]
        self.held_seq += 1
        entry.seq = self.held_seq
        heapq.heappush(self.held_heap, (due, entry.seq, i))
        kick = self.held_kick
        if kick is not None and not kick.triggered and due <= self.held_heap[0][0]:
            kick.succeed()

    def held_worker(self) -> Generator[simpy.Event, Any, None]:
        """Revisits held leads when due, like the API's held-queue worker: all leads due at a
        moment are retried together, oldest first (or newest first, by the scenario's
        ``operations.held_order``); a lead held again waits for its new ``hold_until``."""
        env = self.env
        heap = self.held_heap
        while True:
            self.held_kick = env.event()
            if heap:
                wait = heap[0][0] - env.now
                if wait > 0:
                    yield env.any_of([env.timeout(wait), self.held_kick])
            else:
                yield self.held_kick
            due: list[int] = []
            while heap and heap[0][0] <= env.now:
                _, seq, i = heapq.heappop(heap)
                entry = self.held_entries.get(i)
                if entry is not None and entry.seq == seq:
                    due.append(i)
            due.sort(reverse=self.newest_first)  # lead index = arrival order
            for i in due:
                entry = self.held_entries.pop(i)
                routed = self._route(i, entry.exclude, entry.prefer)
                if routed.decision.status is Status.HELD:
                    self._hold(i, routed.decision, entry.exclude, entry.prefer, entry.wake)
                else:
                    entry.wake.succeed(routed)

    # -- processes ---------------------------------------------------------------------------

    def arrivals(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        for i, at in enumerate(self.arrival):
            if at > env.now:
                yield env.timeout(at - env.now)
            env.process(self.lead(i))

    def batcher(self) -> Generator[simpy.Event, Any, None]:
        """Routes the leads collected over one window together (``batch_optimal``)."""
        from engine.decide import decide_batch

        assert self.batch_window is not None
        yield self.env.timeout(self.batch_window)
        batch, self.batch = self.batch, []
        now = self._now(self.env.now)
        decisions = decide_batch([self.leads[i] for i, _ in batch], self.roster, self.policy,
                                 self.state, now, scorer=self._require_scorer())
        for (i, wake), d in zip(batch, decisions, strict=True):
            self.calls[i] += 1
            routed = _Routed(d, NO_OFFICER, d.propensity)
            if d.status is Status.ASSIGNED:  # apply in order: each was computed after the last
                assert d.officer_id is not None
                routed.officer = self.index[d.officer_id]
                routed.delta = d.state_delta
                self.state.apply(d.state_delta)
                self._open(routed.officer, i)
                self._log(i, Event.ASSIGNED, routed.officer)
            elif d.status is Status.HELD:
                self.held[i] = True
                self._log(i, Event.HELD)
            wake.succeed(routed)

    def repricer(self, policy: Policy, scorer: Scorer | None, every_s: float,
                 forecast: Forecast, install: Callable[[np.ndarray, float], None],
                 view: Callable[[], RoutingState]) -> Generator[simpy.Event, Any, None]:
        """Refreshes a dual-price policy's capacity prices on its schedule
        (``engine.maintenance.next_reprice_at``: every ``reprice_every_s`` while someone is
        on shift, then at the next shift opening) and hands them to ``install(prices,
        at_s)``: the run's state, or the shadow candidate's own prices; ``view()`` is the
        state as that policy sees it (its own prices and their time)."""
        from engine.maintenance import (
            DEFAULT_HORIZON_S,
            forecast_eligibility,
            next_reprice_at,
            reprice,
        )

        if scorer is None:
            raise ValueError(f"method {policy.routing.method} needs a scorer")
        horizon_s = float(policy.routing.params.get("horizon_s", DEFAULT_HORIZON_S))
        eligible = np.zeros((0, len(self.roster)), dtype=bool)
        while True:
            now = self._now(self.env.now)
            leads, rows = forecast.window(self.env.now, horizon_s)
            if len(eligible) != len(forecast.leads):  # a fixed sample: planned once
                eligible = forecast_eligibility(policy, self.roster, forecast.leads)
            prices = reprice(policy, self.roster, view(), now, scorer, leads,
                             eligible=eligible[rows],
                             arrival_s=self.clock.start_unix + forecast.arrival_s[rows])
            install(prices, now.timestamp())
            due = next_reprice_at(policy, self.roster, view(), now)
            assert due is not None
            yield self.env.timeout(max((due - self.clock.start).total_seconds() - self.env.now,
                                       every_s if due <= now else 0.0))

    def _set_shadow_prices(self, prices: np.ndarray, at_s: float) -> None:
        self.shadow_prices = (np.asarray(prices, dtype=float).copy(), at_s)

    def _shadow_state(self) -> RoutingState:
        """The run's state as the shadow candidate sees it: the same counts, its own prices
        and when they were set (a shallow copy: nothing the candidate does reaches the
        run's state)."""
        if self.shadow_prices is None:
            return self.state
        state = copy.copy(self.state)
        state.prices, state.prices_set_s = self.shadow_prices
        return state

    def _require_scorer(self) -> Scorer:
        if self.scorer is None:
            raise ValueError(f"method {self.policy.routing.method} needs a scorer")
        return self.scorer

    def lead(self, i: int) -> Generator[simpy.Event, Any, None]:
        """One lead from arrival to closing."""
        env = self.env
        self._log(i, Event.ARRIVED)
        exclude: dict[str, str] = {}
        prefer: str | None = None
        rounds = 1
        if self.batch_window is not None:
            wake = env.event()
            self.batch.append((i, wake))
            if len(self.batch) == 1:
                env.process(self.batcher())
            routed = yield wake
        else:
            routed = self._route(i, exclude, prefer)
        while True:
            d = routed.decision
            status = d.status
            now = env.now
            if status is Status.ASSIGNED:
                assert d.offer is not None
                o = routed.officer
                load = int(self.state.open_leads[o]) - 1
                r = self._response_at(i, o, now, load)
                deadline = now + d.offer.accept_within_s
                if r <= deadline:
                    yield env.timeout(r - now)
                    self.offered_s[i] = self.assigned_s[i] = now
                    self.open_at[i], self.propensity[i] = load, routed.propensity
                    self._work(i, o)
                    break
                yield env.timeout(deadline - now)
                self._release(o, i)
                if self.inputs.refund_timed_out_caps and routed.delta is not None:
                    self._refund(o, now, routed.delta)
                tried = [o]
            elif status is Status.OFFERED:
                assert d.offer is not None
                won = yield from self._offer(i, d, now, now + d.offer.accept_within_s)
                if isinstance(won, tuple):
                    o, self.offered_s[i], load = won
                    self.assigned_s[i] = env.now
                    self.open_at[i], self.propensity[i] = load, routed.propensity
                    self._open(o, i)
                    self._work(i, o)
                    break
                tried = [self.index[x] for x in d.offer.officer_ids]
                if won is _OfferEnd.REFUSED:
                    # every officer offered answered in time but could no longer take it
                    # (caps filled since the offer): re-route now, no SLA breach
                    for o in tried:
                        exclude[self.ids[o]] = "accepted when no longer eligible"
                    routed = self._route(i, exclude, prefer)
                    continue
            elif status is Status.HELD:
                wake = env.event()
                self._hold(i, d, exclude, prefer, wake)
                routed = yield wake
                continue
            else:
                if exclude and rounds < self.inputs.max_rounds:
                    rounds += 1
                    exclude, prefer = {}, None
                    yield env.timeout(self.inputs.unassigned_retry_s)
                    self._log(i, Event.NEW_ROUND)
                    routed = self._route(i, exclude, prefer)
                    continue
                self.abandoned[i] = True
                self._log(i, Event.ABANDONED)
                return
            # nobody accepted in time: re-route along the chain, the backup first
            self.breaches[i] += 1
            self._log(i, Event.SLA_BREACH, tried[0])
            for o in tried:
                exclude[self.ids[o]] = "did not accept within the SLA"
            b = self.backup[tried[0]]
            prefer = self.ids[b] if b != NO_OFFICER else None
            routed = self._route(i, exclude, prefer)
        worker = self.officer[i]
        yield env.timeout(self._closing_s(i, bool(self.funded[i])))
        self._release(worker, i)
        self._log(i, Event.CLOSED, worker)

    def _work(self, i: int, o: int) -> None:
        """First contact attempt now: the outcome stages from the truth at the actual delay."""
        t = self.env.now
        self.officer[i] = o
        self.contact_s[i] = t
        self._log(i, Event.CONTACT, o)
        p, q, a = self._truth(i, o, t)
        self.p_funded[i] = p
        u_contact, u_apply, u_fund = self.outcome_u[i]
        if u_contact < q:
            self.contacted[i] = 1
            if u_apply < a:
                self.applied[i] = 1
                if u_fund < self.funding[i]:
                    self.funded[i] = 1
        if self.rounds is not None and i in self.last_round:
            self.rounds[self.last_round[i]][-1] = float(self.funded[i])

    def _offer(self, i: int, d: Decision, now: float, deadline: float
               ) -> Generator[simpy.Event, Any, tuple[int, float, int] | _OfferEnd]:
        """Plays out a broadcast, cascade or escalating offer: (officer, notified_s, load) of
        the winner, or how it ended without one (the caller re-routes): nobody accepted in
        time, or (broadcast, escalate) every officer accepted in time but was refused. An
        escalation's later officers answer at the load they had when the lead arrived."""
        env = self.env
        assert d.offer is not None
        officers = [self.index[x] for x in d.offer.officer_ids]
        if d.offer.mode == "cascade":
            step = float(d.offer.step_s or d.offer.accept_within_s)
            for k, o in enumerate(officers):
                notified = now + k * step
                if notified >= deadline:
                    break
                if notified > env.now:
                    yield env.timeout(notified - env.now)
                load = int(self.state.open_leads[o])
                r = self._response_at(i, o, notified, load)
                if r <= min(notified + step, deadline):
                    yield env.timeout(r - env.now)
                    if self._claim(i, d, o):
                        return o, notified, load
            end = min(now + len(officers) * step, deadline)
        else:
            # broadcast: every officer notified at once; escalate: officer k at k * step_s,
            # earlier offers standing. Either way the first to accept in time wins.
            step = float(d.offer.step_s or 0.0) if d.offer.mode == "escalate" else 0.0
            notified_at = [now + k * step for k in range(len(officers))]
            loads = [int(self.state.open_leads[o]) for o in officers]
            responses = sorted((self._response_at(i, o, at, load), k) for k, (o, at, load)
                               in enumerate(zip(officers, notified_at, loads, strict=True))
                               if at < deadline)
            for r, k in responses:
                if r > deadline:
                    break
                yield env.timeout(r - env.now)
                if self._claim(i, d, officers[k]):
                    return officers[k], notified_at[k], loads[k]
            if responses[-1][0] <= deadline:  # all answered in time and were refused
                return _OfferEnd.REFUSED
            end = deadline
        if end > env.now:
            yield env.timeout(end - env.now)
        return _OfferEnd.TIMED_OUT

    def _closing_s(self, i: int, funded: bool) -> float:
        c = self.closing
        u = self.close_u[i]
        if c.kind == "exponential":
            return -c.mean_s * math.log1p(-u)
        low, high = c.funded_days if funded else c.lost_days
        return 86400.0 * (low + (high - low) * u)

    # -- result --------------------------------------------------------------------------------

    def result(self, wall_s: float) -> RunResult:
        still_open = [(o, start, math.nan) for (o, _), start in self.open_since.items()]
        intervals = np.array(self.intervals + still_open, dtype=float).reshape(-1, 3)
        events = None
        if self.events is not None:
            ev = np.array(self.events, dtype=float).reshape(-1, 4)
            events = {"lead": ev[:, 0].astype(np.int64), "t_s": ev[:, 1],
                      "event": ev[:, 2].astype(np.int8), "officer": ev[:, 3].astype(np.int64)}
        return RunResult(
            label=self.label, policy=self.policy.name, policy_version=self.policy.version,
            replication=self.inputs.replication,
            officer=np.array(self.officer, dtype=np.int64),
            offered_s=np.array(self.offered_s), assigned_s=np.array(self.assigned_s),
            contact_s=np.array(self.contact_s),
            contacted=np.array(self.contacted, dtype=np.int8),
            application=np.array(self.applied, dtype=np.int8),
            funded=np.array(self.funded, dtype=np.int8), p_funded=np.array(self.p_funded),
            open_at_assign=np.array(self.open_at, dtype=np.int64),
            propensity=np.array(self.propensity), sla_breaches=np.array(self.breaches),
            decide_calls=np.array(self.calls), held=np.array(self.held),
            abandoned=np.array(self.abandoned), claim_refusals=self.claim_refusals,
            intervals=intervals,
            refunded=np.array(self.refunded, dtype=float).reshape(-1, 4), events=events,
            rounds=None if self.rounds is None else _rounds(self.rounds),
            wall_s=wall_s)


def _rounds(rows: list[list[float]]) -> dict[str, np.ndarray]:
    """Rounds as columns: lead, officer, propensity, target (the candidate's officer),
    target_p (its true probability of funding this round), reward (funded in this round)."""
    arr = np.array(rows, dtype=float).reshape(-1, 6)
    return {"lead": arr[:, 0].astype(np.int64), "officer": arr[:, 1].astype(np.int64),
            "propensity": arr[:, 2], "target": arr[:, 3].astype(np.int64),
            "target_p": arr[:, 4], "reward": arr[:, 5]}


def needs_scorer(policy: Policy) -> bool:
    """Whether the policy's method ranks by conversion estimates."""
    return policy.routing.method in SCORING_METHODS


def simulate(inputs: Inputs, policy: Policy, *, label: str | None = None,
             options: RunOptions | None = None, scorer: Scorer | None = None,
             forecast: Forecast | None = None) -> RunResult:
    """Run ``policy`` over one replication's ``inputs``.

    scorer: conversion estimates for scoring methods (the runner passes the world's oracle
        unless the policy names a model file of its own).
    forecast: for ``dual_price``: the demand forecast (``simulator.forecast.Forecast``), a
        sample of the demand, never the realized future.
    """
    from engine.decide import policy_scorer
    from engine.maintenance import reprice_every_s

    options = options or RunOptions()
    run = _Run(inputs, policy, label or policy.name, options, scorer)
    started = time.perf_counter()
    run.env.process(run.arrivals())
    run.env.process(run.held_worker())
    every = reprice_every_s(policy)
    if every is not None:
        if forecast is None:
            raise ValueError("a dual_price policy needs a demand forecast")
        run.env.process(run.repricer(policy, scorer, every, forecast, run.state.set_prices,
                                     lambda: run.state))
    shadow = options.shadow
    shadow_every = reprice_every_s(shadow) if shadow is not None else None
    if shadow is not None and shadow_every is not None:
        if options.shadow_forecast is None:
            raise ValueError("a dual_price candidate needs RunOptions(shadow_forecast=...)")
        run.env.process(run.repricer(shadow, options.shadow_scorer or policy_scorer(shadow),
                                     shadow_every, options.shadow_forecast,
                                     run._set_shadow_prices, run._shadow_state))
    with collector_paused():
        run.env.run(until=inputs.end_s)
    return run.result(time.perf_counter() - started)
