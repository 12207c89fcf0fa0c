"""Eligibility: the hard constraints, written once as a table of checks.

Every officer left out of a lead has a reason (``Reason``): the first check of ``CHECKS`` (in
table order) that the officer fails. ``hard_constraints`` evaluates the table for every
officer at once; ``officer_constraint`` for one officer (an officer accepting an offer, when
caps may have filled since it was made); ``constraints_and_chain`` for every officer and then
walks the rule's chain (a decision's plan). All three are one call of the routing core
(``engine.core.constraints``: the checks' inputs, then its ``first_failing``), and all read
the same table, so they can never disagree on the checks or their order; property tests hold
them to it.

A caller may waive checks: an on-call pool waives working hours (``OFF_SHIFT``) and nothing
else, so an officer off shift and at a cap is still at the cap.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import IntEnum

import numpy as np

from engine import core
from engine.domain import Lead
from engine.roster import NEVER_OPENS, Roster, zone
from engine.rules.policy import CompiledAction, Policy
from engine.state import RoutingState


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


@dataclass(slots=True)
class CheckInputs:
    """What the checks read, computed once per lead and moment (by the routing core's
    ``constraints``): the roster, the moment, each officer's local clock, the licensing code
    of each officer in the lead's state on the lead's local date (0 licensed, else
    NOT_LICENSED or LICENSE_EXPIRED), the officers excluded, off shift and on time off, and
    each officer's load against each cap (open leads, this local day's and this local hour's
    count), slots held by open offers included but for those held for this very lead. Not
    frozen: built on every decision, and read only."""

    roster: Roster
    now: datetime
    minute: np.ndarray  # (M,) local minute of week
    day: np.ndarray  # (M,) local date ordinal
    hour: np.ndarray  # (M,) local ordinal * 24 + hour
    excluded: np.ndarray | None  # (M,) bool, None when nobody is
    off_shift: np.ndarray  # (M,) bool, outside working hours at ``now``
    time_off: np.ndarray | None  # (M,) bool, None when not computed (no check reads it)
    loads: np.ndarray  # (4, M) int64, rows core.LOAD_*
    codes: np.ndarray  # (3 + S, M) int8, rows core.CODE_*

    @property
    def licensing(self) -> np.ndarray:
        """(M,) int8."""
        return self.codes[core.CODE_LICENSING]

    @property
    def open_load(self) -> np.ndarray:
        """(M,) int64."""
        return self.loads[core.LOAD_OPEN]

    @property
    def day_load(self) -> np.ndarray | None:
        """(M,) int64, None when nobody has a daily cap."""
        return self.loads[core.LOAD_DAY] if self.roster.any_cap_daily else None

    @property
    def hour_load(self) -> np.ndarray | None:
        """(M,) int64, None when nobody has an hourly cap."""
        return self.loads[core.LOAD_HOUR] if self.roster.any_cap_hourly else None


def _time_off(roster: Roster, now: datetime) -> np.ndarray:
    """(M,) bool: officers on time off at ``now``."""
    out = np.zeros(len(roster), dtype=bool)
    officers = roster.officers
    for i in roster.with_away_periods.tolist():
        out[i] = any(p.covers(now) for p in officers[i].away)
    return out


@dataclass(frozen=True, slots=True)
class Check:
    """One hard constraint of the table; what it compares is written once, in the routing
    core's kernel (``engine.core.first_failing``), which both the vector path and the
    one-officer path run. ``applies`` says whether it can fail anyone at all (a roster
    without caps, nobody excluded), so the table skips it cheaply. ``applies`` may read only
    the roster and whether anyone is excluded: its answer is kept per roster."""

    reason: Reason
    applies: Callable[[Roster, bool], bool] = lambda roster, anyone_excluded: True

    @property
    def code(self) -> int:
        return int(self.reason)


# The hard constraints in the order they apply: the first one an officer fails is theirs.
# Structural reasons (licensing, already tried) before temporary ones (away, hours, caps).
CHECKS: tuple[Check, ...] = (
    Check(Reason.NOT_LICENSED),
    Check(Reason.LICENSE_EXPIRED),
    Check(Reason.EXCLUDED, lambda roster, anyone_excluded: anyone_excluded),
    Check(Reason.STATUS_AWAY, lambda roster, _: bool(roster.any_status_away)),
    Check(Reason.TIME_OFF, lambda roster, _: len(roster.with_away_periods) > 0),
    Check(Reason.OFF_SHIFT),
    Check(Reason.AT_MAX_OPEN, lambda roster, _: bool(roster.any_cap_open)),
    Check(Reason.AT_DAILY_CAP, lambda roster, _: bool(roster.any_cap_daily)),
    Check(Reason.AT_HOURLY_CAP, lambda roster, _: bool(roster.any_cap_hourly)),
)
_KERNEL_CODES = (core.NOT_LICENSED, core.LICENSE_EXPIRED, core.EXCLUDED, core.STATUS_AWAY,
                 core.TIME_OFF, core.OFF_SHIFT, core.AT_MAX_OPEN, core.AT_DAILY_CAP,
                 core.AT_HOURLY_CAP)
# the kernel reads codes as numbers
if tuple(c.code for c in CHECKS) != _KERNEL_CODES or len(Reason) != core.REASONS or (
        core.MISSING_SPECIALTY, core.MISSING_LANGUAGE, core.FIRST_TEMPORARY) != (
        _MISSING_SPECIALTY, _MISSING_LANGUAGE, FIRST_TEMPORARY):
    raise RuntimeError("engine.core's reason codes must match engine.eligibility.Reason")
_NO_WAIVER: frozenset[Reason] = frozenset()
ON_CALL_WAIVER: frozenset[Reason] = frozenset({Reason.OFF_SHIFT})


@dataclass(frozen=True, slots=True)
class Constraints:
    """Each officer's first failing hard constraint at ``now`` and their local clock;
    ``inputs`` lets a caller evaluate the table again with checks waived."""

    codes: np.ndarray  # (M,) int8 Reason
    minute: np.ndarray  # (M,) local minute of week
    day: np.ndarray  # (M,) local date ordinal
    hour: np.ndarray  # (M,) local ordinal * 24 + hour
    inputs: CheckInputs

    def waived(self, waive: Collection[Reason]) -> np.ndarray:
        """(M,) int8: the codes with the checks in ``waive`` skipped (e.g. an on-call pool
        waives working hours; an officer at a cap stays at the cap)."""
        if not waive:
            return self.codes
        return _evaluate(self.inputs, waive)


@dataclass(frozen=True, slots=True)
class _Active:
    """The checks to evaluate, in table order, as the kernel reads them."""

    codes: np.ndarray  # (K,) int8 Reason codes
    time_off: bool  # TIME_OFF among them (its input is computed only then)


def _applicable(roster: Roster, anyone_excluded: bool, waive: Collection[Reason],
                only: Collection[Reason] | None = None) -> _Active:
    """The checks not waived (and among ``only``) that can fail someone. ``Check.applies``
    reads only the roster and whether anyone is excluded, so the answer is kept on the roster
    per (anyone excluded, waiver, only)."""
    cache: dict[tuple[bool, frozenset[Reason], frozenset[Reason] | None], _Active] = \
        roster.__dict__.setdefault("_checks", {})
    key = (anyone_excluded, frozenset(waive), None if only is None else frozenset(only))
    found = cache.get(key)
    if found is None:
        codes = [c.code for c in CHECKS if c.reason not in waive
                 and (only is None or c.reason in only) and c.applies(roster, anyone_excluded)]
        found = cache[key] = _Active(np.array(codes, dtype=np.int8), _TIME_OFF in codes)
    return found


@dataclass(frozen=True, slots=True)
class _Blank:
    """Stand-ins for inputs a roster's checks do not read, the index of everyone and a
    chain of no steps."""

    flags: np.ndarray  # (M,) bool, all False
    counts: np.ndarray  # (M,) int64, all 0
    everyone: np.ndarray  # (M,) int64, 0..M-1
    nobody: np.ndarray  # (0,) int64
    no_chain: np.ndarray  # (3, 0, M) bool
    no_requirements: np.ndarray  # (2, 0) bool


def _blank(roster: Roster) -> _Blank:
    found: _Blank | None = roster.__dict__.get("_blank")
    if found is None:
        m = len(roster)
        found = roster.__dict__["_blank"] = _Blank(
            np.zeros(m, dtype=bool), np.zeros(m, dtype=np.int64), np.arange(m, dtype=np.int64),
            np.zeros(0, dtype=np.int64), np.zeros((3, 0, m), dtype=bool),
            np.zeros((2, 0), dtype=bool))
    return found


def _fused(lead: Lead, roster: Roster, state: RoutingState, now: datetime,
           exclude: Mapping[str, str] | None, holding: np.ndarray | None,
           waive: Collection[Reason], only: Collection[Reason] | None,
           officers: np.ndarray | None, masks: ChainMasks | None
           ) -> tuple[CheckInputs, np.ndarray]:
    """The checks' inputs for ``lead`` at ``now`` and, in the same call of the routing core,
    the first failing check of ``officers`` (everyone when None) and the walk of ``masks``'
    chain (none when None) with its held officers' waits: the inputs (their ``codes`` block
    holds the checks' codes and the chain's) and the core's summary (``core.SUMMARY_*``).
    ``holding``: (M,) slots held for this very lead by its open offer, which do not count
    against the officer."""
    blank = _blank(roster)
    excluded = None
    if exclude:
        excluded = np.zeros(len(roster), dtype=bool)
        for oid in exclude:
            j = roster.index.get(oid)
            if j is not None:
                excluded[j] = True
    active = _applicable(roster, excluded is not None, waive, only)
    time_off = _time_off(roster, now) if active.time_off else None
    if state.reserved_total or holding is not None:
        pending = state.reserved if holding is None else state.reserved - holding
    else:
        pending = blank.counts
    minute0, into, day, hour = roster.local_quarter(now)
    off_shift = roster.off_shift(now)
    loads, codes, summary = core.constraints(
        active.codes, blank.everyone if officers is None else officers,
        roster.license_expiry(lead.state), lead_local_day(lead, now),
        blank.flags if excluded is None else excluded, roster.status_away,
        blank.flags if time_off is None else time_off, off_shift, minute0, into, day, hour,
        state.open_leads, state.day_key, state.day_count, state.hour_key, state.hour_count,
        pending, roster.caps, blank.no_chain if masks is None else masks.chain,
        blank.no_requirements if masks is None else masks.requires, roster.next_open,
        NEVER_OPENS, roster.tz_of, len(roster.tz_groups))
    return CheckInputs(roster, now, loads[core.LOAD_MINUTE], day, hour, excluded, off_shift,
                       time_off, loads, codes), summary


def check_inputs(lead: Lead, roster: Roster, state: RoutingState, now: datetime,
                 exclude: Mapping[str, str] | None = None,
                 holding: np.ndarray | None = None) -> CheckInputs:
    """The inputs of the checks for ``lead`` at ``now`` (``holding``: (M,) slots held for this
    very lead by its open offer, which do not count against the officer)."""
    return _fused(lead, roster, state, now, exclude, holding, _NO_WAIVER, None,
                  _blank(roster).nobody, None)[0]


def _run(inputs: CheckInputs, active: _Active, officers: np.ndarray) -> np.ndarray:
    """The kernel over ``officers`` (roster indices): each one's first failing check, from
    inputs already computed (a waiver evaluates the table again)."""
    roster = inputs.roster
    blank = _blank(roster)
    time_off = inputs.time_off
    if time_off is None:
        time_off = _time_off(roster, inputs.now) if active.time_off else blank.flags
    return core.first_failing(
        active.codes, officers, inputs.licensing,
        blank.flags if inputs.excluded is None else inputs.excluded, roster.status_away,
        time_off, inputs.off_shift,
        inputs.open_load, roster.cap_open,
        blank.counts if inputs.day_load is None else inputs.day_load, roster.cap_daily,
        blank.counts if inputs.hour_load is None else inputs.hour_load, roster.cap_hourly)


def _evaluate(inputs: CheckInputs, waive: Collection[Reason] = _NO_WAIVER) -> np.ndarray:
    active = _applicable(inputs.roster, inputs.excluded is not None, waive)
    return _run(inputs, active, _blank(inputs.roster).everyone)


def _constraints_of(c: CheckInputs) -> Constraints:
    return Constraints(c.codes[core.CODE_CHECKS], c.minute, c.day, c.hour, c)


def hard_constraints(lead: Lead, roster: Roster, state: RoutingState, now: datetime,
                     exclude: Mapping[str, str] | None = None) -> Constraints:
    """The hard constraints for every officer, ignoring pools and rule requirements.
    Licensing is checked on the lead's date at the property; hours and caps in each officer's
    own timezone; slots held by open offers count against the caps. ``state`` must be laid
    out for ``roster`` (``state.for_officers``)."""
    return _constraints_of(_fused(lead, roster, state, now, exclude, None, _NO_WAIVER, None,
                                  None, None)[0])


def officer_constraint(lead: Lead, roster: Roster, state: RoutingState, now: datetime,
                       officer: int, *, exclude: Mapping[str, str] | None = None,
                       holding: int = 0, waive: Collection[Reason] = _NO_WAIVER,
                       only: Collection[Reason] | None = None) -> Reason:
    """``hard_constraints`` for one officer (a roster index): the first check of the same
    table they fail at ``now``, or ``Reason.OK``. ``holding``: slots this officer holds for
    this very lead (an offer's reservation), which do not count against them. ``waive``
    skips checks; ``only`` evaluates just these."""
    held = None
    if holding:
        held = np.zeros(len(roster), dtype=np.int64)
        held[officer] = holding
    inputs = _fused(lead, roster, state, now, exclude, held, waive, only,
                    np.array([officer], dtype=np.int64), None)[0]
    return Reason(int(inputs.codes[core.CODE_CHECKS, 0]))


@dataclass(frozen=True, slots=True)
class Walk:
    """A lead's hard constraints and its rule's chain walked, from one call of the core:
    ``engine.decide.plan`` reads it."""

    hc: Constraints
    masks: ChainMasks
    first: int  # first step with an eligible officer, -1 when none
    any_off_shift: bool  # a pool walked without success had an officer off shift
    summary: np.ndarray  # the core's summary (core.SUMMARY_*)

    @property
    def step_codes(self) -> np.ndarray:
        """(S, M) int8: each walked step's codes (rows up to ``first``, all when -1)."""
        return self.hc.inputs.codes[core.CODE_STEPS:]

    @property
    def held(self) -> np.ndarray:
        """(M,) bool: held back only by a temporary reason in a pool walked."""
        return self.hc.inputs.codes[core.CODE_HELD].view(np.bool_)

    @property
    def counts(self) -> np.ndarray:
        """(len(REASON_NAMES),) int64: the held officers' reasons (``core.hold_waits``)."""
        return self.summary[core.SUMMARY_COUNTS:core.SUMMARY_WAITS]

    @property
    def waits(self) -> np.ndarray:
        """(3, zones) int64: ``core.hold_waits``' waits of the held officers."""
        return self.summary[core.SUMMARY_WAITS:].reshape(3, -1)


def constraints_and_chain(lead: Lead, roster: Roster, policy: Policy, state: RoutingState,
                          now: datetime, action: CompiledAction,
                          exclude: Mapping[str, str] | None = None) -> Walk:
    """``hard_constraints``, then ``walk_chain`` over ``action``'s steps and, when no step has
    an eligible officer, the held officers' waits (``held_for`` reads them): one call of the
    routing core (``engine.core.constraints``)."""
    masks = chain_masks(roster, policy, action, lead.language)
    inputs, summary = _fused(lead, roster, state, now, exclude, None, _NO_WAIVER, None, None,
                             masks)
    first, off_shift = summary[core.SUMMARY_FIRST:core.SUMMARY_COUNTS].tolist()
    return Walk(_constraints_of(inputs), masks, first, bool(off_shift), summary)


_LOCAL_DAYS: dict[tuple[str, int], int] = {}


def lead_local_day(lead: Lead, now: datetime) -> int:
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


@dataclass(frozen=True, slots=True)
class ChainMasks:
    """A rule's chain as the core's ``walk_chain`` reads it: per step, its pool and the
    officers with the specialties and languages it requires (kept per roster, action and
    lead language)."""

    action: CompiledAction
    chain: np.ndarray  # (3, S, M) bool: in_pool, has_specialties, has_languages
    requires: np.ndarray  # (2, S) bool: requires_specialties, requires_languages

    @property
    def in_pool(self) -> np.ndarray:
        """(S, M) bool."""
        return self.chain[0]

    @property
    def has_specialties(self) -> np.ndarray:
        """(S, M) bool."""
        return self.chain[1]

    @property
    def has_languages(self) -> np.ndarray:
        """(S, M) bool."""
        return self.chain[2]

    @property
    def requires_specialties(self) -> np.ndarray:
        """(S,) bool."""
        return self.requires[0]

    @property
    def requires_languages(self) -> np.ndarray:
        """(S,) bool."""
        return self.requires[1]


def chain_masks(roster: Roster, policy: Policy, action: CompiledAction, language: str
                ) -> ChainMasks:
    """The masks of ``action``'s steps for a lead speaking ``language``, cached on the
    roster."""
    matched = any(step.match_lead_language for step in action.steps)
    cache = roster.mask_cache()
    key = ("chain", id(policy), id(action), language if matched else None)
    found: ChainMasks | None = cache.get(key)  # type: ignore[assignment]
    if found is None or found.action is not action:
        everyone = np.ones(len(roster), dtype=bool)
        specialties, languages = [], []
        for step in action.steps:
            specialties.append(_all_of(roster, "specialties", step.require_specialties)
                               if step.require_specialties else everyone)
            wanted = step.require_languages | (
                {language} if step.match_lead_language else frozenset())
            languages.append(_all_of(roster, "languages", frozenset(wanted))
                             if wanted else everyone)
        found = ChainMasks(
            action, np.stack([
                np.stack([pool_mask(roster, policy, step.pool) for step in action.steps]),
                np.stack(specialties), np.stack(languages)]),
            np.array([[bool(step.require_specialties) for step in action.steps],
                      [bool(step.match_lead_language or step.require_languages)
                       for step in action.steps]], dtype=bool))
        cache[key] = found  # type: ignore[assignment]
    return found


def pool_mask(roster: Roster, policy: Policy, name: str) -> np.ndarray:
    """(M,) bool: the officers of the policy's pool ``name``, cached on the roster."""
    cache: dict[object, object] = roster.mask_cache()  # type: ignore[assignment]
    key = ("pool", id(policy), name)
    found = cache.get(key)
    # the policy is kept beside its mask: a policy freed and another built at the same
    # address must not find the first one's pools
    if found is None or found[0] is not policy:  # type: ignore[index]
        spec = policy.pools[name]
        found = cache[key] = (policy, roster.select(
            ids=spec.ids, teams=spec.teams, specialties=spec.specialties,
            languages=spec.languages, states=spec.states, everyone=spec.everyone))
    return found[1]  # type: ignore[index]


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


def _wall_clock_instant(now: datetime, tz_name: str, minutes: int) -> datetime:
    """The moment ``minutes`` of wall-clock time after the start of ``now``'s minute in zone
    ``tz_name``: a shift that opens at 08:00 local opens at 08:00 whatever offset change
    falls in between (a time the clocks skip maps to the same instant one hour on)."""
    tz = zone(tz_name)
    local = now.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    return (local + timedelta(minutes=minutes)).replace(tzinfo=tz).astimezone(UTC)


_STEADY_DAYS = 8
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_STEADY_MINUTES = (_STEADY_DAYS - 1) * 1440


def _steady(roster: Roster, now_s: int) -> bool:
    """Whether no zone of the roster changes its UTC offset from the start of ``now_s``'s UTC
    day for ``_STEADY_DAYS`` days (cached on the roster per day; clock changes are months
    apart, so equal offsets at both ends mean none in between)."""
    day = now_s // 86400
    cache: dict[int, bool] = roster.__dict__.setdefault("_steady", {})
    found = cache.get(day)
    if found is None:
        found = True
        for tz, _ in roster.tz_groups:
            first = datetime.fromtimestamp(day * 86400, tz=UTC).astimezone(tz).utcoffset()
            last = datetime.fromtimestamp((day + _STEADY_DAYS) * 86400, tz=UTC) \
                .astimezone(tz).utcoffset()
            found = found and first == last
        cache[day] = found
    return found


def _first_change(roster: Roster, now_s: int) -> int:
    """The first second (epoch) from the start of ``now_s``'s UTC day at which some zone of
    the roster has a UTC offset other than at that start, looked for over ``_STEADY_DAYS``
    days (hour by hour, then to the second; zones change their clocks at most once in an
    hour); past the end when none does. Cached on the roster per day."""
    day = now_s // 86400
    cache: dict[int, int] = roster.__dict__.setdefault("_first_change", {})
    found = cache.get(day)
    if found is None:
        begin = day * 86400
        found = begin + _STEADY_DAYS * 86400 + 1

        def offset(tz: object, t: int) -> object:
            return datetime.fromtimestamp(t, tz=UTC).astimezone(tz).utcoffset()  # type: ignore[arg-type]

        for tz, _ in roster.tz_groups:
            base = offset(tz, begin)
            for h in range(1, _STEADY_DAYS * 24 + 1):
                if begin + h * 3600 >= found:
                    break
                if offset(tz, begin + h * 3600) != base:
                    lo, hi = begin + (h - 1) * 3600, begin + h * 3600  # same at lo, not at hi
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        lo, hi = (mid, hi) if offset(tz, mid) == base else (lo, mid)
                    found = min(found, hi)
                    break
        cache[day] = found
    return found


def hold_until(held: np.ndarray, hc: Constraints, roster: Roster, now: datetime
               ) -> datetime | None:
    """Earliest moment one of the ``held`` officers (roster indices, each held back only by a
    temporary reason) could take a lead; None when none has a known time (status away, max
    open: those free up when an officer returns or a lead closes). See ``held_for``."""
    return held_for(held, hc, roster, now)[0]


def held_for(held: np.ndarray, hc: Constraints, roster: Roster, now: datetime
             ) -> tuple[datetime | None, list[int]]:
    """``hold_until`` and the count of each reason code among the ``held`` officers (indexed
    by code, ``len(REASON_NAMES)`` long). The routing core (``engine.core.hold_waits``) finds
    each kind of wait's smallest wall-clock wait per timezone; here they become instants.
    Shift openings and the next local hour or day are wall-clock times in each officer's
    zone, so a clock change in between moves them with the clocks."""
    held = np.asarray(held, dtype=np.int64)
    waits, counts = core.hold_waits(held, hc.codes, hc.minute, roster.next_open, NEVER_OPENS,
                                    roster.tz_of, len(roster.tz_groups), len(REASON_NAMES))
    return waits_until(waits, counts, held, hc.codes, roster, now)


def _minute_start_s(now: datetime) -> int:
    """The start of ``now``'s minute in epoch seconds, exactly (whole minutes since the
    epoch; a naive time is local time, as ``astimezone`` reads it)."""
    if now.tzinfo is None:
        now = now.astimezone(UTC)
    return (now - _EPOCH_UTC) // _MINUTE * 60


_INSTANTS: dict[tuple[int, tzinfo | None], datetime] = {}


def _instant(epoch_s: int, tz: tzinfo | None) -> datetime:
    """``epoch_s`` in ``tz``, as a real local time (``astimezone`` never gives a time the
    clocks skip). Held leads wait for the same few instants (a shift's opening, the next
    hour), so each is built once (the same object for every lead that waits for it). A
    kept instant is used only in the very ``tz`` object it was built for (two fixed offsets
    compare equal whatever their names)."""
    key = (epoch_s, tz)
    found = _INSTANTS.get(key)
    if found is None or found.tzinfo is not tz:
        if len(_INSTANTS) > 65536:
            _INSTANTS.clear()
        found = _INSTANTS[key] = datetime.fromtimestamp(epoch_s, tz=UTC).astimezone(tz)
    return found


def waits_until(waits: np.ndarray, counts: np.ndarray, held: np.ndarray, codes: np.ndarray,
                roster: Roster, now: datetime) -> tuple[datetime | None, list[int]]:
    """``held_for`` from the routing core's waits and counts of the held officers
    (``core.hold_waits``, or ``constraints_and_chain`` which ran it): the instants, and a
    held officer's end of time off. ``held``: the held officers, as roster indices or as
    an (M,) bool mask, and ``codes`` (M,) their reasons (read only when one is on time
    off)."""
    return waits_from(waits.tolist(), counts.tolist(), held, codes, roster, now)


def waits_from(waits: list[list[int]], counts: list[int], held: np.ndarray | None,
               codes: np.ndarray | None, roster: Roster, now: datetime
               ) -> tuple[datetime | None, list[int]]:
    """``waits_until`` of the waits and counts as lists (rows ``WAIT_SHIFT``, ``_HOUR``,
    ``_DAY`` of each zone's wait; counts by reason code, returned as given). ``held`` and
    ``codes`` are read only when a held officer is on time off, so None will do for a roster
    without time off."""
    best: datetime | None = None
    best_s: int | None = None  # the earliest instant so far, in epoch seconds
    start_s: int | None = None  # the start of now's minute, in epoch seconds
    now_s = int(now.timestamp())
    # plain ints: three kinds over a handful of zones (numpy's reductions cost more here),
    # instants as whole epoch seconds (elapsed time, as ``+ timedelta`` on a UTC time adds)
    for row in waits:  # WAIT_SHIFT, _HOUR, _DAY
        wait = min(row, default=core.NO_WAIT)
        if wait == core.NO_WAIT:
            continue
        if start_s is None:
            start_s = _minute_start_s(now)
        # Fast path: no zone of the roster changes its UTC offset within the next eight days
        # and the wait is shorter than that, so elapsed and wall-clock time agree. Or no zone
        # changes its clocks from the start of today (UTC) until the smallest wait is over:
        # the zone with that wait gets its elapsed instant, and every other zone an instant
        # no earlier (its elapsed one, which is later, or one after its own clock change),
        # which is what the zones one by one below would give.
        steady = wait < _STEADY_MINUTES and _steady(roster, now_s)
        if not steady and wait >= 1:
            steady = start_s + wait * 60 < _first_change(roster, now_s)
        if steady:
            at_s = start_s + wait * 60
            if best_s is None or at_s < best_s:
                best_s = at_s
            continue
        # the smallest wall-clock wait in each zone, then the earliest instant over zones
        for g, zone_wait in enumerate(row):
            if zone_wait == core.NO_WAIT:
                continue
            tz_name = roster.officers[int(roster.tz_groups[g][1][0])].timezone
            # a whole minute in UTC: its timestamp is exact
            at_s = max(int(_wall_clock_instant(now, tz_name, zone_wait).timestamp()),
                       start_s + 60)
            if best_s is None or at_s < best_s:
                best_s = at_s
    if best_s is not None:
        best = _instant(best_s, now.tzinfo)
    if not len(roster.with_away_periods) or not counts[_TIME_OFF]:
        return best, counts
    if held is None or codes is None:
        raise ValueError("a held officer is on time off: give the held officers and codes")
    if held.dtype == np.bool_:
        held = np.flatnonzero(held)
    officers = roster.officers
    for i in held[codes[held] == _TIME_OFF].tolist():
        end = min((p.end for p in officers[i].away if p.covers(now)), default=None)
        if end is not None and (best is None or end < best):
            best = end
    return best, counts


def officer_capacity(roster: Roster, state: RoutingState, hc: Constraints, n_leads: int
                     ) -> np.ndarray:
    """(M,) int64: leads each officer can still take now under all three caps (at most
    ``n_leads``, standing in for "no cap"), slots held by open offers counted."""
    c = hc.inputs
    # NO_CAP is the int64 maximum: subtracting a count from it cannot overflow
    slack = roster.cap_open - c.open_load
    if c.day_load is not None:
        slack = np.minimum(slack, roster.cap_daily - c.day_load)
    if c.hour_load is not None:
        slack = np.minimum(slack, roster.cap_hourly - c.hour_load)
    return np.clip(slack, 0, n_leads)


__all__ = ["CHECKS", "FIRST_TEMPORARY", "ON_CALL_WAIVER", "REASON_NAMES", "REASON_TEXT",
           "REASON_TEXT_BY_CODE", "Check", "CheckInputs", "Constraints", "Reason",
           "Walk", "check_inputs", "constraints_and_chain", "hard_constraints", "held_for",
           "hold_until", "lead_local_day", "officer_capacity", "officer_constraint",
           "pool_mask", "waits_until"]
