"""Batch assignment speed: solve_assignment vs a bare OR-Tools min-cost flow on the same graph.

Instance: 10,000 leads x 1,000 officers; each officer is licensed in 8 of 50 states and a
lead is eligible iff its state is one of them (~1.6M eligible pairs); values are
quality x skill x noise; capacities uniform in [5, 13] (total ~0.9 x leads: scarce).

The bare baseline builds the same arcs (same integer costs) with the vectorised
``add_arcs_with_capacity_and_unit_cost`` call, solves, and reads the flows. Both are timed
``--repeats`` times, alternating, and the ratio of medians is reported (the machine is
shared, so only same-run ratios mean anything).

    /work/main/.venv/bin/python benchmarks/bench_solver_batch.py [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import banner, median, timed, verdict
from ortools.graph.python import min_cost_flow

from engine.solver import AssignmentProblem, SolveStatus, solve_assignment, validate_assignment
from engine.solver._scaling import scale_values
from engine.solver.solve import MCF_MAX_WEIGHT
from tests.solver.instances import batch_instance


def bare_min_cost_flow(problem: AssignmentProblem, weights: np.ndarray) -> float:
    """The same network as the solver's, built and solved directly; returns the objective."""
    num_leads, num_officers = problem.num_leads, problem.num_officers
    useful = np.flatnonzero(weights > 0)
    source, sink = num_leads + num_officers, num_leads + num_officers + 1
    tails = np.concatenate(
        (
            problem.arc_lead[useful],
            np.full(num_leads, source),
            num_leads + np.arange(num_officers),
            [source],
        )
    ).astype(np.int32)
    heads = np.concatenate(
        (
            num_leads + problem.arc_officer[useful],
            np.arange(num_leads),
            np.full(num_officers, sink),
            [sink],
        )
    ).astype(np.int32)
    capacities = np.concatenate(
        (np.ones(useful.size), np.ones(num_leads), problem.capacity, [num_leads])
    ).astype(np.int64)
    costs = np.zeros(tails.size, dtype=np.int64)
    costs[: useful.size] = -weights[useful]
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = num_leads, -num_leads
    solver.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = solver.solve()
    assert status == min_cost_flow.SimpleMinCostFlow.OPTIMAL, status
    flows = solver.flows(np.arange(useful.size, dtype=np.int32))
    return float(problem.arc_value[useful[flows > 0]].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,500 leads x 250 officers")
    parser.add_argument("--repeats", type=int, default=3, help="alternating timed runs of each")
    args = parser.parse_args()
    banner("bench_solver_batch", args.quick)
    size = {"num_leads": 2_500, "num_officers": 250} if args.quick else {}
    value, capacity, _ = batch_instance(seed=0, **size)
    problem, build_s = timed(lambda: AssignmentProblem.from_arrays(value, capacity))
    print(
        f"instance: {problem.num_leads} leads x {problem.num_officers} officers, "
        f"{problem.num_arcs} eligible pairs, total capacity {int(problem.capacity.sum())}"
    )
    weights = scale_values(problem.arc_value, MCF_MAX_WEIGHT).weights

    solve_times, bare_times = [], []
    result = None
    bare_objective = 0.0
    for _ in range(args.repeats):
        bare_objective, bare_s = timed(lambda: bare_min_cost_flow(problem, weights))
        result, solve_s = timed(lambda: solve_assignment(problem))
        bare_times.append(bare_s)
        solve_times.append(solve_s)
    assert result is not None
    violations = validate_assignment(problem, result.assignment)
    ratio = median(solve_times) / median(bare_times)
    print(
        "AssignmentProblem.from_arrays (dense -> arcs, validation): "
        f"{build_s:.3f} s (not in the ratio)"
    )
    print(
        f"solve_assignment wall time, median of {args.repeats}: {median(solve_times):.3f} s  "
        f"{[round(t, 3) for t in solve_times]}"
    )
    print(
        f"bare SimpleMinCostFlow,     median of {args.repeats}: {median(bare_times):.3f} s  "
        f"{[round(t, 3) for t in bare_times]}"
    )
    print(f"ratio solve / bare: {ratio:.3f} (target <= 1.3: {verdict(ratio <= 1.3)})")
    print(
        f"status {result.status.value}, method {result.method}, objective {result.objective:.6f}, "
        f"bound {result.bound:.6f}, gap {result.gap:.2e}; bare objective {bare_objective:.6f}"
    )
    print(f"validator: {'clean' if not violations else violations[:3]}")
    ok = result.status is SolveStatus.OPTIMAL and not violations and ratio <= 1.3
    print(f"overall: {verdict(ok)}")


if __name__ == "__main__":
    main()
