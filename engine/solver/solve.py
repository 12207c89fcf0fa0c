"""``solve_assignment``: dispatch to min-cost flow or CP-SAT and report an honest bound.

* No usable arc: ``"trivial"``.
* No side constraints: a transportation problem, solved exactly by OR-Tools min-cost flow.
* Side constraints: ``"cp_sat"``. The unconstrained flow comes first (its value is a valid
  bound, and when it happens to satisfy the side constraints it is optimal). The Lagrangian
  dual of the full problem gives a bound and multipliers (:mod:`engine.solver.lagrangian`);
  min-cost flows on Lagrangian-adjusted values give integral candidates
  (:mod:`engine.solver.heuristic`). Then

  - small models (``<= EXACT_MODEL_MAX_ARCS`` arcs): CP-SAT on the full model, hinted with
    the best candidate; its bound and infeasibility proofs count when the model is exact;
  - large models: CP-SAT re-optimises neighbourhoods of the best candidate with every other
    lead fixed.

The reported bound is always the minimum of bounds that were proven for the full problem.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from engine.solver._scaling import ScaledValues, scale_values
from engine.solver.cp_sat import CpOutcome, solve_cp_sat
from engine.solver.diagnostics import infeasibility_reasons
from engine.solver.heuristic import (
    Candidate,
    drop_repair,
    greedy_fill,
    lagrangian_rounding,
    lns_improve,
    neighbourhood,
    total_violation,
)
from engine.solver.lagrangian import LagrangianDual
from engine.solver.network import officer_prices, solve_transport
from engine.solver.problem import AssignmentProblem
from engine.solver.result import AssignmentResult, SolveStatus
from engine.solver.rows import SideRows, compile_rows
from engine.solver.validation import validate_assignment

__all__ = ["EXACT_MODEL_MAX_ARCS", "solve_assignment"]

IntArray = npt.NDArray[np.int64]

#: Side-constrained problems up to this many eligible arcs get one exact CP-SAT model.
EXACT_MODEL_MAX_ARCS = 20_000
#: Integer weight range for min-cost flow (cost range stays far inside int64).
MCF_MAX_WEIGHT = 2**30
#: Integer weight range for CP-SAT objectives (value rows use their own measure scale).
CP_MAX_WEIGHT = 2**20


def solve_assignment(problem: AssignmentProblem) -> AssignmentResult:
    """Maximise the total value of assigned pairs subject to every constraint of ``problem``.

    Args:
        problem: the problem (see :class:`~engine.solver.problem.AssignmentProblem`).

    Returns:
        An :class:`~engine.solver.result.AssignmentResult`. Infeasibility and time-outs are
        statuses, never exceptions.
    """
    started = time.perf_counter()
    if problem.num_arcs == 0 or int(problem.capacity.sum()) == 0:
        return _trivial(problem, started)
    if not problem.has_side_constraints:
        return _solve_flow(problem, started)
    return _solve_side_constrained(problem, started)


# ---------------------------------------------------------------------- helpers
def _assignment_from_arcs(problem: AssignmentProblem, arcs: IntArray) -> IntArray:
    assignment = np.full(problem.num_leads, -1, dtype=np.int64)
    assignment[problem.arc_lead[arcs]] = problem.arc_officer[arcs]
    return assignment


def _max_assigned(problem: AssignmentProblem) -> int:
    """A bound on how many leads any assignment uses (for the rounding slack)."""
    # Arcs are sorted by lead, so distinct leads are one more than the number of steps.
    leads_with_arcs = (
        int(np.count_nonzero(np.diff(problem.arc_lead))) + 1 if problem.num_arcs else 0
    )
    return min(leads_with_arcs, int(problem.capacity.sum()))


def _result(
    problem: AssignmentProblem,
    started: float,
    arcs: IntArray | None,
    bound: float,
    status: SolveStatus,
    method: str,
    reasons: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> AssignmentResult:
    if arcs is None:
        assignment = np.full(problem.num_leads, -1, dtype=np.int64)
        objective = 0.0
    else:
        assignment = _assignment_from_arcs(problem, arcs)
        objective = float(problem.arc_value[arcs].sum())
    assignment.flags.writeable = False
    return AssignmentResult(
        assignment=assignment,
        objective=objective,
        bound=float(bound),
        status=status,
        wall_time_s=time.perf_counter() - started,
        method=method,
        reasons=reasons,
        notes=notes,
    )


def _trivial(problem: AssignmentProblem, started: float) -> AssignmentResult:
    if problem.min_assigned > 0:
        reason = (
            f"min_assigned={problem.min_assigned} but no lead can be assigned "
            f"({problem.num_arcs} eligible pairs, total capacity {int(problem.capacity.sum())})"
        )
        return _result(
            problem, started, None, -np.inf, SolveStatus.INFEASIBLE, "trivial", (reason,)
        )
    return _result(problem, started, None, 0.0, SolveStatus.OPTIMAL, "trivial")


def _flow_bound(total_weight: int, scaled: ScaledValues, max_assigned: int) -> float:
    """Upper bound in value units from an optimal integer flow weight (see _scaling)."""
    bound = total_weight / scaled.scale + scaled.rounding_slack(max_assigned)
    return bound + 1e-12 * abs(bound)


def _optimal_tolerance(scaled: ScaledValues, max_assigned: int, bound: float) -> float:
    return 2.0 * scaled.rounding_slack(max_assigned) + 1e-9 * abs(bound) + 1e-12


def _unconstrained_flow(problem: AssignmentProblem) -> tuple[IntArray, int, ScaledValues]:
    scaled = scale_values(problem.arc_value, MCF_MAX_WEIGHT)
    kind = problem.kinds[problem.arc_lead] if problem.kinds is not None else None
    flow = solve_transport(
        problem.num_leads,
        problem.arc_lead,
        problem.arc_officer,
        scaled.weights,
        problem.capacity,
        arc_kind=kind,
        kind_capacity=problem.max_per_kind,
    )
    return np.flatnonzero(flow.arc_flow > 0), flow.total_weight, scaled


# ---------------------------------------------------------------------- min-cost flow
def _solve_flow(problem: AssignmentProblem, started: float) -> AssignmentResult:
    arcs, total_weight, scaled = _unconstrained_flow(problem)
    max_assigned = _max_assigned(problem)
    bound = _flow_bound(total_weight, scaled, max_assigned)
    note = (
        f"min-cost flow over {problem.num_arcs} arcs; integer weights = values x 2^"
        f"{int(np.log2(scaled.scale))}, bound includes rounding slack "
        f"{scaled.rounding_slack(max_assigned):.3g}",
    )
    return _result(problem, started, arcs, bound, SolveStatus.OPTIMAL, "min_cost_flow", notes=note)


# ---------------------------------------------------------------------- side constraints
def _side_rows_hold(problem: AssignmentProblem, rows: SideRows, arcs: IntArray) -> bool:
    return total_violation(problem, rows, arcs) == 0.0 and arcs.shape[0] >= rows.min_assigned


def _cp_scaled(problem: AssignmentProblem) -> ScaledValues:
    return scale_values(problem.arc_value, CP_MAX_WEIGHT)


def _solve_side_constrained(problem: AssignmentProblem, started: float) -> AssignmentResult:
    """The CP-SAT path, in stages that each leave something usable if time runs out.

    1. Proofs of infeasibility from single constraint families (cheap, exact).
    2. The unconstrained min-cost flow: a bound, and the answer if it meets the side rows.
    3. The Lagrangian dual of the full problem: a bound and multipliers.
    4. Min-cost flows on Lagrangian-adjusted values, repaired: feasible candidates.
    5. CP-SAT: on the full model (small problems; its bound counts when the model is
       exact) or on neighbourhoods of the best candidate (large problems).
    """
    deadline = started + problem.time_limit_s
    budget = problem.time_limit_s
    rows = compile_rows(problem)
    reasons = infeasibility_reasons(problem)
    if reasons:
        return _result(
            problem, started, None, -np.inf, SolveStatus.INFEASIBLE, "cp_sat", tuple(reasons)
        )

    flow_started = time.perf_counter()
    base_arcs, base_weight, mcf_scaled = _unconstrained_flow(problem)
    flow_time_s = time.perf_counter() - flow_started
    max_assigned = _max_assigned(problem)
    flow_bound = _flow_bound(base_weight, mcf_scaled, max_assigned)
    if _side_rows_hold(problem, rows, base_arcs) and not validate_assignment(
        problem, _assignment_from_arcs(problem, base_arcs)
    ):
        return _result(
            problem,
            started,
            base_arcs,
            flow_bound,
            SolveStatus.OPTIMAL,
            "min_cost_flow",
            notes=("the unconstrained min-cost flow optimum already meets every side constraint",),
        )
    small = problem.num_arcs <= EXACT_MODEL_MAX_ARCS
    notes = [f"unconstrained min-cost flow over {problem.num_arcs} arcs: bound {flow_bound:.6g}"]

    # Stage 3: Lagrangian dual.
    dual = LagrangianDual(problem, rows)
    prices = None
    if problem.kinds is None:
        prices = officer_prices(
            problem.num_leads,
            problem.arc_lead,
            problem.arc_officer,
            mcf_scaled.weights,
            problem.capacity,
            np.isin(np.arange(problem.num_arcs), base_arcs).astype(np.int64),
        )
    y = dual.initial(None if prices is None else prices / mcf_scaled.scale)
    working = dual.initial_arcs(y, per_lead=6, per_officer_factor=3.0)
    scale = dual.value_scale()
    point, last, working = dual.optimise(
        y,
        working,
        taus=(0.015 * scale, 0.004 * scale),
        max_iterations=80 if not small else 200,
        deadline=started + (0.25 if small else 0.35) * budget,
        max_rounds=1 if not small else 3,
    )
    bound = min(flow_bound, point.bound)
    # The Lagrangian with only the share rows dualised, solved exactly over every arc: never
    # weaker than D for the same share multipliers and robust to poor capacity prices.
    lagrange_arcs = np.zeros(0, dtype=np.int64)
    if small or deadline - time.perf_counter() > 1.5 * flow_time_s:
        lagrange_bound, lagrange_arcs = dual.flow_bound(last, max_assigned)
        bound = min(bound, lagrange_bound)
    notes.append(
        f"Lagrangian dual of the full problem (multipliers from a working set of "
        f"{working.shape[0]} arcs): bound {bound:.6g}"
    )

    # Stage 4: Lagrangian roundings, repaired.
    soft = dual.soft_assignment(last, working, 0.004 * scale)
    support = np.union1d(working[soft > 1e-2], np.union1d(base_arcs, lagrange_arcs))
    candidates = [
        Candidate(arcs, float(problem.arc_value[arcs].sum()), total_violation(problem, rows, arcs))
        for arcs in (base_arcs, lagrange_arcs)
        if arcs.size
    ]
    rounding_deadline = started + (0.4 if small else 0.88) * budget
    candidates += lagrangian_rounding(
        problem, rows, dual, last, support, deadline=rounding_deadline
    )
    best, least_violating = _best_candidates(problem, rows, candidates, support)
    notes.append(f"{len(candidates)} min-cost-flow roundings on {support.shape[0]} arcs")

    # Stage 5: CP-SAT.
    scaled = _cp_scaled(problem)
    status = SolveStatus.FEASIBLE
    if small:
        start_arcs = best.arcs if best is not None else base_arcs
        outcome = solve_cp_sat(
            problem,
            rows,
            scaled.weights,
            np.arange(problem.num_arcs),
            np.zeros(0, dtype=np.int64),
            hint=np.isin(np.arange(problem.num_arcs), start_arcs),
            time_limit_s=max(deadline - time.perf_counter(), 0.01),
            num_workers=problem.num_workers,
        )
        exact = outcome.exact_rows
        notes.append(
            f"CP-SAT on the full model ({'exact' if exact else 'conservative value rows'}), "
            f"hinted with the best candidate: {outcome.status} in {outcome.wall_time_s:.2f} s"
        )
        if outcome.status == "infeasible" and exact:
            culprits = _deletion_filter(problem, rows, scaled, deadline)
            return _result(
                problem,
                started,
                None,
                -np.inf,
                SolveStatus.INFEASIBLE,
                "cp_sat",
                culprits,
                tuple(notes),
            )
        if outcome.status in ("optimal", "feasible"):
            arcs = np.flatnonzero(outcome.chosen)
            value = float(problem.arc_value[arcs].sum())
            if _side_rows_hold(problem, rows, arcs) and (best is None or value >= best.value):
                best = Candidate(arcs, value, 0.0)
            if exact:
                cp_bound = outcome.bound_weight / scaled.scale + scaled.rounding_slack(max_assigned)
                bound = min(bound, cp_bound + 1e-12 * abs(cp_bound))
                if outcome.status == "optimal":
                    status = SolveStatus.OPTIMAL
    else:
        best = _improve_large(
            problem,
            rows,
            best,
            least_violating,
            support,
            point.reduced,
            scaled,
            deadline,
            budget,
            notes,
        )

    if best is None and rows.min_assigned == 0:
        best = Candidate(np.zeros(0, dtype=np.int64), 0.0, 0.0)
        notes.append(
            "no candidate met the side constraints in time: returning the empty assignment"
        )
    if best is None or validate_assignment(problem, _assignment_from_arcs(problem, best.arcs)):
        reason = (
            f"time limit {problem.time_limit_s} s hit before a feasible assignment was found",
        )
        return _result(
            problem, started, None, bound, SolveStatus.TIMEOUT, "cp_sat", reason, tuple(notes)
        )
    if bound - best.value <= _optimal_tolerance(mcf_scaled, max_assigned, bound):
        status = SolveStatus.OPTIMAL
    return _result(problem, started, best.arcs, bound, status, "cp_sat", notes=tuple(notes))


def _best_candidates(
    problem: AssignmentProblem, rows: SideRows, candidates: list[Candidate], support: IntArray
) -> tuple[Candidate | None, Candidate | None]:
    """Best feasible candidate (after repair) and the least violating raw one."""
    best: Candidate | None = None
    least_violating: Candidate | None = None
    for candidate in candidates:
        if least_violating is None or candidate.violation < least_violating.violation:
            least_violating = candidate
        for arcs in _repairs(problem, rows, candidate.arcs, support):
            if _side_rows_hold(problem, rows, arcs):
                value = float(problem.arc_value[arcs].sum())
                if best is None or value > best.value:
                    best = Candidate(arcs, value, 0.0)
    return best, least_violating


def _repairs(
    problem: AssignmentProblem, rows: SideRows, arcs: IntArray, support: IntArray
) -> list[IntArray]:
    """The candidate itself plus, where possible, a dropped-and-refilled feasible version."""
    out = [arcs]
    repaired = drop_repair(problem, rows, arcs)
    if repaired is not None:
        out.append(repaired)
        out.append(greedy_fill(problem, rows, repaired, support))
    return out


def _improve_large(
    problem: AssignmentProblem,
    rows: SideRows,
    best: Candidate | None,
    least_violating: Candidate | None,
    support: IntArray,
    reduced: npt.NDArray[np.float64],
    scaled: ScaledValues,
    deadline: float,
    budget: float,
    notes: list[str],
) -> Candidate | None:
    """CP-SAT on neighbourhoods: repair when nothing is feasible yet, then improve."""
    if best is None and least_violating is not None and deadline - time.perf_counter() > 0.2:
        # Min rows cannot be repaired by dropping leads: let CP-SAT repair a neighbourhood
        # of the least violating candidate.
        free, fixed = neighbourhood(
            problem, rows, least_violating.arcs, support, reduced, max_free_arcs=12_000
        )
        outcome: CpOutcome = solve_cp_sat(
            problem,
            rows,
            scaled.weights,
            free,
            fixed,
            hint=np.isin(free, least_violating.arcs),
            time_limit_s=max(0.5 * (deadline - time.perf_counter()), 0.1),
            num_workers=problem.num_workers,
            light_presolve=True,
        )
        notes.append(
            f"CP-SAT repair of a neighbourhood of {free.shape[0]} free arcs: {outcome.status}"
        )
        if outcome.status in ("optimal", "feasible"):
            arcs = np.sort(np.concatenate((fixed, free[outcome.chosen])))
            if _side_rows_hold(problem, rows, arcs):
                best = Candidate(arcs, float(problem.arc_value[arcs].sum()), 0.0)
    if best is not None and deadline - time.perf_counter() > 0.1 * budget:
        improved, tried, accepted = lns_improve(
            problem,
            rows,
            best.arcs,
            support,
            scaled.weights,
            deadline=deadline - 0.04 * budget,
            num_workers=problem.num_workers,
        )
        notes.append(f"CP-SAT large-neighbourhood search: {accepted} of {tried} moves improved")
        if accepted:
            best = Candidate(improved, float(problem.arc_value[improved].sum()), 0.0)
    return best


def _deletion_filter(
    problem: AssignmentProblem, rows: SideRows, scaled: ScaledValues, deadline: float
) -> tuple[str, ...]:
    """Name the constraint families whose removal makes a small problem feasible."""
    families = sorted(
        {block.name for block in rows.blocks} | ({"min_assigned"} if rows.min_assigned else set())
    )
    culprits = []
    for family in families:
        remaining = deadline - time.perf_counter()
        if remaining <= 0.05:
            break
        reduced = SideRows(
            blocks=tuple(b for b in rows.blocks if b.name != family),
            min_assigned=0 if family == "min_assigned" else rows.min_assigned,
            kind_limit=rows.kind_limit,
            lead_kind=rows.lead_kind,
        )
        outcome = solve_cp_sat(
            problem,
            reduced,
            scaled.weights,
            np.arange(problem.num_arcs),
            np.zeros(0, dtype=np.int64),
            hint=None,
            time_limit_s=min(remaining / 2, 2.0),
            num_workers=problem.num_workers,
        )
        if outcome.status in ("optimal", "feasible"):
            culprits.append(family)
    base = "CP-SAT proved that no assignment meets every constraint"
    if culprits:
        names = ", ".join(culprits)
        return (
            f"{base}; dropping any one of [{names}] "
            f"(with min_assigned={problem.min_assigned}) makes it feasible",
        )
    return (
        f"{base}; no single constraint family is responsible on its own "
        f"(min_assigned={problem.min_assigned})",
    )
