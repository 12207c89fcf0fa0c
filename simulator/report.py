"""report.html: one self-contained page (plotly.js inlined once) with the run's figures."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from simulator.metrics import TRUSTED_REPLICATIONS, Verdict, t_interval, verdict
from simulator.runner import Experiment

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.note { color: #555; font-size: 13px; }
.wide { overflow-x: auto; }
.verdict { border-left: 4px solid #2a6; background: #f3faf5; padding: 0.6em 1em; }
.verdict.doubt { border-left-color: #c80; background: #fdf8ee; }
"""


def _ci(values: pd.Series) -> tuple[float, float | None]:
    """(mean, half-width of the 95% t-interval); no half-width (no error bar drawn) where
    there is no interval or it has zero width: one replication, or values that never vary."""
    mean, low, _ = t_interval(values.to_numpy(dtype=float))
    half = mean - low
    return mean, half if np.isfinite(half) and half > 0 else None


def _interval_note(exp: Experiment) -> str:
    """What the error bars are, and a warning with too few replications to trust them."""
    n = len(exp.replications)
    if n < TRUSTED_REPLICATIONS:
        return (f"mean; 95% t-interval, not to be trusted with {n} replication(s), fewer "
                f"than {TRUSTED_REPLICATIONS}")
    return "mean, 95% t-interval"


def _conversions(exp: Experiment) -> go.Figure:
    s = exp.summary
    fig = go.Figure()
    for column, name in (("expected_conversions", "expected (sum of true p)"),
                         ("conversions", "realized")):
        stats = [_ci(s[s["policy"] == p][column]) for p in _labels(exp)]
        fig.add_bar(name=name, x=_labels(exp), y=[m for m, _ in stats],
                    error_y={"type": "data", "array": [h for _, h in stats]})
    bound = s.groupby("replication")["hindsight_conversions"].first().mean()
    if np.isfinite(bound):
        fig.add_hline(y=bound, line_dash="dash",
                      annotation_text=f"hindsight bound (mean {bound:.1f})")
    fig.update_layout(title=f"Conversions per replication by policy ({_interval_note(exp)})",
                      barmode="group", yaxis_title="funded loans")
    return fig


def _speed_to_lead(exp: Experiment) -> go.Figure:
    fig = go.Figure()
    for label in _labels(exp):
        minutes = []
        for rep in exp.replications:
            run = next(r for r in rep.runs if r.label == label)
            worked = run.officer >= 0
            minutes.append((run.contact_s[worked] - rep.inputs.stream.arrival_s[worked]) / 60.0)
        m = np.sort(np.concatenate(minutes))
        if len(m) > 2000:  # enough points for the curve
            m = m[np.linspace(0, len(m) - 1, 2000).astype(int)]
        fig.add_scatter(x=np.maximum(m, 0.01), y=np.linspace(0, 1, len(m)), mode="lines",
                        name=label)
    fig.update_layout(title="Speed to lead: minutes from arrival to first contact attempt "
                            "(worked leads, all replications)",
                      xaxis={"type": "log", "title": "minutes"},
                      yaxis={"title": "share of leads", "range": [0, 1]})
    return fig


def _sla(exp: Experiment) -> go.Figure:
    s = exp.summary
    stats = [_ci(s[s["policy"] == p]["sla_breaches"]) for p in _labels(exp)]
    fig = go.Figure(go.Bar(x=_labels(exp), y=[m for m, _ in stats],
                           error_y={"type": "data", "array": [h for _, h in stats]}))
    fig.update_layout(title="SLA breaches per replication (offers not accepted in time; "
                            f"{_interval_note(exp)})",
                      yaxis_title="breaches")
    return fig


def _workload(exp: Experiment) -> go.Figure:
    roster = exp.world.roster
    order = exp.world.skill_order()
    fig = go.Figure()
    for label in _labels(exp):
        counts = np.zeros(len(roster))
        for rep in exp.replications:
            run = next(r for r in rep.runs if r.label == label)
            counts += np.bincount(run.officer[run.officer >= 0], minlength=len(roster))
        fig.add_bar(name=label, x=[roster.ids_tuple[i] for i in order],
                    y=counts[order] / len(exp.replications))
    fig.update_layout(title="Leads worked per officer per replication (officers from the most "
                            "to the least skilled, by hidden skill)",
                      barmode="group", yaxis_title="leads", xaxis={"tickfont": {"size": 8}})
    return fig


