"""CP-SAT model of the side-constrained assignment, built straight into the model proto.

One Boolean per *free* arc; arcs fixed to 1 (leads held at their current officer, used by
the large-problem neighbourhood search) enter every constraint as constants. With all arcs
free and none fixed the model is the full problem.

Integer data (CP-SAT needs it):

* objective: ``sum w_a x_a`` with ``w = rint(v * S)`` (see :mod:`engine.solver._scaling`);
* count rows: exact, shares in parts per million;
* value rows: the measure of an arc is ``2 v S``, known to lie in ``[2w - 1, 2w + 1]``.
  Each row uses the end of that interval that makes it *harder* (``2w + 1`` where value must
  be small, ``2w - 1`` where it must be large), so every CP-SAT solution satisfies the
  real-valued row. When the scaling was exact both ends are ``2w`` and the model is exact.

The model is built by filling the proto's repeated fields from numpy arrays rather than
creating Python variable objects one by one, which keeps building ~50k variables under a
few tenths of a second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from engine.invariant import present
from engine.solver._arrays import group_starts
from engine.solver.problem import AssignmentProblem
from engine.solver.rows import SideRows

__all__ = ["CpOutcome", "solve_cp_sat"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CpOutcome:
    """Result of one CP-SAT run over the free arcs.

    Attributes:
        status: ``"optimal"``, ``"feasible"``, ``"infeasible"`` or ``"unknown"``.
        chosen: ``(F,)`` bool, which free arcs are used (all False unless a solution exists).
        objective_weight: ``sum w`` over chosen free arcs (integer weight units).
        bound_weight: CP-SAT's proven bound on that sum for this model.
        wall_time_s: seconds spent in CP-SAT.
        exact_rows: True when every row of the model is exact (no value rows, or value
            measures that scaled to integers without rounding); otherwise the model is a
            restriction of the problem and its bound and infeasibility prove nothing.
    """

    status: str
    chosen: BoolArray
    objective_weight: int
    bound_weight: float
    wall_time_s: float
    exact_rows: bool = True


class _ProtoBuilder:
    """Appends variables and constraints to a ``CpModelProto`` from arrays."""

    def __init__(self) -> None:
        self.model = cp_model.CpModel()
        self.proto = self.model.proto
        self.num_vars = 0

    def booleans(self, count: int) -> None:
        for _ in range(count):
            variable = self.proto.variables.add()
            variable.domain.extend([0, 1])
        self.num_vars += count

    def integer(self, low: int, high: int) -> int:
        variable = self.proto.variables.add()
        variable.domain.extend([int(low), int(high)])
        self.num_vars += 1
        return self.num_vars - 1

    def linear(self, variables: IntArray, coefficients: IntArray, low: int, high: int) -> None:
        constraint = self.proto.constraints.add()
        constraint.linear.vars.extend(variables.tolist())
        constraint.linear.coeffs.extend(coefficients.tolist())
        constraint.linear.domain.extend([int(low), int(high)])

    def at_most_one(self, literals: IntArray) -> None:
        constraint = self.proto.constraints.add()
        constraint.at_most_one.literals.extend(literals.tolist())


_INT_MIN = -(2**62)
_INT_MAX = 2**62
# Largest magnitude allowed for any linear expression's terms (CP-SAT rejects models whose
# activity could overflow int64).
_ACTIVITY_LIMIT = 2**60


@dataclass(frozen=True, slots=True)
class _ValueMeasure:
    """Integer value measures of the free arcs and exact-as-possible fixed constants.

    ``high``/``low`` bracket ``2 * v * S`` per free arc; the fixed constants bracket
    ``2 * S * sum(v over fixed arcs)`` (a ceiling where the row needs an upper estimate,
    a floor where it needs a lower one), computed from the float sums so they are off by
    at most one unit in total rather than one unit per arc.
    """

    scale: float
    exact: bool
    high: IntArray
    low: IntArray
    fixed_value: npt.NDArray[np.float64]
    fixed_total_high: int
    fixed_total_low: int

    @classmethod
    def build(
        cls, problem: AssignmentProblem, rows: SideRows, free: IntArray, fixed: IntArray
    ) -> _ValueMeasure:
        values = problem.arc_value
        magnitude = float(np.abs(values[free]).sum() + np.abs(values[fixed]).sum()) or 1.0
        multiplier = 1
        for block in rows.blocks:
            if block.measure == "value":
                for rho in np.unique(block.rho):
                    divisor = math.gcd(block.member, int(rho))
                    multiplier = max(multiplier, block.member // divisor, int(rho) // divisor)
        count = int(free.shape[0] + fixed.shape[0]) + 4
        room = _ACTIVITY_LIMIT / multiplier - count
        scale = math.ldexp(1.0, math.floor(math.log2(max(room, 2.0) / (2.0 * magnitude))))
        # Keep single coefficients (multiplier x 2 v S) below 2^40: far larger ones only slow
        # CP-SAT's LP down, and at 2^40 the conservative margins are ~1e-10 of an arc value.
        largest = float(np.abs(values[free]).max(initial=0.0)) or 1.0
        coefficient_room = math.ldexp(1.0, 40) / (2.0 * multiplier * largest)
        scale = min(scale, math.ldexp(1.0, math.floor(math.log2(max(coefficient_room, 1.0)))))
        scaled = values[free] * scale
        middle = np.rint(scaled)
        slack = 0 if bool(np.all(middle == scaled)) else 1
        middle_int = middle.astype(np.int64)
        fixed_value = values[fixed]
        fixed_middle = np.rint(fixed_value * scale)
        exact = slack == 0 and bool(np.all(fixed_middle == fixed_value * scale))
        measure = cls(
            scale=scale,
            exact=exact,
            high=2 * middle_int + slack,
            low=2 * middle_int - slack,
            fixed_value=fixed_value,
            fixed_total_high=0,
            fixed_total_low=0,
        )
        everything = np.ones(fixed.shape[0], dtype=bool)
        return cls(
            scale=scale,
            exact=exact,
            high=measure.high,
            low=measure.low,
            fixed_value=fixed_value,
            fixed_total_high=measure.fixed_sum(everything, upper=True),
            fixed_total_low=measure.fixed_sum(everything, upper=False),
        )

    def fixed_sum(self, mask: npt.NDArray[np.bool_], *, upper: bool) -> int:
        """Bracket of ``2 * S * sum(fixed values in mask)``; exact when values scale exactly."""
        selected = self.fixed_value[mask]
        if selected.size == 0:
            return 0
        if self.exact:
            return 2 * int(np.rint(selected * self.scale).astype(np.int64).sum())
        total = 2.0 * self.scale * float(selected.sum())
        # Pad by the float summation error, relative to the magnitude of the terms.
        pad = 1e-12 * 2.0 * self.scale * float(np.abs(selected).sum()) + 1e-9
        return math.ceil(total + pad) if upper else math.floor(total - pad)


def solve_cp_sat(
    problem: AssignmentProblem,
    rows: SideRows,
    weight: IntArray,
    free: IntArray,
    fixed: IntArray,
    *,
    hint: BoolArray | None,
    time_limit_s: float,
    num_workers: int,
    light_presolve: bool = False,
) -> CpOutcome:
    """Build and solve the CP-SAT model over ``free`` arcs with ``fixed`` arcs held at 1.

    Args:
        problem: the problem.
        rows: its compiled side rows.
        weight: ``(A,)`` int64 CP-SAT objective weights for every arc.
        free: ``(F,)`` sorted arc indices that may be chosen; their leads must not be fixed.
        fixed: arc indices held at 1.
        hint: ``(F,)`` starting solution over the free arcs, or None.
        time_limit_s: CP-SAT wall-clock limit, seconds.
        num_workers: CP-SAT workers.
        light_presolve: skip CP-SAT's presolve and symmetry detection (large neighbourhood
            models, where they cost more than they save within seconds).
    """
    started = time.perf_counter()
    num_officers = problem.num_officers
    num_free = int(free.shape[0])
    builder = _ProtoBuilder()
    builder.booleans(num_free)
    if num_free == 0:
        return CpOutcome("optimal", np.zeros(0, dtype=bool), 0, 0.0, 0.0, True)
    lead = problem.arc_lead[free]
    officer = problem.arc_officer[free]
    fixed_officer = problem.arc_officer[fixed]
    variables = np.arange(num_free, dtype=np.int64)

    # Each lead at most one officer (free arcs are sorted by lead).
    starts = group_starts(lead)
    sizes = np.diff(np.append(starts, num_free))
    for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
        builder.at_most_one(variables[start : start + size])

    # Capacity, net of the fixed load; skipped where it cannot bind.
    fixed_load = np.bincount(fixed_officer, minlength=num_officers)
    residual = problem.capacity - fixed_load
    by_officer = np.argsort(officer, kind="stable")
    officer_sorted = officer[by_officer]
    officer_starts = group_starts(officer_sorted)
    officer_sizes = np.diff(np.append(officer_starts, num_free))
    for start, size in zip(officer_starts, officer_sizes, strict=True):
        j = officer_sorted[start]
        if size > residual[j]:
            builder.linear(
                by_officer[start : start + size], np.ones(size, dtype=np.int64), 0, residual[j]
            )

    # Per-kind limits.
    if rows.kind_limit is not None and rows.lead_kind is not None:
        cell = rows.lead_kind[lead] * num_officers + officer
        fixed_cell = rows.lead_kind[problem.arc_lead[fixed]] * num_officers + fixed_officer
        limit = rows.kind_limit.reshape(-1) - np.bincount(
            fixed_cell, minlength=rows.kind_limit.size
        )
        by_cell = np.argsort(cell, kind="stable")
        cell_sorted = cell[by_cell]
        cell_starts = group_starts(cell_sorted)
        cell_sizes = np.diff(np.append(cell_starts, num_free))
        for start, size in zip(cell_starts, cell_sizes, strict=True):
            k = cell_sorted[start]
            if size > limit[k]:
                builder.linear(
                    by_cell[start : start + size], np.ones(size, dtype=np.int64), 0, limit[k]
                )

    # Measures: count 1; value measured as 2 * v * S_m, known to lie in [2m - 1, 2m + 1]
    # with m = rint(v * S_m) (exact: both ends 2m). S_m is chosen per model, as large as the
    # int64 range allows, so the conservative margins stay negligible.
    num_fixed = int(fixed.shape[0])
    free_weight = weight[free]
    measure = _ValueMeasure.build(problem, rows, free, fixed) if rows.has_value_rows else None

    needs_count = rows.min_assigned > 0 or any(b.measure == "count" for b in rows.blocks)
    total_count = -1
    if needs_count:
        total_count = builder.integer(num_fixed, num_fixed + num_free)
        builder.linear(
            np.append(variables, total_count),
            np.append(np.ones(num_free, dtype=np.int64), -1),
            -num_fixed,
            -num_fixed,
        )
    totals: dict[str, int] = {}
    if measure is not None:
        for name, per_arc, constant in (
            ("high", measure.high, measure.fixed_total_high),
            ("low", measure.low, measure.fixed_total_low),
        ):
            low = constant + int(np.minimum(per_arc, 0).sum())
            high = constant + int(np.maximum(per_arc, 0).sum())
            totals[name] = builder.integer(low, high)
            builder.linear(
                np.append(variables, totals[name]), np.append(per_arc, -1), -constant, -constant
            )

    if rows.min_assigned > 0:
        builder.linear(np.array([total_count]), np.array([1]), rows.min_assigned, _INT_MAX)

    officer_position = np.full(num_officers, -1, dtype=np.int64)
    for block in rows.blocks:
        members = block.members.tocsr()
        for r in range(block.num_rows):
            member_officers = members.indices[members.indptr[r] : members.indptr[r + 1]]
            officer_position[:] = 0
            officer_position[member_officers] = 1
            in_set = officer_position[officer] == 1
            fixed_in_set = officer_position[fixed_officer] == 1
            divisor = math.gcd(block.member, int(block.rho[r]))
            member = block.member // divisor
            rho = int(block.rho[r]) // divisor
            if block.measure == "count":
                coefficients = np.full(int(in_set.sum()), member, dtype=np.int64)
                constant = member * int(fixed_in_set.sum())
                total_var = total_count
            else:
                measure = present(measure, "a block that is not a count has a measure")
                if block.sense == "max":
                    coefficients = member * measure.high[in_set]
                    constant = member * measure.fixed_sum(fixed_in_set, upper=True)
                    total_var = totals["low"]
                else:
                    coefficients = member * measure.low[in_set]
                    constant = member * measure.fixed_sum(fixed_in_set, upper=False)
                    total_var = totals["high"]
            terms = np.append(variables[in_set], total_var)
            coefs = np.append(coefficients, -rho)
            if block.sense == "max":
                builder.linear(terms, coefs, _INT_MIN, -constant)
            else:
                builder.linear(terms, coefs, -constant, _INT_MAX)

    objective = builder.proto.objective
    objective.vars.extend(variables.tolist())
    objective.coeffs.extend((-free_weight).tolist())
    objective.scaling_factor = -1.0  # CP-SAT minimises; this reports the maximised sum.

    if hint is not None:
        values = [int(v) for v in hint]
        extra_vars: list[int] = []
        if total_count >= 0:
            extra_vars.append(total_count)
            values.append(num_fixed + int(hint.sum()))
        if measure is not None:
            for name, per_arc, constant in (
                ("high", measure.high, measure.fixed_total_high),
                ("low", measure.low, measure.fixed_total_low),
            ):
                extra_vars.append(totals[name])
                values.append(constant + int(per_arc[hint].sum()))
        builder.proto.solution_hint.vars.extend(variables.tolist() + extra_vars)
        builder.proto.solution_hint.values.extend(values)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(float(time_limit_s), 0.01)
    solver.parameters.num_workers = int(num_workers)
    if light_presolve:
        # Large neighbourhood models: presolve costs more than it saves within seconds.
        solver.parameters.cp_model_presolve = False
        solver.parameters.symmetry_level = 0
    status = solver.solve(builder.model)
    elapsed = time.perf_counter() - started
    exact_rows = measure is None or measure.exact
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {builder.model.validate()}")
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        solution = np.asarray(list(solver.response_proto.solution), dtype=np.int64)[:num_free]
        chosen = solution.astype(bool)
        return CpOutcome(
            "optimal" if status == cp_model.OPTIMAL else "feasible",
            chosen,
            int(free_weight[chosen].sum()),
            float(solver.best_objective_bound),
            elapsed,
            exact_rows,
        )
    name = "infeasible" if status == cp_model.INFEASIBLE else "unknown"
    return CpOutcome(name, np.zeros(num_free, dtype=bool), 0, float("nan"), elapsed, exact_rows)
