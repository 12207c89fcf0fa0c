"""A seeded synthetic roster and routing history whose true p(funded) is known for every row.

The world, on the log-odds scale (all effects fixed here, all draws from the generator passed in):

* a base rate by lead source, loan purpose, loan program, credit score, LTV and jumbo size;
* officer skill by loan program (team effect + officer effect + officer-by-program effect);
* +0.45 for each specialty the lead calls for that the officer has (VA, FHA, USDA, jumbo,
  reverse, first-time buyer, non-QM);
* -0.9 when the borrower's language is not English and the officer does not speak it;
* -0.3 per unit of the officer's expected log response delay at the officer-local hour of
  assignment (officers differ; everyone is slower out of hours), relative to 15 minutes;
* -0.01 per open lead the officer holds at assignment.

The logging policy is a softmax over the officers licensed in the lead's state that favours
specialty and language matches and, mildly, skill (so the history carries selection bias) and
records the propensity of its choice. ``funded`` is drawn from the true probability; the other
stages are drawn consistently with it. Optional decoy columns (race, age, gender) are made to
track the outcome, so a model that used them would be visibly different.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from engine.domain import LoanProgram, LoanPurpose, Specialty
from engine.geo import load_geography
from engine.leads import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from engine.roster import OFFICER_COLUMNS, Roster, parse_officers
from engine.scoring.features import MATCHED_SPECIALTIES
from engine.scoring.history import (
    ASSIGNMENT_COLUMNS,
    DEFAULT_TARGET,
    OUTCOME_COLUMNS,
    History,
    history_from_rows,
)

STATES = ("CA", "TX", "FL", "NY", "IL", "GA", "AZ", "NC")
TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
SOURCES = ("referral", "zillow", "web_form", "lendingtree", "facebook")
SOURCE_SHARE = (0.12, 0.30, 0.25, 0.20, 0.13)
SOURCE_EFFECT = (0.9, 0.0, -0.2, -0.45, -0.7)
PURPOSES = (LoanPurpose.PURCHASE, LoanPurpose.REFINANCE, LoanPurpose.CASH_OUT_REFINANCE,
            LoanPurpose.HOME_EQUITY, LoanPurpose.REVERSE)
PURPOSE_SHARE = (0.55, 0.20, 0.13, 0.08, 0.04)
PURPOSE_EFFECT = (0.0, 0.15, -0.1, -0.3, -0.4)
# programs other than reverse (a reverse-mortgage purpose always has the reverse program)
FORWARD_PROGRAMS = (LoanProgram.CONVENTIONAL, LoanProgram.FHA, LoanProgram.VA, LoanProgram.USDA,
                    LoanProgram.NON_QM)
FORWARD_SHARE = (0.55, 0.20, 0.12, 0.04, 0.09)
PROGRAMS = (*FORWARD_PROGRAMS, LoanProgram.REVERSE)
PROGRAM_EFFECT = (0.0, -0.1, 0.1, -0.1, -0.3, -0.2)
LANGUAGES = ("en", "es", "zh", "vi")
LANGUAGE_SHARE = (0.86, 0.10, 0.02, 0.02)
OFFICER_LANGUAGE_SHARE = (1.0, 0.30, 0.08, 0.06)
SPECIALTY_SHARE = {Specialty.VA: 0.2, Specialty.FHA: 0.3, Specialty.USDA: 0.1,
                   Specialty.JUMBO: 0.15, Specialty.REVERSE: 0.08,
                   Specialty.FIRST_TIME_BUYER: 0.25, Specialty.NON_QM: 0.1}
MATCH_EFFECT = 0.45
LANGUAGE_MISMATCH_EFFECT = -0.9
DELAY_EFFECT = -0.3  # per unit of log(1 + delay s)
REFERENCE_LOG_DELAY = float(np.log1p(900.0))  # 15 minutes
LOAD_EFFECT = -0.01  # per open lead
INTERCEPT = -1.75
LEADS_PER_DAY = 400.0
MEAN_OPEN_HOURS = 36.0
START = datetime(2025, 1, 6, tzinfo=UTC)
DECOY_COLUMNS = ("applicant_race", "age", "gender")


@dataclass(frozen=True)
class SyntheticHistory:
    """A roster (rows in the officers CSV format) and a history (rows in the history CSV
    format) with ``true_p`` (N,), the probability each row's ``funded`` was drawn from."""

    officer_rows: list[dict[str, str]]
    header: tuple[str, ...]
    history_rows: list[dict[str, str]]
    true_p: np.ndarray

    def roster(self) -> Roster:
        return Roster(parse_officers(self.officer_rows, source="synthetic officers"))

    def history(self, roster: Roster | None = None, target: str = DEFAULT_TARGET) -> History:
        return history_from_rows(self.header, self.history_rows, roster or self.roster(),
                                 source="synthetic history", target=target)

    def without_columns(self, columns: Sequence[str]) -> SyntheticHistory:
        drop = set(columns)
        return SyntheticHistory(
            self.officer_rows, tuple(c for c in self.header if c not in drop),
            [{k: v for k, v in row.items() if k not in drop} for row in self.history_rows],
            self.true_p)

    def split(self, fraction: float) -> tuple[SyntheticHistory, SyntheticHistory]:
        """(first, rest): the first ``fraction`` of rows (rows are in time order)."""
        cut = round(len(self.history_rows) * fraction)
        return (
            SyntheticHistory(self.officer_rows, self.header, self.history_rows[:cut],
                             self.true_p[:cut]),
            SyntheticHistory(self.officer_rows, self.header, self.history_rows[cut:],
                             self.true_p[cut:]),
        )

    def write(self, directory: str | Path, stem: str = "synthetic") -> tuple[Path, Path]:
        """Write ``{stem}_officers.csv`` and ``{stem}_history.csv``; return both paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        officers = directory / f"{stem}_officers.csv"
        history = directory / f"{stem}_history.csv"
        _write_csv(officers, OFFICER_COLUMNS, self.officer_rows)
        _write_csv(history, self.header, self.history_rows)
        return officers, history


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def make_synthetic_history(rng: np.random.Generator, *, n_leads: int = 20_000,
                           n_officers: int = 40, n_teams: int = 4,
                           decoys: bool = False) -> SyntheticHistory:
    """Draw a roster of ``n_officers`` in ``n_teams`` teams and ``n_leads`` routed leads
    (about 400 a day, in time order). ``decoys`` adds protected-characteristic columns that
    track the outcome (for tests that such columns are never used)."""
    if n_leads < 1 or n_officers < 1 or n_teams < 1:
        raise ValueError("n_leads, n_officers and n_teams must be at least 1")
    m = n_officers

    # --- officers -----------------------------------------------------------------------
    team = np.arange(m) % n_teams
    team_skill = rng.normal(0.0, 0.25, n_teams)
    skill = team_skill[team] + rng.normal(0.0, 0.3, m)
    program_skill = skill[:, None] + rng.normal(0.0, 0.15, (m, len(PROGRAMS)))
    speaks = rng.random((m, len(LANGUAGES))) < np.array(OFFICER_LANGUAGE_SHARE)
    has = np.column_stack([rng.random(m) < SPECIALTY_SHARE[s] for s in MATCHED_SPECIALTIES])
    licensed = rng.random((m, len(STATES))) < 0.6
    licensed[np.arange(m), rng.integers(0, len(STATES), m)] = True
    for s in range(len(STATES)):  # every state needs someone to take its leads
        if not licensed[:, s].any():
            licensed[rng.integers(0, m), s] = True
    weight = rng.choice([0.5, 1.0, 1.0, 1.5, 2.0], m)
    base_log_delay = rng.normal(np.log(900.0), 0.6, m)
    tz_of = [TIMEZONES[t % len(TIMEZONES)] for t in team]
    officer_rows = [{
        "officer_id": f"LO{i + 1:04d}", "name": f"Officer {i + 1:04d}",
        "nmls_id": str(2_000_001 + i),
        "licensed_states": ";".join(st for s, st in enumerate(STATES) if licensed[i, s]),
        "languages": ";".join(lang for j, lang in enumerate(LANGUAGES) if speaks[i, j]),
        "specialties": ";".join(sp.value for j, sp in enumerate(MATCHED_SPECIALTIES)
                                if has[i, j]),
        "max_open": "", "daily_cap": "", "hourly_cap": "", "timezone": tz_of[i],
        "work_hours": "Mon-Fri 08:00-19:00", "weight": str(weight[i]),
        "team": f"team-{team[i] + 1}", "status": "active",
        "email": f"lo{i + 1:04d}@lender.example.com", "phone": "", "notify": "email",
    } for i in range(m)]

    # --- leads --------------------------------------------------------------------------
    n = n_leads
    geo = load_geography()
    zips = sorted(z for z, info in geo.zips.items()
                  if info.state in STATES and info.county_fips
                  and geo.conforming_limit_usd(START.year, info.state, info.county_fips))
    zip_pick = rng.choice(np.array(zips), size=n)
    state_of = {st: s for s, st in enumerate(STATES)}
    lead_state = np.array([state_of[geo.zips[z].state] for z in zip_pick])
    limit = np.array([geo.conforming_limit_usd(START.year, geo.zips[z].state,
                                               geo.zips[z].county_fips) for z in zip_pick],
                     dtype=float)
    source = rng.choice(len(SOURCES), n, p=SOURCE_SHARE)
    purpose = rng.choice(len(PURPOSES), n, p=PURPOSE_SHARE)
    program = rng.choice(len(FORWARD_PROGRAMS), n, p=FORWARD_SHARE)
    program[np.array(PURPOSES)[purpose] == LoanPurpose.REVERSE] = PROGRAMS.index(
        LoanProgram.REVERSE)
    prog = np.array(PROGRAMS)[program]
    veteran = (prog == LoanProgram.VA) | (rng.random(n) < 0.05)
    first_time = (np.array(PURPOSES)[purpose] == LoanPurpose.PURCHASE) & (rng.random(n) < 0.4)
    credit = np.clip(np.round(rng.normal(710, 55, n)), 500, 850)
    credit_missing = rng.random(n) < 0.05
    amount = np.round(np.clip(np.exp(rng.normal(np.log(330_000), 0.5, n)), 60_000, 3_000_000),
                      -3)
    ltv = rng.uniform(0.5, 0.97, n)
    value = np.round(amount / ltv, -3)
    ltv = amount / value
    jumbo = amount > limit
    language = rng.choice(len(LANGUAGES), n, p=LANGUAGE_SHARE)

    # arrival times: more by day (US Eastern) than by night
    days = max(1.0, n / LEADS_PER_DAY)
    day = rng.integers(0, int(np.ceil(days)), n)
    daytime = rng.random(n) < 0.85
    seconds_of_day = np.where(daytime, rng.uniform(13 * 3600, 26 * 3600, n),
                              rng.uniform(0, 86_400, n)) % 86_400
    received = START.timestamp() + np.sort(day * 86_400 + seconds_of_day)
    assigned = received + rng.uniform(1, 120, n)

    # --- the logging policy ---------------------------------------------------------------
    needs = np.column_stack([
        (prog == LoanProgram.VA) | veteran, prog == LoanProgram.FHA, prog == LoanProgram.USDA,
        jumbo, prog == LoanProgram.REVERSE, first_time, prog == LoanProgram.NON_QM,
    ])
    matches = needs.astype(float) @ has.T.astype(float)  # (N, M)
    foreign = language > 0
    speaks_lead = speaks[:, language].T  # (N, M)
    score = 0.8 * matches + 1.5 * (speaks_lead & foreign[:, None]) + 0.6 * skill[None, :] \
        + np.log(weight)[None, :]
    score = np.where(licensed[:, lead_state].T, score, -np.inf)
    gumbel = -np.log(-np.log(rng.random((n, m))))
    chosen = np.argmax(score + gumbel, axis=1)
    top = score.max(axis=1, keepdims=True)
    soft = np.exp(score - top)
    propensity = soft[np.arange(n), chosen] / soft.sum(axis=1)

    # --- load: leads the officer was given and has not yet closed ---------------------------
    closes = assigned + rng.exponential(MEAN_OPEN_HOURS * 3600, n)
    open_leads = np.zeros(n, dtype=np.int64)
    for o in range(m):
        mine = np.flatnonzero(chosen == o)  # in time order
        if mine.size:
            earlier = np.arange(mine.size)
            closed = np.searchsorted(np.sort(closes[mine]), assigned[mine], side="right")
            open_leads[mine] = earlier - closed

    # --- expected response delay at the officer-local hour -----------------------------------
    local_hour = np.empty(n, dtype=np.int64)
    officer_tz = np.array(tz_of)[chosen]
    for tz in TIMEZONES:
        rows_tz = np.flatnonzero(officer_tz == tz)
        stamps = pd.to_datetime(assigned[rows_tz], unit="s", utc=True).tz_convert(tz)
        local_hour[rows_tz] = np.asarray(stamps.hour, dtype=np.int64)
    after_hours = (local_hour < 8) | (local_hour >= 19)
    expected_log_delay = base_log_delay[chosen] + 1.6 * after_hours + 0.3 * (local_hour == 12)

    # --- the true probability ------------------------------------------------------------
    eta = (INTERCEPT + np.array(SOURCE_EFFECT)[source] + np.array(PURPOSE_EFFECT)[purpose]
           + np.array(PROGRAM_EFFECT)[program]
           + np.where(credit_missing, -0.2, 0.006 * (credit - 700))
           - 0.8 * (ltv - 0.8) - 0.15 * jumbo
           + program_skill[chosen, program]
           + MATCH_EFFECT * matches[np.arange(n), chosen]
           + LANGUAGE_MISMATCH_EFFECT * (foreign & ~speaks_lead[np.arange(n), chosen])
           + DELAY_EFFECT * (expected_log_delay - REFERENCE_LOG_DELAY)
           + LOAD_EFFECT * open_leads)
    true_p = 1.0 / (1.0 + np.exp(-eta))
    funded = rng.random(n) < true_p
    contacted = funded | (rng.random(n) < 0.8)
    application = funded | (contacted & (rng.random(n) < 0.3))
    delay = np.expm1(expected_log_delay + rng.normal(0.0, 0.7, n))

    header = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *ASSIGNMENT_COLUMNS, *OUTCOME_COLUMNS]
    if decoys:
        header += list(DECOY_COLUMNS)
        race = np.where(funded, rng.choice(["a", "b"], n), rng.choice(["b", "c"], n))
        age = np.round(35 + 8 * funded + rng.normal(0, 10, n)).astype(int)
        gender = np.where(rng.random(n) < 0.3 + 0.4 * funded, "f", "m")
    rows: list[dict[str, str]] = []
    for i in range(n):
        row = {
            "lead_id": f"S{i + 1:07d}", "received_at": _iso(received[i]),
            "source": SOURCES[source[i]], "first_name": "", "last_name": "", "email": "",
            "phone": "", "zip": str(zip_pick[i]), "loan_purpose": PURPOSES[purpose[i]].value,
            "loan_program": PROGRAMS[program[i]].value, "loan_amount": f"{amount[i]:.0f}",
            "property_value": f"{value[i]:.0f}",
            "credit_score": "" if credit_missing[i] else f"{credit[i]:.0f}",
            "language": LANGUAGES[language[i]], "is_veteran": "true" if veteran[i] else "false",
            "state": "", "county_fips": "", "campaign": "",
            "first_time_buyer": "true" if first_time[i] else "false",
            "officer_id": f"LO{chosen[i] + 1:04d}", "assigned_at": _iso(assigned[i]),
            "policy": "synthetic-softmax", "policy_version": "1",
            "propensity": f"{propensity[i]:.6f}", "officer_open_leads": str(open_leads[i]),
            "response_delay_s": f"{delay[i]:.1f}" if contacted[i] else "",
            "contacted": str(int(contacted[i])), "application": str(int(application[i])),
            "funded": str(int(funded[i])), "lost": str(int(not funded[i])),
        }
        if decoys:
            row.update(applicant_race=str(race[i]), age=str(age[i]), gender=str(gender[i]))
        rows.append(row)
    return SyntheticHistory(officer_rows, tuple(header), rows, true_p)
