"""The decision: one pure function of (lead, officers, policy, state, now).

``decide`` finds the rule that applies, walks its pool and fallback chain, keeps only officers
that pass every hard constraint (``engine.eligibility``: licensing on the lead's date, time
off, working hours, caps), lets the policy's selection method order them, and returns who is
offered the lead (or why nobody is), the change to the routing state and an explanation. It
reads the state and never changes it: the API applies the delta inside its database
transaction, the simulator in memory. What happens to the lead afterwards (offers, deadlines,
re-routing) is ``engine.lifecycle``; routing several leads at once is ``engine.batch``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from engine.domain import Lead, Officer
from engine.eligibility import (
    _NOT_LICENSED,
    FIRST_TEMPORARY,
    ON_CALL_WAIVER,
    REASON_NAMES,
    REASON_TEXT,
    REASON_TEXT_BY_CODE,
    Constraints,
    Reason,
    constraints_and_chain,
    hard_constraints,
    held_for,
    hold_until,
    officer_capacity,
    officer_constraint,
    pool_mask,
    waits_until,
)
from engine.frozen import quick_init
from engine.policies import Scorer, Selection, SelectionContext, SelectionPolicy
from engine.policies.rotation import advance, eligible_weight
from engine.roster import Roster
from engine.rules.fields import read_facts
from engine.rules.policy import CompiledAction, CompiledStep, Policy
from engine.state import EMPTY_DELTA, RotationStep, RoutingState, StateDelta

# One encoder for every compact JSON text of an explanation (json.dumps builds a new one on
# each call); the same output as ``json.dumps(obj, separators=(",", ":"))``.
_encode = json.JSONEncoder(separators=(",", ":")).encode
JsonCache = dict[Any, Any]
JSON_CACHE_SIZE = 4096
_TEXTS: dict[str, str] = {}


def _text(value: str) -> str:
    """``value`` as a JSON string (kept: officer ids, modes and priorities repeat)."""
    found = _TEXTS.get(value)
    if found is None:
        if len(_TEXTS) > 65536:
            _TEXTS.clear()
        found = _TEXTS[value] = _encode(value)
    return found


def _escape(text: str, quote: bool) -> str:
    """``text`` with its quotes doubled when ``quote`` (as a CSV cell escapes them)."""
    return text.replace('"', '""') if quote else text


def _number(value: float) -> str:
    """``value`` as ``json.dumps`` writes it (a finite float as its repr; int, bool, NaN and
    infinities through the encoder)."""
    if type(value) is float and value - value == 0.0:
        return float.__repr__(value)
    return _encode(value)


_ISO: dict[int, tuple[datetime, str]] = {}


def _isoformat(moment: datetime) -> str:
    """``moment.isoformat()``, kept by the object's identity (held leads share the instant
    they wait for: ``engine.eligibility.waits_until``), the object kept beside its text."""
    found = _ISO.get(id(moment))
    if found is None or found[0] is not moment:
        if len(_ISO) > 4096:
            _ISO.clear()
        found = _ISO[id(moment)] = (moment, moment.isoformat())
    return found[1]


class Status(StrEnum):
    ASSIGNED = "assigned"  # one officer has the lead
    OFFERED = "offered"  # offered to several (broadcast, cascade, escalate); first to accept
    HELD = "held"  # nobody can take it now but someone may later (hours, caps, time off)
    UNASSIGNED = "unassigned"  # nobody in the rule's pools can take it as things stand


@quick_init
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


@quick_init
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
        out = self._head(roster)
        out["excluded"], out["outside_pool"] = self._excluded(roster, detail)
        return out

    def _head(self, roster: Roster) -> dict[str, Any]:
        """The step, its candidates in rank order and their scores."""
        out: dict[str, Any] = self.step.describe()
        out["candidates"] = [] if self.order is None else roster.ids[self.order].tolist()
        if self.scores is not None:
            out["scores"] = self._scores()
        return out

    def _scores(self) -> list[float]:
        return [round(float(s), 6) for s in (self.scores if self.scores is not None else ())]

    def _excluded(self, roster: Roster, detail: str) -> tuple[dict[str, Any], int]:
        """The officers of the pool left out, by reason, and the count outside the pool."""
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
        return excluded, int(len(self.in_pool) - len(ids))

    def _excluded_json(self, roster: Roster, detail: str, cache: JsonCache) -> str:
        """``_excluded``'s block as compact JSON from the officer ids serialised once per
        roster (kept in ``cache``); reason names are plain lower-case words."""
        ids_key = ("ids", roster, False)
        ids = cache.get(ids_key)
        if ids is None:
            ids = cache[ids_key] = np.array([_encode(x) for x in roster.ids_tuple], dtype=object)
        codes = self.codes[self.in_pool]
        ids = ids[self.in_pool]
        counts = np.bincount(codes, minlength=len(REASON_NAMES))
        parts = []
        for code in (np.flatnonzero(counts[1:]) + 1).tolist():
            if detail == "summary" and code == _NOT_LICENSED:
                parts.append(f'"{REASON_NAMES[code]}":{int(counts[code])}')
            else:
                parts.append(f'"{REASON_NAMES[code]}":[{",".join(ids[codes == code].tolist())}]')
        return "{" + ",".join(parts) + "}"

    def to_json(self, roster: Roster, detail: str, cache: JsonCache) -> str:
        """``to_dict`` as compact JSON (``json.dumps(..., separators=(",", ":"))``), the
        excluded-officers block serialised once per distinct pool and codes (it repeats
        from lead to lead) and kept in ``cache``."""
        parts: list[str] = []
        self._json_parts(roster, detail, cache, parts, False)
        return "".join(parts)

    def _json_parts(self, roster: Roster, detail: str, cache: JsonCache, out: list[str],
                    quote: bool) -> None:
        """``to_json``'s text as parts appended to ``out``; with ``quote``, each with its
        quotes doubled (a CSV cell's escaping), the kept fragments kept so."""
        ids_key = ("ids", roster, quote)
        ids = cache.get(ids_key)
        if ids is None:  # each officer id as a JSON string, once per roster
            ids = cache[ids_key] = np.array([_escape(_encode(x), quote)
                                             for x in roster.ids_tuple], dtype=object)
        key = (roster, detail, quote, self.in_pool.tobytes(), self.codes.tobytes())
        tail = cache.get(key)
        if tail is None:
            if len(cache) > JSON_CACHE_SIZE:
                kept = cache.get(("ids", roster, not quote))
                cache.clear()
                cache[ids_key] = ids
                if kept is not None:
                    cache[("ids", roster, not quote)] = kept
            tail = cache[key] = _escape(
                f',"excluded":{self._excluded_json(roster, detail, cache)},'
                f'"outside_pool":{len(self.in_pool) - int(self.in_pool.sum())}}}', quote)
        # found by the step's identity (hashing a step hashes its fields), the step kept
        # beside its text so that a step built at a freed one's address is a miss
        step_key = ("step", id(self.step), quote)
        found = cache.get(step_key)
        if found is None or found[0] is not self.step:  # the step's own keys and the
            head = _encode(self.step.describe())[:-1]  # candidates' key, the same for every
            found = cache[step_key] = (self.step, _escape(  # lead through the step
                f'{head},"candidates":[' if len(head) > 1 else '{"candidates":[', quote))
        out.append(found[1])
        if self.order is not None:
            out.append(",".join(ids[self.order].tolist()))
        if self.scores is None:
            out.append("]")
        else:
            out.append(_escape(f'],"scores":{_encode(self._scores())}', quote))
        out.append(tail)


@quick_init
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
            # copies: the path's entries are shared by leads of the same facts (lead_match)
            "rule_path": [dict(d) for d in self.rule_path],
            "steps": [t.to_dict(self.roster, detail=detail) for t in self.steps],
        }
        if self.notes:
            out["notes"] = self.notes
        return out

    def to_json(self, *, detail: str = "full", cache: JsonCache | None = None,
                extra: Mapping[str, Any] | None = None) -> str:
        """``to_dict`` with ``extra``'s keys after its own, as compact JSON: exactly
        ``json.dumps({**to_dict(detail=detail), **extra}, separators=(",", ":"))``, with the
        steps' repeating blocks serialised once (``cache``: keep one per run of a roster)."""
        if cache is None:
            cache = {}
        return self._json(detail, cache, "," + _encode(extra)[1:] if extra else "}")

    def _json(self, detail: str, cache: JsonCache, tail: str) -> str:
        """``to_json`` with ``tail`` (``}``, or the extra keys' text and ``}``) at the end."""
        parts: list[str] = []
        self._json_parts(detail, cache, parts, False)
        parts.append(tail)
        return "".join(parts)

    def _json_parts(self, detail: str, cache: JsonCache, out: list[str], quote: bool) -> None:
        """``to_json``'s text up to its closing brace as parts appended to ``out`` (with
        ``quote``, each with its quotes doubled)."""
        explanation_parts(self.policy, self.version, self.method, self.rule_path, self.steps,
                          self.notes, self.roster, detail, cache, out, quote)


