"""Summary metrics of a run, paired comparisons between policies, and their intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from engine.roster import NO_CAP, zone
from simulator.bound import BoundResult
from simulator.model import Inputs, RunResult

SUMMARY_COLUMNS = (
    "policy", "replication", "leads", "worked", "reached_and_qualified", "applications",
    "conversions",
    "conversion_rate", "expected_conversions", "hindsight_conversions", "ratio_to_bound",
    "median_minutes_to_first_contact", "p90_minutes_to_first_contact", "sla_breaches",
    "licensing_violations", "workload_gini", "utilization", "held_leads", "given_up",
    "never_worked", "claim_refusals", "decide_calls",
)
# metrics compared between policies (comparison.csv); higher is better for the first four
COMPARED = ("conversions", "expected_conversions", "conversion_rate", "ratio_to_bound",
            "median_minutes_to_first_contact", "p90_minutes_to_first_contact", "sla_breaches",
            "workload_gini")


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal); 0 for an all-zero vector."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def licensing_violations(inputs: Inputs, run: RunResult) -> int:
    """Worked leads whose officer was not licensed in the property's state on the lead's local
    date when the lead became theirs: checked from the roster, independently of the engine."""
    roster = inputs.world.roster
    count = 0
    start = inputs.clock.start
    for i in np.flatnonzero(run.officer >= 0):
        lead = inputs.stream.leads[i]
        o = int(run.officer[i])
        when = start + pd.Timedelta(seconds=float(run.assigned_s[i]))
        local_day = when.astimezone(zone(lead.timezone)).date() if lead.timezone else when.date()
        lic = roster.officers[o].license_for(lead.state)
        if lic is None or not lic.active_on(local_day):
            count += 1
    return count


def utilization(inputs: Inputs, run: RunResult) -> float:
    """Mean over officers with a cap on open leads of their time-averaged open leads / cap,
    from the start to the last arrival (in [0, 1] when the cap is respected)."""
    roster = inputs.world.roster
    horizon = float(inputs.stream.arrival_s[-1]) if len(inputs.stream) else 0.0
    capped = np.flatnonzero(roster.cap_open != NO_CAP)
    if horizon <= 0 or len(capped) == 0:
        return 0.0
    occupied = np.zeros(len(roster))
    if len(run.intervals):
        o = run.intervals[:, 0].astype(np.int64)
        start = np.clip(run.intervals[:, 1], 0.0, horizon)
        end = np.clip(np.nan_to_num(run.intervals[:, 2], nan=horizon), 0.0, horizon)
        np.add.at(occupied, o, end - start)
    return float(np.mean(occupied[capped] / (roster.cap_open[capped] * horizon)))


def waiting_at(inputs: Inputs, run: RunResult, t_s: float) -> int:
    """Leads waiting at SimPy time ``t_s``: arrived, not yet worked, not given up (the
    backlog: held, offered, or between rounds)."""
    arrived = inputs.stream.arrival_s <= t_s
    worked = run.contact_s <= t_s  # NaN compares False
    gone = run.given_up_s <= t_s
    return int((arrived & ~worked & ~gone).sum())


def summarize(inputs: Inputs, run: RunResult, bound: BoundResult | None) -> dict[str, Any]:
    """One summary.csv row (see SUMMARY_COLUMNS)."""
    n = len(inputs.stream)
    worked = run.officer >= 0
    minutes = (run.contact_s[worked] - inputs.stream.arrival_s[worked]) / 60.0
    expected = float(run.p_funded.sum())
    hindsight = bound.value if bound is not None else float("nan")
    per_officer = np.bincount(run.officer[worked], minlength=len(inputs.world.roster))
    return {
        "policy": run.label, "replication": run.replication, "leads": n,
        "worked": int(worked.sum()), "reached_and_qualified": int(run.contacted.sum()),
        "applications": int(run.application.sum()), "conversions": int(run.funded.sum()),
        "conversion_rate": float(run.funded.sum() / n) if n else 0.0,
        "expected_conversions": expected, "hindsight_conversions": hindsight,
        "ratio_to_bound": expected / hindsight if hindsight and hindsight > 0 else float("nan"),
        "median_minutes_to_first_contact": float(np.median(minutes)) if len(minutes)
        else float("nan"),
        "p90_minutes_to_first_contact": float(np.percentile(minutes, 90)) if len(minutes)
        else float("nan"),
        "sla_breaches": int(run.sla_breaches.sum()),
        "licensing_violations": licensing_violations(inputs, run),
        "workload_gini": gini(per_officer), "utilization": utilization(inputs, run),
        "held_leads": int(run.held.sum()), "given_up": int(run.abandoned.sum()),
        "never_worked": int((~worked).sum()), "claim_refusals": run.claim_refusals,
        "decide_calls": int(run.decide_calls.sum()),
    }


def t_interval(diffs: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the t-interval of the mean of paired differences (NaN bounds with
    fewer than two replications)."""
    d = np.asarray(diffs, dtype=float)
    mean = float(d.mean()) if len(d) else float("nan")
    if len(d) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return mean, mean - half, mean + half


