"""Known-truth check of the conversion model on simulator histories.

A simulated history carries, beside every row, the world's probability of funding known at
that assignment (``true_p_funded``). Train the model on the first 70% of the rows by
``assigned_at``, score the rest, and hold the model's figures against the truth's on the very
same rows. Shared by ``tests/scoring/test_known_truth.py`` (slow) and
``benchmarks/bench_scoring_truth.py``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.scoring.history import History, load_history
from engine.scoring.metrics import Metrics, evaluate
from engine.scoring.training import train_model
from simulator.model import RunOptions
from simulator.outputs import history_frame, spreadsheet_frame
from simulator.policies import resolve_policies
from simulator.runner import run_experiment
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "data" / "scenarios" / "reference.yaml"
TRAIN_FRACTION = 0.7


@dataclass(frozen=True)
class TruthHistory:
    """A simulated history as the model reads it, and the truth beside each row."""

    history: History
    true_p: np.ndarray  # (N,) true p(funded) known at assignment, history row order


@dataclass(frozen=True)
class TruthFigures:
    """Model and truth on the same evaluation rows (the latest 30% by assigned_at)."""

    seed: int
    train_rows: int
    test_rows: int
    estimator: str
    model: Metrics
    truth: Metrics

    @property
    def checks(self) -> dict[str, bool]:
        """The targets: AUC within 0.02 of the truth's, slope in [0.9, 1.1], ECE at most 10%
        of the base rate (for the model, and for the truth itself)."""
        m, t = self.model, self.truth
        return {
            "model AUC >= truth AUC - 0.02": m.auc >= t.auc - 0.02,
            "model slope in [0.9, 1.1]": 0.9 <= m.calibration_slope <= 1.1,
            "model ECE <= 10% of base rate": m.ece <= 0.1 * m.base_rate,
            "truth slope in [0.9, 1.1]": 0.9 <= t.calibration_slope <= 1.1,
            "truth ECE <= 10% of base rate": t.ece <= 0.1 * t.base_rate,
        }


def simulated_history(seed: int, *, replications: int, days: float | None = None,
                      policy: str = "round_robin", scenario_path: Path = REFERENCE,
                      workdir: Path | None = None) -> TruthHistory:
    """Simulate ``policy`` on the scenario with its world drawn from ``seed`` (hidden traits
    never used elsewhere) and ``replications`` replications spawned from ``seed``; write the
    history as ``leadroute simulate`` does and read it back as the model would."""
    scenario = load_scenario(scenario_path)
    scenario = replace(scenario, world=replace(scenario.world, seed=seed),
                       days=scenario.days if days is None else days)
    exp = run_experiment(scenario, resolve_policies([policy]), replications=replications,
                         seed=seed, options=RunOptions(record_events=False), with_bound=False)
    frame = history_frame(exp)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "history.csv"
        spreadsheet_frame(frame).to_csv(path, index=False)
        history = load_history(path, exp.world.roster)
    return TruthHistory(history, frame["true_p_funded"].to_numpy(dtype=float))


def time_split_rows(history: History, train_fraction: float = TRAIN_FRACTION
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(earlier, later) row indices: the first ``train_fraction`` by assigned_at, the rest
    (the same cut as ``History.time_split``)."""
    order = np.argsort(history.assigned_s, kind="stable")
    cut = round(len(history) * train_fraction)
    return np.sort(order[:cut]), np.sort(order[cut:])


def known_truth_figures(data: TruthHistory, seed: int, *, estimator: str = "auto"
                        ) -> TruthFigures:
    """Train on the earlier 70% (``train_model``, choice on its own holdout), score the
    later 30%, and compare with the truth on those rows."""
    early, late = time_split_rows(data.history)
    train, test = data.history.take(early), data.history.take(late)
    result = train_model(train, estimator=estimator, rng=np.random.default_rng(seed))
    p = result.model.predict_history(test)
    return TruthFigures(seed=seed, train_rows=len(train), test_rows=len(test),
                        estimator=f"{result.model.estimator} + {result.model.calibration}",
                        model=evaluate(test.y, p), truth=evaluate(test.y, data.true_p[late]))


def table(figures: TruthFigures) -> str:
    """Model vs truth, one line each: AUC, calibration slope, ECE (and the base rate)."""
    f = figures
    lines = [f"seed {f.seed}: trained on {f.train_rows} rows, scored {f.test_rows} "
             f"(base rate {f.truth.base_rate:.4f}, ECE limit {0.1 * f.truth.base_rate:.4f})",
             f"  {'forecast':<26} {'AUC':>7} {'slope':>7} {'ECE':>8}"]
    for label, m in ((f"model ({f.estimator})", f.model), ("truth (true_p_funded)", f.truth)):
        lines.append(f"  {label:<26} {m.auc:7.4f} {m.calibration_slope:7.3f} {m.ece:8.5f}")
    lines += [f"  {name}: {'yes' if ok else 'NO'}" for name, ok in f.checks.items()]
    return "\n".join(lines)