def explanation_parts(policy: str, version: str, method: str, rule_path: list[dict[str, Any]],
                      steps: Sequence[StepTrace], notes: list[str], roster: Roster,
                      detail: str, cache: JsonCache, out: list[str], quote: bool) -> None:
    """The text of an ``Explanation`` of these fields as compact JSON up to its closing
    brace, as parts appended to ``out`` (``Explanation.to_json``; with ``quote``, each with
    its quotes doubled), for a caller that has the fields without the object."""
    # the policy's keys and the rule path, which takes one of a few forms per policy:
    # serialised once per form (its values are text and booleans, so equal keys mean
    # equal JSON). Found first by its entries' identity (leads of the same facts share
    # them: ``lead_match``), the entries kept beside the text so that no other object can
    # take their addresses; then by their keys and values.
    same_key = ("path", quote, policy, version, method, *map(id, rule_path))
    found = cache.get(same_key)
    if found is None:
        path_key = ("path", quote, policy, version, method,
                    *[tuple(d.items()) for d in rule_path])
        path = cache.get(path_key)
        if path is None:
            head = _encode({"policy": policy, "version": version, "method": method})[:-1]
            path = cache[path_key] = _escape(
                f'{head},"rule_path":{_encode(rule_path)},"steps":[', quote)
        found = cache[same_key] = (tuple(rule_path), path)
    out.append(found[1])
    first = True
    for t in steps:
        if not first:
            out.append(",")
        first = False
        t._json_parts(roster, detail, cache, out, quote)
    out.append("]")
    if notes:
        out.append(_escape(f',"notes":{_encode(notes)}', quote))