def compare(summary: pd.DataFrame, metrics: Sequence[str] = COMPARED,
            level: float = 0.95) -> pd.DataFrame:
    """Paired differences (policy minus baseline) over replications, for every ordered pair
    of policies, with t-intervals: one row per (policy, baseline, metric)."""
    rows = []
    policies = list(dict.fromkeys(summary["policy"]))
    for policy in policies:
        for baseline in policies:
            if policy == baseline:
                continue
            a = summary[summary["policy"] == policy].set_index("replication")
            b = summary[summary["policy"] == baseline].set_index("replication")
            common = a.index.intersection(b.index)
            for metric in metrics:
                diff = (a.loc[common, metric] - b.loc[common, metric]).to_numpy(dtype=float)
                mean, low, high = t_interval(diff, level)
                rows.append({"policy": policy, "baseline": baseline, "metric": metric,
                             "mean_difference": mean, "ci_low": low, "ci_high": high,
                             "replications": len(common),
                             "policy_mean": float(a.loc[common, metric].mean()),
                             "baseline_mean": float(b.loc[common, metric].mean())})
    return pd.DataFrame(rows, columns=["policy", "baseline", "metric", "mean_difference",
                                       "ci_low", "ci_high", "replications", "policy_mean",
                                       "baseline_mean"])


