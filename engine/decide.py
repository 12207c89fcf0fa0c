"""The decision: one pure function of (lead, officers, policy, state, now).

``decide`` finds the rule that applies, walks its pool and fallback chain, keeps only officers
that pass every hard constraint (licensing on the lead's date, time off, working hours, caps),
lets the policy's selection method order them, and returns who is offered the lead (or why
nobody is), the change to the routing state and an explanation. It reads the state and never
changes it: the API applies the delta inside its database transaction, the simulator in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any

import numpy as np

from engine.domain import Lead, Officer
from engine.policies import Scorer, Selection, SelectionContext, SelectionPolicy
from engine.policies.rotation import advance, eligible_weight
from engine.roster import NEVER_OPENS, Roster, zone
from engine.rules.fields import read_facts
from engine.rules.policy import CompiledAction, CompiledStep, Policy
from engine.state import EMPTY_DELTA, RotationStep, RoutingState, StateDelta


class Status(StrEnum):
    ASSIGNED = "assigned"  # one officer has the lead
    OFFERED = "offered"  # offered to several (broadcast, cascade, escalate); first to accept
    HELD = "held"  # nobody can take it now but someone may later (hours, caps, time off)
    UNASSIGNED = "unassigned"  # nobody in the rule's pools can take it as things stand


class Reason(IntEnum):
    """Why an officer was left out, in the order the checks apply (the first failing one is
    reported). Codes from ``STATUS_AWAY`` up are temporary: the lead is held for them."""

    OK = 0
    MISSING_SPECIALTY = 1
    MISSING_LANGUAGE = 2
    NOT_LICENSED = 3
    LICENSE_EXPIRED = 4
    EXCLUDED = 5
    STATUS_AWAY = 6
    TIME_OFF = 7
    OFF_SHIFT = 8
    AT_MAX_OPEN = 9
    AT_DAILY_CAP = 10
    AT_HOURLY_CAP = 11


# Plain ints for the hot path (attribute access on an IntEnum class is slow).
(_OK, _MISSING_SPECIALTY, _MISSING_LANGUAGE, _NOT_LICENSED, _LICENSE_EXPIRED, _EXCLUDED,
 _STATUS_AWAY, _TIME_OFF, _OFF_SHIFT, _AT_MAX_OPEN, _AT_DAILY_CAP, _AT_HOURLY_CAP) = range(12)
FIRST_TEMPORARY = _STATUS_AWAY
_NO_WAIT = np.iinfo(np.int64).max
REASON_NAMES = tuple(r.name.lower() for r in Reason)
REASON_TEXT: dict[Reason, str] = {
    Reason.MISSING_SPECIALTY: "lacks a specialty the rule requires",
    Reason.MISSING_LANGUAGE: "does not speak a language the rule requires",
    Reason.NOT_LICENSED: "not licensed in the property's state",
    Reason.LICENSE_EXPIRED: "license in the property's state has expired",
    Reason.EXCLUDED: "already tried for this lead (declined or did not accept in time)",
    Reason.STATUS_AWAY: "status is away",
    Reason.TIME_OFF: "on time off",
    Reason.OFF_SHIFT: "outside working hours",
    Reason.AT_MAX_OPEN: "at the cap on open leads",
    Reason.AT_DAILY_CAP: "at the daily cap",
    Reason.AT_HOURLY_CAP: "at the hourly cap",
}
REASON_TEXT_BY_CODE = ("", *(REASON_TEXT[Reason(c)] for c in range(1, len(Reason))))


@dataclass(frozen=True, slots=True)
class Offer:
    """Who is offered the lead and how (see ``OfferSpec``). ``officer_ids`` is in rank order;
    in a cascade officer ``k`` is offered it at ``k * step_s`` seconds (and the offer to
    officer ``k - 1`` lapses then); in an escalation too, but earlier offers stand until
    ``accept_within_s``."""

    mode: str
    officer_ids: tuple[str, ...]
    accept_within_s: float
    step_s: float | None = None


@dataclass(frozen=True, slots=True)
class StepTrace:
    """One step of the chain (a pool with its requirements), kept as arrays; ``to_dict``
    spells it out. ``codes`` holds each officer's Reason for this step."""

    step: CompiledStep
    in_pool: np.ndarray  # (M,) bool
    codes: np.ndarray  # (M,) int8
    order: np.ndarray | None  # candidates in rank order (roster indices)
    scores: np.ndarray | None

    def to_dict(self, roster: Roster, *, detail: str = "full") -> dict[str, Any]:
        """``detail="full"`` lists every officer left out by id; ``"summary"`` gives counts for
        officers not licensed in the state (the long, uninformative list) and ids otherwise."""
        excluded: dict[str, Any] = {}
        codes = self.codes[self.in_pool]
        ids = roster.ids[self.in_pool]
        counts = np.bincount(codes, minlength=len(REASON_NAMES))
        for code in np.flatnonzero(counts[1:]) + 1:
            name = REASON_NAMES[code]
            if detail == "summary" and code == _NOT_LICENSED:
                excluded[name] = int(counts[code])
            else:
                excluded[name] = ids[codes == code].tolist()
        out: dict[str, Any] = self.step.describe()
        out["candidates"] = [] if self.order is None else roster.ids[self.order].tolist()
        if self.scores is not None:
            out["scores"] = [round(float(s), 6) for s in self.scores]
        out["excluded"] = excluded
        out["outside_pool"] = int(len(self.in_pool) - len(ids))
        return out


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a decision came out as it did: the rule path, then each step tried."""

    policy: str
    version: str
    method: str
    rule_path: list[dict[str, Any]]
    steps: list[StepTrace]
    roster: Roster
    notes: list[str] = field(default_factory=list)

    def to_dict(self, *, detail: str = "full") -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy": self.policy,
            "version": self.version,
            "method": self.method,
            "rule_path": self.rule_path,
            "steps": [t.to_dict(self.roster, detail=detail) for t in self.steps],
        }
        if self.notes:
            out["notes"] = self.notes
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one lead. ``officer_id`` is set when ASSIGNED; ``offer`` lists who is
    offered the lead (one officer when ASSIGNED); ``hold_until`` is the earliest time a HELD
    lead could be placed, when known. ``propensity`` is the probability the policy gave the
    first-ranked officer (1.0 for a deterministic choice)."""

    lead_id: str
    status: Status
    reason: str
    officer_id: str | None
    offer: Offer | None
    state_delta: StateDelta
    explanation: Explanation
    propensity: float
    policy: str
    policy_version: str
    priority: str
    pool: str | None = None
    hold_until: datetime | None = None
    pool_weight: float = 0.0  # W of the rotation (total weight of eligible officers)