@quick_init
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

    def to_json(self, *, detail: str = "full", cache: JsonCache | None = None) -> str:
        """The explanation with the decision's own keys after its keys (``status``,
        ``propensity``, ``priority``, the ``offer`` when there is one, ``hold_until`` for a
        held lead), as compact JSON: exactly ``Explanation.to_json(extra=...)`` of those keys
        (the route file's explanation cell), the decision's keys written without building a
        dict for them."""
        return "".join(self.json_parts(detail=detail, cache=cache))

    def json_parts(self, *, detail: str = "full", cache: JsonCache | None = None,
                   quote: bool = False) -> list[str]:
        """``to_json`` as the parts it is joined from; with ``quote``, their quotes doubled
        (the CSV cell's escaping: ``engine.io.csv_row_parts``) as they are built. The long
        parts are the fragments kept in ``cache``, the same objects from lead to lead (kept
        escaped too), so a route file's explanations are neither scanned to be escaped nor
        copied into one text per lead before they are written."""
        if cache is None:
            cache = {}
        parts: list[str] = []
        self.explanation._json_parts(detail, cache, parts, quote)
        parts.append(_escape(self._keys_json(), quote))
        return parts

    def _keys_json(self) -> str:
        """The decision's own keys as JSON text, from the comma before the first to the
        closing brace of the whole."""
        return decision_keys(self.status, self.propensity, self.priority, self.offer,
                             self.hold_until)


