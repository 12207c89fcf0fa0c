"""The SimPy model: leads arrive, the engine routes them and plays out their lives, officers
respond, leads close.

The simulator carries no routing logic of its own. Each lead's life (offers, accept-by
deadlines, cascades, first to accept wins, SLA re-routing with backups, rounds, holds,
staleness, release) is ``engine.lifecycle``: the simulator only owns the clock and the world.
Each lead's life is a chain of SimPy events whose callbacks carry it on (``_start``,
``_advance``): the same events, in the same order, as one SimPy process per lead would wait
on, without a process's start and end events. The arrivals and the held-queue worker are
callbacks too; for the methods that need them, a batcher and a price refresher are processes.

- arrival: each lead's life starts at its arrival time, the next arrival's timeout set first;
- routing and every later transition: ``engine.lifecycle.Lifecycle`` with the simulated clock
  as ``now`` (the scenario's start plus SimPy seconds) and the very same policy file as
  production; its state effects are applied to the run's ``RoutingState`` in memory
  (``engine.store.MemoryStore``);
- notification: an officer told of a lead hears of it after their fastest channel's latency;
- response: after a delay drawn from the officer's distribution (median x hour-of-day x load
  x the lead's draw, plus time tied up if they are busy), counted from when they are on shift;
  the officer accepts at that moment if the lead is still theirs to take (the lifecycle
  decides: the first to accept wins; a claim on an offer is checked against the caps);
- the lifecycle's ``Wake`` times are SimPy timeouts: SLA deadlines, cascade steps, new rounds;
- held leads wait in the held queue, worked at their due time in the engine's held order
  (``Lifecycle.held_order``), and tried at once for an officer whose slot frees up
  (``Lifecycle.pick_held``);
- contact: the outcome stages are drawn from the world's truth at the actual delay;
- closing: days later the lead is released (``Lifecycle.release``).
"""

from __future__ import annotations

import copy
import math
import time
from bisect import bisect_left, insort
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy

from engine.decide import Decision, Status, claim_delta, decide
from engine.invariant import present
from engine.io import collector_paused
from engine.lifecycle import (
    Apply,
    Case,
    Freed,
    GiveUp,
    Kind,
    Lifecycle,
    Notify,
    Record,
    Release,
    Reserve,
    Stage,
    Step,
    TakeBack,
    Unreserve,
    Wake,
)
from engine.policies import Scorer
from engine.policies.rotation import eligible_weight
from engine.rules import Policy
from engine.state import RoutingState
from simulator.clock import OfficerClock
from simulator.crn import Draws
from simulator.forecast import Forecast
from simulator.streams import LeadStream
from simulator.world import AssignmentTruth, LeadFeatures, World

