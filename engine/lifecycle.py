"""A lead's whole life after its first decision, as pure transitions on a small record.

``engine.decide`` says who should get a lead now. Everything after that (offers and their
accept-by deadlines, cascade steps, first-to-accept-wins, declines, SLA time-outs and the
re-routing they cause, held leads tried again, rounds, staleness, release on an outcome) is
here, once, for every caller. A ``Case`` is the immutable record of one lead's life; each
transition takes the case, the event and what it needs to read (the lead, the routing state,
the time) and returns a ``Step``: the new case and its ``effects`` as data. The callers only
carry effects out and own the clock:

- the simulator applies state effects in memory and waits with SimPy timeouts;
- the API applies them in the lead's database transaction (through a ``StateStore``) and
  keeps ``case.due_at`` in a row that its worker claims when due;
- ``leadroute route`` accepts every offer at once (a batch run has nobody to answer).

Effects: ``Apply`` / ``TakeBack`` a state delta, ``Release`` an open lead, ``Reserve`` /
``Unreserve`` a slot for an open offer, ``Notify`` / ``Withdraw`` an officer, ``Wake`` me at a
time, ``GiveUp`` with a reason, ``Freed`` (an officer's slot freed: the held queue may use it),
and ``Record`` (one line of the lead's history, with the policy version and propensity).

The held queue is decided here too: ``held_order`` sorts held leads (rule priority first, then
the policy's ``held_order``), ``pick_held`` says which held lead an officer who frees up gets,
and a held lead older than ``stale_after_s`` leaves the competition (given up, or sent to a
nurture pool).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

import numpy as np

from engine.decide import Decision, Status, claim_delta, decide, offer_delta
from engine.domain import Lead
from engine.eligibility import ON_CALL_WAIVER, REASON_TEXT, Reason, officer_constraint
from engine.invariant import present
from engine.policies import Scorer
from engine.roster import Roster
from engine.rules import Policy
from engine.rules.policy import LifecycleSpec
from engine.state import RotationStep, RoutingState, StateDelta


class Stage(StrEnum):
    """Where a lead is in its life."""

    NEW = "new"  # arrived, not routed yet (a batch method collects it for its window)
    OFFERED = "offered"  # offered: to one officer (assign; counted) or to several
    HELD = "held"  # nobody can take it now: tried again at due_at, or when a slot frees
    WAITING = "waiting"  # every officer was tried: a new round starts at due_at
    ACCEPTED = "accepted"  # an officer accepted it and works it
    CLOSED = "closed"  # released with an outcome
    GIVEN_UP = "given_up"  # no round left, nobody licensed, or stale


FINAL_STAGES = frozenset({Stage.CLOSED, Stage.GIVEN_UP})


class Kind(StrEnum):
    """What happened to a lead (one line of its history each)."""

    ARRIVED = "arrived"
    ASSIGNED = "assigned"  # given to one officer, counted against their caps
    OFFERED = "offered"  # one officer told of an offer (each officer of a broadcast, each step)
    HELD = "held"
    UNASSIGNED = "unassigned"
    ACCEPTED = "accepted"
    CLAIM_REFUSED = "claim_refused"  # accepted an offer when no longer eligible (a cap filled)
    DECLINED = "declined"
    LAPSED = "lapsed"  # a cascade step passed without an answer
    SKIPPED = "skipped"  # a later step's officer not told: no longer eligible
    SLA_BREACH = "sla_breach"  # not accepted within accept_within_s: charged to the officer
    WITHDRAWN = "withdrawn"  # an open offer taken away (someone else accepted, or re-routed)
    NEW_ROUND = "new_round"
    STALE = "stale"
    GIVEN_UP = "given_up"
    RELEASED = "released"  # closed with an outcome


# ----------------------------------------------------------------------------- effects
#
# Effects are named tuples (built several times per lead, and a tuple is several times cheaper
# to build than a frozen dataclass) whose equality and hash also compare the kind, so that
# ``Reserve("A")`` is not equal to ``Release("A")``.


def _same_kind_eq(a: tuple[Any, ...], b: object) -> bool:
    return type(a) is type(b) and tuple.__eq__(a, b)


def _same_kind_ne(a: tuple[Any, ...], b: object) -> bool:
    return not _same_kind_eq(a, b)


def _kind_hash(a: tuple[Any, ...]) -> int:
    return hash((type(a).__name__, tuple(a)))


class Apply(NamedTuple):
    """Apply a state delta (an assignment counted, a rotation turn)."""

    delta: StateDelta


class TakeBack(NamedTuple):
    """An assignment that did not stand: no longer open, no longer counted against caps."""

    delta: StateDelta


class Release(NamedTuple):
    """One fewer open lead for the officer (the lead closed, or timed out but stays counted)."""

    officer_id: str


class Reserve(NamedTuple):
    """An open offer holds one of the officer's slots."""

    officer_id: str


class Unreserve(NamedTuple):
    officer_id: str


class Notify(NamedTuple):
    """Tell the officer of the lead: ``mode`` assign (it is theirs, accept by ``accept_by``) or
    an offer (broadcast, cascade, escalate: the first to accept takes it)."""

    officer_id: str
    accept_by: datetime
    mode: str


class Withdraw(NamedTuple):
    """Tell the officer the offer no longer stands."""

    officer_id: str
    why: str


class Wake(NamedTuple):
    """Call ``Lifecycle.due`` at ``at`` (None: no timer; only an event moves the case)."""

    at: datetime | None