# fewer replications than this: the t-intervals rest on too few differences to be trusted
TRUSTED_REPLICATIONS = 5
VERDICT_METRIC = "expected_conversions"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Which policy is best by expected conversions, by how much, and whether to trust it.

    best: the policy with the highest mean expected conversions; best_mean its mean.
    versus: the closest contender (second highest mean), None with a single policy.
    difference, ci_low, ci_high: best minus versus, mean of the paired differences over
        replications and its 95% t-interval (NaN when it cannot be computed).
    replications: replications the comparison rests on.
    trusted: at least ``TRUSTED_REPLICATIONS`` replications and an interval of real width.
    separated: the interval lies above zero (the best is better, not a tie within noise).
    headline: one sentence; text: the verdict in plain words (several sentences);
    read_me: which figure to read and why realized counts are noisy.
    """

    best: str
    best_mean: float
    versus: str | None
    difference: float
    ci_low: float
    ci_high: float
    replications: int
    trusted: bool
    separated: bool
    headline: str
    text: str
    read_me: str


def verdict(summary: pd.DataFrame, level: float = 0.95) -> Verdict:
    """The verdict of a run from its summary (summary.csv's rows): the best policy by mean
    expected conversions against the closest contender, with the paired interval of
    ``compare``, and plain words on whether to trust it. Raises ValueError on an empty
    summary."""
    if summary.empty:
        raise ValueError("verdict: the summary has no rows (no policy was run)")
    means = summary.groupby("policy", sort=False)[VERDICT_METRIC].mean()
    conversions = summary.groupby("policy", sort=False)["conversions"].mean()
    order = means.sort_values(ascending=False, kind="stable")
    best = str(order.index[0])
    best_mean = float(order.iloc[0])
    n = int(summary["replication"].nunique())
    pct = f"{level:.0%}"
    realized = float(conversions.mean())
    read_me = (
        "Read expected conversions: for each lead, the true probability that it funds given "
        "who worked it and how fast, summed over leads. Realized conversions are one roll of "
        f"those dice: with about {realized:.0f} conversions a run, chance alone moves the count "
        f"by about +/-{np.sqrt(max(realized, 0.0)):.0f} (one standard deviation), more than "
        "most differences between policies; realized counts are shown only as a check.")
    if len(order) == 1:
        headline = f"Only one policy was run ({best}): nothing to compare."
        text = (f"{headline} It expects {best_mean:.1f} conversions per replication over {n} "
                "replication(s).")
        return Verdict(best, best_mean, None, float("nan"), float("nan"), float("nan"), n,
                       False, False, headline, text, read_me)
    versus = str(order.index[1])
    a = summary[summary["policy"] == best].set_index("replication")[VERDICT_METRIC]
    b = summary[summary["policy"] == versus].set_index("replication")[VERDICT_METRIC]
    common = a.index.intersection(b.index)
    diff = (a.loc[common] - b.loc[common]).to_numpy(dtype=float)
    mean, low, high = t_interval(diff, level)
    n = len(common)
    relative = mean / float(order.iloc[1]) if float(order.iloc[1]) > 0 else float("nan")
    by = f"{mean:+.1f} expected conversions per replication"
    if np.isfinite(relative):
        by += f" ({relative:+.1%})"
    width = high - low if np.isfinite(low) else float("nan")
    sentences = []
    if n < 2:
        trusted = separated = False
        if mean == 0:
            headline = (f"{best} and {versus} expect the same conversions ({best_mean:.1f}) "
                        "in a single replication: no interval can be computed.")
        else:
            headline = (f"{best} expects the most conversions ({best_mean:.1f}), {by} over "
                        f"{versus}, from a single replication: no interval can be computed.")
        sentences.append(f"Run at least {TRUSTED_REPLICATIONS} replications (--replications "
                         f"{TRUSTED_REPLICATIONS}) before drawing a conclusion.")
    elif width == 0:
        trusted = separated = False
        if mean == 0:
            headline = (f"{best} and {versus} expect the same conversions ({best_mean:.1f}) in "
                        f"every one of {n} replications: no difference to report.")
        else:
            headline = (f"{best} expects the most conversions ({best_mean:.1f}), {by} over "
                        f"{versus}, the same difference in every one of {n} replications.")
        sentences.append("A difference that never varies gives an interval of zero width; "
                         "that is not certainty, only replications too few or too alike to "
                         "measure the noise: try other seeds or more replications.")
    else:
        separated = low > 0
        trusted = n >= TRUSTED_REPLICATIONS
        interval = f"{pct} interval {low:+.1f} to {high:+.1f}"
        if separated:
            headline = (f"{best} expects the most conversions ({best_mean:.1f} per "
                        f"replication), {by} over {versus} ({interval}).")
        else:
            headline = (f"{best} and {versus} cannot be told apart: {best} is ahead by "
                        f"{mean:+.1f} expected conversions per replication, but the "
                        f"{interval} includes zero.")
        if not trusted:
            sentences.append(f"Only {n} replications: intervals from fewer than "
                             f"{TRUSTED_REPLICATIONS} are not to be trusted; run at least "
                             f"{TRUSTED_REPLICATIONS} (--replications {TRUSTED_REPLICATIONS}).")
        elif separated:
            sentences.append(f"Paired over {n} replications with the same leads and draws, the "
                             "interval excludes zero: the ranking can be trusted for this "
                             "scenario.")
        else:
            sentences.append("More replications would narrow the interval; until then treat "
                             "the two as equal.")
    text = " ".join([headline, *sentences])
    return Verdict(best, best_mean, versus, mean, low, high, n, trusted, separated, headline,
                   text, read_me)
