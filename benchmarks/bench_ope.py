"""Off-policy evaluation on the reference scenario: how close IPS, self-normalized IPS and
doubly robust land to the simulated truths.

A logging run of round robin with exploration (the simulator's logging policy: with
probability EXPLORATION a uniform draw among the engine's ranked candidates) records each
placing decision with its propensity; each candidate policy is asked at every decision what
it would do. Printed per candidate, as means over the replications (funded loans a lead):
each estimate, the candidate's true value on the logged rounds (what the estimators aim at),
its own simulated run (which also carries the feedback of its decisions on caps, load and
holds), and the estimates' relative errors against the first truth, replication by
replication.

Run: ``python benchmarks/bench_ope.py [--replications 3] [--seed 1] [--exploration 0.5]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.ope import evaluate  # noqa: E402
from simulator.policies import resolve_policy  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

REFERENCE = ROOT / "data" / "scenarios" / "reference.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", type=Path, default=REFERENCE)
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exploration", type=float, default=0.5)
    parser.add_argument("--candidate", action="append", default=None,
                        help="candidate policy (built-in name or file); repeat for several "
                             "(default: rules and greedy)")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    logging = resolve_policy("round_robin")
    print(f"off-policy evaluation: {scenario.name}, logging round_robin with exploration "
          f"{args.exploration}, {args.replications} replications (seed {args.seed})")
    for name in args.candidate or ["rules", "greedy"]:
        started = time.perf_counter()
        frame = evaluate(scenario, resolve_policy(name), logging,
                         exploration=args.exploration, replications=args.replications,
                         seed=args.seed)
        first = frame.iloc[0]
        print(f"  candidate {name} ({time.perf_counter() - started:.0f} s): true value on "
              f"the logged rounds {frame['truth_same_contexts'].mean():.4f}; own run "
              f"{frame['truth_simulated_expected'].mean():.4f} expected, "
              f"{frame['truth_simulated_realized'].mean():.4f} realized; logging policy "
              f"{frame['logging_value'].mean():.4f}; {first['rounds']:.0f} rounds, "
              f"{first['matched_share']:.0%} matched, smallest propensity "
              f"{frame['min_propensity'].min():.3f}")
        for estimator, rows in frame.groupby("estimator", sort=False):
            errors = rows["estimate"] / rows["truth_same_contexts"] - 1.0
            print(f"    {estimator:<14} {rows['estimate'].mean():.4f}  error against the "
                  f"logged rounds' truth: mean {errors.mean():+.1%}, from {errors.min():+.1%} "
                  f"to {errors.max():+.1%}")


if __name__ == "__main__":
    main()