def selection_policy(policy: Policy) -> SelectionPolicy:
    """The selection method a policy names (built when the policy loaded)."""
    selector: SelectionPolicy = policy.selector
    return selector


def policy_scorer(policy: Policy) -> Scorer | None:
    """The scorer a policy names in ``routing.params.model`` (a .skops file, relative to the
    policy file), or None."""
    model = policy.routing.params.get("model")
    if not model:
        return None
    from pathlib import Path

    from engine.policies.scoring import model_scorer

    path = Path(model)
    if not path.is_absolute() and policy.source:
        path = Path(policy.source).parent / path
    return model_scorer(str(path))


def _pool_mask(roster: Roster, policy: Policy, name: str) -> np.ndarray:
    cache = roster.mask_cache()
    key = ("pool", id(policy), name)
    found = cache.get(key)
    if found is None:
        spec = policy.pools[name]
        found = cache[key] = roster.select(
            ids=spec.ids, teams=spec.teams, specialties=spec.specialties,
            languages=spec.languages, states=spec.states, everyone=spec.everyone)
    return found


def _all_of(roster: Roster, kind: str, values: frozenset[str]) -> np.ndarray:
    cache = roster.mask_cache()
    key = (kind, values)
    found = cache.get(key)
    if found is None:
        found = np.ones(len(roster), dtype=bool)
        for v in values:
            found &= (roster.select(languages=[v]) if kind == "languages"
                      else roster.select(specialties=[v]))
        cache[key] = found
    return found


@dataclass(frozen=True, slots=True)
class Constraints:
    """Each officer's first failing hard constraint at ``now`` and their local clock."""

    codes: np.ndarray  # (M,) int8 Reason
    minute: np.ndarray  # (M,) local minute of week
    day: np.ndarray  # (M,) local date ordinal
    hour: np.ndarray  # (M,) local ordinal * 24 + hour


