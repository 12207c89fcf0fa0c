"""What-if from a history alone, checked as it will be used (docs/simulator.md, "What-if
from your own history").

For each world (every shipped scenario in data/scenarios and the hard one in
benchmarks/scenarios/hard.yaml): log a history with round robin with exploration, fit a
scenario from that history and the roster alone (``leadroute scenario fit``), forecast each
candidate policy's expected conversions in the fitted scenario, and run each candidate in the
original world on the same leads (its truth). Prints, per world and candidate, the forecast
and the truth (means over the replications with 95% half-widths), the forecast's error and
both ranks; then whether every candidate is within the goal (5%) and the ranking preserved.

Run: ``nice python benchmarks/bench_scenario_fit.py [--days 30] [--replications 5]
[--world reference] [--candidate rules] [--world-seed 78]``. Each world takes a few minutes
on one core.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.fitcheck import check_fit  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

WORLDS = {
    "reference": ROOT / "data" / "scenarios" / "reference.yaml",
    "surge": ROOT / "data" / "scenarios" / "surge.yaml",
    "attrition": ROOT / "data" / "scenarios" / "attrition.yaml",
    "va_campaign": ROOT / "data" / "scenarios" / "va_campaign.yaml",
    "engine_caps": ROOT / "data" / "scenarios" / "engine_caps.yaml",
    "hard": ROOT / "benchmarks" / "scenarios" / "hard.yaml",
}
# A month of history in every world: the least on which a month's chance (the funded count
# of one history against the truth's expectation of it) is near the 5% goal where about 250
# leads fund a month. The worlds with a standing backlog (surge, engine_caps) fund about 100
# a month, so their histories' chance alone is about 10%; they take 2-6 minutes each.
DAYS: dict[str, float] = {}
CANDIDATES = ("round_robin", "rules", "first_to_claim")
GOAL_PCT = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", action="append", choices=sorted(WORLDS), default=None)
    parser.add_argument("--candidate", action="append", default=None,
                        help=f"built-in name or policy file (default: {', '.join(CANDIDATES)})")
    parser.add_argument("--days", type=float, default=None,
                        help="days of every world, shorter or longer than the scenario's own "
                             "(default: 30)")
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--exploration", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--world-seed", type=int, default=None,
                        help="draw the world's hidden officer traits afresh with this seed "
                             "(world.seed: another lender of the same kind), to tell a "
                             "method's bias from the luck of one world's draw")
    parser.add_argument("--worked-only", action="store_true",
                        help="replay the history's worked leads alone, as a fit without "
                             "--leads does (default: every lead the logging run received)")
    parser.add_argument("--no-calibrate", action="store_true",
                        help="the tied-up share as solved from the time-outs alone, without "
                             "the simulation-based calibration")
    args = parser.parse_args()
    candidates = args.candidate or list(CANDIDATES)
    print(f"what-if from a history alone: logging round_robin with "
          f"exploration {args.exploration}, {args.replications} replications, seed "
          f"{args.seed}; expected conversions, forecast (fitted scenario) against truth "
          "(original world, same leads)")
    verdicts = []
    for name in args.world or list(WORLDS):
        scenario = load_scenario(WORLDS[name])
        days = args.days or DAYS.get(name, 30.0)
        if scenario.days != days:  # shortened (departures after the end dropped) or longer
            scenario = replace(scenario, days=days,
                               departures=tuple(d for d in scenario.departures
                                                if d.at < scenario.start + timedelta(days=days)))
        if args.world_seed is not None:
            scenario = replace(scenario, world=replace(scenario.world, seed=args.world_seed))
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            result = check_fit(scenario, candidates, Path(tmp), name=name,
                               exploration=args.exploration,
                               replications=args.replications, seed=args.seed,
                               calibrate=not args.no_calibrate,
                               received=not args.worked_only)
        # the history's own luck: its funded count against the truth's expectation of it
        luck = (result.history_funded, result.history_truth)
        fit = result.fit
        drawn = "" if args.world_seed is None else f", world seed {args.world_seed}"
        print(f"\n{name}{drawn}, {days:g} days ({time.perf_counter() - started:.0f} s): history "
              f"{result.history_rows}"
              f" worked leads of {len({lead.lead_id for lead in fit.leads})} replayed, "
              f"{fit.contacted} contacted, {fit.applications} applications, "
              f"{fit.funded} funded; fitted SLA {fit.response.accept_within_s}, time-outs "
              f"{fit.response.timeout_share:.3f}, tied-up share "
              f"{fit.response.busy_probability:.3f}, application model C "
              f"{fit.application.c:g}")
        if fit.coverage is not None:
            print(f"  contacted leads: {fit.coverage.text()}")
        cal = result.calibration
        if cal is not None:
            print(f"  tied-up share calibrated: {cal.busy_probability:.3f} (simulated history "
                  f"reads {cal.reached:.3f} time-outs where the real one reads "
                  f"{cal.target:.3f}; {len(cal.steps)} simulations: "
                  + ", ".join(f"{b:.3f}->{r:.3f}" for b, r in cal.steps) + ")")
        print(f"  the history funded {luck[0]:.0f} where the truth expects {luck[1]:.1f} "
              f"({100.0 * (luck[0] / luck[1] - 1.0):+.1f}%: chance, which every fit from it "
              "carries)")
        bias = 100.0 * (result.fitted_on_history / luck[0] - 1.0)
        print(f"  the fitted world expects {result.fitted_on_history:.1f} on the history's own "
              f"rows, officers and delays ({bias:+.1f}% against its funded count: the fit's "
              "own level bias)")
        # net of luck: against the truth scaled by the history's luck (what the forecast
        # would be judged against had the history funded as the truth expects): a
        # diagnostic of the fit apart from its history's chance, not the goal
        lucky = luck[0] / luck[1]
        print(f"  {'policy':<16} {'forecast':>16} {'truth':>16} {'error':>8} "
              f"{'net of luck':>12} {'rank f/t':>9}")
        for r in result.rows:
            net = 100.0 * (r.forecast / (r.truth * lucky) - 1.0)
            print(f"  {r.policy:<16} {r.forecast:>8.1f} ± {r.forecast_half_width:<5.1f} "
                  f"{r.truth:>8.1f} ± {r.truth_half_width:<5.1f} {r.error_pct:>+7.1f}% "
                  f"{net:>+11.1f}% {r.forecast_rank:>4}/{r.truth_rank}")
        within = result.max_abs_error_pct <= GOAL_PCT
        print(f"  largest error {result.max_abs_error_pct:.1f}% "
              f"({'within' if within else 'NOT within'} {GOAL_PCT:g}%); ranking "
              f"{'preserved' if result.ranking_preserved else 'NOT preserved'}")
        verdicts.append((name, within, result.ranking_preserved))
    print("\nsummary: " + "; ".join(
        f"{n}: {'met' if w and k else 'NOT met'}" for n, w, k in verdicts))


if __name__ == "__main__":
    main()
