"""Batch assignment with a fairness side constraint, solved on the CP-SAT path.

Same instance as bench_solver_batch (10,000 leads x 1,000 officers, ~1.6M eligible pairs).
Fairness: no officer may hold more than 2.5x the average officer share of the assigned
expected value (``value_share_max = 2.5 / M``). Without it the top 5% of officers would
hold 2.7-5.5x the average; the cap binds for about a hundred officers.

Reports wall time (target <= 10 s, the default time limit), objective, proven bound of the
FULL problem, gap = (bound - objective) / bound (target <= 0.5%) and the validator.

    /work/main/.venv/bin/python benchmarks/bench_solver_fairness.py [--quick] [--share-multiple 2.5]
"""

from __future__ import annotations

import argparse

from _common import banner, timed, verdict

from engine.solver import AssignmentProblem, SolveStatus, solve_assignment, validate_assignment
from tests.solver.instances import batch_instance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,500 leads x 250 officers")
    parser.add_argument(
        "--share-multiple",
        type=float,
        default=2.5,
        help="cap as a multiple of the average officer share",
    )
    parser.add_argument(
        "--time-limit-s", type=float, default=None, help="solver limit (default 10 s, quick 3 s)"
    )
    args = parser.parse_args()
    if args.time_limit_s is None:
        args.time_limit_s = 3.0 if args.quick else 10.0
    banner("bench_solver_fairness", args.quick)
    size = {"num_leads": 2_500, "num_officers": 250} if args.quick else {}
    value, capacity, _ = batch_instance(seed=0, **size)
    share = args.share_multiple / value.shape[1]
    unconstrained = solve_assignment(AssignmentProblem.from_arrays(value, capacity))
    problem = AssignmentProblem.from_arrays(
        value, capacity, value_share_max=share, time_limit_s=args.time_limit_s
    )
    print(
        f"instance: {problem.num_leads} leads x {problem.num_officers} officers, "
        f"{problem.num_arcs} eligible pairs; value_share_max = {args.share_multiple} / "
        f"{problem.num_officers} = {share:.6f}"
    )
    result, wall_s = timed(lambda: solve_assignment(problem))
    violations = validate_assignment(problem, result.assignment)
    print(f"solve_assignment wall time: {wall_s:.2f} s (target <= 10 s: {verdict(wall_s <= 10.0)})")
    print(
        f"status {result.status.value}, method {result.method}, objective {result.objective:.3f}, "
        f"bound {result.bound:.3f}"
    )
    print(
        f"gap (bound - objective) / bound: {100 * result.gap:.3f}% "
        f"(target <= 0.5%: {verdict(result.gap <= 0.005)})"
    )
    print(
        f"unconstrained optimum {unconstrained.objective:.3f}: fairness costs at most "
        f"{100 * (1 - result.objective / unconstrained.objective):.2f}% of value"
    )
    print(f"validator: {'clean' if not violations else violations[:3]}")
    for note in result.notes:
        print(f"  - {note}")
    ok = (
        result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
        and not violations
        and wall_s <= 10.0
        and result.gap <= 0.005
    )
    print(f"overall: {verdict(ok)}")


if __name__ == "__main__":
    main()