def decision_keys(status: Status, propensity: float, priority: str, offer: Offer | None,
                  hold_until: datetime | None) -> str:
    """A ``Decision``'s own keys of these values as JSON text (``Decision._keys_json``), for
    a caller that has the values without the object."""
    text = f',"status":"{status.value}","propensity":{_number(propensity)},' \
           f'"priority":{_text(priority)}'
    if offer is not None:
        text += f',"offer":{{"mode":{_text(offer.mode)},"officer_ids":' \
                f'[{",".join([_text(o) for o in offer.officer_ids])}],' \
                f'"accept_within_s":{_number(offer.accept_within_s)}'
        if offer.step_s is not None:  # cascade, escalate: when each next officer is offered
            text += f',"step_s":{_number(offer.step_s)}'
        text += "}"
    if hold_until is not None:  # isoformat is digits, -, :, T, + and .: no escapes
        text += f',"hold_until":"{_isoformat(hold_until)}"'
    return text + "}"


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


@dataclass(slots=True)
class Plan:
    """A lead's way through its rule's chain up to the step with eligible officers: what
    ``decide`` and ``engine.batch.decide_batch`` share before a selection method or a
    solver ranks them."""

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


def _explanation(policy: Policy, roster: Roster, rule_path: list[dict[str, Any]],
                 traces: list[StepTrace], notes: list[str]) -> Explanation:
    return Explanation(policy=policy.name, version=policy.version,
                       method=policy.routing.method, rule_path=rule_path, steps=traces,
                       roster=roster, notes=notes)


def _only_pool(policy: Policy, pool: str, action: CompiledAction) -> CompiledAction:
    """The action of a lead routed to one named pool (a stale lead's nurture pool): that pool
    alone, with the rule's priority and offer."""
    step = CompiledStep(pool, frozenset(), frozenset(), False, "routing.lifecycle.stale_pool")
    return CompiledAction((step,), action.priority, action.offer)


_POOL_NAMES: dict[int, tuple[CompiledAction, str]] = {}  # by id, the action kept alongside
_HELD_REASONS: dict[tuple[str, tuple[int, ...]], str] = {}


def _pool_names(action: CompiledAction) -> str:
    """The pools of an action's chain, each once, as the reasons name them."""
    found = _POOL_NAMES.get(id(action))
    if found is None or found[0] is not action:
        if len(_POOL_NAMES) > 4096:
            _POOL_NAMES.clear()
        found = _POOL_NAMES[id(action)] = (
            action, ", ".join(dict.fromkeys(s.pool for s in action.steps)))
    return found[1]


def _held_reason(pools: str, counts: list[int]) -> str:
    """The reason of a held lead: its pools and how many officers are held back by what
    (``counts`` by reason code); the same few texts repeat, so each is built once."""
    key = (pools, tuple(counts))
    found = _HELD_REASONS.get(key)
    if found is None:
        if len(_HELD_REASONS) > 4096:
            _HELD_REASONS.clear()
        why = "; ".join(f"{n} {REASON_TEXT_BY_CODE[c]}" for c, n in enumerate(counts) if n)
        found = _HELD_REASONS[key] = f"held: no officer in pool {pools} can take it now ({why})"
    return found


# A lead's facts and rule match, kept per lead for its later decisions (retries, time-outs,
# held retries, declines). They depend on the lead and the policy only (the time fields are
# the lead's ``received_at``, never ``now``), so an entry is found by the lead's identity and
# used only for the same lead and policy objects: a new policy (or a rebuilt lead) is a miss.
_MATCHES: dict[int, tuple[Lead, Policy, dict[str, Any], tuple[str, ...], CompiledAction,
                          tuple[dict[str, Any], ...]]] = {}
MATCH_CACHE_SIZE = 8192


def lead_match(lead: Lead, policy: Policy
               ) -> tuple[dict[str, Any], list[str], CompiledAction, list[dict[str, Any]]]:
    """The lead's facts, the notes on custom values that could not be read, the matched
    action and the rule path, computed once per lead and policy and kept (bounded) for the
    lead's later decisions. The notes and rule path returned are the caller's own lists."""
    found = _MATCHES.get(id(lead))
    if found is None or found[0] is not lead or found[1] is not policy:
        facts, notes = read_facts(lead, policy.builtin_fields, policy.custom_fields)
        action, rule_path = _match(policy, facts)
        if len(_MATCHES) >= MATCH_CACHE_SIZE:
            _MATCHES.clear()
        found = _MATCHES[id(lead)] = (lead, policy, facts, tuple(notes), action, rule_path)
    return found[2], list(found[3]), found[4], list(found[5])