class GiveUp(NamedTuple):
    reason: str


class Freed(NamedTuple):
    """One of the officer's slots freed: a held lead may take it (``Lifecycle.pick_held``)."""

    officer_id: str


class Record(NamedTuple):
    """One line of the lead's history."""

    kind: Kind
    at: datetime
    officer_id: str | None = None
    detail: str = ""
    policy_version: str = ""
    propensity: float | None = None


Effect = Apply | TakeBack | Release | Reserve | Unreserve | Notify | Withdraw | Wake | GiveUp \
    | Freed | Record
EFFECT_KINDS = (Apply, TakeBack, Release, Reserve, Unreserve, Notify, Withdraw, Wake, GiveUp,
                Freed, Record)
for _kind in EFFECT_KINDS:
    _kind.__eq__ = _same_kind_eq  # type: ignore[method-assign]
    _kind.__ne__ = _same_kind_ne  # type: ignore[assignment,method-assign]
    _kind.__hash__ = _kind_hash  # type: ignore[assignment,method-assign]
STATE_EFFECTS = (Apply, TakeBack, Release, Reserve, Unreserve)


# What each kind of effect does to the routing state (the kinds that change it), found by
# the effect's type: most effects of a transition change nothing, and one dictionary look-up
# says so where a chain of isinstance tests took five.
_ON_STATE: dict[type, Callable[[RoutingState, Any], None]] = {
    Apply: lambda state, e: state.apply(e.delta),
    TakeBack: lambda state, e: state.take_back(e.delta),
    Release: lambda state, e: state.release(e.officer_id),
    Reserve: lambda state, e: state.reserve(e.officer_id),
    Unreserve: lambda state, e: state.unreserve(e.officer_id),
}
if set(_ON_STATE) != set(STATE_EFFECTS):
    raise RuntimeError("every state effect changes the state one way, written once")
_STATELESS = frozenset(EFFECT_KINDS) - set(STATE_EFFECTS)


def apply_effects(state: RoutingState, effects: Sequence[Effect]) -> None:
    """Carry out the effects that change the routing state, in order (the in-memory store
    and the API's SQL store both use this)."""
    for e in effects:
        kind = type(e)
        if kind in _STATELESS:
            continue
        on_state = _ON_STATE.get(kind)
        if on_state is None:  # a subclass of an effect: by what it is an instance of
            on_state = next((f for k, f in _ON_STATE.items() if isinstance(e, k)), None)
        if on_state is not None:
            on_state(state, e)


# ----------------------------------------------------------------------------- the record


@dataclass(frozen=True, slots=True)
class LifecycleSettings:
    """The policy's ``routing.lifecycle`` (docs/policy.md), with any overrides a scenario
    sets for an experiment."""

    hold_retry_s: float = 900.0
    unassigned_retry_s: float = 900.0
    max_rounds: int = 3
    timed_out: str = "take_back"  # or keep_counted
    offers_hold_slots: bool = True
    held_order: str = "freshest_first"  # oldest_first, highest_value
    stale_after_s: float | None = None
    when_stale: str = "give_up"  # or pool
    stale_pool: str | None = None

    @classmethod
    def of(cls, policy: Policy, overrides: Mapping[str, Any] | None = None
           ) -> LifecycleSettings:
        """The policy's settings, with ``overrides`` (validated as the policy file's are; a
        ValueError names the setting)."""
        spec: LifecycleSpec = policy.lifecycle
        if overrides:
            try:
                spec = LifecycleSpec.model_validate({**spec.model_dump(), **overrides})
            except ValueError as exc:  # pydantic's ValidationError
                raise ValueError(f"lifecycle settings {dict(overrides)} for policy "
                                 f"{policy.name}: {exc}") from None
        if spec.stale_pool is not None and spec.stale_pool not in policy.pools:
            raise ValueError(f"stale_pool {spec.stale_pool!r} is not a pool of policy "
                             f"{policy.name} (pools: {', '.join(sorted(policy.pools))})")
        if spec.held_order == "highest_value" and not policy.selector.needs_scorer:
            raise ValueError(f"held_order highest_value needs conversion estimates; policy "
                             f"{policy.name}'s method {policy.routing.method} has none")
        return cls(**spec.model_dump())


class OpenOffer(NamedTuple):
    """The offer a lead has open: to ``officer_ids`` in rank order (one for assign), told so
    far to the first ``told``, with these officers out of the running since (declined,
    refused at a cap, lapsed) and these holding a slot for it. (The two records changed on
    every transition are named tuples rather than frozen dataclasses: as immutable, and
    several times cheaper to build and to change a field of, which the simulator's speed
    needs.)"""

    mode: str
    officer_ids: tuple[str, ...]
    made_at: datetime
    accept_by: datetime
    pool: str
    pool_weight: float
    step_s: float | None = None
    on_call: bool = False  # made to an on-call pool: working hours do not apply to a claim
    told: int = 1
    out: tuple[str, ...] = ()
    reserved: tuple[str, ...] = ()

    def live(self) -> tuple[str, ...]:
        """Officers who may accept now."""
        if self.mode == "cascade":
            current = self.officer_ids[self.told - 1]
            return () if current in self.out else (current,)
        if not self.out:
            return self.officer_ids[: self.told]
        return tuple(o for o in self.officer_ids[: self.told] if o not in self.out)

    def next_step_at(self) -> datetime | None:
        """When the next officer is told (cascade, escalate), or a cascade's last step ends."""
        if self.step_s is None or self.mode not in ("cascade", "escalate"):
            return None
        if self.told >= len(self.officer_ids) and self.mode == "escalate":
            return None
        return self.made_at + timedelta(seconds=self.step_s * self.told)

    def due_at(self) -> datetime:
        step = self.next_step_at()
        return self.accept_by if step is None else min(step, self.accept_by)

    def finished(self) -> bool:
        """Nobody can accept any more and nobody else will be told."""
        return not self.live() and self.told >= len(self.officer_ids)


