"""Features of (lead, officer) pairs, built as one float matrix for a batch of pairs.

Three kinds of column:

* lead fields: source, purpose, program, language (one indicator column per value, with an
  "other" column for rare and new sources and languages), log loan size, LTV, credit score,
  veteran, first-time buyer, jumbo. An unknown value is filled with a fixed typical value
  (LTV 0.8, credit 700, not first-time, not jumbo) and flagged in an ``*_unknown`` column, so
  both a linear model and trees can learn what "unknown" means and the matrix has no NaN;
* pair interactions: specialty matches (VA, FHA, USDA, jumbo, reverse, first-time buyer,
  non-QM), whether the officer speaks the borrower's language;
* the officer's record: shrunk funded rate overall, by the lead's loan program and by the
  lead's source, and among the leads the officer reached (officer -> team -> population, see
  ``engine.scoring.shrinkage``), as log-odds so that a linear model can add them to the lead's
  own odds; the
  officer's open leads at assignment, and the officer's expected log response delay at the
  officer-local hour of assignment;
* the moment of the decision (``Timing``): the lead's age (decision time minus
  ``received_at``), how long until the officer's shift opens, the expected wait from the
  lead's arrival to first contact (age + wait to shift + the officer's expected response at
  that hour), and the borrower's local hour (as a point on a circle) and weekday. A lead's
  chance of being reached falls steeply with that wait, so a model that cannot see it
  confuses leads held overnight with fresh ones.

Nothing here reads a protected characteristic: the lead columns are a fixed list, and
``Lead.custom`` (where unknown columns go) is never read. Column names come from
``feature_names(vocabulary)``.

The officer side is computed once per (model, roster) as ``OfficerTables``; a scoring call only
builds the lead columns and gathers from the tables, which keeps one lead against a thousand
officers to a few array operations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.domain import Lead, LoanProgram, LoanPurpose, Specialty
from engine.roster import NEVER_OPENS, Roster
from engine.scoring.shrinkage import (
    beta_prior_strength,
    normal_prior_strength,
    shrink,
)

PROGRAMS: tuple[LoanProgram, ...] = tuple(LoanProgram)
PURPOSES: tuple[LoanPurpose, ...] = tuple(LoanPurpose)
# Specialties a lead can call for, in the column order of ``LeadBlock.needs``.
MATCHED_SPECIALTIES: tuple[Specialty, ...] = (
    Specialty.VA, Specialty.FHA, Specialty.USDA, Specialty.JUMBO, Specialty.REVERSE,
    Specialty.FIRST_TIME_BUYER, Specialty.NON_QM,
)


def specialty_needs(lead: Lead) -> tuple[bool, ...]:
    """Which of ``MATCHED_SPECIALTIES`` the lead calls for, in that order."""
    prog = lead.loan_program
    return (
        prog is LoanProgram.VA or lead.is_veteran,
        prog is LoanProgram.FHA,
        prog is LoanProgram.USDA,
        bool(lead.is_jumbo),
        prog is LoanProgram.REVERSE or lead.loan_purpose is LoanPurpose.REVERSE,
        bool(lead.first_time_buyer),
        prog is LoanProgram.NON_QM,
    )


LEAD_NUMERIC_FEATURES: tuple[str, ...] = (
    "log_loan_amount_usd", "ltv", "ltv_unknown", "credit_score", "credit_score_unknown",
    "is_veteran", "first_time_buyer", "first_time_buyer_unknown", "is_jumbo", "is_jumbo_unknown",
)
NUMERIC_FEATURES: tuple[str, ...] = (
    *LEAD_NUMERIC_FEATURES,
    *(f"match_{s.value}" for s in MATCHED_SPECIALTIES),
    "speaks_language", "officer_logit_rate", "officer_logit_rate_program",
    "officer_logit_rate_source", "officer_logit_rate_reached", "officer_open_leads",
    "expected_log_delay_s",
    *("log_since_received_s", "log_officer_wait_to_shift_s", "log_expected_wait_to_contact_s",
      "borrower_hour_sin", "borrower_hour_cos", "borrower_weekday", "borrower_weekend"),
)
# The time features (``Timing``) are the last columns, in this order.
TIME_FEATURES: tuple[str, ...] = NUMERIC_FEATURES[-7:]
# An officer with no working hours at all never opens: their wait is counted as a week (the
# roster's working hours repeat weekly, so no real wait is longer).
WEEK_S = 7 * 86400.0
HOURS = 24
# Stand-ins for unknown lead values; the *_unknown column carries the fact that it is unknown.
TYPICAL_LTV = 0.8
TYPICAL_CREDIT_SCORE = 700.0
# A source or language seen fewer times than this in training shares the "other" slot: too
# few rows to learn its own effect, and it keeps the category count small.
MIN_CATEGORY_COUNT = 20


@dataclass(frozen=True)
class Vocabulary:
    """Sources and languages common enough in training to get their own slot; everything
    else (including values first seen after training) maps to the last slot, "other"."""

    sources: tuple[str, ...]
    languages: tuple[str, ...]

    _source_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _language_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_source_index", {s: i for i, s in enumerate(self.sources)})
        object.__setattr__(self, "_language_index",
                           {x: i for i, x in enumerate(self.languages)})

    @classmethod
    def fit(cls, leads: Sequence[Lead], min_count: int = MIN_CATEGORY_COUNT) -> Vocabulary:
        """Sources and languages with at least ``min_count`` leads, sorted."""
        sources = Counter(lead.source for lead in leads)
        languages = Counter(lead.language for lead in leads)
        return cls(tuple(sorted(s for s, n in sources.items() if n >= min_count)),
                   tuple(sorted(x for x, n in languages.items() if n >= min_count)))

    def source_slot(self, source: str) -> int:
        """Slot of ``source``: its index in ``sources``, or ``len(sources)`` for "other"."""
        return self._source_index.get(source, len(self.sources))

    def language_slot(self, language: str) -> int:
        """Slot of ``language``: its index in ``languages``, or ``len(languages)``."""
        return self._language_index.get(language, len(self.languages))


def feature_names(vocab: Vocabulary) -> tuple[str, ...]:
    """Column names of ``assemble``'s matrix, in order: the one-hot lead categories, then
    ``NUMERIC_FEATURES``."""
    return (
        *(f"source={s}" for s in (*vocab.sources, "other")),
        *(f"loan_purpose={p.value}" for p in PURPOSES),
        *(f"loan_program={p.value}" for p in PROGRAMS),
        *(f"language={x}" for x in (*vocab.languages, "other")),
        *NUMERIC_FEATURES,
    )


_PROGRAM_INDEX = {p: i for i, p in enumerate(PROGRAMS)}
_PURPOSE_INDEX = {p: i for i, p in enumerate(PURPOSES)}


@dataclass(frozen=True)
class LeadBlock:
    """Lead-only columns for L leads, each (L,) unless noted."""

    source_slot: np.ndarray  # int64
    purpose: np.ndarray  # int64 index into PURPOSES
    program: np.ndarray  # int64 index into PROGRAMS
    language_slot: np.ndarray  # int64
    language: tuple[str, ...]  # the raw ISO 639-1 code, for the officer language match
    numeric: np.ndarray  # (L, len(LEAD_NUMERIC_FEATURES)) float, no NaN
    needs: np.ndarray  # (L, len(MATCHED_SPECIALTIES)) bool
    received_s: np.ndarray  # POSIX seconds
    n_language_slots: int  # len(vocab.languages) + 1
    timezone: tuple[str, ...]  # the borrower's IANA timezone (from the ZIP)

    @classmethod
    def build(cls, leads: Sequence[Lead], vocab: Vocabulary) -> LeadBlock:
        n = len(leads)
        source = np.empty(n, dtype=np.int64)
        purpose = np.empty(n, dtype=np.int64)
        program = np.empty(n, dtype=np.int64)
        lang_slot = np.empty(n, dtype=np.int64)
        num = np.empty((n, len(LEAD_NUMERIC_FEATURES)), dtype=float)
        received = np.empty(n, dtype=float)
        needs = np.zeros((n, len(MATCHED_SPECIALTIES)), dtype=bool)
        for i, lead in enumerate(leads):
            source[i] = vocab.source_slot(lead.source)
            purpose[i] = _PURPOSE_INDEX[lead.loan_purpose]
            program[i] = _PROGRAM_INDEX[lead.loan_program]
            lang_slot[i] = vocab.language_slot(lead.language)
            ltv, credit = lead.ltv, lead.credit_score
            first, jumbo = lead.first_time_buyer, lead.is_jumbo
            num[i] = (
                np.log(lead.loan_amount_usd),
                TYPICAL_LTV if ltv is None else ltv, ltv is None,
                TYPICAL_CREDIT_SCORE if credit is None else credit, credit is None,
                lead.is_veteran,
                bool(first), first is None,
                bool(jumbo), jumbo is None,
            )
            received[i] = lead.received_at.timestamp()
            needs[i] = specialty_needs(lead)
        return cls(source, purpose, program, lang_slot, tuple(lead.language for lead in leads),
                   num, needs, received, len(vocab.languages) + 1,
                   tuple(lead.timezone for lead in leads))

    def __len__(self) -> int:
        return len(self.language)


@dataclass(frozen=True)
class RateCounts:
    """Funded counts by officer and category for one breakdown (overall, program, source),
    and the shrinkage strengths learned from them.

    ``trials`` and ``successes`` are (O, C) over the officers of the roster the history was
    read against (C categories: 1 for overall, the programs, or the source slots). Team and
    population counts are sums of these, so they are not stored separately.
    """

    trials: np.ndarray
    successes: np.ndarray
    k_population: float
    k_team: float
    k_officer: float
    global_rate: float

    @classmethod
    def fit(cls, officer_idx: np.ndarray, category: np.ndarray, y: np.ndarray, n_officers: int,
            n_categories: int, team_of: np.ndarray, n_teams: int) -> RateCounts:
        """Count rows (officer ``officer_idx[j]``, category ``category[j]``, outcome ``y[j]``)
        and estimate the prior strength at each level; ``team_of`` (O,) maps officers to
        ``0..n_teams-1``."""
        flat = officer_idx * n_categories + category
        size = n_officers * n_categories
        trials = np.bincount(flat, minlength=size).reshape(n_officers, n_categories).astype(float)
        successes = np.bincount(flat, weights=y.astype(float), minlength=size).reshape(
            n_officers, n_categories)
        global_rate = float(y.mean()) if y.size else 0.0
        pop_n, pop_s = trials.sum(0), successes.sum(0)
        k_pop = beta_prior_strength(pop_s, pop_n, np.full(n_categories, global_rate))
        pop = shrink(pop_s, pop_n, global_rate, k_pop)
        team_n, team_s = _by_team(trials, team_of, n_teams), _by_team(successes, team_of, n_teams)
        k_team = beta_prior_strength(team_s, team_n, np.broadcast_to(pop, team_n.shape))
        team = shrink(team_s, team_n, pop, k_team)
        prior = np.where((team_of >= 0)[:, None], team[np.maximum(team_of, 0)], pop)
        k_officer = beta_prior_strength(successes, trials, prior)
        return cls(trials, successes, k_pop, k_team, k_officer, global_rate)

    def rates(self, stats_row: np.ndarray, team_row: np.ndarray, team_of: np.ndarray,
              n_teams: int) -> np.ndarray:
        """(M, C) shrunk rates for M officers.

        ``stats_row`` (M,) is each officer's row in these counts (-1: no record), ``team_row``
        (M,) their team's index in ``0..n_teams-1`` (-1: a team with no record). ``team_of``
        maps the counted officers to teams, as at fit time.
        """
        pop_n, pop_s = self.trials.sum(0), self.successes.sum(0)
        pop = shrink(pop_s, pop_n, self.global_rate, self.k_population)
        team_n = _by_team(self.trials, team_of, n_teams)
        team_s = _by_team(self.successes, team_of, n_teams)
        team = shrink(team_s, team_n, pop, self.k_team)
        known_team = (team_row >= 0)[:, None]
        prior = np.where(known_team, team[np.maximum(team_row, 0)], pop)
        known = (stats_row >= 0)[:, None]
        n = np.where(known, self.trials[np.maximum(stats_row, 0)], 0.0)
        s = np.where(known, self.successes[np.maximum(stats_row, 0)], 0.0)
        return shrink(s, n, prior, self.k_officer)

    def to_state(self) -> dict[str, Any]:
        return {"trials": self.trials, "successes": self.successes,
                "k_population": self.k_population, "k_team": self.k_team,
                "k_officer": self.k_officer, "global_rate": self.global_rate}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RateCounts:
        return cls(np.asarray(state["trials"], dtype=float),
                   np.asarray(state["successes"], dtype=float),
                   float(state["k_population"]), float(state["k_team"]),
                   float(state["k_officer"]), float(state["global_rate"]))


def _by_team(per_officer: np.ndarray, team_of: np.ndarray, n_teams: int) -> np.ndarray:
    """(T, C) sums over the officers of each team; officers without a team (-1) are left out."""
    out = np.zeros((n_teams, per_officer.shape[1]))
    has = team_of >= 0
    np.add.at(out, team_of[has], per_officer[has])
    return out


@dataclass(frozen=True)
class DelayCounts:
    """Sums of log(1 + delay in seconds) by officer and officer-local hour of assignment, each
    (O, 24), and the shrinkage strength for officer means around the hourly population mean."""

    sums: np.ndarray
    sums_sq: np.ndarray
    counts: np.ndarray
    k_officer: float

    @classmethod
    def fit(cls, officer_idx: np.ndarray, hours: np.ndarray, delay_s: np.ndarray,
            n_officers: int) -> DelayCounts:
        seen = ~np.isnan(delay_s)
        flat = officer_idx[seen] * HOURS + hours[seen]
        size = n_officers * HOURS
        x = np.log1p(delay_s[seen])
        sums = np.bincount(flat, weights=x, minlength=size).reshape(n_officers, HOURS)
        sq = np.bincount(flat, weights=x * x, minlength=size).reshape(n_officers, HOURS)
        counts = np.bincount(flat, minlength=size).reshape(n_officers, HOURS).astype(float)
        pop = _hourly_population(sums, counts)
        k = normal_prior_strength(sums, sq, counts, np.broadcast_to(pop, sums.shape))
        return cls(sums, sq, counts, k)

    def expected(self, stats_row: np.ndarray) -> np.ndarray:
        """(M, 24) expected log(1 + delay s) for M officers (``stats_row`` -1: no record).

        Each officer's hour starts at the population's mean for that hour plus the officer's
        own overall offset (itself shrunk), so an officer who is slow at every hour they have
        been seen is expected to be slow at an hour they have not.
        """
        pop = _hourly_population(self.sums, self.counts)
        known = (stats_row >= 0)[:, None]
        sums = np.where(known, self.sums[np.maximum(stats_row, 0)], 0.0)
        counts = np.where(known, self.counts[np.maximum(stats_row, 0)], 0.0)
        k = self.k_officer
        offset = (sums - counts * pop).sum(1) / (counts.sum(1) + k)
        prior = pop[None, :] + offset[:, None]
        return (sums + k * prior) / (counts + k)

    def to_state(self) -> dict[str, Any]:
        return {"sums": self.sums, "sums_sq": self.sums_sq, "counts": self.counts,
                "k_officer": self.k_officer}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DelayCounts:
        return cls(np.asarray(state["sums"], dtype=float), np.asarray(state["sums_sq"],
                   dtype=float), np.asarray(state["counts"], dtype=float),
                   float(state["k_officer"]))


def _hourly_population(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(24,) mean log delay by hour, hours with few contacts pulled toward the overall mean
    (a fixed prior worth 5 contacts: hours differ by more than officers do, so little pull)."""
    total_n = counts.sum()
    if total_n == 0:
        return np.zeros(HOURS)
    grand = sums.sum() / total_n
    return (sums.sum(0) + 5.0 * grand) / (counts.sum(0) + 5.0)


