"""The hindsight bound before and after closing two slacks, on every shipped scenario.

Two slacks made the bound looser than it needs to be: a contact could be credited at exactly
the end of the run (when the run has stopped; with it, a capacity day or hour that starts
at the end), and an officer who had left could be credited with a response started after
leaving (only the notice was moved out of their time off). The bound now credits neither,
and the run's officers start no response while on time off, so it stays a ceiling.

For each scenario in ``data/scenarios`` and each replication: the bound as it was (the
module at commit ``BEFORE``, read from git and loaded beside the current one) and as it is,
on the same inputs; then the expected conversions of a few built-in policies in the same
replication, as ratios to each bound, and a check that no policy passes the bound now.

Run: ``python benchmarks/bench_bound.py [--replications 1] [--seed 1] [--policy NAME ...]``
(from a git checkout: the "before" bound is read with ``git show``).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.bound import hindsight_bound  # noqa: E402
from simulator.crn import replication_seeds  # noqa: E402
from simulator.model import RunOptions  # noqa: E402
from simulator.policies import resolve_policies  # noqa: E402
from simulator.runner import build_world, prepare, run_policy  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

BEFORE = "dfd0283"  # main before the slacks were closed
SCENARIOS = ("reference", "surge", "attrition", "va_campaign", "engine_caps")


def bound_before() -> ModuleType:
    """simulator/bound.py as it was at ``BEFORE``, as a module of its own."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:simulator/bound.py"],
                            check=True, capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("bound_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bound_before"] = module  # dataclasses look their module up
    exec(compile(source, f"{BEFORE}:simulator/bound.py", "exec"), module.__dict__)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policy", action="append", default=None,
                        help="built-in policies to hold against the bounds (repeatable)")
    parser.add_argument("--scenario", action="append", default=None, choices=SCENARIOS)
    args = parser.parse_args()
    old = bound_before()
    policies = resolve_policies(args.policy or ["round_robin", "first_to_claim", "greedy"])
    print(f"== hindsight bound before ({BEFORE}) and after, {args.replications} "
          f"replication(s), seed {args.seed} ==")
    print(f"{'scenario':<12} {'rep':>3} {'before':>10} {'after':>10} {'after-before':>12} "
          f"{'s before':>8} {'s after':>8}  policy: expected, ratio before -> after",
          flush=True)
    ceiling_ok = True
    for name in args.scenario or SCENARIOS:
        scenario = load_scenario(ROOT / "data" / "scenarios" / f"{name}.yaml")
        world = build_world(scenario)
        for seed in replication_seeds(args.seed, args.replications):
            inputs = prepare(scenario, world, seed)
            started = time.perf_counter()
            before = old.hindsight_bound(inputs).value
            before_s = time.perf_counter() - started
            after = hindsight_bound(inputs)
            parts = []
            for named in policies:
                run = run_policy(scenario, inputs, named, seed, RunOptions(record_events=False))
                expected = float(run.p_funded.sum())
                ceiling_ok &= expected <= after.value + 1e-9
                parts.append(f"{named.label} {expected:.1f}, {expected / before:.5f} -> "
                             f"{expected / after.value:.5f}")
            print(f"{name:<12} {seed.replication:>3} {before:10.4f} {after.value:10.4f} "
                  f"{after.value - before:+12.4f} {before_s:8.2f} {after.wall_s:8.2f}  "
                  + "; ".join(parts), flush=True)
    print(f"no policy above the bound after: {'yes' if ceiling_ok else 'NO'}")


if __name__ == "__main__":
    main()
