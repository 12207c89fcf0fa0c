"""Evaluation report files: a reliability plot (PNG) and the figures (JSON).

Drawn with matplotlib's object API on an Agg canvas, so nothing touches a display or the
global backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from engine.scoring.metrics import ECE_BINS, Metrics, reliability_table


def plot_reliability(y: np.ndarray, p: np.ndarray, path: str | Path, metrics: Metrics,
                     title: str = "Reliability", n_bins: int = ECE_BINS) -> Path:
    """Write a reliability diagram of outcomes ``y`` (N,) against forecasts ``p`` (N,):
    observed rate per equal-width forecast bin (marker area ~ rows in the bin) against the
    diagonal, with a histogram of forecasts below. Returns the PNG path."""
    table = reliability_table(y, p, n_bins)
    filled = table.count > 0
    fig = Figure(figsize=(6.0, 7.0), dpi=110)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    top.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect")
    sizes = 20 + 200 * table.count[filled] / table.count.max()
    top.plot(table.mean_p[filled], table.observed[filled], color="tab:blue", linewidth=1)
    top.scatter(table.mean_p[filled], table.observed[filled], s=sizes, color="tab:blue",
                label="observed rate per bin")
    high = float(max(np.nanmax(table.observed[filled]), np.max(p))) if filled.any() else 1.0
    limit = min(1.0, high * 1.1 + 0.01)
    top.set_xlim(0, limit)
    top.set_ylim(0, limit)
    top.set_ylabel("observed rate")
    top.set_title(title)
    top.legend(loc="upper left")
    top.text(0.98, 0.02,
             f"AUC {metrics.auc:.3f}   Brier {metrics.brier:.4f}   BSS {metrics.brier_skill:.3f}\n"
             f"ECE {metrics.ece:.4f}   slope {metrics.calibration_slope:.2f}   "
             f"intercept {metrics.calibration_intercept:.2f}   n {metrics.n}",
             transform=top.transAxes, ha="right", va="bottom", fontsize=8)
    bottom.hist(p, bins=np.linspace(0, limit, 40), color="tab:gray")
    bottom.set_xlabel("forecast probability")
    bottom.set_ylabel("rows")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def json_finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth of dicts, lists and tuples)
    made None, so that it is written as strict JSON (``null``, never a bare ``NaN``)."""
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_finite(v) for v in value]
    return value


def write_report(directory: str | Path, y: np.ndarray, p: np.ndarray, metrics: Metrics,
                 extra: dict[str, Any] | None = None, title: str = "Reliability"
                 ) -> tuple[Path, Path]:
    """``reliability.png`` and ``metrics.json`` in ``directory``; returns both paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png = plot_reliability(y, p, directory / "reliability.png", metrics, title)
    table = reliability_table(y, p)
    data = {
        "metrics": metrics.to_dict(),
        "reliability": {
            "edges": table.edges.round(6).tolist(),
            "count": table.count.astype(int).tolist(),
            "mean_p": [None if np.isnan(v) else round(float(v), 6) for v in table.mean_p],
            "observed": [None if np.isnan(v) else round(float(v), 6) for v in table.observed],
        },
        **(extra or {}),
    }
    js = directory / "metrics.json"
    # strict JSON: a figure that is not a number (AUC of a single class, say) is null
    js.write_text(json.dumps(json_finite(data), indent=2, allow_nan=False) + "\n",
                  encoding="utf-8")
    return png, js