class Case(NamedTuple):
    """One lead's life so far. ``tried``: officers excluded from its next decision (and why);
    ``prefer``: an officer to take first when eligible (a timed-out officer's backup);
    ``officer_id``: who has it (assigned and not yet accepted, or working it), with the
    ``delta`` counted for them; ``due_at``: when ``Lifecycle.due`` is next called."""

    lead_id: str
    received_at: datetime
    stage: Stage = Stage.NEW
    priority: str = "normal"
    round: int = 1
    tried: tuple[tuple[str, str], ...] = ()
    prefer: str | None = None
    pool: str | None = None  # routed to this pool alone (a stale lead's nurture pool)
    offer: OpenOffer | None = None
    officer_id: str | None = None
    delta: StateDelta | None = None
    due_at: datetime | None = None
    held_since: datetime | None = None
    policy_version: str = ""
    propensity: float = 1.0
    decisions: int = 0
    reason: str = ""

    @property
    def exclude(self) -> dict[str, str]:
        return dict(self.tried)

    @property
    def done(self) -> bool:
        return self.stage in FINAL_STAGES

    def to_record(self) -> dict[str, Any]:
        """Plain, JSON-ready form (a database column or a file); ``from_record`` reads it."""
        offer = self.offer
        return {
            "lead_id": self.lead_id, "received_at": self.received_at.isoformat(),
            "stage": self.stage.value, "priority": self.priority, "round": self.round,
            "tried": [list(t) for t in self.tried], "prefer": self.prefer, "pool": self.pool,
            "offer": None if offer is None else {
                "mode": offer.mode, "officer_ids": list(offer.officer_ids),
                "made_at": offer.made_at.isoformat(), "accept_by": offer.accept_by.isoformat(),
                "pool": offer.pool, "pool_weight": offer.pool_weight, "step_s": offer.step_s,
                "on_call": offer.on_call, "told": offer.told, "out": list(offer.out),
                "reserved": list(offer.reserved)},
            "officer_id": self.officer_id,
            "delta": None if self.delta is None else _delta_record(self.delta),
            "due_at": None if self.due_at is None else self.due_at.isoformat(),
            "held_since": None if self.held_since is None else self.held_since.isoformat(),
            "policy_version": self.policy_version, "propensity": self.propensity,
            "decisions": self.decisions, "reason": self.reason,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Case:
        def when(text: str | None) -> datetime | None:
            return None if text is None else datetime.fromisoformat(text)

        o = r.get("offer")
        offer = None if o is None else OpenOffer(
            o["mode"], tuple(o["officer_ids"]), datetime.fromisoformat(o["made_at"]),
            datetime.fromisoformat(o["accept_by"]), o["pool"], float(o["pool_weight"]),
            o["step_s"], bool(o["on_call"]), int(o["told"]), tuple(o["out"]),
            tuple(o["reserved"]))
        return cls(
            r["lead_id"], datetime.fromisoformat(r["received_at"]), Stage(r["stage"]),
            r["priority"], int(r["round"]), tuple((a, b) for a, b in r["tried"]), r["prefer"],
            r["pool"], offer, r["officer_id"],
            None if r["delta"] is None else _delta_from_record(r["delta"]),
            when(r["due_at"]), when(r["held_since"]), r["policy_version"],
            float(r["propensity"]), int(r["decisions"]), r["reason"])


class Step(NamedTuple):
    """A transition's result: the new case and what the caller must do. ``ok`` False (with
    ``note``) means the event did not apply (an acceptance by an officer the lead is not
    offered to, an event on a closed lead): the case is unchanged and there are no effects.
    ``decision``: the routing decision made in this transition, if any."""

    case: Case
    effects: tuple[Effect, ...] = ()
    decision: Decision | None = None
    ok: bool = True
    note: str = ""


def _delta_record(d: StateDelta) -> dict[str, Any]:
    rot = d.rotation
    return {"officer_id": d.officer_id,
            "assigned_at": None if d.assigned_at is None else d.assigned_at.isoformat(),
            "day_key": d.day_key, "hour_key": d.hour_key,
            "rotation": None if rot is None else {
                "pool": rot.pool, "officer_id": rot.officer_id, "new_pass": rot.new_pass,
                "virtual_time": rot.virtual_time}}


def _delta_from_record(r: Mapping[str, Any]) -> StateDelta:
    rot = r.get("rotation")
    return StateDelta(
        r["officer_id"], None if r["assigned_at"] is None
        else datetime.fromisoformat(r["assigned_at"]), int(r["day_key"]), int(r["hour_key"]),
        None if rot is None else RotationStep(rot["pool"], rot["officer_id"],
                                              float(rot["new_pass"]),
                                              float(rot["virtual_time"])))


def effect_record(e: Effect) -> dict[str, Any]:
    """An effect as plain, JSON-ready data (for an audit trail or a queue row)."""
    out: dict[str, Any] = {"effect": type(e).__name__.lower()}
    for name in e._fields:
        value = getattr(e, name)
        if isinstance(value, StateDelta):
            value = _delta_record(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, StrEnum):
            value = value.value
        out[name] = value
    return out


class Router(Protocol):
    """Routes one lead now: ``engine.decide.decide`` bound to a roster, policy and scorer (the
    simulator wraps it to log a candidate policy or explore)."""

    def __call__(self, lead: Lead, state: RoutingState, now: datetime, *,
                 exclude: Mapping[str, str] | None, prefer: str | None,
                 pool: str | None) -> Decision: ...


PRIORITY_RANK = {"urgent": 3, "high": 2, "normal": 1, "low": 0}
_OFFER = "a placing decision carries its offer"
_OPEN = "called for a case with an open offer"


# ----------------------------------------------------------------------------- transitions


@dataclass(frozen=True)
class Lifecycle:
    """The transitions of a lead's life under one policy and roster. Every method is pure:
    it reads ``state`` (never changes it) and returns a ``Step``."""

    roster: Roster
    policy: Policy
    settings: LifecycleSettings
    scorer: Scorer | None = None
    router: Router | None = None

    @classmethod
    def for_policy(cls, roster: Roster, policy: Policy, *, scorer: Scorer | None = None,
                   overrides: Mapping[str, Any] | None = None,
                   router: Router | None = None) -> Lifecycle:
        return cls(roster, policy, LifecycleSettings.of(policy, overrides), scorer, router)

    # -- entry points --------------------------------------------------------------------

    def open(self, lead: Lead, now: datetime) -> Step:
        """A lead arrives; it is routed at once (``arrive``), or at the end of the method's
        batch window (``due`` then routes it, or the caller routes the window together with
        ``engine.batch.decide_batch`` and hands each decision to ``routed``)."""
        case = self._new_case(lead, now)
        return Step(case, (Record(Kind.ARRIVED, now), Wake(case.due_at)))

    def _new_case(self, lead: Lead, now: datetime) -> Case:
        """The case of a lead arriving at ``now``: due now, or at the end of the method's
        batch window."""
        window = self.policy.selector.batch_window_s
        due = now + timedelta(seconds=window) if window is not None else now
        return Case(lead.lead_id, lead.received_at, due_at=due)

    def arrive(self, lead: Lead, state: RoutingState, now: datetime) -> Step:
        """A lead arrives and is routed now (one-at-a-time methods): ``open``'s case and
        arrival record, then ``route`` (``open``'s wake-up is not needed)."""
        return _then((Record(Kind.ARRIVED, now),),
                     self.route(self._new_case(lead, now), lead, state, now))

    def route(self, case: Case, lead: Lead, state: RoutingState, now: datetime) -> Step:
        """Decide now (with the case's exclusions, preferred officer and pool) and act on it."""
        decision = self._decide(case, lead, state, now)
        return self.routed(case, lead, decision, state, now)

    def routed(self, case: Case, lead: Lead, d: Decision, state: RoutingState,
               now: datetime) -> Step:
        """Act on a decision for this case (from ``route``, or from a batch)."""
        version, p = d.policy_version, d.propensity
        if d.status is Status.ASSIGNED:
            officer = present(d.officer_id, "an assignment names its officer")
            accept_by = now + timedelta(seconds=present(d.offer, _OFFER).accept_within_s)
            # one officer, already counted (an offer to several with one officer eligible too)
            offer = self._offer(d, now, accept_by, "assign")
            case = _decided(case, d, stage=Stage.OFFERED, offer=offer, officer_id=officer,
                            delta=d.state_delta, due_at=accept_by, held_since=None)
            return Step(case, (Record(Kind.ASSIGNED, now, officer, d.reason, version, p),
                               Apply(d.state_delta),
                               Notify(officer, accept_by, "assign"), Wake(accept_by)), d)
        if d.status is Status.OFFERED:
            made = present(d.offer, _OFFER)
            accept_by = now + timedelta(seconds=made.accept_within_s)
            offer = self._offer(d, now, accept_by, made.mode, told=0)
            told = len(offer.officer_ids) if offer.mode == "broadcast" else 1
            case = _decided(case, d, stage=Stage.OFFERED, offer=offer, officer_id=None,
                            delta=None, held_since=None)
            effects, case = self._tell(case, lead, told, state, now)
            return Step(case, (Record(Kind.OFFERED, now, None, d.reason, version, p), *effects),
                        d)
        if d.status is Status.HELD:
            entering = case.stage is not Stage.HELD
            retry = d.hold_until if d.hold_until is not None else \
                now + timedelta(seconds=self.settings.hold_retry_s)
            due = max(retry, now + timedelta(seconds=1))
            case = _decided(case, d, stage=Stage.HELD, offer=None, officer_id=None, delta=None,
                            due_at=due, held_since=case.held_since or now)
            head = (Record(Kind.HELD, now, None, d.reason, version, p),) if entering else ()
            return Step(case, (*head, Wake(due)), d)
        # unassigned: nobody in the rule's pools can take it as things stand
        if case.tried and case.round < self.settings.max_rounds:
            due = now + timedelta(seconds=self.settings.unassigned_retry_s)
            case = _decided(case, d, stage=Stage.WAITING, offer=None, officer_id=None,
                            delta=None, due_at=due)
            return Step(case, (Record(Kind.UNASSIGNED, now, None, d.reason, version, p),
                               Wake(due)), d)
        why = d.reason if not case.tried else \
            f"{d.reason}; every officer was tried in {case.round} round(s)"
        case = case._replace(policy_version=version, propensity=p, priority=d.priority)
        return _give_up(case, why, now, d, (Record(Kind.UNASSIGNED, now, None, d.reason,
                                                   version, p),))

    def accept(self, case: Case, lead: Lead, officer_id: str, state: RoutingState,
               now: datetime) -> Step:
        """``officer_id`` accepts the lead. The first acceptance wins; an officer the lead is
        not (or no longer) offered to is refused with ``ok`` False. An offer to several is
        checked against the officer's caps now (they may have filled since it was made)."""
        offer = case.offer
        if case.stage is not Stage.OFFERED or offer is None:
            return _not_applied(case, f"lead {case.lead_id} is {case.stage.value}, not offered")
        if officer_id not in offer.live():
            return _not_applied(case, f"lead {case.lead_id} is not offered to {officer_id}")
        ends = offer.accept_by
        if offer.mode == "cascade":
            ends = min(ends, offer.made_at + timedelta(seconds=(offer.step_s or 0) * offer.told))
        if now > ends:
            return _not_applied(case, f"the offer of lead {case.lead_id} to {officer_id} "
                                      f"lapsed at {ends.isoformat()}")
        version, p = case.policy_version, case.propensity
        if offer.mode == "assign":
            case = case._replace(stage=Stage.ACCEPTED, offer=None, due_at=None)
            return Step(case, (Record(Kind.ACCEPTED, now, officer_id, "", version, p),))
        i = self.roster.index[officer_id]
        holding = 1 if officer_id in offer.reserved else 0
        waive = ON_CALL_WAIVER if offer.on_call else frozenset()
        reason = officer_constraint(lead, self.roster, state, now, i, holding=holding,
                                    waive=waive)
        if reason is not Reason.OK:
            text = f"accepted when no longer eligible ({REASON_TEXT[reason]})"
            effects: list[Effect] = [Record(Kind.CLAIM_REFUSED, now, officer_id, text, version,
                                            p)]
            case, freed = self._drop(case, officer_id, state, now)
            effects += freed
            return self._after_drop(case, lead, state, now, effects, text)
        delta = claim_delta(self.roster, self.policy, state, offer.pool, i, now,
                            offer.pool_weight, rotate=False)
        effects = [Unreserve(o) for o in offer.reserved]
        effects += [Withdraw(o, f"taken by {officer_id}") for o in offer.live()
                    if o != officer_id]
        effects += [Apply(delta), Record(Kind.ACCEPTED, now, officer_id, "", version, p)]
        case = case._replace(stage=Stage.ACCEPTED, offer=None, officer_id=officer_id,
                       delta=delta, due_at=None)
        return Step(case, tuple(effects))

    def decline(self, case: Case, lead: Lead, officer_id: str, state: RoutingState,
                now: datetime, why: str = "declined") -> Step:
        """``officer_id`` turns the lead down (or can no longer take it: went away). An
        assignment is taken back and the lead moves on at once (their backup first); an
        officer of an offer to several drops out, and the lead moves on when nobody is left."""
        offer = case.offer
        if case.stage is not Stage.OFFERED or offer is None or officer_id not in offer.live():
            return _not_applied(case, f"lead {case.lead_id} is not offered to {officer_id}")
        version, p = case.policy_version, case.propensity
        head: list[Effect] = [Record(Kind.DECLINED, now, officer_id, why, version, p)]
        if offer.mode == "assign":
            delta = present(case.delta, "an assignment carries its delta")
            head += [TakeBack(delta), *self._freed(officer_id, state, now, True)]
            case = case._replace(tried=(*case.tried, (officer_id, why)),
                           prefer=self._backup(officer_id), offer=None, officer_id=None,
                           delta=None)
            return _then(tuple(head), self.route(case, lead, state, now))
        case, freed = self._drop(case, officer_id, state, now)
        return self._after_drop(case, lead, state, now, [*head, *freed], why)

    def due(self, case: Case, lead: Lead, state: RoutingState, now: datetime) -> Step:
        """The case's ``due_at`` came: route a new lead, try a held lead again (or let it go
        when stale), start a new round, step a cascade or escalation, or end an offer nobody
        accepted in time (an SLA breach: re-routed, the timed-out officer's backup first)."""
        stage = case.stage
        if stage is Stage.NEW:
            return self.route(case, lead, state, now)
        if stage is Stage.HELD:
            stale = self._leave_if_stale(case, lead, state, now)
            return stale if stale is not None else self.route(case, lead, state, now)
        if stage is Stage.WAITING:
            case = case._replace(round=case.round + 1, tried=(), prefer=None)
            return _then((Record(Kind.NEW_ROUND, now, None, f"round {case.round}"),),
                         self.route(case, lead, state, now))
        offer = case.offer
        if stage is not Stage.OFFERED or offer is None:
            return _not_applied(case, f"lead {case.lead_id} is {stage.value}: nothing is due")
        if now >= offer.accept_by:
            return self._timed_out(case, lead, state, now)
        step_at = offer.next_step_at()
        if step_at is None or now < step_at:
            return Step(case, (Wake(case.due_at),))  # early: nothing to do yet
        if offer.told >= len(offer.officer_ids):  # a cascade's last step ended unanswered
            return self._timed_out(case, lead, state, now)
        effects: list[Effect] = []
        current = offer.officer_ids[offer.told - 1]
        if offer.mode == "cascade" and current not in offer.out:
            effects += [Record(Kind.LAPSED, now, current, "", case.policy_version),
                        Withdraw(current, "its turn in the cascade passed")]
            case, freed = self._drop(case, current, state, now)
            effects += freed
        return self._tell_next(case, lead, state, now, effects, "its turn passed")

    def release(self, case: Case, outcome: str, state: RoutingState, now: datetime) -> Step:
        """The lead's outcome is in (funded, lost, ...): it closes and frees its officer's
        slot."""
        if case.stage is not Stage.ACCEPTED or case.officer_id is None:
            return _not_applied(case, f"lead {case.lead_id} is {case.stage.value}, not "
                                      "accepted: nothing to release")
        o = case.officer_id
        case = case._replace(stage=Stage.CLOSED, due_at=None, reason=outcome)
        return Step(case, (Release(o), *self._freed(o, state, now, False),
                           Record(Kind.RELEASED, now, o, outcome, case.policy_version)))

    def officer_away(self, case: Case, lead: Lead, officer_id: str, state: RoutingState,
                     now: datetime) -> Step:
        """The officer went away (status, time off) while the lead was offered to them: their
        offer is moved on as if declined."""
        return self.decline(case, lead, officer_id, state, now, "went away")

    # -- the held queue --------------------------------------------------------------------

    def held_order(self, items: Sequence[tuple[Case, Lead]], state: RoutingState,
                   now: datetime) -> list[int]:
        """Indices of held ``items`` in the order they should get capacity: higher rule
        priority first, then by the policy's ``held_order``; ties by arrival, then lead id."""
        if not items:
            return []
        order = self.settings.held_order
        value: np.ndarray | None = None
        if order == "highest_value":
            value = self._held_values([lead for _, lead in items], state, now)
        if value is None:
            keys = [self.held_key(case) for case, _ in items]
        else:
            keys = [(-PRIORITY_RANK.get(case.priority, 1), -float(value[k]),
                     case.received_at.timestamp(), case.lead_id)
                    for k, (case, _) in enumerate(items)]
        return sorted(range(len(items)), key=keys.__getitem__)

    def held_key(self, case: Case) -> tuple[int, float, float, str]:
        """The sort key of a held lead under ``oldest_first`` and ``freshest_first`` (fixed
        for the lead's life, so a caller may keep its queue sorted by it): higher rule
        priority first, then by arrival as the policy says, then lead id."""
        arrived = case.received_at.timestamp()
        second = -arrived if self.settings.held_order == "freshest_first" else arrived
        return (-PRIORITY_RANK.get(case.priority, 1), second, arrived, case.lead_id)

    def pick_held(self, officer_id: str, items: Sequence[tuple[Case, Lead]],
                  state: RoutingState, now: datetime, *, ordered: bool = False) -> int | None:
        """Which held lead (an index into ``items``) an officer whose slot just freed should be
        tried for: the first in ``held_order`` the officer could take now (within every hard
        constraint, licensed in its state, not already tried for it); None when they can
        take none.

        ``ordered``: the caller keeps ``items`` sorted by ``held_key`` (which is fixed for a
        lead's life); the first that fits is the pick, and the leads after it are not
        checked. Ignored under ``highest_value``, whose order moves with the state."""
        i = self.roster.index.get(officer_id)
        if i is None or not items:
            return None
        # what does not depend on the lead (away, hours, caps) is checked once
        if officer_constraint(items[0][1], self.roster, state, now, i,
                              waive=_LEAD_CHECKS) is not Reason.OK:
            return None
        licensed: dict[str, bool] = {}  # by the lead's state (and so its local date)

        def fits_lead(case: Case, lead: Lead) -> bool:
            if case.stage is not Stage.HELD or any(o == officer_id for o, _ in case.tried):
                return False
            key = f"{lead.state}/{lead.timezone}"
            found = licensed.get(key)
            if found is None:
                found = licensed[key] = officer_constraint(
                    lead, self.roster, state, now, i, only=_LICENSING) is Reason.OK
            return found

        by_value = self.settings.held_order == "highest_value"
        if ordered and not by_value:  # keys are unique (the lead id): the first is the least
            return next((k for k, (case, lead) in enumerate(items) if fits_lead(case, lead)),
                        None)
        fits = [k for k, (case, lead) in enumerate(items) if fits_lead(case, lead)]
        if not fits:
            return None
        if by_value:
            first = self.held_order([items[k] for k in fits], state, now)[0]
            return fits[first]
        return min(fits, key=lambda k: self.held_key(items[k][0]))

    # -- helpers -----------------------------------------------------------------------------

    def _decide(self, case: Case, lead: Lead, state: RoutingState, now: datetime) -> Decision:
        exclude = case.exclude or None
        if self.router is not None:
            return self.router(lead, state, now, exclude=exclude, prefer=case.prefer,
                               pool=case.pool)
        return decide(lead, self.roster, self.policy, state, now, exclude=exclude,
                      prefer=case.prefer, scorer=self.scorer, pool=case.pool)

    def _offer(self, d: Decision, now: datetime, accept_by: datetime, mode: str,
               told: int = 1) -> OpenOffer:
        made = present(d.offer, _OFFER)
        steps = d.explanation.steps
        on_call = bool(steps) and steps[-1].step.path == "routing.after_hours"
        return OpenOffer(mode, made.officer_ids, now, accept_by,
                         present(d.pool, "a placing decision names its pool"), d.pool_weight,
                         made.step_s, on_call, told)

    def _tell(self, case: Case, lead: Lead, n: int, state: RoutingState, now: datetime
              ) -> tuple[list[Effect], Case]:
        """Tell the next ``n`` officers of the case's offer: each takes a turn in the pool's
        rotation (so concurrent offers spread), holds a slot if offers hold slots, and is
        notified; then wake at the next step or the deadline. An officer told after the
        decision (a cascade's or escalation's later step) who can no longer take the lead
        (a cap filled, gone off shift) is passed over and the next one told instead."""
        offer = present(case.offer, _OPEN)
        effects: list[Effect] = []
        reserved, out = offer.reserved, offer.out
        version, p = case.policy_version, case.propensity
        told: list[str] = []
        k = offer.told
        checked = offer.told > 0  # the first are told at the decision, which checked them
        waive = ON_CALL_WAIVER if offer.on_call else frozenset()
        while len(told) < n and k < len(offer.officer_ids):
            o = offer.officer_ids[k]
            k += 1
            if checked:
                reason = officer_constraint(lead, self.roster, state, now, self.roster.index[o],
                                            waive=waive)
                if reason is not Reason.OK:
                    out = (*out, o)
                    effects.append(Record(Kind.SKIPPED, now, o, REASON_TEXT[reason], version,
                                          p))
                    continue
            told.append(o)
        for o in told:
            effects.append(Apply(offer_delta(self.roster, self.policy, state, offer.pool, o,
                                             offer.pool_weight)))
            if self.settings.offers_hold_slots:
                effects.append(Reserve(o))
                reserved = (*reserved, o)
            effects += [Notify(o, offer.accept_by, offer.mode),
                        Record(Kind.OFFERED, now, o, offer.mode, version, p)]
        offer = offer._replace(told=k, reserved=reserved, out=out)
        due = offer.due_at()
        effects.append(Wake(due))
        return effects, case._replace(offer=offer, due_at=due)

    def _freed(self, officer_id: str, state: RoutingState, now: datetime, counted: bool
               ) -> tuple[Effect, ...]:
        """``Freed`` when the officer was held back by a cap the coming change lowers (their
        open leads, and with ``counted`` their local day's or hour's count too), so the held
        queue is asked only when a slot really opens."""
        i = self.roster.index[officer_id]
        roster = self.roster
        full = state.open_leads[i] + state.reserved[i] >= roster.cap_open[i]
        if not full and counted:
            _, day, hour = roster.local_clock(now)
            used = state.reserved[i]
            full = bool(
                (state.day_count[i] if state.day_key[i] == day[i] else 0) + used
                >= roster.cap_daily[i]
                or (state.hour_count[i] if state.hour_key[i] == hour[i] else 0) + used
                >= roster.cap_hourly[i])
        return (Freed(officer_id),) if full else ()

    def _drop(self, case: Case, officer_id: str, state: RoutingState, now: datetime
              ) -> tuple[Case, list[Effect]]:
        """An officer of an offer to several is out of the running (their slot, if held,
        freed)."""
        offer = present(case.offer, _OPEN)
        effects: list[Effect] = []
        reserved = offer.reserved
        if officer_id in reserved:
            reserved = tuple(o for o in reserved if o != officer_id)
            effects += [Unreserve(officer_id), *self._freed(officer_id, state, now, True)]
        offer = offer._replace(out=(*offer.out, officer_id), reserved=reserved)
        return case._replace(offer=offer), effects

    def _after_drop(self, case: Case, lead: Lead, state: RoutingState, now: datetime,
                    effects: list[Effect], why: str) -> Step:
        """After an officer dropped out of an offer to several: carry on, tell the next at
        once (cascade, escalate), or, with nobody left to answer, re-route now (no breach:
        everyone answered)."""
        offer = present(case.offer, _OPEN)
        if offer.live():
            return Step(case, (*effects, Wake(case.due_at)))
        return self._tell_next(case, lead, state, now, effects, why)

    def _tell_next(self, case: Case, lead: Lead, state: RoutingState, now: datetime,
                   effects: list[Effect], why: str) -> Step:
        """Tell the next officer of the offer now; with nobody left to tell and nobody live,
        re-route now, everyone told excluded (``why``)."""
        offer = present(case.offer, _OPEN)
        if offer.told < len(offer.officer_ids):
            more, case = self._tell(case, lead, 1, state, now)
            effects = [*effects, *more]
            offer = present(case.offer, _OPEN)
            if offer.live() or offer.told < len(offer.officer_ids):
                return Step(case, tuple(effects))
        tried = (*case.tried, *((o, why) for o in offer.officer_ids if o not in case.exclude))
        case = case._replace(tried=tried, offer=None)
        return _then(tuple(effects), self.route(case, lead, state, now))

    def _timed_out(self, case: Case, lead: Lead, state: RoutingState, now: datetime) -> Step:
        """Nobody accepted in time: an SLA breach charged to each officer who had the lead or
        its offer open; their offers are withdrawn (an assignment taken back or, under
        ``timed_out: keep_counted``, released but still counted) and the lead is re-routed
        with everyone told excluded and the first one's backup preferred."""
        offer = present(case.offer, _OPEN)
        version, p = case.policy_version, case.propensity
        why = "did not accept within the SLA"
        effects: list[Effect] = []
        live = offer.live() if offer.mode != "assign" else (case.officer_id or "",)
        for o in live:
            effects.append(Record(Kind.SLA_BREACH, now, o, why, version, p))
        if offer.mode == "assign":
            o = present(case.officer_id, "an assignment names its officer")
            delta = present(case.delta, "an assignment carries its delta")
            counted = self.settings.timed_out == "keep_counted"
            effects += [Withdraw(o, why), Release(o) if counted else TakeBack(delta),
                        *self._freed(o, state, now, not counted)]
        else:
            effects += [Withdraw(o, why) for o in live]
            for o in offer.reserved:
                effects += [Unreserve(o), *self._freed(o, state, now, True)]
        told = offer.officer_ids[: offer.told]
        tried = (*case.tried, *((o, why) for o in told if o not in case.exclude))
        case = case._replace(tried=tried, prefer=self._backup(told[0]), offer=None,
                       officer_id=None, delta=None)
        return _then(tuple(effects), self.route(case, lead, state, now))

    def _backup(self, officer_id: str) -> str | None:
        i = self.roster.index.get(officer_id)
        if i is None:
            return None
        return self.roster.officers[i].backup_officer_id or None

    def _leave_if_stale(self, case: Case, lead: Lead, state: RoutingState, now: datetime
                        ) -> Step | None:
        """A held lead older than ``stale_after_s`` stops competing with fresh ones: given up
        with the reason, or sent to the stale pool (once). None when it is not stale."""
        after = self.settings.stale_after_s
        if after is None or case.pool is not None:
            return None
        if (now - case.received_at).total_seconds() < after:
            return None
        hours = f"{after / 3600.0:g} h"
        if self.settings.when_stale == "give_up":
            why = f"stale: waited over {hours} without an officer free " \
                  "(routing.lifecycle.stale_after_s); given up"
            return _give_up(case, why, now, None, (Record(Kind.STALE, now, None, why),))
        pool = self.settings.stale_pool
        why = f"stale: waited over {hours}; sent to pool {pool}"
        case = case._replace(pool=pool, tried=(), prefer=None)
        return _then((Record(Kind.STALE, now, None, why),), self.route(case, lead, state, now))

    def _held_values(self, leads: list[Lead], state: RoutingState, now: datetime
                     ) -> np.ndarray:
        """(L,) the best conversion estimate now of each lead among officers licensed in its
        state (``held_order: highest_value``)."""
        if self.scorer is None:
            raise ValueError("held_order highest_value needs conversion estimates: pass a "
                             "scorer to the lifecycle (or name routing.params.model)")
        p = np.asarray(self.scorer.score(leads, self.roster, state, now), dtype=float)
        licensed = np.array([self.roster.license_expiry(lead.state) > 0 for lead in leads])
        return np.where(licensed, p, -np.inf).max(axis=1)


# the checks that depend on the lead: licensing in its state (on its date), who was tried
_LICENSING = frozenset({Reason.NOT_LICENSED, Reason.LICENSE_EXPIRED})
_LEAD_CHECKS = _LICENSING | {Reason.EXCLUDED}


def _then(before: tuple[Effect, ...], step: Step) -> Step:
    """``step`` with ``before`` carried out first."""
    return Step(step.case, (*before, *step.effects), step.decision, step.ok, step.note)


_KEEP: Any = object()  # a field of the case left as it is


def _decided(case: Case, d: Decision, *, stage: Stage, offer: OpenOffer | None,
             officer_id: str | None, delta: StateDelta | None, due_at: Any = _KEEP,
             held_since: Any = _KEEP) -> Case:
    """The case after decision ``d`` (its version, propensity, priority and reason, one
    decision more) with these fields; ``due_at`` and ``held_since`` kept unless given. Built
    field by field, in ``Case``'s order: a ``_replace`` of a dozen fields took twice as long,
    on every decision (tests/engine/test_lifecycle.py holds the two equal)."""
    return Case(case.lead_id, case.received_at, stage, d.priority, case.round, case.tried,
                case.prefer, case.pool, offer, officer_id, delta,
                case.due_at if due_at is _KEEP else due_at,
                case.held_since if held_since is _KEEP else held_since,
                d.policy_version, d.propensity, case.decisions + 1, d.reason)


def _not_applied(case: Case, note: str) -> Step:
    return Step(case, (), None, False, note)


def _give_up(case: Case, why: str, now: datetime, d: Decision | None,
             head: tuple[Effect, ...]) -> Step:
    case = case._replace(stage=Stage.GIVEN_UP, offer=None, officer_id=None, delta=None,
                   due_at=None, reason=why)
    return Step(case, (*head, Record(Kind.GIVEN_UP, now, None, why, case.policy_version),
                       GiveUp(why), Wake(None)), d)


__all__ = ["FINAL_STAGES", "STATE_EFFECTS", "Apply", "Case", "Effect", "Freed", "GiveUp",
           "Kind", "Lifecycle", "LifecycleSettings", "Notify", "OpenOffer", "Record",
           "Release", "Reserve", "Router", "Stage", "Step", "TakeBack", "Unreserve", "Wake",
           "Withdraw", "apply_effects", "effect_record"]
