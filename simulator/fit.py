"""What-if from a history alone: fit a scenario (``world.kind: fitted``) to a routing history.

``fit_scenario(history, officers)`` reads a history in the format the scoring model trains on
(docs/scoring.md: what ``leadroute simulate`` writes as history.csv and what the API's
``GET /v1/history.csv`` exports) and the roster, and fits every part of a world the simulator
needs, in the world's own factorized form (docs/simulator.md, "The world"):

- **arrivals**: leads per hour by weekday and hour of day (the scenario's timezone); the
  scenario replays the history's own leads at their times by default, or every lead received
  (``received``: worked or not, the route command's input format): a lead the logging policy
  never worked is load every candidate faces, and where a backlog left many unworked the
  history's leads alone understate it;
- **response times**: log response = officer effect + hour-of-day effect (officer-local hour
  when the response starts) + log(1 + slope x open leads) + normal noise, the officer effects
  shrunk to their team's by empirical Bayes; fitted on every recorded first attempt (reached
  or not), truncated at the SLA, with the tied-up tail taken apart as a mixture (its share
  from the time-outs the waits show, then, where the caller can run the fitted world,
  calibrated by simulating the logging policy in it: ``calibrate_tied_up``). Where a
  history records the attempt only when it reached the borrower, the rows that show one are
  weighted by the inverse of their chance of showing it (the fit alternates with the contact
  stage);
- **contact**: each source's best-case contact-and-qualify rate and the response decay (odds
  multipliers at fixed delays, non-increasing), by maximum likelihood at the recorded delays;
  a row with none integrates over the fitted response distribution of its officer at that
  hour and load;
- **application**: a logistic regression on contacted leads (lead attributes, specialty and
  language match, officer and team effects), bootstrapped (``simulator.outcome``);
- **funding**: the funded share of applications by loan program, shrunk to the overall share.

Shifts, caps, licences and languages come from the roster as they are. ``write_scenario``
writes the scenario folder that ``leadroute simulate --scenario DIR/scenario.yaml`` runs.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import minimize
from scipy.special import expit, log_expit, softplus
from scipy.stats import poisson
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from engine.domain import Lead
from engine.errors import InputError, Problem
from engine.io import load_roster, read_csv_rows, read_leads, spreadsheet_safe
from engine.leads import LeadParser
from engine.roster import Roster, zone
from engine.scoring.history import MAX_LISTED_PROBLEMS, History, load_history
from simulator.clock import OfficerClock
from simulator.outcome import STAGES, ApplicationModel, lead_matrix, pair_tensors
from simulator.params import PROGRAMS, ResponseParams
from simulator.streams import lead_row

# delays (s) of the fitted decay's knots: g = 1 up to the first, flat after the last
DECAY_KNOTS_S: tuple[float, ...] = (300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
                                    259200.0)
# Gauss-Legendre nodes on (0, 1): quantiles of a response distribution and their weights
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_GL_PROB, _GL_WEIGHTS = (_GL_X + 1.0) / 2.0, _GL_W / 2.0
_LOAD_SLOPES = (0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.08, 0.12)
_MAX_IPW = 50.0  # cap of a contacted row's weight in the response fit
_FUNDING_PRIOR_ROWS = 20.0  # pseudo-applications behind the overall funded share
_MIN_MULTIPLIER = 1e-6  # the decay's floor (a scenario's knots must be > 0)
_APPLICATION_CS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # inverse L2 strengths tried
_UNPENALIZED_SCALE = 10.0  # lead and match columns: a hundredth of the officers' penalty
MIN_CONTACTED = 30
MIN_RECORDED_ATTEMPTS = 30  # rows with response_delay_s the response fit needs
_NEIGHBOURHOOD_S = 300.0  # waits either side of a pile that say what chance puts in it
THIN_OFFICER_ROWS = 10  # contacted leads below which an officer's effect is mostly the team's
SIMULATOR_RUN_COLUMNS = ("replication", "simulated_policy")


@dataclass(frozen=True)
class FitOptions:
    """timezone: of the arrival seasonality and the window (None: the roster's most common
    officer timezone). bootstrap: members of the application model (replication k of a run
    uses member k mod B). seed: of the bootstrap."""

    timezone: str | None = None
    bootstrap: int = 20
    seed: int = 0
    # inverse L2 strength of the application regression (None: chosen by 5-fold CV)
    application_c: float | None = None
    accept_within_s: float | None = None  # the logging policy's SLA (None: read off the waits)
    # simulation-based calibration of the tied-up share (``calibrate_tied_up``): on by
    # default where the caller can run the fitted world (simulator.fitcheck); off: the share
    # solved from the time-outs alone
    calibrate_tied_up: bool = True

    def __post_init__(self) -> None:
        if self.accept_within_s is not None and not self.accept_within_s > 0:
            raise ValueError(f"accept_within_s must be > 0 seconds, got {self.accept_within_s}")
        if not 1 <= self.bootstrap <= 1000:
            raise ValueError(f"bootstrap must be 1-1000 members, got {self.bootstrap}")
        if self.application_c is not None and not self.application_c > 0:
            raise ValueError(f"application_c must be > 0, got {self.application_c}")


@dataclass(frozen=True)
class ResponseFit:
    """median_s: (M,) each officer's median response at hour multiplier 1 and no load, s;
    hour_multipliers: 24; load_slope: per open lead; within_sigma: of log response;
    busy_probability and busy_mean_s: the tied-up tail (the world's); accept_within_s: the
    SLA the history was logged under (None: unknown); timeout_share: offers not accepted
    within it, as the history's waits show."""

    median_s: np.ndarray
    hour_multipliers: tuple[float, ...]
    load_slope: float
    within_sigma: float
    rows: int
    busy_probability: float = 0.0
    busy_mean_s: float = ResponseParams().busy_mean_s
    accept_within_s: float | None = None
    timeout_share: float = 0.0


@dataclass(frozen=True)
class ContactFit:
    """contact_rate_by_source: best-case contact-and-qualify rate; knots: (delay_s, odds
    multiplier) pairs of the fitted decay; log_likelihood of the fit."""

    contact_rate_by_source: dict[str, float]
    default_contact_rate: float
    knots: tuple[tuple[float, float], ...]
    log_likelihood: float


@dataclass(frozen=True)
class Coverage:
    """Where the application model's history is thin: its contacted rows (what the model is
    fitted on) with an officer who has the lead's specialty, who speaks the borrower's
    language (not English), who does not; and the officers with fewer than
    ``THIN_OFFICER_ROWS`` of them (``thin_officers``, of ``officers`` on the roster). A
    candidate policy that puts more of its leads there than the logging policy did is
    forecast from these rows: its interval carries their few, but not whatever they happen to
    show (docs/simulator.md, "What a month cannot show")."""

    contacted: int
    specialty_match: int
    language_match: int
    language_mismatch: int
    thin_officers: int
    officers: int

    def text(self) -> str:
        return (f"{self.specialty_match} with an officer who has the loan's specialty, "
                f"{self.language_match} with one who speaks the borrower's language (not "
                f"English), {self.language_mismatch} with one who does not; "
                f"{self.thin_officers} of {self.officers} officers on fewer than "
                f"{THIN_OFFICER_ROWS}")


def application_coverage(history: History, roster: Roster) -> Coverage:
    """The contacted rows behind each part of the application model (``Coverage``)."""
    rows = np.flatnonzero(history.outcomes["contacted"] == 1)
    o_idx = history.officer_idx[rows]
    counts = np.zeros(3)
    for o in np.unique(o_idx).tolist():  # each officer with their own leads: no (L, M) matrix
        mine = [history.leads[i] for i in rows[o_idx == o]]
        counts += [float(t.sum()) for t in pair_tensors(mine, [roster.officers[o]])]
    per_officer = np.bincount(o_idx, minlength=len(roster.officers))
    return Coverage(contacted=len(rows), specialty_match=int(counts[0]),
                    language_match=int(counts[1]), language_mismatch=int(counts[2]),
                    thin_officers=int((per_officer < THIN_OFFICER_ROWS).sum()),
                    officers=len(roster.officers))


@dataclass(frozen=True)
class FittedScenario:
    """Everything ``write_scenario`` needs (see the module docstring)."""

    history_path: Path
    roster_path: Path
    start: datetime
    days: int
    timezone: str
    leads: tuple[Lead, ...]
    arrivals_per_hour: np.ndarray  # (7, 24) leads per hour, Monday first
    hours_observed: np.ndarray  # (7, 24) hours of each kind in the window
    response: ResponseFit
    contact: ContactFit
    application: ApplicationModel
    funding_rate_by_program: dict[str, float]
    roster: Roster
    rows: int
    contacted: int
    applications: int
    funded: int
    # whether a caller that can run the fitted world should calibrate the tied-up share
    # (``calibrate_tied_up``; FitOptions.calibrate_tied_up)
    calibrate_tied_up: bool = True
    # where the application model's history is thin (None: not computed)
    coverage: Coverage | None = None


# ---------------------------------------------------------------------------- input


def _refuse_several_runs(path: Path) -> None:
    """A ``leadroute simulate`` history of several policies or replications holds each lead
    several times: refuse it with the column to filter on."""
    header, rows = read_csv_rows(path)
    if not header or not any(c in header for c in SIMULATOR_RUN_COLUMNS):
        return
    runs: dict[tuple[str, ...], int] = {}
    for k, row in enumerate(rows, start=2):
        key = tuple(str(row.get(c, "")) for c in SIMULATOR_RUN_COLUMNS if c in header)
        runs.setdefault(key, k)
        if len(runs) > 1:
            first = next(iter(runs))
            raise InputError(Problem(
                "row", f"{path.name}: row {k}, columns {', '.join(SIMULATOR_RUN_COLUMNS)}",
                f"the history holds more than one simulated run ({first} and {key}); a "
                "scenario is fitted to one run of one operation: keep the rows of one "
                "replication and policy"))


def load_received(path: str | Path, history: History) -> tuple[Lead, ...]:
    """Every lead received over the history's window, worked or not (``--leads``): a CSV in
    the ``leadroute route`` input format, in the order received. A row that fails validation
    or repeats a lead id is refused with its row and column (InputError listing up to
    ``MAX_LISTED_PROBLEMS``), and so is a file with fewer leads than the history worked or
    one whose first and last leads do not span the history's: it is meant to hold them
    all."""
    path = Path(path)
    if not path.is_file():
        raise InputError(Problem("file", str(path), "no such file (--leads)"))
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    kept: list[tuple[float, int, Lead]] = []
    for row in read_leads(path, LeadParser.default()):
        lead = row.lead
        if lead is None:
            errors = row.error.problems if row.error is not None else []
            problems.extend(errors[: max(0, MAX_LISTED_PROBLEMS - len(problems))])
            continue
        if lead.lead_id in first_row:
            problems.append(Problem("lead_id", lead.lead_id,
                                    f"repeats row {first_row[lead.lead_id]}",
                                    f"{path.name} row {row.number}"))
            continue
        first_row[lead.lead_id] = row.number
        kept.append((lead.received_at.timestamp(), row.number, lead))
    if problems:
        raise InputError(problems[:MAX_LISTED_PROBLEMS])
    worked = len({lead.lead_id for lead in history.leads})
    if len(kept) < worked:
        raise InputError(Problem("file", path.name,
                                 f"holds {len(kept)} leads, fewer than the {worked} the "
                                 "history worked; --leads is every lead received, worked or "
                                 "not"))
    kept.sort(key=lambda k: (k[0], k[1]))
    first = min(history.leads, key=lambda lead: lead.received_at).received_at
    last = max(history.leads, key=lambda lead: lead.received_at).received_at
    if kept[0][2].received_at > first or kept[-1][2].received_at < last:
        raise InputError(Problem(
            "received_at", f"{kept[0][2].received_at.isoformat()} to "
            f"{kept[-1][2].received_at.isoformat()}",
            f"the leads do not cover the history's, received {first.isoformat()} to "
            f"{last.isoformat()}; --leads is every lead received over the history's window",
            path.name))
    return tuple(lead for _, _, lead in kept)


def load_inputs(history_path: str | Path, officers_path: str | Path) -> tuple[History, Roster]:
    """The roster and the validated history (InputError: file, row and column)."""
    history_path, officers_path = Path(history_path), Path(officers_path)
    for path, flag in ((history_path, "--history"), (officers_path, "--officers")):
        if not path.is_file():
            raise InputError(Problem("file", str(path), f"no such file ({flag})"))
    roster = Roster(load_roster(officers_path))
    _refuse_several_runs(history_path)
    history = load_history(history_path, roster)
    if len(history) == 0:
        raise InputError(Problem("file", history_path.name, "holds no history rows"))
    contacted = int(history.outcomes["contacted"].sum())
    if contacted < MIN_CONTACTED:
        raise InputError(Problem("column", f"{history_path.name}: contacted",
                                 f"only {contacted} contacted leads; a fit needs at least "
                                 f"{MIN_CONTACTED}"))
    return history, roster


def _timezone(roster: Roster, given: str | None) -> str:
    if given is not None:
        try:
            zone(given)
        except Exception:  # zoneinfo raises several kinds of error for a bad name
            raise InputError(Problem("option", "--timezone", f"{given!r} is not an IANA "
                                     "timezone such as America/New_York")) from None
        return given
    names = [o.timezone for o in roster.officers]
    return max(sorted(set(names)), key=names.count)


# ---------------------------------------------------------------------------- arrivals


def fit_arrivals(leads: Sequence[Lead], start: datetime, days: int, tz: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(7, 24) leads per hour by local weekday (Monday first) and hour, and the hours of each
    kind in the window (a DST day has 23 or 25)."""
    where = zone(tz)
    counts = np.zeros((7, 24))
    for lead in leads:
        local = lead.received_at.astimezone(where)
        counts[local.weekday(), local.hour] += 1
    hours = np.zeros((7, 24))
    # stepped in UTC: an aware datetime's arithmetic in its own zone is wall-clock time, which
    # would count the hour skipped in spring and miss the one repeated in autumn
    moment = start.astimezone(UTC)
    end = moment + timedelta(days=days)
    while moment < end:
        t = moment.astimezone(where)
        hours[t.weekday(), t.hour] += 1
        moment += timedelta(hours=1)
    rate = np.divide(counts, hours, out=np.zeros_like(counts), where=hours > 0)
    return rate, hours


# ---------------------------------------------------------------------------- response


def _shrunk_group_means(resid: np.ndarray, w: np.ndarray, groups: np.ndarray, n_groups: int,
                        prior: np.ndarray) -> np.ndarray:
    """Weighted group means of ``resid`` shrunk toward ``prior`` (per group) by normal-normal
    empirical Bayes: k = within variance / between variance (method of moments)."""
    sw = np.bincount(groups, w, n_groups)
    swr = np.bincount(groups, w * resid, n_groups)
    n = np.bincount(groups, minlength=n_groups).astype(float)
    raw = np.divide(swr, sw, out=prior.copy(), where=sw > 0)
    within = float(np.average((resid - raw[groups]) ** 2, weights=w)) if len(resid) else 1.0
    seen = n > 1
    if seen.sum() < 2:
        return raw
    between = float(np.var(raw[seen] - prior[seen]) - np.mean(within / n[seen]))
    k = within / between if between > 1e-9 else np.inf
    share = n / (n + k) if np.isfinite(k) else np.zeros(n_groups)
    return prior + share * (raw - prior)


def _body_below(log_x: np.ndarray, m: np.ndarray, sigma: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """P(body < x) (N,) and the body's values at Gauss-Legendre nodes in probability on
    (0, P(body < x)) (N, K): the body's law below x, for the integrals over it."""
    from scipy.stats import norm

    below = norm.cdf((log_x - m) / sigma)
    z = norm.ppf(np.clip(_GL_PROB[None, :] * below[:, None], 1e-12, 1 - 1e-12))
    return below, np.exp(m[:, None] + sigma * z)


def _with_busy_density(log_r: np.ndarray, m: np.ndarray, sigma: float, busy_mean_s: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Densities at r = exp(log_r) of the log-normal body (N,) and of body + an exponential
    tied-up time (N,): the convolution, integrated over the body below r."""
    from scipy.stats import norm

    r = np.exp(log_r)
    body = norm.pdf(log_r, m, sigma) / r
    below, x = _body_below(log_r, m, sigma)
    tied = below * (np.exp(-(r[:, None] - x) / busy_mean_s) @ _GL_WEIGHTS) / busy_mean_s
    return body, tied


def _busy_posterior(log_r: np.ndarray, m: np.ndarray, sigma: float, busy: float,
                    busy_mean_s: float) -> np.ndarray:
    """(N,) the chance each response carries a tied-up time, given its value."""
    body, tied = _with_busy_density(log_r, m, sigma, busy_mean_s)
    both = (1.0 - busy) * body + busy * tied
    return np.divide(busy * tied, both, out=np.zeros_like(both), where=both > 0)


def _mixture_log_likelihood(log_r: np.ndarray, log_limit: np.ndarray, m: np.ndarray,
                            sigma: float, busy: float, busy_mean_s: float) -> np.ndarray:
    """(N,) log density of each response under body + (with ``busy``) a tied-up time, given
    that it came within its limit."""
    body, tied = _with_busy_density(log_r, m, sigma, busy_mean_s)
    finite = np.isfinite(log_limit)
    cap = np.where(finite, log_limit, m + 40.0 * sigma)
    below, x = _body_below(cap, m, sigma)
    tied_below = below * ((1.0 - np.exp(-(np.exp(cap)[:, None] - x) / busy_mean_s))
                          @ _GL_WEIGHTS)
    within = np.where(finite, (1.0 - busy) * below + busy * tied_below, 1.0)
    return np.log(np.maximum((1.0 - busy) * body + busy * tied, 1e-300)) - \
        np.log(np.maximum(within, 1e-300))


def fit_response(log_r: np.ndarray, officer: np.ndarray, team: np.ndarray, hour: np.ndarray,
                 load: np.ndarray, w: np.ndarray, n_officers: int, n_teams: int,
                 log_limit: np.ndarray | None = None, busy_probability: float = 0.0,
                 busy_mean_s: float = ResponseParams().busy_mean_s) -> ResponseFit:
    """Log response = mu + officer effect (shrunk to the team's, itself shrunk to 0) + hour
    effect + log(1 + slope x load) + noise; the slope by grid search on the weighted fit.

    ``log_limit`` (N,): the log of the longest response each row could have shown (the SLA
    left after notification and the wait for the shift; +inf: none). Responses past it timed
    out and were re-routed, so the history holds the rest only: the fit is the EM algorithm
    for truncated data (each row stands for the draws past its limit that it implies, at their
    conditional mean and variance).

    ``busy_probability``: the share of responses that carry a tied-up time (exponential, mean
    ``busy_mean_s``) on top of the log-normal body. Such a response is no draw of the body (a
    30-second officer tied up for 10 minutes shows 630 s), so each row counts toward the body
    by its posterior chance of not being tied up (the E step of the mixture), and the slope
    is chosen by the mixture's truncated likelihood."""
    from scipy.stats import norm

    limit = np.full(len(log_r), np.inf) if log_limit is None else log_limit
    best: tuple[float, float, np.ndarray, np.ndarray, float, float] | None = None
    team_of = np.zeros(n_officers, dtype=np.int64)
    team_of[officer] = team
    groups_o = np.concatenate((officer, officer))
    groups_h = np.concatenate((hour, hour))
    groups_t = np.concatenate((team, team))
    for slope in _LOAD_SLOPES:
        z = log_r - np.log1p(slope * load)
        c = limit - np.log1p(slope * load)
        mu = float(np.average(z, weights=w))
        a = np.zeros(n_officers)
        h = np.zeros(24)
        sigma = float(np.sqrt(np.average((z - mu) ** 2, weights=w))) or 1.0
        wb = w
        for _ in range(12):  # EM: the missing draws past each limit, then a weighted fit
            m = mu + a[officer] + h[hour]
            if busy_probability > 0:
                wb = w * (1.0 - _busy_posterior(log_r, m + np.log1p(slope * load), sigma,
                                                busy_probability, busy_mean_s))
            alpha = (c - m) / sigma
            kept = np.clip(norm.cdf(alpha), 1e-6, 1.0)
            rho = np.minimum((1.0 - kept) / kept, 20.0)  # draws past the limit per row
            lam = norm.pdf(alpha) / np.clip(norm.sf(alpha), 1e-12, None)
            lam = np.where(np.isfinite(alpha), lam, 0.0)
            past_mean = m + sigma * lam
            finite = np.isfinite(alpha)
            a_f = np.where(finite, alpha, 0.0)
            past_var = np.where(finite, sigma ** 2 * np.clip(1.0 + a_f * lam - lam ** 2, 0.0,
                                                             None), 0.0)
            zz = np.concatenate((z, np.where(rho > 0, past_mean, 0.0)))
            ww = np.concatenate((wb, wb * rho))
            for _ in range(4):  # back-fitting: hours, then officers (teams then officers)
                hh = _shrunk_group_means(zz - mu - a[groups_o], ww, groups_h, 24, np.zeros(24))
                h = hh - np.average(hh[hour], weights=wb)
                r = zz - mu - h[groups_h]
                t = _shrunk_group_means(r, ww, groups_t, n_teams, np.zeros(n_teams))
                a = _shrunk_group_means(r, ww, groups_o, n_officers, t[team_of])
                mu = mu + float(np.average(r - a[groups_o], weights=ww))
            resid = zz - mu - a[groups_o] - h[groups_h]
            sigma = float(np.sqrt((np.sum(ww * resid ** 2) + np.sum(wb * rho * past_var)) /
                                  np.sum(ww)))
        m = mu + a[officer] + h[hour]
        # the truncated log-likelihood of the rows at this slope (what the grid compares)
        if busy_probability > 0:
            ll = float(np.sum(w * _mixture_log_likelihood(
                log_r, limit, m + np.log1p(slope * load), sigma, busy_probability,
                busy_mean_s)))
        else:
            ll = float(np.sum(w * (norm.logpdf(z, m, sigma) -
                                   norm.logcdf(np.where(np.isfinite(c), c, np.inf), m,
                                               sigma))))
        if best is None or -ll < best[0] - 1e-9:
            best = (-ll, mu, a, h, slope, sigma)
    if best is None:
        raise RuntimeError("internal invariant broken: no load slope was tried")
    _, mu, a, h, slope, sigma = best
    return ResponseFit(median_s=np.exp(mu + a), hour_multipliers=tuple(np.exp(h).tolist()),
                       load_slope=slope, within_sigma=sigma, rows=len(log_r))


def infer_sla(wait_s: np.ndarray) -> float | None:
    """The SLA a history was logged under, read off its waits (received to assigned): a lead
    re-routed after a time-out is assigned exactly one SLA after it was first offered, so
    leads routed at arrival and re-routed once pile up at one wait. None if no wait holds at
    least 1% of the rows, or none stands out of the waits around it (as many as the 10
    minutes around it would put in 11 seconds by chance once in a million)."""
    late = np.round(wait_s[wait_s > 60.0])
    if not len(late):
        return None
    values, counts = np.unique(late, return_counts=True)
    cum = np.concatenate(([0], np.cumsum(counts)))

    def within(half: float) -> np.ndarray:  # rows within ``half`` seconds of each value
        return cum[np.searchsorted(values, values + half, side="right")] - \
            cum[np.searchsorted(values, values - half, side="left")]

    near = within(5.0)
    # a pile stands out of its neighbourhood (5 minutes either side): waits spread over
    # hours also bunch by chance (a few in the same 11 seconds), and a wrong SLA is worse
    # than none. Chance is Poisson at the neighbourhood's density: a pile is kept where it
    # would come by chance less than once in a million windows.
    expected = np.maximum((within(300.0) - near) * 11.0 / 590.0, 0.1)
    piles = (near >= max(5, 0.01 * len(wait_s))) & (poisson.sf(near - 1, expected) < 1e-6)
    if not piles.any():
        return None
    k = int(np.argmax(np.where(piles, near, -1)))
    around = np.abs(values - values[k]) <= 5.0  # the pile's centre, not its first second
    return float(np.round(np.average(values[around], weights=counts[around])))


def policy_sla(policy: Any) -> float | None:
    """The SLA a policy (``engine.rules.Policy``) offers every lead under: the one
    ``accept_within_s`` all its actions share (each rule's offer, or the routing default),
    or None when its rules give different ones. A lender that names the policy that logged
    its history knows this; read off the waits, it is lost where most leads are held before
    their first offer (a backlog: their re-routed waits do not pile up at one value)."""
    actions = [a for rule in policy.rules for a in (rule.then, rule.otherwise) if a is not None]
    if policy.default is not None:
        actions.append(policy.default)
    # a compiled policy always has an action (its default, or the last rule's else)
    slas = {float(a.offer.accept_within_s) for a in actions}
    return slas.pop() if len(slas) == 1 else None


def timeout_share(wait_s: np.ndarray, sla_s: float) -> float:
    """Share of offers that timed out, from the leads routed at arrival: their waits are
    whole numbers of SLAs (k time-outs before the offer that stood), k geometric. Only k up
    to 3 is counted, and at each k only the pile: what the waits around it (5 minutes either
    side) would put there by chance is taken off. Under a standing backlog most leads are
    held before their first offer and their waits spread over the whole window, so as many
    land near a multiple by chance as the time-outs put there (a quarter of surge's history:
    162 of the 200 waits near one SLA; read raw, the share was 0.282 where the piles hold
    0.017)."""
    tol = min(30.0, sla_s / 10.0)
    wait = np.sort(np.asarray(wait_s, dtype=float))

    def count(lo: float, hi: float) -> int:  # waits in [lo, hi]
        return int(np.searchsorted(wait, hi, side="right") - np.searchsorted(wait, lo))

    timeouts = stood = seen = 0.0
    for k in range(4):
        at = k * sla_s
        near = count(at - tol, at + tol)
        # the waits beside the pile, over (NEIGHBOURHOOD - tol) seconds on each side that has
        # them (waits start at 0: at k = 0, only after it), spread over its tol per side
        ring = count(tol, _NEIGHBOURHOOD_S) if k == 0 else \
            count(at - _NEIGHBOURHOOD_S, at + _NEIGHBOURHOOD_S) - near
        chance = ring * tol / (_NEIGHBOURHOOD_S - tol)
        # not clipped at each k: where chance is most of a window, clipping would keep its ups
        # and drop its downs; the sums are clipped instead
        timeouts += k * (near - chance)
        stood += near - chance
        seen += near
    if stood <= 2.0 * np.sqrt(seen):  # no pile stands out of chance (two of its deviations)
        return 0.0
    return min(max(timeouts, 0.0) / (max(timeouts, 0.0) + stood), 1.0)


# ---------------------------------------------------------------------------- contact


def _log_g(delay_s: np.ndarray, log_knots: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Log odds multiplier: 0 at the first knot, straight lines in log-log between knots,
    flat outside; ``steps`` (K-1,) >= 0 are the falls between knots."""
    values = np.concatenate(([0.0], -np.cumsum(steps)))
    return np.interp(np.log(np.maximum(delay_s, 1.0)), log_knots, values)


def fit_contact(source: np.ndarray, sources: Sequence[str], contacted: np.ndarray,
                known_delay: np.ndarray, before_s: np.ndarray, mu_log_r: np.ndarray,
                sigma: float, log_limit: np.ndarray | None = None) -> ContactFit:
    """Maximum likelihood of contact: p = sigmoid(logit base(source) + log g(delay)).
    known_delay: (N,) arrival to the first contact attempt, NaN where the history has none
    (a history that records the attempt only when it reached the borrower); before_s: (N,)
    arrival to the response's start (wait, notification, shift). A row with no delay has its
    response integrated over the log-normal (mu_log_r, sigma), truncated at ``log_limit``
    (the offer that stood was accepted within the SLA), by Gauss-Legendre nodes in
    probability."""
    from scipy.stats import norm

    log_knots = np.log(np.array(DECAY_KNOTS_S))
    n_s = len(sources)
    yes = contacted.astype(bool)
    seen = np.isfinite(known_delay)
    hidden = ~seen
    limit = np.full(len(source), np.inf) if log_limit is None else log_limit
    kept = norm.cdf((limit[hidden] - mu_log_r[hidden]) / sigma)  # P(response within)
    z = norm.ppf(np.clip(_GL_PROB[None, :] * kept[:, None], 1e-12, 1 - 1e-12))
    d_hidden = before_s[hidden, None] + np.exp(mu_log_r[hidden, None] + sigma * z)
    d_seen = known_delay[seen]
    sign_seen = np.where(yes[seen], 1.0, -1.0)  # log sigmoid(x) for a contact, (-x) if not
    y_hidden = yes[hidden]
    s_seen, s_hidden = source[seen], source[hidden]
    counts = np.bincount(source, minlength=n_s)
    rates = np.bincount(source, contacted, n_s) / np.maximum(counts, 1)
    x0 = np.concatenate((np.log(np.clip(rates, 0.02, 0.98) / (1 - np.clip(rates, 0.02, 0.98))),
                         np.full(len(log_knots) - 1, 0.3)))

    def nll(theta: np.ndarray) -> float:
        beta = theta[:n_s]
        steps = softplus(theta[n_s:])
        lp_seen = log_expit(sign_seen * (beta[s_seen] + _log_g(d_seen, log_knots, steps)))
        p_hidden = expit(beta[s_hidden, None] + _log_g(d_hidden, log_knots, steps)) @ _GL_WEIGHTS
        lik_hidden = np.maximum(np.where(y_hidden, p_hidden, 1.0 - p_hidden), 1e-300)
        # a weak prior on each source's base (a source seen a few times stays finite)
        # and on the decay's falls (a tail few leads reach stays finite)
        return -(lp_seen.sum() + np.log(lik_hidden).sum()) + 0.01 * float(beta @ beta) + \
            0.01 * float(theta[n_s:] @ theta[n_s:])

    res = minimize(nll, x0, method="L-BFGS-B")
    beta = res.x[:n_s]
    values = np.maximum(np.exp(np.concatenate(([0.0], -np.cumsum(softplus(res.x[n_s:]))))),
                        _MIN_MULTIPLIER)
    by_source = {s: float(expit(beta[k])) for k, s in enumerate(sources)}
    default = float(np.average(list(by_source.values()), weights=np.maximum(counts, 1)))
    return ContactFit(by_source, default,
                      tuple((float(d), float(v)) for d, v in zip(DECAY_KNOTS_S, values,
                                                                 strict=True)),
                      -float(res.fun))


def contact_probability(base: np.ndarray, delay_s: np.ndarray, fit: ContactFit) -> np.ndarray:
    """The fitted contact stage at ``delay_s``."""
    knots = np.array(fit.knots)
    g = np.exp(np.interp(np.log(np.maximum(delay_s, 1.0)), np.log(knots[:, 0]),
                         np.log(knots[:, 1])))
    odds = base / (1.0 - base) * g
    return odds / (1.0 + odds)


def _with_busy_tail(response: ResponseFit, sla: float, share: float, log_limit: np.ndarray,
                    mu: np.ndarray, w: np.ndarray) -> ResponseFit:
    """The tied-up share that makes the model's time-outs the history's ``share``.

    The history holds the offers that were accepted, one a row; an offer like row i was
    accepted with chance A_i = (1 - busy) P(body within) + busy P(body + tied-up time
    within), so each row stands for 1 / A_i offers, and the share timed out is
    1 - sum(w) / sum(w / A_i) (slow officers and busy hours, whose offers time out most,
    weigh most). ``busy`` solves that for ``share`` by bisection. Past the SLA nothing is
    seen, so the tail's mean is the world's default (an assumption: it matters only to a
    policy with a longer SLA than the history's)."""
    mean = response.busy_mean_s
    finite = np.isfinite(log_limit)
    cap = np.where(finite, log_limit, 0.0)
    below, x = _body_below(cap, mu, response.within_sigma)
    tied_below = below * ((1.0 - np.exp(-np.maximum(np.exp(cap)[:, None] - x, 0.0) / mean))
                          @ _GL_WEIGHTS)
    below = np.where(finite, below, 1.0)
    tied_below = np.where(finite, tied_below, 1.0)

    def timed_out(busy: float) -> float:
        accepted = np.maximum((1.0 - busy) * below + busy * tied_below, 1e-6)
        return 1.0 - float(np.sum(w)) / float(np.sum(w / accepted))

    low, high = 0.0, 0.9
    if timed_out(low) >= share:
        high = 0.0
    elif timed_out(high) <= share:
        low = high
    while high - low > 1e-4:
        middle = (low + high) / 2.0
        low, high = (middle, high) if timed_out(middle) < share else (low, middle)
    return replace(response, busy_probability=float((low + high) / 2.0),
                   accept_within_s=sla, timeout_share=share)


# ---------------------------------------------------------------------------- application


def fit_application(history: History, roster: Roster, options: FitOptions) -> ApplicationModel:
    """Bootstrapped logistic regression of application on contacted rows."""
    rows = np.flatnonzero(history.outcomes["contacted"] == 1)
    leads = [history.leads[i] for i in rows]
    y = history.outcomes["application"][rows].astype(int)
    counts: dict[str, int] = {}
    for lead in history.leads:
        counts[lead.source] = counts.get(lead.source, 0) + 1
    sources = tuple(sorted(counts, key=lambda s: (-counts[s], s)))
    officers = roster.officers
    o_idx = history.officer_idx[rows]
    ids = tuple(o.officer_id for o in officers)
    teams = tuple(sorted({o.team for o in officers}))
    team_idx = np.array([teams.index(officers[o].team) for o in o_idx])
    x_lead = lead_matrix(leads, sources)
    spec, match, mismatch = pair_tensors(leads, officers)
    pick = np.arange(len(rows))
    x_pair = np.column_stack((spec[pick, o_idx], match[pick, o_idx], mismatch[pick, o_idx]))
    x_off = np.zeros((len(rows), len(ids)))
    x_off[pick, o_idx] = 1.0
    x_team = np.zeros((len(rows), len(teams)))
    x_team[pick, team_idx] = 1.0
    # one L2 strength for all, but the lead and match columns are scaled up so that it
    # falls on the officer and team effects (the many-level, few-rows part) and hardly on
    # the rest; their coefficients are scaled back below
    x = np.hstack((x_lead * _UNPENALIZED_SCALE, x_pair * _UNPENALIZED_SCALE, x_off, x_team))
    rng = np.random.default_rng(np.random.SeedSequence([options.seed, 12]))
    c = options.application_c
    if c is None:  # the shrinkage the data supports (officer effects need much of it)
        search = GridSearchCV(LogisticRegression(max_iter=2000), {"C": list(_APPLICATION_CS)},
                              scoring="neg_log_loss", cv=5)
        c = float(search.fit(x, y).best_params_["C"])
    members: list[np.ndarray] = []
    intercepts: list[float] = []
    for _ in range(options.bootstrap):
        take = rng.integers(0, len(rows), len(rows))
        if y[take].min() == y[take].max():  # a resample of one class: draw again
            take = np.concatenate((take, np.flatnonzero(y != y[take][0])[:1]))
        reg = LogisticRegression(C=c, max_iter=2000)
        reg.fit(x[take], y[take])
        members.append(reg.coef_[0])
        intercepts.append(float(reg.intercept_[0]))
    coef = np.array(members)
    intercept = np.array(intercepts)
    # centred on the fit to every row: the members carry the fit's spread, and their mean is
    # the fit itself, so a forecast's mean over a few replications (one member each) is not
    # moved by which resamples were drawn (three resamples alone move it by several percent)
    whole = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    coef += whole.coef_[0] - coef.mean(axis=0)
    intercept += float(whole.intercept_[0]) - intercept.mean()
    # and the levels centred too: centring the coefficients does not centre the
    # probabilities (a member's spread officer effects raise its mean probability where
    # most are low: the members expected 1.4% more applications on the history's contacted
    # rows than the fit). Each member keeps its own level's distance from the members' mean
    # (the uncertainty of the level), and that mean is the fit's
    logits = x @ coef.T + intercept[None, :]
    level = expit(logits).sum(axis=0)
    intercept += _level_shifts(logits, float(expit(whole.decision_function(x)).sum()) +
                               level - level.mean())
    n_lead, n_pair = x_lead.shape[1], 3
    coef[:, :n_lead + n_pair] *= _UNPENALIZED_SCALE
    return ApplicationModel(
        sources=sources, officers=ids, teams=teams, intercept=intercept,
        lead_coef=coef[:, :n_lead], pair_coef=coef[:, n_lead:n_lead + n_pair],
        officer_coef=coef[:, n_lead + n_pair:n_lead + n_pair + len(ids)],
        team_coef=coef[:, n_lead + n_pair + len(ids):], rows=len(rows),
        positives=int(y.sum()), c=c)


def _level_shifts(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(B,) the shift of each column of ``logits`` (N, B) that makes its probabilities sum to
    its ``target`` (B,) (Newton's method on a sum increasing in the shift)."""
    target = np.clip(target, 1e-6, logits.shape[0] - 1e-6)
    shift = np.zeros(logits.shape[1])
    for _ in range(50):
        p = expit(logits + shift[None, :])
        gap = p.sum(axis=0) - target
        if np.all(np.abs(gap) < 1e-9 * logits.shape[0]):
            break
        slope = np.maximum((p * (1.0 - p)).sum(axis=0), 1e-9)
        shift -= np.clip(gap / slope, -2.0, 2.0)
    return shift


def fit_funding(history: History) -> dict[str, float]:
    """Funded share of applications by program, shrunk to the overall share."""
    app = history.outcomes["application"] == 1
    funded = history.outcomes["funded"][app]
    overall = float(funded.mean()) if app.any() else 0.5
    programs = np.array([history.leads[i].loan_program.value for i in np.flatnonzero(app)])
    out = {}
    for p in PROGRAMS:
        mine = programs == p
        out[p] = float((funded[mine].sum() + _FUNDING_PRIOR_ROWS * overall) /
                       (mine.sum() + _FUNDING_PRIOR_ROWS))
    return out


def stage_scales(history: History, options: FitOptions) -> dict[str, np.ndarray]:
    """Per stage besides the application (``simulator.outcome.STAGES``), (B,) its bootstrap:
    the contacted share of the history's worked leads, the funded share of its applications,
    in each resample as a multiple of the share in them all, centred on 1 (as the
    application members are centred on the whole fit: a forecast's mean over a few
    replications stays the fit's). With ``bootstrap`` 1, ones."""
    outcomes = history.outcomes
    shares = {"contact": outcomes["contacted"].astype(float),
              "funding": outcomes["funded"][outcomes["application"] == 1].astype(float)}
    out = {}
    for k, stage in enumerate(STAGES):
        rows = shares[stage]
        if options.bootstrap <= 1 or not rows.sum():
            out[stage] = np.ones(max(options.bootstrap, 1))
            continue
        rng = np.random.default_rng(np.random.SeedSequence([options.seed, 13 + k]))
        take = rng.integers(0, len(rows), (options.bootstrap, len(rows)))
        scales = rows[take].mean(axis=1) / rows.mean()
        out[stage] = np.maximum(scales + 1.0 - scales.mean(), 0.0)
    return out


# ---------------------------------------------------------------------------- the whole fit


def _simulated_timeout_share(scenario: Any, busy: float, sla: float, logging: str,
                             exploration: float, seed: int) -> float:
    """The time-out share read off the waits (``timeout_share``) of the history that
    ``logging`` writes in ``scenario`` with tied-up share ``busy`` (one replication, seed
    ``seed``: the same draws at every share)."""
    from simulator.model import RunOptions
    from simulator.outputs import history_frame
    from simulator.policies import resolve_policies
    from simulator.runner import run_experiment

    world_params = replace(scenario.world, response=replace(scenario.world.response,
                                                            busy_probability=busy))
    run = run_experiment(replace(scenario, world=world_params), resolve_policies([logging]),
                         replications=1, seed=seed,
                         options=RunOptions(record_events=False, exploration=exploration),
                         with_bound=False)
    frame = history_frame(run)
    return timeout_share(_seconds_between(frame["received_at"], frame["assigned_at"]), sla)


def _seconds_between(first: Any, then: Any) -> np.ndarray:
    """(N,) seconds from each timestamp of ``first`` to ``then`` (columns of a frame)."""
    import pandas as pd

    gap = pd.to_datetime(then, utc=True) - pd.to_datetime(first, utc=True)
    return gap.dt.total_seconds().to_numpy(dtype=float)


@dataclass(frozen=True)
class Calibration:
    """busy_probability: the calibrated tied-up share; target: the time-out share the real
    history's waits read; reached: the simulated history's at that share; steps: the
    simulations run (share, share read)."""

    busy_probability: float
    target: float
    reached: float
    steps: tuple[tuple[float, float], ...]


def calibrate_tied_up(fit: FittedScenario, scenario: Any, *, logging: str = "round_robin",
                      exploration: float = 0.0, seed: int = 0, tolerance: float = 0.005,
                      max_steps: int = 8) -> Calibration:
    """Indirect inference of the tied-up share: the share whose simulated history (the
    fitted ``scenario`` run under the history's own logging policy on the history's leads)
    reads the same time-out share off its waits as the real history does.

    The share solved from the time-outs (``_with_busy_tail``) is right for the leads it is
    read from, but a lead that times out is the one likely to end up held, and held leads
    are not read: the real share is higher than the read one. Reading the simulated history
    the same way carries the same selection. A 1-D root find (Brent's method) over the share,
    one simulation a step, with the same seed at every step (common random numbers: an
    officer tied up at share p is tied up at every larger share), so the share read rises
    with the share drawn. ``scenario``: the fitted scenario as loaded (with the lender's
    operations), a ``simulator.params.Scenario``."""
    from scipy.optimize import brentq

    sla = fit.response.accept_within_s
    start = fit.response.busy_probability
    target = fit.response.timeout_share
    if not sla or target <= 0.0:
        return Calibration(start, target, target, ())
    steps: dict[float, float] = {}

    def gap(busy: float) -> float:
        key = round(float(busy), 6)
        if key not in steps:
            steps[key] = _simulated_timeout_share(scenario, key, sla, logging, exploration,
                                                  seed)
        return steps[key] - target

    low, high = start, start
    if gap(start) < 0.0:  # the usual case: the simulated history reads fewer time-outs
        high = min(0.95, start + 0.1)
        while gap(high) < 0.0 and high < 0.95:
            low, high = high, min(0.95, high + 0.1)
    else:
        low = max(0.0, start - 0.1)
        while gap(low) > 0.0 and low > 0.0:
            high, low = low, max(0.0, low - 0.1)
    if gap(low) * gap(high) > 0.0:  # no share in (0, 0.95) reads the target: the nearest
        best = min(steps, key=lambda b: abs(steps[b] - target))
    else:
        best = float(brentq(gap, low, high, xtol=tolerance, maxiter=max_steps))
        best = min((b for b in steps), key=lambda b: (abs(steps[b] - target), abs(b - best)))
    return Calibration(best, target, steps[best], tuple(sorted(steps.items())))


def _latency_s(roster: Roster) -> np.ndarray:
    """(M,) notification latency of each officer's fastest channel (the world's defaults)."""
    table = ResponseParams().notification_latency_s
    return np.array([min((table.get(ch.value, 0.0) for ch in o.notify), default=0.0)
                     for o in roster.officers])


def fit_scenario(history_path: str | Path, officers_path: str | Path,
                 options: FitOptions | None = None, *,
                 received_path: str | Path | None = None) -> FittedScenario:
    """Fit a scenario to a history and roster (see the module docstring). ``received_path``:
    every lead received, worked or not (``load_received``); the arrivals and the replayed
    stream are read from it, the rest of the fit from the history."""
    options = options or FitOptions()
    history, roster = load_inputs(history_path, officers_path)
    tz = _timezone(roster, options.timezone)
    where = zone(tz)
    arrived = history.leads if received_path is None else \
        load_received(received_path, history)
    received = np.array([lead.received_at.timestamp() for lead in history.leads])
    window = received if received_path is None else np.concatenate(
        [received, [lead.received_at.timestamp() for lead in arrived]])
    first = datetime.fromtimestamp(float(window.min()), where)
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    start = datetime(start.year, start.month, start.day, tzinfo=where)
    start_unix = start.timestamp()
    days = int((window.max() - start_unix) // 86400) + 1
    rate, hours = fit_arrivals(arrived, start, days, tz)

    o = history.officer_idx
    t_assign = history.assigned_s - start_unix
    end_s = float(t_assign.max()) + 86400.0
    clock = OfficerClock(roster, start, end_s)
    latency = _latency_s(roster)[o]
    to_shift = clock.wait_to_shift_many(o, t_assign + latency)
    usable = np.isfinite(to_shift)
    starts = t_assign + latency + np.where(usable, to_shift, 0.0)
    hour = clock.local_hour_many(o, starts).astype(np.int64)
    wait = history.assigned_s - received
    before = wait + latency + np.where(usable, to_shift, 0.0)
    contacted = history.outcomes["contacted"].astype(int)
    delay = history.delay_s
    r_obs = np.maximum(delay - latency - np.where(usable, to_shift, 0.0), 1.0)
    recorded = np.isfinite(delay)
    known = np.where(recorded, wait + np.nan_to_num(delay), np.nan)  # arrival to the attempt
    teams = sorted({off.team for off in roster.officers})
    team = np.array([teams.index(roster.officers[k].team) for k in o])
    load = history.open_leads.astype(float)
    sources = tuple(sorted({lead.source for lead in history.leads}))
    source = np.array([sources.index(lead.source) for lead in history.leads])

    sla = options.accept_within_s or infer_sla(wait)
    room = (sla - latency - np.where(usable, to_shift, 0.0)) if sla else np.full(len(o), np.inf)
    log_limit = np.where(room > 1.0, np.log(np.maximum(room, 1.0)), np.inf)
    seen = recorded & usable  # rows whose response the history shows
    if int(seen.sum()) < MIN_RECORDED_ATTEMPTS:
        raise InputError(Problem(
            "column", f"{Path(history_path).name}: response_delay_s",
            f"only {int(seen.sum())} rows record a first contact attempt by an officer with "
            f"work hours; the response times need at least {MIN_RECORDED_ATTEMPTS}"))
    unreached = (contacted == 0) & usable
    # the share of unreached rows whose attempt is recorded: 1 in the simulator's history,
    # 0 in one that records the attempt only when it reached the borrower
    record_share = float(recorded[unreached].mean()) if unreached.any() else 1.0
    w = np.ones(int(seen.sum()))
    response = contact = None
    busy = 0.0
    # each round: the response times (the tied-up share of the round before taken apart from
    # the body), the tied-up share that makes up the time-outs the body does not explain, and
    # the contact stage. Where an attempt is missing, a slow answer makes a row less likely to
    # show its delay, so the rows that do are weighted by the inverse of P(shown | delay) =
    # p(contact) + (1 - p(contact)) x record_share (1 where every attempt is recorded)
    for _ in range(3):
        response = fit_response(np.log(r_obs[seen]), o[seen], team[seen], hour[seen],
                                load[seen], w, len(roster), len(teams), log_limit[seen],
                                busy_probability=busy)
        mu = np.log(response.median_s[o]) + np.log(np.array(response.hour_multipliers)[hour]) + \
            np.log1p(response.load_slope * load)
        if sla:
            response = _with_busy_tail(response, sla, timeout_share(wait, sla),
                                       log_limit[seen], mu[seen], w)
            busy = response.busy_probability
        contact = fit_contact(source[usable], sources, contacted[usable], known[usable],
                              before[usable], mu[usable], response.within_sigma,
                              log_limit[usable])
        base = np.array([contact.contact_rate_by_source[s] for s in sources])[source[seen]]
        p = contact_probability(base, known[seen], contact)
        shown = p + (1.0 - p) * record_share
        w = np.minimum(1.0 / np.maximum(shown, 1e-6), _MAX_IPW * float(np.median(1.0 / shown)))
    if response is None or contact is None:
        raise RuntimeError("internal invariant broken: the fit loop did not run")
    return FittedScenario(
        history_path=Path(history_path), roster_path=Path(officers_path), start=start,
        days=days, timezone=tz, leads=arrived, arrivals_per_hour=rate,
        hours_observed=hours, response=response, contact=contact,
        application=replace(fit_application(history, roster, options),
                            scales=stage_scales(history, options)),
        funding_rate_by_program=fit_funding(history), roster=roster, rows=len(history),
        contacted=int(contacted.sum()), applications=int(history.outcomes["application"].sum()),
        funded=int(history.outcomes["funded"].sum()),
        calibrate_tied_up=options.calibrate_tied_up,
        coverage=application_coverage(history, roster))


def expected_on_history(fit: FittedScenario, history: History) -> tuple[float, int]:
    """(expected funded leads, rows) of the fitted world on the history's own rows that
    record their first attempt: each row's officer and arrival-to-attempt delay as they
    were, the contact, application (mean over the bootstrap members) and funding stages
    fitted. Set against the history's funded count on the same rows, it separates a fit's
    level bias (here) from the history's own luck (which the fit carries whole)."""
    received = np.array([lead.received_at.timestamp() for lead in history.leads])
    delay = history.assigned_s - received + history.delay_s
    rows = np.flatnonzero(np.isfinite(delay))
    leads = [history.leads[i] for i in rows]
    base = np.array([fit.contact.contact_rate_by_source.get(lead.source,
                                                            fit.contact.default_contact_rate)
                     for lead in leads])
    contact = contact_probability(base, delay[rows], fit.contact)
    pick = np.arange(len(rows))
    officer = history.officer_idx[rows]
    application = np.mean([fit.application.matrix(leads, fit.roster.officers, b)[pick, officer]
                           for b in range(fit.application.members)], axis=0)
    funding = np.array([fit.funding_rate_by_program[lead.loan_program.value] for lead in leads])
    return float(np.sum(contact * application * funding)), len(rows)


# ---------------------------------------------------------------------------- output

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# the lead parser insists on a way to reach the borrower; the replayed leads carry this
# reserved fictional number instead of anyone's contact details
_STAND_IN_PHONE = "+12025550100"


def scenario_mapping(fit: FittedScenario, name: str) -> dict[str, Any]:
    """The scenario YAML of a fit (paths relative to the scenario's folder)."""
    ids = [o.officer_id for o in fit.roster.officers]
    r = fit.response
    return {
        "scenario": name,
        "description": (f"fitted by leadroute scenario fit from {fit.history_path.name} "
                        f"({fit.rows} worked leads, {fit.contacted} contacted, "
                        f"{fit.applications} applications, {fit.funded} funded; replays "
                        f"{len({lead.lead_id for lead in fit.leads})} leads received) and "
                        f"{fit.roster_path.name}"),
        "start": fit.start.isoformat(),
        "days": float(fit.days),
        "timezone": fit.timezone,
        "roster": "officers.csv",
        "world": {
            "kind": "fitted",
            "application_model": "application_model.json",
            "conversion": {
                "contact_rate_by_source": {k: round(v, 6) for k, v in
                                           fit.contact.contact_rate_by_source.items()},
                "default_contact_rate": round(fit.contact.default_contact_rate, 6),
                "funding_rate_by_program": {k: round(v, 6) for k, v in
                                            fit.funding_rate_by_program.items()},
                "max_application_probability": 1.0,
            },
            "decay": {"knots": [[d, float(f"{v:.8g}")] for d, v in fit.contact.knots]},
            "skills": {"sigma": 0.0, "source_sigma": 0.0, "specialty_multiplier": 1.0,
                       "overrides": {oid: {"median_response_s": round(float(m), 3)}
                                     for oid, m in zip(ids, r.median_s, strict=True)}},
            "response": {"median_s": round(float(np.median(r.median_s)), 3),
                         "officer_sigma": 0.0, "within_sigma": round(r.within_sigma, 6),
                         "load_slope": r.load_slope,
                         "busy_probability": round(r.busy_probability, 6),
                         "busy_mean_s": r.busy_mean_s,
                         "hour_multipliers": [round(v, 6) for v in r.hour_multipliers]},
        },
        "stream": {"kind": "replay", "path": "leads.csv"},
    }


def write_leads(leads: Sequence[Lead], path: Path) -> None:
    """``leads`` as a CSV in the route command's input format, in the order received (a
    lead id's first row only), without the borrowers' contact details."""
    seen: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer: csv.DictWriter[str] | None = None
        for lead in sorted(leads, key=lambda lead: lead.received_at):
            if lead.lead_id in seen:
                continue
            seen.add(lead.lead_id)
            # text made safe to open in a spreadsheet (an id "=HYPERLINK(...)" is written
            # "'=HYPERLINK(...)", as leadroute simulate writes it); the stand-in phone is ours
            row = {k: str(spreadsheet_safe(v)) for k, v in lead_row(lead).items()}
            row.update(first_name="", last_name="", email="", phone=_STAND_IN_PHONE)
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)


def write_scenario(fit: FittedScenario, out: str | Path, *, name: str = "fitted") -> Path:
    """Write ``out/scenario.yaml`` and the files it names (officers.csv, leads.csv,
    application_model.json) and arrivals.csv; returns the scenario's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fit.roster_path, out / "officers.csv")
    fit.application.save(out / "application_model.json")
    write_leads(fit.leads, out / "leads.csv")
    with (out / "arrivals.csv").open("w", newline="", encoding="utf-8") as fh:
        writer2 = csv.writer(fh)
        writer2.writerow(["weekday", "hour", "hours_observed", "leads_per_hour"])
        for d in range(7):
            for h in range(24):
                writer2.writerow([WEEKDAYS[d], h, int(fit.hours_observed[d, h]),
                                  round(float(fit.arrivals_per_hour[d, h]), 4)])
    path = out / "scenario.yaml"
    path.write_text("# written by leadroute scenario fit; see docs/simulator.md, \"What-if from "
                    "your own history\"\n" + yaml.safe_dump(scenario_mapping(fit, name),
                                                            sort_keys=False, width=100),
                    encoding="utf-8")
    return path