# events.parquet names: the lifecycle's history (an officer's acceptance is their first contact
# attempt in this model; a lead's release is when it closes)
EVENT_NAMES: tuple[str, ...] = tuple(k.value for k in Kind)
_KIND_CODE = {k: n for n, k in enumerate(Kind)}
NO_OFFICER = -1


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
    """What every policy of a replication shares: the stream, the truth and the draws;
    ``lifecycle``: the scenario's overrides of the policies' ``routing.lifecycle``.

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
    lifecycle: Mapping[str, Any] = field(default_factory=dict)  # scenario overrides
    replication: int = 0


@dataclass(frozen=True)
class TruthRows:
    """What ``RunResult.true_p_funded`` is computed from: for each worked lead (``rows``),
    the arguments of ``AssignmentTruth.p_funded``; ``leads``: how many leads the run had."""

    truth: AssignmentTruth
    leads: int
    rows: np.ndarray
    value: np.ndarray
    contact_base: np.ndarray
    waited_s: np.ndarray
    median_s: np.ndarray
    answered_within_s: np.ndarray

    def p_funded(self) -> np.ndarray:
        """(leads,) the truth at assignment of each worked lead, 0 for the others."""
        out = np.zeros(self.leads)
        out[self.rows] = self.truth.p_funded_many(self.value, self.contact_base,
                                                  self.waited_s, self.median_s,
                                                  self.answered_within_s)
        return out


@dataclass
class RunResult:
    """One policy's run over one replication. Arrays are (L,) in lead order unless noted;
    times are SimPy seconds, NaN when it did not happen.

    officer: who worked the lead (accepted and attempted contact), -1 if nobody.
    offered_s: when that officer was notified; assigned_s: when the lead became theirs
        (the decision for an assignment, the acceptance for an offer); contact_s: first
        contact attempt.
    p_funded: the true probability of funding given what happened (0 if never worked).
    true_p_funded: the true probability of funding known when the worker was notified
        (``simulator.world.AssignmentTruth``: lead, officer, the moment, their load and the
        expected response; 0 if never worked); computed on first read from ``truth_rows``
        (a run only timed or summarized never pays for it).
    abandoned, given_up_s: whether and when the engine gave the lead up (no round left,
        nobody licensed, stale); NaN when it did not.
    intervals: (K, 3) officer, start_s, end_s of every open lead (end NaN if still open).
    refunded: (K', 4) officer, start_s, day, hour of the assignments taken back (an SLA
        time-out under ``routing.lifecycle.timed_out: take_back``): taken off the officer's
        caps; day and hour are 1.0 where that count was lowered (only while its day or hour
        was still current).
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
    given_up_s: np.ndarray
    claim_refusals: int
    intervals: np.ndarray
    refunded: np.ndarray
    events: dict[str, np.ndarray] | None
    rounds: dict[str, np.ndarray] | None = None
    wall_s: float = 0.0
    truth_rows: TruthRows | None = field(default=None, repr=False)
    _true_p: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def true_p_funded(self) -> np.ndarray | None:
        if self._true_p is None and self.truth_rows is not None:
            self._true_p = self.truth_rows.p_funded()
        return self._true_p


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
        self.life = Lifecycle.for_policy(roster, policy, scorer=scorer,
                                         overrides=inputs.lifecycle, router=self._decide)
        self.cases: list[Case | None] = [None] * n
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
        self.worked: list[tuple[int, int, float, int]] = []  # lead, officer, told at, load
        self.assignment_truth = AssignmentTruth(world)
        self.open_at = [0] * n
        self.propensity = [1.0] * n
        self.breaches = [0] * n
        self.calls = [0] * n
        self.held = [False] * n
        self.abandoned = [False] * n
        self.given_up_s = [nan] * n
        self.claim_refusals = 0
        # when each officer told of lead i would accept it: (lead, officer) -> (SimPy s, told
        # at, load when told)
        self.answers: dict[tuple[int, int], tuple[float, float, int]] = {}
        self.open_since: dict[tuple[int, int], float] = {}
        self.accept_by: dict[tuple[int, int], float] = {}  # (lead, officer) -> SimPy s
        self.intervals: list[tuple[int, float, float]] = []
        self.refunded: list[tuple[int, float, float, float]] = []
        self.events: list[tuple[int, float, int, int]] | None = \
            [] if options.record_events else None
        # the held queue: the leads waiting in it (a dict for its order: the order freed slots
        # see them in); a heap of (due time, seq, lead)
        self.held_waiting: dict[int, None] = {}
        # the same leads sorted by the engine's ``held_key`` (fixed for a lead's life), which
        # ``pick_held`` then scans only up to its pick; empty under ``highest_value``, whose
        # order moves with the state
        self.held_sorted: list[tuple[tuple[int, float, float, str], int]] = []
        self.held_sorted_kept = self.life.settings.held_order != "highest_value"
        self.held_keys: dict[int, tuple[int, float, float, str]] = {}
        self.held_heap: list[tuple[float, int, int]] = []
        self.held_due: dict[int, int] = {}  # lead -> seq of its current heap entry
        self.held_seq = 0
        self.held_kick: simpy.Event | None = None
        self.held_armed: object | None = None  # the worker's current wait (timer or kick)
        self.batch_window = policy.selector.batch_window_s
        self.batch: list[tuple[int, simpy.Event]] = []
        self.weighted = policy.selector.weighted
        # off-policy evaluation: one round per placing decision
        # [lead, officer, propensity, candidate's officer, its true p, reward]
        self.rounds: list[list[float]] | None = [] if options.shadow is not None else None
        self.shadow_prices: tuple[np.ndarray, float] | None = None  # a dual-price candidate's
        self.last_round: dict[int, int] = {}
        self.current = NO_OFFICER  # the lead whose transition is running (for the router)
        self.now_s, self.now_at = 0.0, self.clock.datetime_at(0.0)  # ``_now``'s last moment

    # -- helpers -----------------------------------------------------------------------------

    def _now(self, t_s: float) -> datetime:
        """The moment of SimPy time ``t_s`` (the last one is kept: a moment's transitions
        ask for it again and again)."""
        if t_s != self.now_s:
            self.now_s, self.now_at = t_s, self.clock.datetime_at(t_s)
        return self.now_at

    def _s(self, at: datetime) -> float:
        """SimPy seconds of a moment."""
        return (at - self.clock.start).total_seconds()

    def _response_at(self, i: int, o: int, notified_s: float, load: int) -> float:
        """When officer ``o`` notified at ``notified_s`` with ``load`` open leads accepts and
        makes the first contact attempt (SimPy seconds): the response starts once they are on
        shift and not on time off (never, once they have left)."""
        start = self.clock.ready_s(o, notified_s + self.latency[o])  # on shift, not away
        if math.isinf(start):
            return start
        hour = self.clock.local_hour(o, start)
        return start + self.median[o] * self.hour_mult[hour] * \
            (1.0 + self.load_slope * load) * float(self.factor[i, o]) + float(self.busy[i, o])

    # -- carrying out the engine's effects -----------------------------------------------------

    def _step(self, i: int, step: Step) -> Case:
        """Carry out a transition's effects for lead ``i`` and keep its new case."""
        now = self.env.now
        state = self.state
        index = self.index
        breach = False
        for e in step.effects:
            if type(e) is Wake:  # ``_advance`` reads the case's due time
                continue
            if isinstance(e, Record):
                breach = self._record(i, e) or breach
            elif isinstance(e, Apply):
                delta = e.delta
                state.apply(delta)
                if delta.officer_id is not None:
                    self.open_since[(index[delta.officer_id], i)] = now
            elif isinstance(e, Notify):
                o = index[e.officer_id]
                # an assignment already counts this lead among the officer's open leads
                load = int(state.open_leads[o]) - (1 if e.mode == "assign" else 0)
                self.answers[(i, o)] = (self._response_at(i, o, now, load), now, load)
                self.accept_by[(i, o)] = self._s(e.accept_by)
            elif isinstance(e, TakeBack):
                delta = e.delta
                oid = present(delta.officer_id, "a taken-back delta names its officer")
                o = index[oid]
                start = self._close(o, i)
                state.release(oid)
                day, hour = state.uncount(delta)
                if day or hour:
                    self.refunded.append((o, start, float(day), float(hour)))
            elif isinstance(e, Release):
                self._close(index[e.officer_id], i)
                state.release(e.officer_id)
            elif isinstance(e, Reserve):
                state.reserve(e.officer_id)
            elif isinstance(e, Unreserve):
                state.unreserve(e.officer_id)
            elif isinstance(e, Freed):
                if self.held_waiting:
                    self._freed(e.officer_id)
            elif isinstance(e, GiveUp):
                self.abandoned[i] = True
                self.given_up_s[i] = now
        if breach:  # one time-out of the lead (charged to each officer who had it open)
            self.breaches[i] += 1
        case = step.case
        self.cases[i] = case
        return case

    def _record(self, i: int, r: Record) -> bool:
        """Keep one line of the lead's history; whether it was an SLA breach."""
        kind = r.kind
        if kind is Kind.HELD:
            self.held[i] = True
        elif kind is Kind.CLAIM_REFUSED:
            self.claim_refusals += 1
        if self.events is not None:
            o = NO_OFFICER if r.officer_id is None else self.index[r.officer_id]
            self.events.append((i, self.env.now, _KIND_CODE[kind], o))
        return kind is Kind.SLA_BREACH

    def _close(self, o: int, i: int) -> float:
        """Officer ``o``'s open interval of lead ``i`` ends now; returns when it started."""
        start = self.open_since.pop((o, i))
        self.intervals.append((o, start, self.env.now))
        return start

    def _decide(self, lead: Any, state: RoutingState, now: datetime, *,
                exclude: Mapping[str, str] | None, prefer: str | None,
                pool: str | None) -> Decision:
        """The lifecycle's router: ``engine.decide`` now, counted; a logging policy may draw
        another of the engine's candidates (with its propensity), and a candidate policy may
        be asked what it would have done (off-policy evaluation)."""
        i = self.current
        t_s = self.env.now
        self.calls[i] += 1
        d = decide(lead, self.roster, self.policy, state, now, exclude=exclude, prefer=prefer,
                   scorer=self.scorer, pool=pool)
        status = d.status
        if self.rounds is not None and (status is Status.ASSIGNED or status is Status.OFFERED):
            target = self._shadow(i, t_s, exclude, prefer)
            if status is Status.ASSIGNED and self.options.exploration > 0:
                d = self._explore(i, d, t_s)
            offer = present(d.offer, "a placing decision carries its offer")
            self._round(i, self.index[offer.officer_ids[0]], d.propensity, target)
        elif status is Status.ASSIGNED and self.options.exploration > 0:
            d = self._explore(i, d, t_s)
        return d

    def _round(self, i: int, o: int, propensity: float, target: tuple[int, float]) -> None:
        """Log one placing decision for off-policy evaluation (its reward is set when the lead
        is worked in this round)."""
        rounds = present(self.rounds, "rounds are kept with a shadow policy")
        self.last_round[i] = len(rounds)
        rounds.append([i, o, propensity, target[0], target[1], 0.0])

    def _shadow(self, i: int, t_s: float, exclude: Mapping[str, str] | None,
                prefer: str | None) -> tuple[int, float]:
        """What the candidate policy would do here, on the same state (off-policy evaluation):
        its officer and the true probability that this round funds with them (0 if they
        would not answer within its SLA)."""
        shadow = present(self.options.shadow, "called with a shadow policy")
        d = decide(self.leads[i], self.roster, shadow, self._shadow_state(), self._now(t_s),
                   exclude=exclude, prefer=prefer, scorer=self.options.shadow_scorer)
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

    def _truth_rows(self) -> TruthRows:
        """What the p(funded) of each worked lead ``i`` known when officer ``o`` with
        ``load`` open leads was notified at ``told_s`` (rows of ``worked``) is computed from:
        ``_response_at``'s arithmetic, its draws integrated out over the responses that beat
        the offer's accept-by time (this officer worked the lead, so theirs did)."""
        inf = math.inf
        worked = self.worked
        n = len(worked)
        value, base, waited, median, within = (np.empty(n) for _ in range(5))
        for k, (i, o, told_s, load) in enumerate(worked):
            start = told_s + self.latency[o]
            start += self.clock.wait_to_shift_s(o, start)
            if math.isinf(start):
                value[k], base[k], waited[k], median[k], within[k] = 0.0, 0.0, inf, inf, inf
                continue
            median[k] = self.median[o] * self.hour_mult[self.clock.local_hour(o, start)] * \
                (1.0 + self.load_slope * load)
            value[k] = float(self.application[i, o]) * self.funding[i]
            base[k] = self.contact_base[i]
            waited[k] = start - self.arrival[i]
            within[k] = self.accept_by.get((i, o), inf) - start
        rows = np.array([i for i, _, _, _ in worked], dtype=np.int64)
        return TruthRows(self.assignment_truth, len(self.leads), rows, value, base, waited,
                         median, within)

    def _explore(self, i: int, d: Decision, t_s: float) -> Decision:
        """The logging policy's pick among the engine's ranked candidates: the decision with
        that officer, its propensity and its state delta."""
        order = present(d.explanation.steps[-1].order, "an assignment ranks its candidates")
        officer_id = present(d.officer_id, "an assignment names its officer")
        offer = present(d.offer, "a placing decision carries its offer")
        eps = self.options.exploration
        k = len(order)
        if self.explored[i]:  # fresh uniforms for every later decision of the lead
            u_explore, u_pick = self.explore_later.random(2).tolist()
        else:
            u_explore, u_pick = self.explore_u[i]
            self.explored[i] = True
        o = int(order[min(int(u_pick * k), k - 1)]) if u_explore < eps else int(order[0])
        propensity = eps / k + ((1.0 - eps) if o == int(order[0]) else 0.0)
        if o == self.index[officer_id]:
            return replace(d, propensity=propensity)
        weight = eligible_weight(self.roster, order, self.weighted)
        delta = claim_delta(self.roster, self.policy, self.state, d.pool or "", o,
                            self._now(t_s), weight)
        oid = self.ids[o]
        return replace(d, officer_id=oid, offer=replace(offer, officer_ids=(oid,)),
                       state_delta=delta, propensity=propensity)

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

    # -- a lead's life ---------------------------------------------------------------------

    def _transition(self, i: int, transition: Callable[..., Step], *args: Any) -> Case:
        """Run one lifecycle transition of lead ``i`` (``transition(case, *args)``) and carry
        it out."""
        case = present(self.cases[i], "a lead's case is opened on arrival")
        self.current = i
        return self._step(i, transition(case, *args))

    def _start(self, i: int) -> None:
        """Lead ``i`` arrives now: the engine routes it (a batch method: it waits for the
        batcher), then its life goes on in ``_advance``."""
        env = self.env
        lead = self.leads[i]
        now = self._now(env.now)
        self.current = i
        if self.batch_window is not None:
            self.cases[i] = Case(lead.lead_id, lead.received_at)
            self._step(i, self.life.open(lead, now))
            wake = env.event()
            wake.callbacks.append(partial(self._wake, [i]))
            self.batch.append((i, wake))
            if len(self.batch) == 1:
                env.process(self.batcher())
            return
        self._step(i, self.life.arrive(lead, self.state, now))
        self._advance(i)

    def _advance(self, i: int) -> None:
        """Lead ``i``'s life from now until it next waits (a SimPy event whose callback takes
        it on from there), is accepted and worked, or ends. Callbacks rather than a SimPy
        process per lead: the same events in the same order, without a process's start and
        end events."""
        env = self.env
        life = self.life
        while True:
            case = present(self.cases[i], "a lead's case is opened on arrival")
            stage = case.stage
            if stage is Stage.ACCEPTED or case.done:
                break
            if stage is Stage.HELD:  # the held-queue worker takes it on
                self._hold(i, case)
                return
            due = self._s(case.due_at) if case.due_at is not None else math.inf
            answer = self._first_answer(i, case)
            if answer is not None and answer[0] <= due:
                at, o = answer
                if at > env.now:
                    env.timeout(at - env.now).callbacks.append(partial(self._accept, i, o))
                    return
                self._transition(i, life.accept, self.leads[i], self.ids[o], self.state,
                                 self._now(env.now))
                continue
            if math.isinf(due):  # nothing is due and nobody will answer
                return
            if due > env.now:
                env.timeout(due - env.now).callbacks.append(partial(self._due, i))
                return
            self._transition(i, life.due, self.leads[i], self.state, self._now(env.now))
        if case.stage is not Stage.ACCEPTED:
            return  # given up
        worker = self.index[present(case.officer_id, "an accepted lead has its officer")]
        assigned_at = present(case.delta, "an accepted lead is counted").assigned_at
        _, told_s, load = self.answers[(i, worker)]
        self.offered_s[i] = told_s
        self.assigned_s[i] = self._s(assigned_at) if assigned_at is not None else env.now
        self.open_at[i], self.propensity[i] = load, case.propensity
        self.worked.append((i, worker, told_s, load))
        self._work(i, worker)
        env.timeout(self._closing_s(i, bool(self.funded[i]))).callbacks.append(
            partial(self._release, i))

    def _accept(self, i: int, o: int, _: simpy.Event) -> None:
        """Officer ``o``'s answer to lead ``i`` is due now."""
        self._transition(i, self.life.accept, self.leads[i], self.ids[o], self.state,
                         self._now(self.env.now))
        self._advance(i)

    def _due(self, i: int, _: simpy.Event) -> None:
        """Lead ``i``'s case is due now (an SLA deadline, a cascade step, a new round)."""
        self._transition(i, self.life.due, self.leads[i], self.state, self._now(self.env.now))
        self._advance(i)

    def _release(self, i: int, _: simpy.Event) -> None:
        """Lead ``i`` closes now."""
        outcome = "funded" if self.funded[i] else "lost"
        self._transition(i, self.life.release, outcome, self.state, self._now(self.env.now))

    def _first_answer(self, i: int, case: Case) -> tuple[float, int] | None:
        """(when, officer) of the first officer who would accept the case's open offer."""
        offer = case.offer
        if offer is None:
            return None
        best: tuple[float, int] | None = None
        for oid in offer.live():
            o = self.index[oid]
            at = self.answers[(i, o)][0]
            if best is None or at < best[0]:
                best = (at, o)
        return best

    def _work(self, i: int, o: int) -> None:
        """First contact attempt now: the outcome stages from the truth at the actual delay."""
        t = self.env.now
        self.officer[i] = o
        self.contact_s[i] = t
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

    def _closing_s(self, i: int, funded: bool) -> float:
        c = self.closing
        u = self.close_u[i]
        if c.kind == "exponential":
            return -c.mean_s * math.log1p(-u)
        low, high = c.funded_days if funded else c.lost_days
        return 86400.0 * (low + (high - low) * u)

    # -- the held queue ----------------------------------------------------------------------

    def _hold(self, i: int, case: Case) -> None:
        """Queue a held lead until its due time (the engine's ``hold_until`` or retry)."""
        if i not in self.held_waiting and self.held_sorted_kept:
            key = self.held_keys[i] = self.life.held_key(case)
            insort(self.held_sorted, (key, i))
        self.held_waiting[i] = None
        due = self._s(case.due_at) if case.due_at is not None else math.inf
        self._schedule_held(i, max(due, self.env.now))

    def _schedule_held(self, i: int, due: float) -> None:
        self.held_seq += 1
        self.held_due[i] = self.held_seq
        heappush(self.held_heap, (due, self.held_seq, i))
        kick = self.held_kick
        if kick is not None and not kick.triggered and due <= self.held_heap[0][0]:
            kick.succeed()

    def _unsort(self, i: int) -> None:
        """Take lead ``i`` out of ``held_sorted``."""
        k = bisect_left(self.held_sorted, (self.held_keys.pop(i), i))
        if k == len(self.held_sorted) or self.held_sorted[k][1] != i:
            raise RuntimeError(f"internal invariant broken: lead {i} is not in the held order")
        del self.held_sorted[k]

    def _freed(self, officer_id: str) -> None:
        """An officer's slot freed: the engine picks the held lead they should be tried for,
        which is retried now."""
        ordered = self.held_sorted_kept
        waiting = [j for _, j in self.held_sorted] if ordered else list(self.held_waiting)
        items = [(self.cases[j], self.leads[j]) for j in waiting]
        k = self.life.pick_held(officer_id, items, self.state,  # type: ignore[arg-type]
                                self._now(self.env.now), ordered=ordered)
        if k is not None:
            self._schedule_held(waiting[k], self.env.now)

    def held_worker(self) -> Generator[simpy.Event, Any, None]:
        """Starts the held-queue worker in its turn at time zero; callbacks drive it on."""
        self._held_wait()
        yield from ()

    def _held_wait(self) -> None:
        """The held-queue worker, like the API's: revisits held leads when due; the leads
        due at a moment are tried together in the engine's held order; a lead held again
        waits for its new due time. It waits for the first due time or a kick (a lead due
        sooner, a freed slot's pick), then works one hop later, as a SimPy process waiting
        on either event would; without a process, a condition event and a wake-up event per
        lead: one wake-up per pass for the leads it released."""
        env = self.env
        heap = self.held_heap
        while True:
            kick = self.held_kick = env.event()
            if heap:
                wait = heap[0][0] - env.now
                if wait > 0:
                    armed = self.held_armed = object()
                    env.timeout(wait).callbacks.append(partial(self._held_hop, armed))
                    kick.callbacks.append(partial(self._held_hop, armed))
                    return
            else:
                kick.callbacks.append(self._held_run)
                return
            self._held_pass()

    def _held_hop(self, armed: object, _: simpy.Event) -> None:
        """The worker's timer or kick fired: the first of the two wakes it one hop later."""
        if armed is not self.held_armed:
            return
        self.held_armed = None
        hop = self.env.event()
        hop.callbacks.append(self._held_run)
        hop.succeed()

    def _held_run(self, _: simpy.Event) -> None:
        self._held_pass()
        self._held_wait()

    def _held_pass(self) -> None:
        """The held leads due now, worked in the engine's held order; those no longer held go
        on with their lives after one wake-up event, in that order."""
        env = self.env
        heap = self.held_heap
        life = self.life
        due: list[int] = []
        while heap and heap[0][0] <= env.now:
            _, seq, i = heappop(heap)
            if self.held_due.get(i) == seq and i in self.held_waiting:
                due.append(i)
        if not due:
            return
        now = self._now(env.now)
        if len(due) > 1:
            items = [(self.cases[i], self.leads[i]) for i in due]
            due = [due[k] for k in life.held_order(items, self.state,  # type: ignore[arg-type]
                                                   now)]
        woken: list[int] = []
        for i in due:
            if i not in self.held_waiting:  # taken by a freed slot meanwhile
                continue
            case = self._transition(i, life.due, self.leads[i], self.state, now)
            if case.stage is Stage.HELD:
                self._schedule_held(i, max(self._s(case.due_at), env.now)
                                    if case.due_at is not None else math.inf)
            else:
                del self.held_due[i]
                del self.held_waiting[i]
                if self.held_sorted_kept:
                    self._unsort(i)
                woken.append(i)
        if woken:
            wake = env.event()
            wake.callbacks.append(partial(self._wake, woken))
            wake.succeed()

    def _wake(self, leads: list[int], _: simpy.Event) -> None:
        for i in leads:
            self._advance(i)

    # -- processes ---------------------------------------------------------------------------

    def first_arrival(self) -> Generator[simpy.Event, Any, None]:
        """Waits for the first lead; ``arrivals`` takes it from there."""
        if not self.arrival:
            return
        if self.arrival[0] > self.env.now:
            yield self.env.timeout(self.arrival[0] - self.env.now)
        self.arrivals(0)

    def arrivals(self, k: int, _: simpy.Event | None = None) -> None:
        """Lead ``k`` (and every later lead whose time has come) arrives now; a timeout
        brings the next one. The next arrival is scheduled before the leads arriving now are
        routed, as a process yielding one timeout per arrival would."""
        env = self.env
        arrival = self.arrival
        n = len(arrival)
        starts = [k]
        k += 1
        while k < n:
            at = arrival[k]
            if at > env.now:
                env.timeout(at - env.now).callbacks.append(partial(self.arrivals, k))
                break
            starts.append(k)
            k += 1
        for i in starts:
            self._start(i)

    def batcher(self) -> Generator[simpy.Event, Any, None]:
        """Routes the leads collected over one window together (a method with a batch window:
        ``engine.batch.decide_batch``), each decision handed to the lead's lifecycle."""
        from engine.batch import decide_batch

        yield self.env.timeout(present(self.batch_window, "started for batch methods"))
        batch, self.batch = self.batch, []
        now = self._now(self.env.now)
        decisions = decide_batch([self.leads[i] for i, _ in batch], self.roster, self.policy,
                                 self.state, now, scorer=self._require_scorer())
        for (i, wake), d in zip(batch, decisions, strict=True):
            self.calls[i] += 1
            self._transition(i, self.life.routed, self.leads[i], d, self.state, now)
            wake.succeed()

    def repricer(self, policy: Policy, scorer: Scorer | None, every_s: float,
                 forecast: Forecast, install: Callable[[np.ndarray, float], None],
                 view: Callable[[], RoutingState]) -> Generator[simpy.Event, Any, None]:
        """Refreshes a dual-price policy's capacity prices on its schedule
        (``engine.maintenance.next_reprice_at``: every ``reprice_every_s`` while someone is
        on shift, then at the next shift opening) and hands them to ``install(prices,
        at_s)``: the run's state, or the shadow candidate's own prices; ``view()`` is the
        state as that policy sees it (its own prices and their time)."""
        from engine.maintenance import forecast_eligibility, horizon_s, next_reprice_at, reprice

        if scorer is None:
            raise ValueError(f"method {policy.routing.method} needs a scorer")
        horizon = horizon_s(policy)
        eligible = np.zeros((0, len(self.roster)), dtype=bool)
        while True:
            now = self._now(self.env.now)
            leads, rows = forecast.window(self.env.now, horizon)
            if len(eligible) != len(forecast.leads):  # a fixed sample: planned once
                eligible = forecast_eligibility(policy, self.roster, forecast.leads)
            prices = reprice(policy, self.roster, view(), now, scorer, leads,
                             eligible=eligible[rows],
                             arrival_s=self.clock.start_unix + forecast.arrival_s[rows])
            install(prices, now.timestamp())
            due = next_reprice_at(policy, self.roster, view(), now)
            if due is None:  # a method that reads prices always has a schedule
                raise RuntimeError(f"method {policy.routing.method} has no repricing schedule")
            yield self.env.timeout(max((due - self.clock.start).total_seconds() - self.env.now,
                                       every_s if due <= now else 0.0))

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
            abandoned=np.array(self.abandoned), given_up_s=np.array(self.given_up_s),
            claim_refusals=self.claim_refusals,
            intervals=intervals,
            refunded=np.array(self.refunded, dtype=float).reshape(-1, 4), events=events,
            rounds=None if self.rounds is None else _rounds(self.rounds),
            wall_s=wall_s, truth_rows=self._truth_rows())