@dataclass(frozen=True)
class HistoryStats:
    """What a model remembers of each officer's record, keyed by officer id and team name so
    it can be laid over any later roster (new officers start at their team's prior)."""

    officer_ids: tuple[str, ...]
    officer_teams: tuple[str, ...]
    rate_all: RateCounts
    rate_program: RateCounts
    rate_source: RateCounts
    rate_reached: RateCounts
    delay: DelayCounts
    median_open_leads: float

    @classmethod
    def fit(cls, roster: Roster, officer_idx: np.ndarray, y: np.ndarray, block: LeadBlock,
            lead_rows: np.ndarray, hours: np.ndarray, delay_s: np.ndarray,
            open_leads: np.ndarray, n_sources: int, reached: np.ndarray) -> HistoryStats:
        """Counts from history rows: row ``j`` is lead ``lead_rows[j]`` of ``block`` handled by
        roster officer ``officer_idx[j]`` at officer-local hour ``hours[j]``; ``reached[j]``
        says whether a contact attempt reached the borrower (the ``contacted`` column).

        ``rate_reached`` counts the target among reached leads only: how well the officer
        converts a borrower once in conversation, apart from how fast they call (which the
        delay and time features carry), so a slow but able officer is not read as unable."""
        m = len(roster)
        teams = tuple(sorted({o.team for o in roster.officers}))
        team_index = {t: i for i, t in enumerate(teams)}
        team_of = np.array([team_index[o.team] for o in roster.officers], dtype=np.int64)
        zeros = np.zeros(len(officer_idx), dtype=np.int64)
        fit = RateCounts.fit
        return cls(
            officer_ids=roster.ids_tuple,
            officer_teams=tuple(o.team for o in roster.officers),
            rate_all=fit(officer_idx, zeros, y, m, 1, team_of, len(teams)),
            rate_program=fit(officer_idx, block.program[lead_rows], y, m, len(PROGRAMS),
                             team_of, len(teams)),
            rate_source=fit(officer_idx, block.source_slot[lead_rows], y, m, n_sources + 1,
                            team_of, len(teams)),
            rate_reached=fit(officer_idx[reached], zeros[reached], y[reached], m, 1, team_of,
                             len(teams)),
            delay=DelayCounts.fit(officer_idx, hours, delay_s, m),
            median_open_leads=float(np.median(open_leads)) if open_leads.size else 0.0,
        )

    def bind(self, roster: Roster) -> OfficerTables:
        """The officer-side tables for ``roster`` (any roster: officers are matched by id,
        teams by name; an officer or team without a record starts at the level above)."""
        teams = tuple(sorted(set(self.officer_teams)))
        team_index = {t: i for i, t in enumerate(teams)}
        team_of = np.array([team_index[t] for t in self.officer_teams], dtype=np.int64)
        own = {oid: i for i, oid in enumerate(self.officer_ids)}
        stats_row = np.array([own.get(o.officer_id, -1) for o in roster.officers], dtype=np.int64)
        team_row = np.array([team_index.get(o.team, -1) for o in roster.officers],
                            dtype=np.int64)
        nt = len(teams)
        has = np.array([[s in o.specialties for s in MATCHED_SPECIALTIES]
                        for o in roster.officers], dtype=bool).reshape(len(roster), -1)
        return OfficerTables(
            roster=roster,
            has=has,
            rate_all=self.rate_all.rates(stats_row, team_row, team_of, nt)[:, 0],
            rate_program=self.rate_program.rates(stats_row, team_row, team_of, nt),
            rate_source=self.rate_source.rates(stats_row, team_row, team_of, nt),
            rate_reached=self.rate_reached.rates(stats_row, team_row, team_of, nt)[:, 0],
            delay=self.delay.expected(stats_row),
            default_open_leads=self.median_open_leads,
        )

    def to_state(self) -> dict[str, Any]:
        return {"officer_ids": list(self.officer_ids), "officer_teams": list(self.officer_teams),
                "rate_all": self.rate_all.to_state(),
                "rate_program": self.rate_program.to_state(),
                "rate_source": self.rate_source.to_state(),
                "rate_reached": self.rate_reached.to_state(), "delay": self.delay.to_state(),
                "median_open_leads": self.median_open_leads}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HistoryStats:
        return cls(
            tuple(str(x) for x in state["officer_ids"]),
            tuple(str(x) for x in state["officer_teams"]),
            RateCounts.from_state(state["rate_all"]),
            RateCounts.from_state(state["rate_program"]),
            RateCounts.from_state(state["rate_source"]),
            RateCounts.from_state(state["rate_reached"]),
            DelayCounts.from_state(state["delay"]),
            float(state["median_open_leads"]),
        )