def hard_constraints(lead: Lead, roster: Roster, state: RoutingState, now: datetime,
                     exclude: Mapping[str, str] | None = None) -> Constraints:
    """The hard constraints for every officer, ignoring pools and rule requirements.
    Licensing is checked on the lead's date at the property; hours and caps in each officer's
    own timezone. ``state`` must be laid out for ``roster`` (``state.for_officers``)."""
    minute, day, hour = roster.local_clock(now)
    licensing = _licensing_codes(roster, lead.state, _local_day(lead, now))
    codes = np.zeros(len(roster), dtype=np.int8)
    # Later assignments win: go from the last-checked reason back to the first.
    # a count from another hour or day is zero, which only a cap of zero reaches
    at_hourly = (state.hour_count >= roster.cap_hourly) & (state.hour_key == hour)
    at_daily = (state.day_count >= roster.cap_daily) & (state.day_key == day)
    if roster.has_zero_caps:
        at_hourly |= roster.cap_hourly == 0
        at_daily |= roster.cap_daily == 0
    codes[at_hourly] = _AT_HOURLY_CAP
    codes[at_daily] = _AT_DAILY_CAP
    codes[state.open_leads >= roster.cap_open] = _AT_MAX_OPEN
    codes[roster.off_shift(now)] = _OFF_SHIFT
    for i in roster.with_away_periods:
        if any(p.covers(now) for p in roster.officers[i].away):
            codes[i] = _TIME_OFF
    codes[roster.status_away] = _STATUS_AWAY
    if exclude:
        for oid in exclude:
            j = roster.index.get(oid)
            if j is not None:
                codes[j] = _EXCLUDED
    np.copyto(codes, licensing, where=licensing > 0)
    return Constraints(codes, minute, day, hour)


def officer_constraint(lead: Lead, roster: Roster, state: RoutingState, now: datetime,
                       officer: int) -> Reason:
    """``hard_constraints`` for one officer (a roster index): the first check they fail at
    ``now``, or ``Reason.OK``. For a caller who needs one answer, such as an officer accepting
    an offer (caps may have filled since it was made); the same checks in the same order,
    without computing them for everyone (``exclude`` has no part here)."""
    i = officer
    expiry = int(roster.license_expiry(lead.state)[i])
    if expiry == 0:
        return Reason.NOT_LICENSED
    if expiry < _local_day(lead, now):
        return Reason.LICENSE_EXPIRED
    if roster.status_away[i]:
        return Reason.STATUS_AWAY
    if any(p.covers(now) for p in roster.officers[i].away):
        return Reason.TIME_OFF
    minute, day, hour = roster.local_clock(now)
    if not roster.on_shift_flat[roster.row_start[i] + minute[i]]:
        return Reason.OFF_SHIFT
    if state.open_leads[i] >= roster.cap_open[i]:
        return Reason.AT_MAX_OPEN
    if (state.day_count[i] if state.day_key[i] == day[i] else 0) >= roster.cap_daily[i]:
        return Reason.AT_DAILY_CAP
    if (state.hour_count[i] if state.hour_key[i] == hour[i] else 0) >= roster.cap_hourly[i]:
        return Reason.AT_HOURLY_CAP
    return Reason.OK


_LOCAL_DAYS: dict[tuple[str, int], int] = {}