def _rounds(rows: list[list[float]]) -> dict[str, np.ndarray]:
    """Rounds as columns: lead, officer, propensity, target (the candidate's officer),
    target_p (its true probability of funding this round), reward (funded in this round)."""
    arr = np.array(rows, dtype=float).reshape(-1, 6)
    return {"lead": arr[:, 0].astype(np.int64), "officer": arr[:, 1].astype(np.int64),
            "propensity": arr[:, 2], "target": arr[:, 3].astype(np.int64),
            "target_p": arr[:, 4], "reward": arr[:, 5]}


def needs_scorer(policy: Policy) -> bool:
    """Whether the policy's method ranks by conversion estimates."""
    return policy.selector.needs_scorer


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

    options = options or RunOptions()
    run = _Run(inputs, policy, label or policy.name, options, scorer)
    started = time.perf_counter()
    run.env.process(run.first_arrival())
    run.env.process(run.held_worker())
    every = policy.selector.reprice_every_s
    if every is not None:
        if forecast is None:
            raise ValueError("a dual_price policy needs a demand forecast")
        run.env.process(run.repricer(policy, scorer, every, forecast, run.state.set_prices,
                                     lambda: run.state))
    shadow = options.shadow
    shadow_every = shadow.selector.reprice_every_s if shadow is not None else None
    if shadow is not None and shadow_every is not None:
        if options.shadow_forecast is None:
            raise ValueError("a dual_price candidate needs RunOptions(shadow_forecast=...)")
        run.env.process(run.repricer(shadow, options.shadow_scorer or policy_scorer(shadow),
                                     shadow_every, options.shadow_forecast,
                                     run._set_shadow_prices, run._shadow_state))
    with collector_paused():
        run.env.run(until=inputs.end_s)
    return run.result(time.perf_counter() - started)