@dataclass
class OfficerTables:
    """Officer-side feature blocks for one roster (M officers), computed once and reused.

    ``has`` (M, S) specialties; ``rate_all`` (M,); ``rate_program`` (M, len(PROGRAMS));
    ``rate_source`` (M, sources + 1); ``rate_reached`` (M,); ``delay`` (M, 24) expected
    log(1 + delay s) by officer-local hour.
    """

    roster: Roster
    has: np.ndarray
    rate_all: np.ndarray
    rate_program: np.ndarray
    rate_source: np.ndarray
    rate_reached: np.ndarray
    delay: np.ndarray
    default_open_leads: float
    _speaks: dict[str, np.ndarray] = field(default_factory=dict)
    logit_rate_all: np.ndarray = field(init=False)
    logit_rate_program: np.ndarray = field(init=False)
    logit_rate_source: np.ndarray = field(init=False)
    logit_rate_reached: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.logit_rate_all = _logit(self.rate_all)
        self.logit_rate_program = _logit(self.rate_program)
        self.logit_rate_source = _logit(self.rate_source)
        self.logit_rate_reached = _logit(self.rate_reached)

    def speaks(self, language: str) -> np.ndarray:
        """(M,) bool: officers who speak ``language`` (cached per language)."""
        found = self._speaks.get(language)
        if found is None:
            found = np.array([language in o.languages for o in self.roster.officers], dtype=bool)
            self._speaks[language] = found
        return found