def _by(exp: Experiment, attribute: str, title: str) -> go.Figure:
    fig = go.Figure()
    for label in _labels(exp):
        totals: dict[str, float] = {}
        for rep in exp.replications:
            run = next(r for r in rep.runs if r.label == label)
            for lead, p in zip(rep.inputs.stream.leads, run.p_funded, strict=True):
                key = str(getattr(lead, attribute))
                key = getattr(getattr(lead, attribute), "value", key)
                totals[key] = totals.get(key, 0.0) + float(p)
        keys = sorted(totals)
        fig.add_bar(name=label, x=keys, y=[totals[k] / len(exp.replications) for k in keys])
    fig.update_layout(title=title, barmode="group", yaxis_title="expected funded loans")
    return fig


def _labels(exp: Experiment) -> list[str]:
    return [p.label for p in exp.policies]


def _number(v: object) -> str:
    """Whole numbers without decimals, others to three."""
    if isinstance(v, float | np.floating):
        if not np.isfinite(v):
            return ""
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.3f}"
    return html.escape(str(v))


def _table(frame: pd.DataFrame) -> str:
    """A table that scrolls sideways on a narrow window rather than overflowing."""
    body = frame.to_html(index=False, border=0, escape=False,
                         formatters={c: _number for c in frame.columns})
    return f"<div class='wide'>{body}</div>"


def figures(exp: Experiment) -> dict[str, go.Figure]:
    """The run's figures by short title (the report's and the lab's)."""
    return {
        "conversions": _conversions(exp),
        "speed to lead": _speed_to_lead(exp),
        "SLA breaches": _sla(exp),
        "workload per officer": _workload(exp),
        "by source": _by(exp, "source", "Expected conversions per replication by lead source"),
        "by program": _by(exp, "loan_program",
                          "Expected conversions per replication by loan program"),
    }


def _verdict(found: Verdict) -> str:
    """The verdict box that opens the report (``simulator.metrics.verdict``)."""
    doubt = "" if found.trusted and found.separated else " doubt"
    return (f"<div class='verdict{doubt}'><h2>Verdict</h2><p><b>{html.escape(found.headline)}"
            f"</b></p><p>{html.escape(found.text.removeprefix(found.headline).strip())}</p>"
            f"<p class='note'>{html.escape(found.read_me)}</p></div>")


def write_report(exp: Experiment, path: Path) -> None:
    """Write the self-contained HTML report of ``exp`` to ``path``."""
    blocks = []
    for k, fig in enumerate(figures(exp).values()):
        fig.update_layout(template="plotly_white", height=430)
        blocks.append(pio.to_html(fig, full_html=False, div_id=f"figure-{k + 1}",
                                  include_plotlyjs="inline" if k == 0 else False))
    s = exp.summary
    means = s.drop(columns=["replication"]).groupby("policy", sort=False).mean().reset_index()
    comp = exp.comparison
    baseline = _labels(exp)[0]
    paired = comp[(comp["baseline"] == baseline) & comp["metric"].isin(
        ["expected_conversions", "conversions", "ratio_to_bound",
         "p90_minutes_to_first_contact"])]
    # a zero-width interval is not certainty: shown blank, like one that cannot be computed
    flat = paired["ci_low"] == paired["ci_high"]
    paired = paired.assign(ci_low=paired["ci_low"].mask(flat), ci_high=paired["ci_high"].mask(flat))
    sc = exp.scenario
    head = (f"<h1>Simulation: {html.escape(sc.name)}</h1>"
            f"<p>{html.escape(sc.description)}</p>"
            f"<p class='note'>{len(exp.replications)} replication(s), seed {exp.seed}; "
            f"{len(exp.world.roster)} officers; start {sc.start.isoformat()}, {sc.days:g} days. "
            "Expected conversions are the sum of the true probabilities of what happened "
            "(given the actual delays); the hindsight bound is the best assignment of the same "
            "stream with hindsight of every draw (docs/simulator.md).</p>")
    verdict_block = _verdict(verdict(s))
    # metrics down, policies across: a column per policy fits the page
    means_by_metric = means.set_index("policy").T.rename_axis(index="metric",
                                                              columns=None).reset_index()
    body = [head, verdict_block, "<h2>Means over replications</h2>", _table(means_by_metric),
            f"<h2>Paired differences against {html.escape(baseline)} (95% t-intervals)</h2>",
            _table(paired),
            "<p class='note'>A blank interval: none can be computed from one replication, or "
            "the difference was the same in every replication (an interval of zero width, "
            "which is not certainty). " + html.escape(_interval_note(exp).capitalize()) + ".</p>",
            *blocks]
    path.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                    f"<title>leadroute simulation: {html.escape(sc.name)}</title>"
                    f"<style>{_STYLE}</style></head><body>" + "\n".join(body)
                    + "</body></html>", encoding="utf-8")
