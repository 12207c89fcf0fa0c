"""The lead's life after its first decision, measured: the held queue's order and staleness,
and whether open offers hold a slot.

Held queue (``--part held``): the surge scenario (the reference world with 50% more leads,
capacity about 0.7x of volume) and the reference month, each policy under each
``routing.lifecycle`` variant (held order: oldest first, the earlier engine's order; freshest
first; highest value for a scoring method; with or without giving up leads held longer than a
day or two). For each: expected conversions, the paired difference against oldest first with
its 95% interval, realized conversions, median and p90 minutes to first contact, SLA breaches,
leads never worked and given up, the backlog (leads waiting) at the end of the arrival window,
and engine decisions a lead.

Offers (``--part offers``): broadcast policies with ``offers_hold_slots`` off and on, on the
reference month: claims refused at a cap, conversions, time to first contact.

Run: ``python benchmarks/bench_lifecycle.py [--part held|offers|all] [--replications 5]
[--seed 1]``. Common random numbers: every variant sees the same leads and draws.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.crn import replication_seeds  # noqa: E402
from simulator.metrics import compare, summarize, waiting_at  # noqa: E402
from simulator.model import RunOptions  # noqa: E402
from simulator.policies import resolve_policies  # noqa: E402
from simulator.runner import build_world, check_policies, prepare, run_policy  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

SCENARIOS = ROOT / "data" / "scenarios"
HELD_VARIANTS: dict[str, dict[str, Any]] = {
    "oldest_first": {"held_order": "oldest_first"},
    "freshest_first": {"held_order": "freshest_first"},
    "oldest_first, stale 1 day": {"held_order": "oldest_first", "stale_after_s": 86400},
    "freshest_first, stale 1 day": {"held_order": "freshest_first", "stale_after_s": 86400},
    "freshest_first, stale 2 days": {"held_order": "freshest_first", "stale_after_s": 172800},
}
SCORING_VARIANTS: dict[str, dict[str, Any]] = {
    "highest_value": {"held_order": "highest_value"},
    "highest_value, stale 1 day": {"held_order": "highest_value", "stale_after_s": 86400},
}


def run_variants(scenario_name: str, policy: str, variants: dict[str, dict[str, Any]],
                 replications: int, seed: int) -> pd.DataFrame:
    """One row per (variant, replication): the summary metrics plus the backlog."""
    base = load_scenario(SCENARIOS / f"{scenario_name}.yaml")
    world = build_world(base)
    (named,) = resolve_policies([policy])
    rows = []
    for label, overrides in variants.items():
        scenario = replace(base, operations=replace(base.operations, lifecycle=overrides))
        check_policies(scenario, [named])
        for rep in replication_seeds(seed, replications):
            inputs = prepare(scenario, world, rep)
            run = run_policy(scenario, inputs, named, rep, RunOptions(record_events=False))
            row = summarize(inputs, run, None)
            row["policy"] = label
            row["waiting_at_window_end"] = waiting_at(inputs, run, scenario.horizon_s)
            row["decisions_a_lead"] = row["decide_calls"] / row["leads"]
            rows.append(row)
    return pd.DataFrame(rows)


def report(frame: pd.DataFrame, title: str, baseline: str) -> None:
    means = frame.groupby("policy", sort=False).mean(numeric_only=True)
    diffs = compare(frame, ["expected_conversions", "never_worked"])
    print(f"\n{title}")
    print(f"  {'variant':<30} {'expected':>9} {'vs ' + baseline + ' (95% CI)':>30} "
          f"{'realized':>8} {'med min':>8} {'p90 min':>8} {'breaches':>8} {'never':>6} "
          f"{'gave up':>7} {'waiting':>7} {'dec/lead':>8}")
    for label, row in means.iterrows():
        if label == baseline:
            versus = "-"
        else:
            d = diffs[(diffs["policy"] == label) & (diffs["baseline"] == baseline)
                      & (diffs["metric"] == "expected_conversions")].iloc[0]
            versus = f"{d['mean_difference']:+.1f} [{d['ci_low']:+.1f}, {d['ci_high']:+.1f}]"
        print(f"  {label:<30} {row['expected_conversions']:9.1f} {versus:>30} "
              f"{row['conversions']:8.1f} {row['median_minutes_to_first_contact']:8.1f} "
              f"{row['p90_minutes_to_first_contact']:8.0f} {row['sla_breaches']:8.0f} "
              f"{row['never_worked']:6.0f} {row['given_up']:7.0f} "
              f"{row['waiting_at_window_end']:7.0f} {row['decisions_a_lead']:8.2f}")


def held(replications: int, seed: int, scenarios: list[str], policies: list[str],
         only: list[str]) -> None:
    for scenario in scenarios:
        for policy in policies:
            variants = dict(HELD_VARIANTS)
            if policy.startswith("dual_price") or policy in ("greedy", "batch_optimal"):
                variants.update(SCORING_VARIANTS)
            if only:
                variants = {k: v for k, v in variants.items() if k in only}
            started = time.perf_counter()
            frame = run_variants(scenario, policy, variants, replications, seed)
            report(frame, f"held queue: {scenario}, {policy}, {replications} replications "
                          f"(seed {seed}), {time.perf_counter() - started:.0f} s",
                   "oldest_first")


def offers(replications: int, seed: int) -> None:
    for policy in ("first_to_claim", "dual_price_broadcast"):
        frame = run_variants("reference", policy, {
            "offers hold no slot": {"offers_hold_slots": False},
            "offers hold a slot": {"offers_hold_slots": True},
        }, replications, seed)
        report(frame, f"offers: reference, {policy}, {replications} replications (seed {seed})",
               "offers hold no slot")
        refused = frame.groupby("policy", sort=False)["claim_refusals"].mean()
        print("  claims refused at a cap: " + ", ".join(f"{k} {v:.0f}"
                                                       for k, v in refused.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=["held", "offers", "all"], default="all")
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", action="append", default=[],
                        help="held part: scenario names (default surge and reference)")
    parser.add_argument("--policy", action="append", default=[],
                        help="held part: built-in policies (default rules, round_robin, "
                             "dual_price_broadcast)")
    parser.add_argument("--variant", action="append", default=[],
                        help="held part: only these variants (by label)")
    args = parser.parse_args()
    np.seterr(all="ignore")
    if args.part in ("offers", "all"):
        offers(args.replications, args.seed)
    if args.part in ("held", "all"):
        held(args.replications, args.seed, args.scenario or ["surge", "reference"],
             args.policy or ["rules", "round_robin", "dual_price_broadcast"], args.variant)


if __name__ == "__main__":
    main()