def officer_local_hours(moments_s: np.ndarray, officer_idx: np.ndarray,
                        roster: Roster) -> np.ndarray:
    """(N,) int64 hour of day (0-23) at POSIX time ``moments_s[i]`` in the timezone of roster
    officer ``officer_idx[i]``."""
    return officer_local_clock(moments_s, officer_idx, roster)[0]


def officer_local_clock(moments_s: np.ndarray, officer_idx: np.ndarray, roster: Roster
                        ) -> tuple[np.ndarray, np.ndarray]:
    """((N,) hour of day 0-23, (N,) minute of the week from Monday 00:00) at POSIX time
    ``moments_s[i]`` in the timezone of roster officer ``officer_idx[i]``."""
    hours = np.empty(len(moments_s), dtype=np.int64)
    minutes = np.empty(len(moments_s), dtype=np.int64)
    group = np.empty(len(roster), dtype=np.int64)
    for g, (_, members) in enumerate(roster.tz_groups):
        group[members] = g
    row_group = group[officer_idx]
    for g, (tz, _) in enumerate(roster.tz_groups):
        rows = np.flatnonzero(row_group == g)
        if rows.size:
            stamps = pd.to_datetime(moments_s[rows], unit="s", utc=True).tz_convert(tz)
            hours[rows] = np.asarray(stamps.hour, dtype=np.int64)
            minutes[rows] = (np.asarray(stamps.day_of_week, dtype=np.int64) * 1440
                             + hours[rows] * 60 + np.asarray(stamps.minute, dtype=np.int64))
    return hours, minutes