# A policy's rule match by the values of the facts it reads (``Policy.match`` is a function of
# them): leads with the same facts share it, the policy kept beside (a policy freed and another
# built at its address is a miss). Its rule path's entries are shared: read, never changed.
_BY_FACTS: dict[tuple[int, tuple[Any, ...]],
                tuple[Policy, CompiledAction, tuple[dict[str, Any], ...]]] = {}
_PATH_FORMS: dict[tuple[Any, ...], tuple[Policy, tuple[dict[str, Any], ...]]] = {}


def _match(policy: Policy, facts: dict[str, Any]
           ) -> tuple[CompiledAction, tuple[dict[str, Any], ...]]:
    """``policy.match(facts)``, kept by the facts' values. A rule tests a fact with ``==``,
    order, membership and ``startswith``, which give the same answer for equal values (and
    for 1, 1.0 and True alike: equal keys), so equal facts match alike. A fact that cannot be
    a key (not hashable) is matched afresh."""
    try:
        key = (id(policy), tuple(facts.values()))
        found = _BY_FACTS.get(key)
    except TypeError:
        action, path = policy.match(facts)
        return action, tuple(path)
    if found is None or found[0] is not policy:
        if len(_BY_FACTS) >= MATCH_CACHE_SIZE:
            _BY_FACTS.clear()
            _PATH_FORMS.clear()
        action, path = policy.match(facts)
        # one set of entries per form of the path (a policy has a few: the rule that
        # matched and its branch), whatever facts led to it, so that the JSON cache finds a
        # form by its entries' identity (``explanation_parts``) with one entry per form
        form_key = (id(policy), *[tuple(d.items()) for d in path])
        form = _PATH_FORMS.get(form_key)
        if form is None or form[0] is not policy:
            form = _PATH_FORMS[form_key] = (policy, tuple(path))
        found = _BY_FACTS[key] = (policy, action, form[1])
    return found[1], found[2]


def plan(lead: Lead, roster: Roster, policy: Policy, state: RoutingState, now: datetime,
         exclude: Mapping[str, str] | None = None, pool: str | None = None
         ) -> Plan | Decision:
    """Walk the lead's chain to the first step with an eligible officer (a ``Plan``), or
    conclude that nobody can take it now (a held or unassigned ``Decision``). ``state`` must
    be laid out for ``roster``. ``pool``: route to this pool alone instead of the chain."""
    facts, notes, action, rule_path = lead_match(lead, policy)
    if pool is not None:
        action = _only_pool(policy, pool, action)
        notes.append(f"routed to pool {pool} only (routing.lifecycle.stale_pool)")
    walk = constraints_and_chain(lead, roster, policy, state, now, action, exclude)
    hc, masks, step_codes, first = walk.hc, walk.masks, walk.step_codes, walk.first
    steps = action.steps
    pools = masks.in_pool
    traces = [StepTrace(steps[s], pools[s], step_codes[s], None, None)
              for s in range(len(steps) if first < 0 else first)]
    if first >= 0:
        in_pool, codes = pools[first], step_codes[first]
        return Plan(lead, facts, action, rule_path, hc, traces, notes, steps[first], in_pool,
                    codes, in_pool & (codes == 0))

    after = policy.routing.after_hours
    if walk.any_off_shift and after.pool is not None and pool is None:
        on_call = CompiledStep(after.pool, frozenset(), frozenset(), False, "routing.after_hours")
        in_pool = pool_mask(roster, policy, after.pool)
        # On call means reachable outside working hours: the shift check alone is waived,
        # every other check (caps, time off, licensing) still applies.
        codes = hc.waived(ON_CALL_WAIVER)
        eligible = in_pool & (codes == 0)
        if eligible.any():
            notes.append("after hours: sent to the on-call pool")
            hc = Constraints(codes, hc.minute, hc.day, hc.hour, hc.inputs)
            return Plan(lead, facts, action, rule_path, hc, traces, notes, on_call, in_pool,
                        codes, eligible)
        traces.append(StepTrace(on_call, in_pool, codes, None, None))
        members = np.flatnonzero(walk.held | (in_pool & (codes >= FIRST_TEMPORARY)))
        until, counts = held_for(members, hc, roster, now) if len(members) else (None, None)
    elif walk.counts.any():  # the core has found the held officers' waits
        until, counts = waits_until(walk.waits, walk.counts, walk.held, hc.codes, roster, now)
    else:
        until, counts = None, None
    return unplaced(lead, roster, policy, action, rule_path, traces, notes, until, counts)