def _local_day(lead: Lead, now: datetime) -> int:
    """The date ordinal at the property at ``now`` (``now``'s own date without a timezone);
    fixed within a quarter hour of UTC, so cached per zone and quarter hour."""
    if not lead.timezone:
        return now.date().toordinal()
    key = (lead.timezone, int(now.timestamp()) // 900)
    found = _LOCAL_DAYS.get(key)
    if found is None:
        if len(_LOCAL_DAYS) > 65536:
            _LOCAL_DAYS.clear()
        found = _LOCAL_DAYS[key] = now.astimezone(zone(lead.timezone)).date().toordinal()
    return found


def _licensing_codes(roster: Roster, state: str, date_ordinal: int) -> np.ndarray:
    """(M,) int8: not licensed in ``state`` or license expired by the date, 0 where licensed;
    cached on the roster per state and day."""
    cache = roster.mask_cache()
    key = ("licensing", state, date_ordinal)
    found = cache.get(key)
    if found is None:
        if len(cache) > 4096:
            cache.clear()
        expiry = roster.license_expiry(state)
        found = np.zeros(len(roster), dtype=np.int8)
        found[expiry < date_ordinal] = _LICENSE_EXPIRED
        found[expiry == 0] = _NOT_LICENSED
        found.flags.writeable = False
        cache[key] = found
    return found


def hold_until(held: np.ndarray, hc: Constraints, roster: Roster, now: datetime
               ) -> datetime | None:
    """Earliest moment one of the ``held`` officers (roster indices, each held back only by a
    temporary reason) could take a lead; None when none has a known time (status away, max
    open: those free up when an officer returns or a lead closes)."""
    codes = hc.codes[held]
    minute = hc.minute[held]
    wait = _NO_WAIT  # minutes from the start of this minute
    off = codes == _OFF_SHIFT
    if off.any():
        opens = int(roster.next_open[held[off], minute[off]].min())
        if opens != NEVER_OPENS:  # the largest value: the minimum is it only if all are
            wait = opens
    for code, period in ((_AT_HOURLY_CAP, 60), (_AT_DAILY_CAP, 1440)):
        capped = codes == code
        if capped.any():
            wait = min(wait, int((period - minute[capped] % period).min()))
    best: datetime | None = None
    if wait < _NO_WAIT:
        best = now.replace(second=0, microsecond=0) + timedelta(minutes=wait)
    if not len(roster.with_away_periods):
        return best
    for i in held[codes == _TIME_OFF]:
        end = min((p.end for p in roster.officers[i].away if p.covers(now)), default=None)
        if end is not None and (best is None or end < best):
            best = end
    return best


@dataclass(slots=True)
class Plan:
    """A lead's way through its rule's chain up to the step with eligible officers: what
    ``decide`` and ``decide_batch`` share before a selection method or a solver ranks them."""

    lead: Lead
    facts: Mapping[str, Any]
    action: CompiledAction
    rule_path: list[dict[str, Any]]
    hc: Constraints
    traces: list[StepTrace]
    notes: list[str]
    step: CompiledStep
    in_pool: np.ndarray  # (M,) bool
    codes: np.ndarray  # (M,) int8, with the step's requirements
    eligible: np.ndarray  # (M,) bool, at least one True


def _with_requirements(roster: Roster, lead: Lead, step: CompiledStep, codes: np.ndarray
                       ) -> np.ndarray:
    if not (step.match_lead_language or step.require_languages or step.require_specialties):
        return codes
    out = codes.copy()
    if step.require_specialties:
        out[~_all_of(roster, "specialties", step.require_specialties)] = _MISSING_SPECIALTY
    if step.match_lead_language or step.require_languages:
        langs = step.require_languages | (
            {lead.language} if step.match_lead_language else frozenset())
        out[~_all_of(roster, "languages", frozenset(langs)) & (out == 0)] = _MISSING_LANGUAGE
    return out


def plan(lead: Lead, roster: Roster, policy: Policy, state: RoutingState, now: datetime,
         exclude: Mapping[str, str] | None = None) -> Plan | Decision:
    """Walk the lead's chain to the first step with an eligible officer (a ``Plan``), or
    conclude that nobody can take it now (a held or unassigned ``Decision``). ``state`` must
    be laid out for ``roster``."""
    facts, notes = read_facts(lead, policy.builtin_fields, policy.custom_fields)
    action, rule_path = policy.match(facts)
    hc = hard_constraints(lead, roster, state, now, exclude)
    traces: list[StepTrace] = []
    held: np.ndarray | None = None
    any_off_shift = False
    for step in action.steps:
        in_pool = _pool_mask(roster, policy, step.pool)
        codes = _with_requirements(roster, lead, step, hc.codes)
        eligible = in_pool & (codes == 0)
        if eligible.any():
            return Plan(lead, facts, action, rule_path, hc, traces, notes, step, in_pool, codes,
                        eligible)
        traces.append(StepTrace(step, in_pool, codes, None, None))
        waiting = in_pool & (codes >= FIRST_TEMPORARY)
        held = waiting if held is None else held | waiting
        any_off_shift = any_off_shift or bool((in_pool & (codes == _OFF_SHIFT)).any())

    after = policy.routing.after_hours
    if any_off_shift and after.pool is not None:
        on_call = CompiledStep(after.pool, frozenset(), frozenset(), False, "routing.after_hours")
        in_pool = _pool_mask(roster, policy, after.pool)
        # On call means reachable outside working hours: the shift check is waived.
        codes = np.where(hc.codes == _OFF_SHIFT, 0, hc.codes).astype(np.int8)
        eligible = in_pool & (codes == 0)
        if eligible.any():
            notes.append("after hours: sent to the on-call pool")
            return Plan(lead, facts, action, rule_path, hc, traces, notes, on_call, in_pool,
                        codes, eligible)
        traces.append(StepTrace(on_call, in_pool, codes, None, None))
        waiting = in_pool & (codes >= FIRST_TEMPORARY)
        held = waiting if held is None else held | waiting

    method_name = policy.routing.method
    explanation = Explanation(policy.name, policy.version, method_name, rule_path, traces,
                              roster, notes)
    pools = ", ".join(dict.fromkeys(s.pool for s in action.steps))
    if held is not None and held.any():
        members = np.flatnonzero(held)
        until = hold_until(members, hc, roster, now)
        counts = np.bincount(hc.codes[members], minlength=len(REASON_NAMES)).tolist()
        why = "; ".join(f"{n} {REASON_TEXT_BY_CODE[c]}" for c, n in enumerate(counts) if n)
        reason = f"held: no officer in pool {pools} can take it now ({why})"
        return Decision(lead.lead_id, Status.HELD, reason, None, None, EMPTY_DELTA, explanation,
                        1.0, policy.name, policy.version, action.priority.value, None, until)
    seen = np.zeros(len(REASON_NAMES), dtype=np.int64)
    for t in traces:
        seen += np.bincount(t.codes[t.in_pool], minlength=len(REASON_NAMES))
    seen[0] = 0
    if not seen.any():
        reason = f"unassigned: pool {pools} has no officers"
    else:
        texts = "; ".join(REASON_TEXT_BY_CODE[c] for c in np.flatnonzero(seen))
        reason = f"unassigned: no officer in pool {pools} can take a lead in {lead.state} " \
                 f"({texts})"
    return Decision(lead.lead_id, Status.UNASSIGNED, reason, None, None, EMPTY_DELTA,
                    explanation, 1.0, policy.name, policy.version, action.priority.value)


def conclude(p: Plan, roster: Roster, policy: Policy, state: RoutingState, now: datetime,
             order: np.ndarray, scores: np.ndarray | None, propensity: float,
             prefer: str | None = None, candidates: np.ndarray | None = None,
             offerable: np.ndarray | None = None) -> Decision:
    """Turn a plan and a ranking of its eligible officers into the decision: the offer (one
    officer or several), the state delta and the explanation. ``candidates``: the plan's
    eligible officers as roster indices, when the caller has them; ``offerable``: which
    officers (in ``order``) an offer to several may go to (``Selection.offerable``)."""
    if prefer is not None and prefer in roster.index:
        i = roster.index[prefer]
        if p.eligible[i]:
            if order[0] != i:
                keep = order != i
                order = np.concatenate(([i], order[keep]))
                if scores is not None:
                    scores = np.concatenate((scores[~keep], scores[keep]))
                if offerable is not None:
                    offerable = np.concatenate((offerable[~keep], offerable[keep]))
                propensity = 1.0
            p.notes.append(f"backup officer {prefer} was eligible and taken first")
    spec = p.action.offer
    k = spec.max_officers
    if spec.mode != "assign" and offerable is not None:
        # the first, then the run of officers after it the lead is worth the slot of
        short = np.flatnonzero(~offerable[1:k])
        if len(short):
            k = 1 + int(short[0])
            p.notes.append(f"offered to the first {k}: the lead is worth less than the "
                           "capacity price of the next")
    p.traces.append(StepTrace(p.step, p.in_pool, p.codes, order, scores))
    explanation = Explanation(policy.name, policy.version, policy.routing.method, p.rule_path,
                              p.traces, roster, p.notes)
    ids = roster.ids_tuple
    if spec.mode == "assign":
        offered: tuple[str, ...] = (ids[int(order[0])],)
    else:
        offered = tuple(ids[i] for i in order[:k].tolist())
    offer = Offer(spec.mode, offered, spec.accept_within_s, spec.step_s)
    weight = eligible_weight(roster, np.flatnonzero(p.eligible) if candidates is None
                             else candidates, weighted(policy))
    pool = p.step.pool
    if len(offered) == 1:
        delta = claim_delta(roster, policy, state, pool, int(order[0]), now, weight, p.hc)
        return Decision(p.lead.lead_id, Status.ASSIGNED, f"assigned in pool {pool}", offered[0],
                        offer, delta, explanation, propensity, policy.name, policy.version,
                        p.action.priority.value, pool, pool_weight=weight)
    return Decision(p.lead.lead_id, Status.OFFERED,
                    f"offered ({spec.mode}) to {len(offered)} in pool {pool}", None, offer,
                    EMPTY_DELTA, explanation, propensity, policy.name, policy.version,
                    p.action.priority.value, pool, pool_weight=weight)


def decide(
    lead: Lead,
    officers: Roster | Sequence[Officer],
    policy: Policy,
    state: RoutingState,
    now: datetime,
    *,
    exclude: Mapping[str, str] | None = None,
    prefer: str | None = None,
    scorer: Scorer | None = None,
) -> Decision:
    """Route one lead.

    Parameters
    ----------
    lead, officers, policy, state, now:
        The lead, the roster (build a ``Roster`` once and reuse it; a plain sequence of
        officers is compiled on every call), the loaded policy, the routing state (read only)
        and the current time (timezone-aware; the simulator passes its simulated clock).
    exclude:
        Officers already tried for this lead (officer id -> why), e.g. after an SLA timeout.
    prefer:
        An officer to take first when eligible in the chosen pool, e.g. the backup officer of
        one who did not accept in time.
    scorer:
        Conversion estimates for scoring methods (greedy, dual price, batch optimal); the
        rotations ignore it.
    """
    roster = officers if isinstance(officers, Roster) else Roster(officers)
    if state.officer_ids is not roster.ids_tuple and state.officer_ids != roster.ids_tuple:
        state = state.for_officers(roster.ids_tuple)
    found = plan(lead, roster, policy, state, now, exclude)
    if isinstance(found, Decision):
        return found
    if scorer is None:
        scorer = policy_scorer(policy)
    ctx = SelectionContext(lead, found.facts, roster, state, state.rotation(found.step.pool),
                           found.step.pool, np.flatnonzero(found.eligible), now,
                           policy.routing.seed, scorer)
    selection = selection_policy(policy).select(ctx)
    if selection.defer is not None:
        return _deferred(found, roster, policy, now, selection)
    return conclude(found, roster, policy, state, now, selection.order, selection.scores,
                    selection.propensity, prefer, ctx.candidates, selection.offerable)


def _deferred(p: Plan, roster: Roster, policy: Policy, now: datetime, selection: Selection
              ) -> Decision:
    """A lead the selection method chose to hold although officers were eligible (the dual
    price method's ``defer_below_price``)."""
    p.traces.append(StepTrace(p.step, p.in_pool, p.codes, selection.order, selection.scores))
    p.notes.append(f"held by the {policy.routing.method} method: {selection.defer}")
    explanation = Explanation(policy.name, policy.version, policy.routing.method, p.rule_path,
                              p.traces, roster, p.notes)
    until = None if selection.defer_until is None else \
        datetime.fromtimestamp(selection.defer_until, tz=now.tzinfo)
    return Decision(p.lead.lead_id, Status.HELD, f"held: {selection.defer}", None, None,
                    EMPTY_DELTA, explanation, selection.propensity, policy.name, policy.version,
                    p.action.priority.value, p.step.pool, until)


def weighted(policy: Policy) -> bool:
    """Whether the policy's rotation counts officer weights (all but plain round robin)."""
    return policy.routing.method != "round_robin"


def claim_delta(roster: Roster, policy: Policy, state: RoutingState, pool: str,
                officer: int | str, now: datetime, pool_weight: float,
                hc: Constraints | None = None) -> StateDelta:
    """The state change when ``officer`` (roster index or id) takes a lead from ``pool`` at
    ``now``, officers of total weight ``pool_weight`` having been eligible. Part of an
    assignment decision; for an offer, the caller asks for it (with the decision's
    ``pool_weight``) when an officer accepts."""
    i = roster.index[officer] if isinstance(officer, str) else officer
    if hc is None:
        _, day, hour = roster.local_clock(now)
    else:
        day, hour = hc.day, hc.hour
    new_pass, virtual_time = advance(state.rotation(pool), roster, i, weighted(policy),
                                     pool_weight)
    oid = roster.ids_tuple[i]
    return StateDelta(oid, now, int(day[i]), int(hour[i]),
                      RotationStep(pool, oid, new_pass, virtual_time))


__all__ = ["Constraints", "Decision", "Explanation", "Offer", "Reason", "Status",
           "claim_delta", "decide", "hard_constraints", "hold_until", "officer_constraint"]


def officer_capacity(roster: Roster, state: RoutingState, hc: Constraints, n_leads: int
                     ) -> np.ndarray:
    """(M,) int64: leads each officer can still take now under all three caps (at most
    ``n_leads``, standing in for "no cap")."""
    daily = np.where(state.day_key == hc.day, state.day_count, 0)
    hourly = np.where(state.hour_key == hc.hour, state.hour_count, 0)
    # NO_CAP is the int64 maximum: subtracting a count from it cannot overflow
    slack = np.minimum.reduce([
        roster.cap_open - state.open_leads,
        roster.cap_daily - daily,
        roster.cap_hourly - hourly,
    ])
    return np.clip(slack, 0, n_leads)


def decide_batch(
    leads: Sequence[Lead],
    officers: Roster | Sequence[Officer],
    policy: Policy,
    state: RoutingState,
    now: datetime,
    *,
    scorer: Scorer | None = None,
) -> list[Decision]:
    """Route several leads at once by solving their assignment (the ``batch_optimal`` method).

    Each lead walks its rule's chain as in ``decide``; the eligible pairs, their values
    (``routing.params``: objective, margin rate) and the officers' remaining capacity under
    every cap go to ``engine.solver.solve_assignment``, which maximizes the batch's total
    value. A lead the optimum leaves out (its officers' capacity went to leads worth more) is
    held. Decisions come back in input order; apply their state deltas in that order (each was
    computed on the state as left by the ones before it).
    """
    from engine.policies.scoring import ValueParams
    from engine.solver import AssignmentProblem, solve_assignment

    roster = officers if isinstance(officers, Roster) else Roster(officers)
    if state.officer_ids != roster.ids_tuple:
        state = state.for_officers(roster.ids_tuple)
    plans: list[Plan | Decision] = [plan(lead, roster, policy, state, now) for lead in leads]
    open_idx = [i for i, p in enumerate(plans) if isinstance(p, Plan)]
    if not open_idx:
        return [p for p in plans if isinstance(p, Decision)]
    params = ValueParams.parse(policy.routing.params, ("window_s",))
    scorer = scorer or policy_scorer(policy)
    if scorer is None:
        raise ValueError("batch_optimal needs conversion estimates: pass scorer=... or name a "
                         "model file in routing.params.model")
    batch = [leads[i] for i in open_idx]
    p_conv = np.asarray(scorer.score(batch, roster, state, now), dtype=float)
    if params.objective == "revenue":
        amounts = np.array([lead.loan_amount_usd for lead in batch])
        value = p_conv * (amounts * params.margin_rate)[:, None]
    else:
        value = p_conv.copy()
    for row, i in enumerate(open_idx):
        found = plans[i]
        assert isinstance(found, Plan)
        value[row, ~found.eligible] = np.nan
    first = plans[open_idx[0]]
    assert isinstance(first, Plan)
    capacity = officer_capacity(roster, state, first.hc, len(batch))
    result = solve_assignment(AssignmentProblem.from_arrays(value, capacity))
    working = state.copy()
    out: list[Decision] = []
    for i, found in enumerate(plans):
        if isinstance(found, Decision):
            out.append(found)
            continue
        row = open_idx.index(i)
        chosen = int(result.assignment[row])
        cand = np.flatnonzero(found.eligible)
        vals = value[row, cand]
        order = cand[np.argsort(-vals, kind="stable")]
        if chosen < 0:
            found.traces.append(StepTrace(found.step, found.in_pool, found.codes, order,
                                          value[row, order]))
            out.append(Decision(
                found.lead.lead_id, Status.HELD,
                "held: the batch's optimal assignment gave this lead's eligible officers' "
                f"remaining capacity to leads worth more (solver {result.status.value})",
                None, None, EMPTY_DELTA,
                Explanation(policy.name, policy.version, policy.routing.method,
                            found.rule_path, found.traces, roster, found.notes),
                1.0, policy.name, policy.version, found.action.priority.value))
            continue
        order = np.concatenate(([chosen], order[order != chosen]))
        decision = conclude(found, roster, policy, working, now, order, value[row, order], 1.0)
        working.apply(decision.state_delta)
        out.append(decision)
    return out
