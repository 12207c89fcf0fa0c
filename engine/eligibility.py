"""Eligibility: the hard constraints, written once as a table of checks.

Every officer left out of a lead has a reason (``Reason``): the first check of ``CHECKS`` (in
table order) that the officer fails. ``hard_constraints`` evaluates the table for every
officer at once (numpy over the roster); ``officer_constraint`` for one officer (an officer
accepting an offer, when caps may have filled since it was made). Both read the same table,
so the two can never disagree on the checks or their order; a property test holds them to it.

A caller may waive checks: an on-call pool waives working hours (``OFF_SHIFT``) and nothing
else, so an officer off shift and at a cap is still at the cap.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

import numpy as np

from engine.domain import MINUTES_PER_WEEK, Lead
from engine.roster import NEVER_OPENS, Roster, zone
from engine.rules.policy import CompiledStep, Policy
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


@dataclass(frozen=True, slots=True)
class CheckInputs:
    """What the checks read: the roster, the state, the moment, each officer's local clock,
    the licence expiry in the lead's state, the lead's local date, the officers excluded and
    the slots held for this very lead (an officer's own reservation does not block them)."""

    roster: Roster
    state: RoutingState
    now: datetime
    minute: np.ndarray  # (M,) local minute of week
    day: np.ndarray  # (M,) local date ordinal
    hour: np.ndarray  # (M,) local ordinal * 24 + hour
    expiry: np.ndarray  # (M,) licence expiry ordinal in the lead's state, 0 where unlicensed
    lead_day: int  # date ordinal at the property
    excluded: np.ndarray  # (M,) bool
    holding: np.ndarray | None = None  # (M,) int64 slots held for this lead, or None


# A check: which of the officers ``idx`` (a slice over everyone, or one roster index) fail it.
Test = Callable[[CheckInputs, Any], Any]


def _pending(c: CheckInputs, idx: Any) -> Any:
    """Slots held by open offers (``RoutingState.reserved``), less this lead's own."""
    held = c.state.reserved[idx]
    return held if c.holding is None else held - c.holding[idx]


def _time_off(c: CheckInputs, idx: Any) -> Any:
    officers = c.roster.officers
    if isinstance(idx, slice):
        out = np.zeros(len(c.roster), dtype=bool)
        for i in c.roster.with_away_periods.tolist():
            out[i] = any(p.covers(c.now) for p in officers[i].away)
        return out
    return any(p.covers(c.now) for p in officers[idx].away)


def _count_now(keys: np.ndarray, counts: np.ndarray, current: np.ndarray, idx: Any) -> Any:
    """The count of the current local day (hour); a count kept for an earlier one is zero."""
    return np.where(keys[idx] == current[idx], counts[idx], 0)


@dataclass(frozen=True, slots=True)
class Check:
    reason: Reason
    fails: Test


# The hard constraints in the order they apply: the first one an officer fails is theirs.
# Structural reasons (licensing, already tried) before temporary ones (away, hours, caps).
CHECKS: tuple[Check, ...] = (
    Check(Reason.NOT_LICENSED, lambda c, i: c.expiry[i] == 0),
    Check(Reason.LICENSE_EXPIRED, lambda c, i: c.expiry[i] < c.lead_day),
    Check(Reason.EXCLUDED, lambda c, i: c.excluded[i]),
    Check(Reason.STATUS_AWAY, lambda c, i: c.roster.status_away[i]),
    Check(Reason.TIME_OFF, _time_off),
    Check(Reason.OFF_SHIFT, lambda c, i: c.roster.off_shift(c.now)[i]),
    Check(Reason.AT_MAX_OPEN, lambda c, i: c.state.open_leads[i] + _pending(c, i)
          >= c.roster.cap_open[i]),
    Check(Reason.AT_DAILY_CAP, lambda c, i: _count_now(c.state.day_key, c.state.day_count,
                                                       c.day, i) + _pending(c, i)
          >= c.roster.cap_daily[i]),
    Check(Reason.AT_HOURLY_CAP, lambda c, i: _count_now(c.state.hour_key, c.state.hour_count,
                                                        c.hour, i) + _pending(c, i)
          >= c.roster.cap_hourly[i]),
)
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


def check_inputs(lead: Lead, roster: Roster, state: RoutingState, now: datetime,
                 exclude: Mapping[str, str] | None = None,
                 holding: np.ndarray | None = None) -> CheckInputs:
    minute, day, hour = roster.local_clock(now)
    excluded = _nobody(len(roster))
    if exclude:
        excluded = excluded.copy()
        for oid in exclude:
            j = roster.index.get(oid)
            if j is not None:
                excluded[j] = True
    return CheckInputs(roster, state, now, minute, day, hour, roster.license_expiry(lead.state),
                       lead_local_day(lead, now), excluded, holding)


_NOBODY: dict[int, np.ndarray] = {}


def _nobody(m: int) -> np.ndarray:
    """(m,) bool, all False, read-only (shared: no exclusions)."""
    found = _NOBODY.get(m)
    if found is None:
        found = _NOBODY[m] = np.zeros(m, dtype=bool)
        found.flags.writeable = False
    return found


def _evaluate(inputs: CheckInputs, waive: Collection[Reason] = _NO_WAIVER) -> np.ndarray:
    codes = np.zeros(len(inputs.roster), dtype=np.int8)
    everyone = slice(None)
    for check in reversed(CHECKS):  # later assignments win: the first failing check stays
        if check.reason in waive:
            continue
        codes[check.fails(inputs, everyone)] = check.reason
    return codes


def hard_constraints(lead: Lead, roster: Roster, state: RoutingState, now: datetime,
                     exclude: Mapping[str, str] | None = None) -> Constraints:
    """The hard constraints for every officer, ignoring pools and rule requirements.
    Licensing is checked on the lead's date at the property; hours and caps in each officer's
    own timezone; slots held by open offers count against the caps. ``state`` must be laid
    out for ``roster`` (``state.for_officers``)."""
    inputs = check_inputs(lead, roster, state, now, exclude)
    return Constraints(_evaluate(inputs), inputs.minute, inputs.day, inputs.hour, inputs)


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
    inputs = check_inputs(lead, roster, state, now, exclude, held)
    for check in CHECKS:
        if check.reason in waive or (only is not None and check.reason not in only):
            continue
        if check.fails(inputs, officer):
            return check.reason
    return Reason.OK


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


def with_requirements(roster: Roster, lead: Lead, step: CompiledStep, codes: np.ndarray
                      ) -> np.ndarray:
    """The codes with a chain step's requirements: a missing specialty is reported for
    everyone lacking it; a missing language for officers who pass everything else."""
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


def pool_mask(roster: Roster, policy: Policy, name: str) -> np.ndarray:
    """(M,) bool: the officers of the policy's pool ``name``, cached on the roster."""
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


def _wall_clock_instant(now: datetime, tz_name: str, minutes: int) -> datetime:
    """The moment ``minutes`` of wall-clock time after the start of ``now``'s minute in zone
    ``tz_name``: a shift that opens at 08:00 local opens at 08:00 whatever offset change
    falls in between (a time the clocks skip maps to the same instant one hour on)."""
    tz = zone(tz_name)
    local = now.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    return (local + timedelta(minutes=minutes)).replace(tzinfo=tz).astimezone(now.tzinfo)


def hold_until(held: np.ndarray, hc: Constraints, roster: Roster, now: datetime
               ) -> datetime | None:
    """Earliest moment one of the ``held`` officers (roster indices, each held back only by a
    temporary reason) could take a lead; None when none has a known time (status away, max
    open: those free up when an officer returns or a lead closes). Shift openings and the
    next local hour or day are wall-clock times in each officer's zone, so a clock change
    in between moves them with the clocks."""
    codes = hc.codes[held]
    minute = hc.minute[held]
    best: datetime | None = None
    officers = roster.officers
    start = now.replace(second=0, microsecond=0)

    def earliest(members: np.ndarray, waits: np.ndarray) -> None:
        nonlocal best
        wait = int(waits.min())
        at = start + timedelta(minutes=wait)
        # Fast path: no member's clock changes offset before an hour after then (each local
        # minute of the week moved by exactly the minutes elapsed), so elapsed and wall-clock
        # time agree for everyone who could come first (a change moves a clock by an hour at
        # most, so a member whose change comes later cannot overtake ``at``).
        probe = at + timedelta(minutes=60)
        moved = (roster.local_clock(probe)[0][members] - hc.minute[members]) % MINUTES_PER_WEEK
        if bool((moved == (wait + 60) % MINUTES_PER_WEEK).all()):
            if best is None or at < best:
                best = at
            return
        # the smallest wall-clock wait in each zone, then the earliest instant over zones
        for tz_index in np.unique(roster.tz_of[members]).tolist():
            in_zone = roster.tz_of[members] == tz_index
            wait = int(waits[in_zone].min())
            tz_name = officers[int(members[in_zone][0])].timezone
            at = max(_wall_clock_instant(now, tz_name, wait), start + timedelta(minutes=1))
            if best is None or at < best:
                best = at

    off = codes == _OFF_SHIFT
    if off.any():
        opens = roster.next_open[held[off], minute[off]]
        known = opens != NEVER_OPENS
        if known.any():
            earliest(held[off][known], opens[known].astype(np.int64))
    for code, period in ((_AT_HOURLY_CAP, 60), (_AT_DAILY_CAP, 1440)):
        capped = codes == code
        if capped.any():
            earliest(held[capped], period - minute[capped] % period)
    if not len(roster.with_away_periods):
        return best
    for i in held[codes == _TIME_OFF]:
        end = min((p.end for p in officers[i].away if p.covers(now)), default=None)
        if end is not None and (best is None or end < best):
            best = end
    return best


def officer_capacity(roster: Roster, state: RoutingState, hc: Constraints, n_leads: int
                     ) -> np.ndarray:
    """(M,) int64: leads each officer can still take now under all three caps (at most
    ``n_leads``, standing in for "no cap"), slots held by open offers counted."""
    inputs = hc.inputs
    everyone = slice(None)
    daily = _count_now(state.day_key, state.day_count, hc.day, everyone)
    hourly = _count_now(state.hour_key, state.hour_count, hc.hour, everyone)
    pending = _pending(inputs, everyone)
    # NO_CAP is the int64 maximum: subtracting a count from it cannot overflow
    slack = np.minimum.reduce([
        roster.cap_open - state.open_leads - pending,
        roster.cap_daily - daily - pending,
        roster.cap_hourly - hourly - pending,
    ])
    return np.clip(slack, 0, n_leads)


__all__ = ["CHECKS", "FIRST_TEMPORARY", "ON_CALL_WAIVER", "REASON_NAMES", "REASON_TEXT",
           "REASON_TEXT_BY_CODE", "Check", "CheckInputs", "Constraints", "Reason",
           "check_inputs", "hard_constraints", "hold_until", "lead_local_day",
           "officer_capacity", "officer_constraint", "pool_mask", "with_requirements"]