def unplaced(lead: Lead, roster: Roster, policy: Policy, action: CompiledAction,
             rule_path: list[dict[str, Any]], traces: list[StepTrace], notes: list[str],
             until: datetime | None, counts: list[int] | None) -> Decision:
    """The decision for a lead nobody can take now: held (``counts``, the held officers'
    reasons by code, and ``until``, when one may take it) or, without held officers,
    unassigned, from the steps walked (``traces``)."""
    explanation = _explanation(policy, roster, rule_path, traces, notes)
    names = _pool_names(action)
    if counts is not None:
        return Decision(lead_id=lead.lead_id, status=Status.HELD,
                        reason=_held_reason(names, counts),
                        officer_id=None, offer=None, state_delta=EMPTY_DELTA,
                        explanation=explanation, propensity=1.0, policy=policy.name,
                        policy_version=policy.version, priority=action.priority.value,
                        hold_until=until)
    seen = np.zeros(len(REASON_NAMES), dtype=np.int64)
    for t in traces:
        seen += np.bincount(t.codes[t.in_pool], minlength=len(REASON_NAMES))
    seen[0] = 0
    if not seen.any():
        reason = f"unassigned: pool {names} has no officers"
    else:
        texts = "; ".join(REASON_TEXT_BY_CODE[c] for c in np.flatnonzero(seen))
        reason = f"unassigned: no officer in pool {names} can take a lead in {lead.state} " \
                 f"({texts})"
    return Decision(lead_id=lead.lead_id, status=Status.UNASSIGNED, reason=reason,
                    officer_id=None, offer=None, state_delta=EMPTY_DELTA, explanation=explanation,
                    propensity=1.0, policy=policy.name, policy_version=policy.version,
                    priority=action.priority.value)


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
    ids = roster.ids_tuple
    if spec.mode == "assign":
        offered: tuple[str, ...] = (ids[int(order[0])],)
    else:
        offered = tuple(ids[i] for i in order[:k].tolist())
    weight = eligible_weight(roster, np.flatnonzero(p.eligible) if candidates is None
                             else candidates, policy.selector.weighted)
    delta = claim_delta(roster, policy, state, p.step.pool, int(order[0]), now, weight, p.hc) \
        if len(offered) == 1 else EMPTY_DELTA
    return placed(p.lead, roster, policy, p.action, p.rule_path, p.traces, p.notes, p.step.pool,
                  offered, weight, delta, propensity)


def offer_of(action: CompiledAction, offered: tuple[str, ...]) -> Offer:
    """The offer of a lead to ``offered`` (in rank order) as the action's offer says."""
    spec = action.offer
    return Offer(mode=spec.mode, officer_ids=offered, accept_within_s=spec.accept_within_s,
                 step_s=spec.step_s)


def assigned_reason(pool: str) -> str:
    """The reason of a lead assigned to one officer of ``pool``."""
    return f"assigned in pool {pool}"


