"""Check a fitted scenario as it will be used: forecast from a history alone, against the truth.

In a world whose truth is known: log a history with a logging policy (round robin with
exploration), fit a scenario from that history and the roster alone (``simulator.fit``),
forecast each candidate policy's expected conversions in the fitted scenario, and run each
candidate in the original world on the same leads (its truth). The benchmark
(benchmarks/bench_scenario_fit.py) and a slow test (tests/simulator/test_fit.py) use it.

What a lender would give the fit besides its history and roster is copied from the original
scenario: its operations settings (``operations``), the departures it knows of (as officer
ids) and, unless ``received`` is off, every lead the logging run received, worked or not
(its lead intake, ``leadroute scenario fit --leads``), so the forecast and the truth replay
the whole load. Nothing of the hidden truth is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.fit import (
    Calibration,
    FitOptions,
    FittedScenario,
    calibrate_tied_up,
    expected_on_history,
    fit_scenario,
    load_inputs,
    policy_sla,
    write_leads,
    write_scenario,
)
from simulator.model import RunOptions
from simulator.outputs import history_frame, spreadsheet_frame
from simulator.params import Departure, ReplayStreamParams, Scenario
from simulator.policies import resolve_policies
from simulator.runner import check_scenario, run_experiment
from simulator.scenario import load_scenario


@dataclass(frozen=True)
class CheckRow:
    """One candidate policy in one world: forecast and truth of expected conversions (means
    over replications, with 95% t-intervals), the forecast's error and each one's rank."""

    world: str
    policy: str
    forecast: float
    forecast_half_width: float
    truth: float
    truth_half_width: float
    error_pct: float
    forecast_rank: int
    truth_rank: int


@dataclass(frozen=True)
class CheckResult:
    rows: list[CheckRow]
    fit: FittedScenario
    history_rows: int
    ranking_preserved: bool
    # the history's funded count, the truth's expectation of it (the sum of its
    # true_p_funded) and the fitted world's on the same rows, officers and delays
    # (``simulator.fit.expected_on_history``): luck is the first against the second, the
    # fit's own level bias the third against the first
    history_funded: float = float("nan")
    history_truth: float = float("nan")
    fitted_on_history: float = float("nan")
    # the tied-up share's calibration (None: off)
    calibration: Calibration | None = None

    @property
    def max_abs_error_pct(self) -> float:
        return max(abs(r.error_pct) for r in self.rows)


def _half_width(values: np.ndarray) -> float:
    from scipy.stats import t

    if len(values) < 2:
        return float("nan")
    return float(t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def _means(summary: pd.DataFrame) -> dict[str, tuple[float, float]]:
    out = {}
    for policy, rows in summary.groupby("policy", sort=False):
        values = rows["expected_conversions"].to_numpy(dtype=float)
        out[str(policy)] = (float(values.mean()), _half_width(values))
    return out


def _ranks(values: Sequence[float]) -> list[int]:
    order = np.argsort(-np.asarray(values), kind="stable")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks.tolist()


def check_fit(scenario: Scenario, candidates: Sequence[str], workdir: Path, *,
              name: str | None = None, logging: str = "round_robin",
              exploration: float = 0.3, replications: int = 5, seed: int = 0,
              bootstrap: int | None = None, calibrate: bool = True,
              received: bool = True) -> CheckResult:
    """Log, fit, forecast and compare (module docstring). ``workdir`` receives history.csv
    and the fitted scenario folder ``fitted/``. ``calibrate``: the tied-up share calibrated
    by simulating the logging policy in the fitted world (``simulator.fit.calibrate_tied_up``;
    the logging policy and its exploration are the lender's own, so they are known).
    ``received``: the fit replays every lead the logging run received (written to
    ``received.csv``); off, only the history's worked leads, so a lead the logging policy
    never worked is missing from the forecast and the truth alike."""
    workdir.mkdir(parents=True, exist_ok=True)
    world = check_scenario(scenario)
    logging_policy = resolve_policies([logging])
    logged = run_experiment(scenario, logging_policy, replications=1, seed=seed,
                            options=RunOptions(record_events=False, exploration=exploration),
                            with_bound=False, world=world)
    history = history_frame(logged)
    spreadsheet_frame(history).to_csv(workdir / "history.csv", index=False)
    # the SLA the history was logged under is the lender's own setting, like its operations
    sla = policy_sla(logging_policy[0].policy)
    received_path = None
    if received:
        received_path = workdir / "received.csv"
        write_leads(logged.replications[0].inputs.stream.leads, received_path)
    fit = fit_scenario(workdir / "history.csv", scenario.roster_path,
                       FitOptions(timezone=scenario.timezone,
                                  bootstrap=bootstrap or replications, seed=seed,
                                  calibrate_tied_up=calibrate, accept_within_s=sla),
                       received_path=received_path)
    path = write_scenario(fit, workdir / "fitted", name=f"fitted-{scenario.name}")
    fitted = load_scenario(path)
    # what the lender knows besides the history: its operations and who left when
    departures = tuple(Departure(at=at, officer_id=oid) for oid, at in world.departures)
    fitted = replace(fitted, operations=scenario.operations, departures=departures)
    calibration = None
    if fit.calibrate_tied_up:
        calibration = calibrate_tied_up(fit, fitted, logging=logging, exploration=exploration,
                                        seed=seed + 3)
        fit = replace(fit, response=replace(fit.response,
                                            busy_probability=calibration.busy_probability))
        fitted = replace(fitted, world=replace(fitted.world, response=replace(
            fitted.world.response, busy_probability=calibration.busy_probability)))
    policies = resolve_policies(list(candidates))
    options = RunOptions(record_events=False)
    forecast = _means(run_experiment(fitted, policies, replications=replications,
                                     seed=seed + 1, options=options,
                                     with_bound=False).summary)
    # the truth: the same leads (those of the history) in the original world
    truth_scenario = replace(scenario, stream=ReplayStreamParams(path.parent / "leads.csv"))
    truth = _means(run_experiment(truth_scenario, policies, replications=replications,
                                  seed=seed + 2, options=options, with_bound=False,
                                  world=world).summary)
    labels = [p.label for p in policies]
    f_rank = _ranks([forecast[k][0] for k in labels])
    t_rank = _ranks([truth[k][0] for k in labels])
    rows = [CheckRow(world=name or scenario.name, policy=k, forecast=forecast[k][0],
                     forecast_half_width=forecast[k][1], truth=truth[k][0],
                     truth_half_width=truth[k][1],
                     error_pct=100.0 * (forecast[k][0] - truth[k][0]) / truth[k][0],
                     forecast_rank=f_rank[j], truth_rank=t_rank[j])
            for j, k in enumerate(labels)]
    fitted_on_history, _ = expected_on_history(fit, load_inputs(workdir / "history.csv",
                                                                scenario.roster_path)[0])
    return CheckResult(rows, fit, len(history), f_rank == t_rank,
                       history_funded=float(history["funded"].sum()),
                       history_truth=float(history["true_p_funded"].sum()),
                       fitted_on_history=fitted_on_history, calibration=calibration)