def wait_to_shift_s(roster: Roster, officer_idx: np.ndarray, minute_of_week: np.ndarray
                    ) -> np.ndarray:
    """(N,) seconds until roster officer ``officer_idx[i]`` is next on shift from local
    ``minute_of_week[i]`` (0 while on shift; a week for someone with no working hours)."""
    minutes = roster.next_open[officer_idx, minute_of_week].astype(float)
    return np.where(minutes == NEVER_OPENS, WEEK_S, minutes * 60.0)


def borrower_local_time(moments_s: np.ndarray, timezones: Sequence[str]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """((N,) local hour as a fraction of the day in hours, 0-24; (N,) weekday, Monday 0) at
    ``moments_s[i]`` in the borrower's timezone ``timezones[i]`` (from the lead's ZIP)."""
    hours = np.empty(len(moments_s), dtype=float)
    weekday = np.empty(len(moments_s), dtype=np.int64)
    zones = np.asarray(timezones, dtype=object)
    for tz in set(timezones):
        rows = np.flatnonzero(zones == tz)
        stamps = pd.to_datetime(moments_s[rows], unit="s", utc=True).tz_convert(tz)
        hours[rows] = np.asarray(stamps.hour + stamps.minute / 60.0, dtype=float)
        weekday[rows] = np.asarray(stamps.day_of_week, dtype=np.int64)
    return hours, weekday


@dataclass(frozen=True)
class Timing:
    """The moment of the decision for P pairs, each (P,): the lead's age in seconds (decision
    time minus ``received_at``, never below 0), seconds until the officer is on shift, and the
    borrower's local hour (0-24) and weekday (Monday 0)."""

    age_s: np.ndarray
    shift_wait_s: np.ndarray
    borrower_hour: np.ndarray
    borrower_weekday: np.ndarray

    @classmethod
    def at(cls, now_s: np.ndarray, block: LeadBlock, lead_rows: np.ndarray,
           officer_rows: np.ndarray, roster: Roster, officer_minute: np.ndarray) -> Timing:
        """Timing of lead ``lead_rows[j]`` with roster officer ``officer_rows[j]`` at POSIX
        ``now_s[j]``, the officer's local minute of the week then being
        ``officer_minute[j]``."""
        hour, weekday = borrower_local_time(now_s, [block.timezone[i] for i in lead_rows])
        return cls(np.maximum(now_s - block.received_s[lead_rows], 0.0),
                   wait_to_shift_s(roster, officer_rows, officer_minute), hour, weekday)

    def take(self, rows: np.ndarray) -> Timing:
        """The timing of pairs ``rows`` (an index or boolean array)."""
        return Timing(self.age_s[rows], self.shift_wait_s[rows], self.borrower_hour[rows],
                      self.borrower_weekday[rows])

    def columns(self, expected_log_delay_s: np.ndarray) -> np.ndarray:
        """(P, len(TIME_FEATURES)) columns, given each pair's expected log(1 + response s)."""
        expected_wait = self.age_s + self.shift_wait_s + np.expm1(expected_log_delay_s)
        angle = 2.0 * np.pi * self.borrower_hour / 24.0
        return np.column_stack((
            np.log1p(self.age_s), np.log1p(self.shift_wait_s), np.log1p(expected_wait),
            np.sin(angle), np.cos(angle), self.borrower_weekday,
            self.borrower_weekday >= 5,
        ))


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q) - np.log1p(-q))