def placed(lead: Lead, roster: Roster, policy: Policy, action: CompiledAction,
           rule_path: list[dict[str, Any]], traces: list[StepTrace], notes: list[str],
           pool: str, offered: tuple[str, ...], weight: float, delta: StateDelta,
           propensity: float) -> Decision:
    """The decision for a lead offered to ``offered`` (in rank order) in ``pool``: assigned
    when that is one officer (``delta``, their claim), an offer to several otherwise;
    ``traces`` ends with the step they were ranked in, officers of total ``weight`` being
    eligible."""
    spec = action.offer
    offer = offer_of(action, offered)
    if len(offered) == 1:
        status, officer_id = Status.ASSIGNED, offered[0]
        reason = assigned_reason(pool)
    else:
        status, officer_id = Status.OFFERED, None
        reason = f"offered ({spec.mode}) to {len(offered)} in pool {pool}"
    return Decision(lead_id=lead.lead_id, status=status, reason=reason,
                    officer_id=officer_id, offer=offer, state_delta=delta,
                    explanation=_explanation(policy, roster, rule_path, traces, notes),
                    propensity=propensity, policy=policy.name, policy_version=policy.version,
                    priority=action.priority.value, pool=pool, pool_weight=weight)


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
    pool: str | None = None,
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
        Conversion estimates for methods that need them (``selector.needs_scorer``); the
        rotations ignore it.
    pool:
        Route to this pool alone instead of the rule's chain (a stale lead's nurture pool).
    """
    roster = officers if isinstance(officers, Roster) else Roster(officers)
    if state.officer_ids is not roster.ids_tuple and state.officer_ids != roster.ids_tuple:
        state = state.for_officers(roster.ids_tuple)
    found = plan(lead, roster, policy, state, now, exclude, pool)
    if isinstance(found, Decision):
        return found
    if scorer is None:
        scorer = policy_scorer(policy)
    ctx = SelectionContext(lead, found.facts, roster, state, state.rotation(found.step.pool),
                           found.step.pool, found.eligible.nonzero()[0], now,
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
    until = None if selection.defer_until is None else \
        datetime.fromtimestamp(selection.defer_until, tz=now.tzinfo)
    return Decision(lead_id=p.lead.lead_id, status=Status.HELD, reason=f"held: {selection.defer}",
                    officer_id=None, offer=None, state_delta=EMPTY_DELTA,
                    explanation=_explanation(policy, roster, p.rule_path, p.traces, p.notes),
                    propensity=selection.propensity, policy=policy.name,
                    policy_version=policy.version, priority=p.action.priority.value,
                    pool=p.step.pool, hold_until=until)


def claim_delta(roster: Roster, policy: Policy, state: RoutingState, pool: str,
                officer: int | str, now: datetime, pool_weight: float,
                hc: Constraints | None = None, *, rotate: bool = True) -> StateDelta:
    """The state change when ``officer`` (roster index or id) takes a lead from ``pool`` at
    ``now``, officers of total weight ``pool_weight`` having been eligible: counted against
    their caps and, with ``rotate``, their turn in the pool's rotation. Part of an
    assignment decision; for an offer, the lifecycle asks for it when an officer accepts
    (without ``rotate``: the rotation moved when the offer was made, ``offer_delta``)."""
    i = roster.index[officer] if isinstance(officer, str) else officer
    if hc is None:
        _, day, hour = roster.local_clock(now)
    else:
        day, hour = hc.day, hc.hour
    oid = roster.ids_tuple[i]
    rotation = _rotation_step(roster, policy, state, pool, i, pool_weight) if rotate else None
    return StateDelta(officer_id=oid, assigned_at=now, day_key=int(day[i]),
                      hour_key=int(hour[i]), rotation=rotation)


def offer_delta(roster: Roster, policy: Policy, state: RoutingState, pool: str,
                officer: int | str, pool_weight: float) -> StateDelta:
    """The turn an officer takes in the pool's rotation when told of a lead (an offer to
    several moves each officer told on, so concurrent offers spread over the pool rather
    than all going to the same first few); counts nothing against caps."""
    i = roster.index[officer] if isinstance(officer, str) else officer
    return StateDelta(rotation=_rotation_step(roster, policy, state, pool, i, pool_weight))


def _rotation_step(roster: Roster, policy: Policy, state: RoutingState, pool: str, i: int,
                   pool_weight: float) -> RotationStep:
    """Officer ``i``'s turn in the pool's rotation (what ``offer_delta`` returns and
    ``claim_delta`` takes along, without a delta built in between)."""
    new_pass, virtual_time = advance(state.rotation(pool), roster, i, policy.selector.weighted,
                                     pool_weight)
    return RotationStep(pool, roster.ids_tuple[i], new_pass, virtual_time)


def __getattr__(name: str) -> Any:
    # ``decide_batch`` moved to engine.batch (it imports this module)
    if name == "decide_batch":
        from engine.batch import decide_batch

        return decide_batch
    raise AttributeError(name)


__all__ = ["REASON_TEXT", "Constraints", "Decision", "Explanation", "Offer", "Reason", "Status",
           "claim_delta", "decide", "hard_constraints", "hold_until", "offer_delta",
           "officer_capacity", "officer_constraint"]