def assemble(block: LeadBlock, lead_rows: np.ndarray, officer_rows: np.ndarray,
             tables: OfficerTables, hours: np.ndarray, open_leads: np.ndarray,
             timing: Timing) -> np.ndarray:
    """(P, F) float64 features for P pairs: lead ``lead_rows[j]`` of ``block`` with officer
    ``officer_rows[j]`` of ``tables``, at that officer's local ``hours[j]`` (int, 0-23) with
    ``open_leads[j]`` open leads, at the decision moment ``timing``. Columns are
    ``feature_names(vocab)`` for the vocabulary the block was built with
    (``n_sources``/``n_languages`` slots include "other")."""
    p = len(lead_rows)
    li, oi = lead_rows, officer_rows
    n_src, n_lang = tables.rate_source.shape[1], block.n_language_slots
    widths = (n_src, len(PURPOSES), len(PROGRAMS), n_lang)
    one_hot = sum(widths)
    x = np.zeros((p, one_hot + len(NUMERIC_FEATURES)), dtype=float)
    program = block.program[li]
    source = block.source_slot[li]
    rows = np.arange(p)
    start = 0
    for width, codes in zip(widths, (source, block.purpose[li], program,
                                     block.language_slot[li]), strict=True):
        x[rows, start + codes] = 1.0
        start += width
    j = one_hot
    x[:, j : j + block.numeric.shape[1]] = block.numeric[li]
    j += block.numeric.shape[1]
    x[:, j : j + len(MATCHED_SPECIALTIES)] = block.needs[li] & tables.has[oi]
    j += len(MATCHED_SPECIALTIES)
    languages = block.language
    if len(set(languages)) == 1:
        x[:, j] = tables.speaks(languages[0])[oi]
    else:
        lead_language = np.asarray(languages, dtype=object)[li]
        for language in set(languages):
            chosen = lead_language == language
            x[chosen, j] = tables.speaks(language)[oi[chosen]]
    x[:, j + 1] = tables.logit_rate_all[oi]
    x[:, j + 2] = tables.logit_rate_program[oi, program]
    x[:, j + 3] = tables.logit_rate_source[oi, source]
    x[:, j + 4] = tables.logit_rate_reached[oi]
    x[:, j + 5] = open_leads
    delay = tables.delay[oi, hours]
    x[:, j + 6] = delay
    x[:, j + 7:] = timing.columns(delay)
    return x
