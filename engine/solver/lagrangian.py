"""A provable upper bound for the full problem from its Lagrangian (LP) dual.

Dualise every constraint except "each lead takes at most one officer" with multipliers
``y >= 0``: officer prices ``mu`` (capacity), ``psi`` (per-kind limits), ``lam`` (share rows,
see :mod:`engine.solver.rows`) and ``lam0`` (``min_assigned``). For any such ``y`` the
Lagrangian function

    D(y) = sum_j c_j mu_j + sum_kj limit_kj psi_kj - lam0 * min_assigned
           + sum_i max(0, max_{a in lead i} d_a(y))

with reduced arc values ``d_a(y) = v_a (1 - eta_v[j] + kappa_v) - eta_c[j] + kappa_c - mu_j
- psi[kind_i, j] + lam0`` (``eta``, ``kappa`` aggregate the share-row multipliers) is an upper
bound on the value of every feasible assignment: for feasible ``x`` each dualised term is
non-positive, and the inner maximum over "at most one arc per lead" is the per-lead
maximum. ``min_y D(y)`` equals the LP relaxation of the full problem.

Evaluating ``D`` is one pass over the arcs, so it is computed on **all** arcs, whatever
subset was used to choose ``y``. ``y`` is chosen by minimising a smoothed ``D`` (per-lead
log-sum-exp at temperature ``tau``) with projected L-BFGS on a working set of arcs, adding
arcs whose reduced value comes close to their lead's best (column generation).
The minimiser is a small projected L-BFGS (:func:`minimise_nonnegative`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.solver._arrays import group_starts, top_k_per_group
from engine.solver._scaling import scale_values
from engine.solver.network import solve_transport
from engine.solver.problem import AssignmentProblem
from engine.solver.rows import SideRows

__all__ = ["DualPoint", "LagrangianDual"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Relative safety margin added to every evaluated bound to cover float64 summation error.
_BOUND_RTOL = 1e-9


def minimise_nonnegative(
    function: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    *,
    max_iterations: int,
    deadline: float,
    memory: int = 10,
) -> FloatArray:
    """Projected L-BFGS for ``min f(x)`` subject to ``x >= 0``.

    A small replacement for SciPy's L-BFGS-B, whose fixed cost per iteration (milliseconds
    at a few thousand variables) dominated here. Variables at their bound with a pushing
    gradient are frozen for the step; the direction comes from the usual two-loop recursion
    on the free variables; a projected backtracking (Armijo) line search keeps ``x >= 0``.
    """
    x = np.maximum(x0, 0.0)
    value, gradient = function(x)
    steps: list[tuple[FloatArray, FloatArray, float]] = []
    stalled = 0
    for _ in range(max_iterations):
        if time.perf_counter() >= deadline:
            break
        free = ~((x <= 0.0) & (gradient > 0.0))
        projected = np.where(free, gradient, 0.0)
        norm = float(np.sqrt(projected @ projected))
        if norm <= 1e-10 * max(1.0, abs(value)):
            break
        # Two-loop recursion on the free coordinates.
        direction = projected.copy()
        alphas = []
        for s_k, y_k, rho_k in reversed(steps):
            alpha = rho_k * float(s_k @ direction)
            alphas.append(alpha)
            direction -= alpha * y_k
        if steps:
            s_k, y_k, _ = steps[-1]
            direction *= float(s_k @ y_k) / max(float(y_k @ y_k), 1e-300)
        else:
            direction /= max(norm, 1e-300)
        for (s_k, y_k, rho_k), alpha in zip(steps, reversed(alphas), strict=True):
            beta = rho_k * float(y_k @ direction)
            direction += (alpha - beta) * s_k
        direction = -np.where(free, direction, 0.0)
        if float(direction @ projected) >= 0.0:
            steps.clear()
            direction = -projected / max(norm, 1e-300)
        step = 1.0
        accepted = False
        for _ in range(30):
            candidate = np.maximum(x + step * direction, 0.0)
            new_value, new_gradient = function(candidate)
            if new_value <= value + 1e-4 * float(gradient @ (candidate - x)):
                accepted = True
                break
            step *= 0.5
        if not accepted or new_value > value:
            break
        # Stop once progress has stalled for a few iterations (piecewise-linear limit).
        stalled = stalled + 1 if value - new_value <= 1e-12 * max(1.0, abs(value)) else 0
        if stalled >= 5:
            x, value, gradient = candidate, new_value, new_gradient
            break
        s_vec = candidate - x
        y_vec = new_gradient - gradient
        curvature = float(s_vec @ y_vec)
        if curvature > 1e-12:
            steps.append((s_vec, y_vec, 1.0 / curvature))
            if len(steps) > memory:
                steps.pop(0)
        x, value, gradient = candidate, new_value, new_gradient
    return x


@dataclass(frozen=True, slots=True)
class DualPoint:
    """Multipliers and the bound they prove.

    Attributes:
        y: flat multiplier vector (layout owned by :class:`LagrangianDual`).
        bound: ``D(y)`` over all arcs plus a float safety margin (value units).
        reduced: ``(A,)`` reduced arc values ``d_a(y)``.
    """

    y: FloatArray
    bound: float
    reduced: FloatArray


class LagrangianDual:
    """Lagrangian dual of one problem: evaluation, smoothing, column generation.

    Args:
        problem: the problem.
        rows: its compiled side rows.
    """

    def __init__(self, problem: AssignmentProblem, rows: SideRows) -> None:
        self.problem = problem
        self.rows = rows
        num_officers = problem.num_officers
        self._capacity = problem.capacity.astype(np.float64)
        # Officer -> row incidence per block, transposed once (used at every evaluation).
        self._transposed = [block.members.T.tocsr() for block in rows.blocks]
        self._kind_limit = (
            rows.kind_limit.astype(np.float64).reshape(-1) if rows.kind_limit is not None else None
        )
        self._arc_kind_cell = (
            rows.lead_kind[problem.arc_lead] * num_officers + problem.arc_officer
            if rows.lead_kind is not None and rows.kind_limit is not None
            else None
        )
        sizes = [num_officers] + [block.num_rows for block in rows.blocks]
        sizes.append(1 if rows.min_assigned > 0 else 0)
        sizes.append(self._kind_limit.shape[0] if self._kind_limit is not None else 0)
        self._offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self.size = int(self._offsets[-1])
        lead_has_arc = np.zeros(problem.num_leads, dtype=bool)
        lead_has_arc[problem.arc_lead] = True
        self._num_leads_with_arcs = int(lead_has_arc.sum())

    # ------------------------------------------------------------------ layout
    def split(self, y: FloatArray) -> tuple[FloatArray, list[FloatArray], float, FloatArray | None]:
        """``(mu, [lam per block], lam0, psi)`` views of ``y``."""
        o = self._offsets
        mu = y[o[0] : o[1]]
        lams = [y[o[1 + b] : o[2 + b]] for b in range(len(self.rows.blocks))]
        nb = len(self.rows.blocks)
        lam0 = float(y[o[1 + nb]]) if o[2 + nb] > o[1 + nb] else 0.0
        psi = y[o[2 + nb] : o[3 + nb]] if self._kind_limit is not None else None
        return mu, lams, lam0, psi

    def initial(self, mu: FloatArray | None = None) -> FloatArray:
        """A starting point: the given officer prices, all other multipliers zero."""
        y = np.zeros(self.size)
        if mu is not None:
            y[: self.problem.num_officers] = np.maximum(mu, 0.0)
        return y

    # ------------------------------------------------------------------ evaluation
    def _officer_terms(
        self, y: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray | None, float]:
        """Per-officer multiplier and shift so that ``d_a = v_a * mult[j] + shift[j] - psi``."""
        mu, lams, lam0, psi = self.split(y)
        num_officers = self.problem.num_officers
        eta_count = np.zeros(num_officers)
        eta_value = np.zeros(num_officers)
        kappa_count = 0.0
        kappa_value = 0.0
        for block, lam, transposed in zip(self.rows.blocks, lams, self._transposed, strict=True):
            weighted = block.sign * lam
            eta = transposed @ weighted
            kappa = float(weighted @ block.rho_fraction)
            if block.measure == "count":
                eta_count += eta
                kappa_count += kappa
            else:
                eta_value += eta
                kappa_value += kappa
        mult = 1.0 - eta_value + kappa_value
        shift = -eta_count + kappa_count - mu + lam0
        return mult, shift, psi, lam0

    def reduced_values(self, y: FloatArray, arcs: IntArray | None = None) -> FloatArray:
        """``d_a(y)`` for the given arcs (all arcs when None)."""
        mult, shift, psi, _ = self._officer_terms(y)
        problem = self.problem
        if arcs is None:
            officer, value = problem.arc_officer, problem.arc_value
            cell = self._arc_kind_cell
        else:
            officer, value = problem.arc_officer[arcs], problem.arc_value[arcs]
            cell = self._arc_kind_cell[arcs] if self._arc_kind_cell is not None else None
        reduced = value * mult[officer] + shift[officer]
        if psi is not None and cell is not None:
            reduced -= psi[cell]
        return reduced

    def _constant(self, y: FloatArray) -> tuple[float, float]:
        """The multiplier-only part of ``D`` and its magnitude (for the safety margin)."""
        mu, _, lam0, psi = self.split(y)
        terms = [float(self._capacity @ mu), -lam0 * self.rows.min_assigned]
        if psi is not None and self._kind_limit is not None:
            terms.append(float(self._kind_limit @ psi))
        return sum(terms), sum(abs(t) for t in terms)

    def evaluate(self, y: FloatArray) -> DualPoint:
        """Exact ``D(y)`` over all arcs, with a float safety margin: a valid upper bound."""
        y = np.maximum(y, 0.0)
        reduced = self.reduced_values(y)
        best = np.zeros(self.problem.num_leads)
        if reduced.size:
            np.maximum.at(best, self.problem.arc_lead, reduced)
        constant, magnitude = self._constant(y)
        lead_sum = float(best.sum())
        bound = constant + lead_sum
        bound += _BOUND_RTOL * (magnitude + lead_sum) + 1e-12
        return DualPoint(y=y, bound=bound, reduced=reduced)

    # ------------------------------------------------------------------ optimisation
    def _smoothed(self, arcs: IntArray, tau: float):  # type: ignore[no-untyped-def]
        """Smoothed dual and gradient restricted to ``arcs`` (sorted by lead)."""
        problem = self.problem
        lead = problem.arc_lead[arcs]
        officer = problem.arc_officer[arcs]
        value = problem.arc_value[arcs]
        cell = self._arc_kind_cell[arcs] if self._arc_kind_cell is not None else None
        starts = group_starts(lead)
        segment = np.repeat(np.arange(starts.shape[0]), np.diff(np.append(starts, arcs.shape[0])))
        num_officers = problem.num_officers
        blocks = self.rows.blocks
        o = self._offsets

        def function(y: FloatArray) -> tuple[float, FloatArray]:
            mult, shift, psi, _ = self._officer_terms(y)
            reduced = value * mult[officer] + shift[officer]
            if psi is not None and cell is not None:
                reduced -= psi[cell]
            top = np.maximum(np.maximum.reduceat(reduced, starts), 0.0)
            weights = np.exp((reduced - top[segment]) / tau)
            total = np.add.reduceat(weights, starts) + np.exp(-top / tau)
            constant, _ = self._constant(y)
            objective = constant + float((top + tau * np.log(total)).sum())
            prob = weights / total[segment]
            count_by_officer = np.bincount(officer, weights=prob, minlength=num_officers)
            value_by_officer = np.bincount(officer, weights=prob * value, minlength=num_officers)
            gradient = np.zeros(self.size)
            gradient[:num_officers] = self._capacity - count_by_officer
            for b, block in enumerate(blocks):
                measure = count_by_officer if block.measure == "count" else value_by_officer
                gradient[o[1 + b] : o[2 + b]] = -block.sign * (
                    block.members @ measure - block.rho_fraction * measure.sum()
                )
            nb = len(blocks)
            if o[2 + nb] > o[1 + nb]:
                gradient[o[1 + nb]] = count_by_officer.sum() - self.rows.min_assigned
            if self._kind_limit is not None and cell is not None:
                gradient[o[2 + nb] :] = self._kind_limit - np.bincount(
                    cell, weights=prob, minlength=self._kind_limit.shape[0]
                )
            return objective, gradient

        return function

    def soft_assignment(self, y: FloatArray, arcs: IntArray, tau: float) -> FloatArray:
        """Per-arc probabilities of the smoothed inner problem (a fractional primal)."""
        lead = self.problem.arc_lead[arcs]
        starts = group_starts(lead)
        segment = np.repeat(np.arange(starts.shape[0]), np.diff(np.append(starts, arcs.shape[0])))
        reduced = self.reduced_values(y, arcs)
        top = np.maximum(np.maximum.reduceat(reduced, starts), 0.0)
        weights = np.exp((reduced - top[segment]) / tau)
        total = np.add.reduceat(weights, starts) + np.exp(-top / tau)
        return weights / total[segment]

    def initial_arcs(self, y: FloatArray, per_lead: int, per_officer_factor: float) -> IntArray:
        """Working set: each lead's best arcs by reduced value, each officer's best leads."""
        problem = self.problem
        reduced = self.reduced_values(y)
        keep = top_k_per_group(problem.arc_lead, reduced, per_lead)
        best = np.zeros(problem.num_leads)
        np.maximum.at(best, problem.arc_lead, reduced)
        # Officer side: arcs that come closest to their lead's best, so every officer keeps
        # enough candidates to fill its capacity several times over.
        closeness = reduced - best[problem.arc_lead]
        # One k for every officer keeps the selection linear-time (partition, not sort).
        typical_capacity = (
            float(np.median(problem.capacity[problem.capacity > 0]))
            if np.any(problem.capacity > 0)
            else 1.0
        )
        per_officer = int(np.ceil(per_officer_factor * typical_capacity))
        keep |= top_k_per_group(problem.arc_officer, closeness, per_officer)
        return np.flatnonzero(keep)

    def optimise(
        self,
        y: FloatArray,
        arcs: IntArray,
        *,
        taus: tuple[float, ...],
        max_iterations: int,
        deadline: float,
        max_rounds: int = 4,
        margin: float = 4.0,
    ) -> tuple[DualPoint, FloatArray, IntArray]:
        """Minimise the smoothed dual with column generation.

        Returns the evaluated point with the smallest exact bound seen (the start point
        included, so it is never worse than ``y``), the last iterate (whose share
        multipliers are usually the best input for :meth:`flow_bound`, even when its
        capacity prices are poor for the arcs outside the working set) and the working arcs.
        """
        in_set = np.zeros(self.problem.num_arcs, dtype=bool)
        in_set[arcs] = True
        best = self.evaluate(y)
        for tau in taus:
            for _ in range(max_rounds):
                if time.perf_counter() >= deadline or arcs.size == 0:
                    return best, y, arcs
                function = self._smoothed(arcs, tau)
                y = minimise_nonnegative(
                    function, y, max_iterations=max_iterations, deadline=deadline
                )
                point = self.evaluate(y)
                if point.bound < best.bound:
                    best = point
                # Column generation: arcs outside the set that would carry real weight.
                lead_best = np.zeros(self.problem.num_leads)
                np.maximum.at(lead_best, self.problem.arc_lead[arcs], point.reduced[arcs])
                missing = (~in_set) & (
                    point.reduced > lead_best[self.problem.arc_lead] - margin * tau
                )
                if not missing.any():
                    break
                in_set |= missing
                arcs = np.flatnonzero(in_set)
        return best, y, arcs

    def side_only(self, y: FloatArray) -> FloatArray:
        """``y`` with the capacity and per-kind prices zeroed (the network enforces those)."""
        out = y.copy()
        out[: self.problem.num_officers] = 0.0
        nb = len(self.rows.blocks)
        out[self._offsets[2 + nb] :] = 0.0
        return out

    def flow_bound(self, y: FloatArray, max_assigned: int) -> tuple[float, IntArray]:
        """The Lagrangian with only the share rows (and ``min_assigned``) dualised.

        ``g(lam) = max`` over assignments meeting eligibility, capacity and per-kind limits of
        ``sum_a (v_a - lam-adjustment_a) x_a - lam0 * min_assigned``, solved exactly by
        min-cost flow on every arc. It is never above ``D(y)`` for the same share
        multipliers (the flow picks the best capacity prices itself), and it is a valid
        bound for any ``lam >= 0``.

        Args:
            y: multipliers; only the share-row and ``min_assigned`` parts are used.
            max_assigned: bound on assigned leads, for the integer-rounding slack.

        Returns:
            ``(bound, arcs used by the flow)``.
        """
        side = self.side_only(np.maximum(y, 0.0))
        adjusted = self.reduced_values(side)
        scaled = scale_values(adjusted, 2**30)
        problem = self.problem
        kind = self.rows.lead_kind[problem.arc_lead] if self.rows.lead_kind is not None else None
        flow = solve_transport(
            problem.num_leads,
            problem.arc_lead,
            problem.arc_officer,
            scaled.weights,
            problem.capacity,
            arc_kind=kind,
            kind_capacity=self.rows.kind_limit,
        )
        constant, magnitude = self._constant(side)
        value = flow.total_weight / scaled.scale + scaled.rounding_slack(max_assigned)
        bound = constant + value + _BOUND_RTOL * (magnitude + abs(value)) + 1e-12
        return bound, np.flatnonzero(flow.arc_flow > 0)

    def value_scale(self) -> float:
        """Typical best value of a lead (mean over leads with arcs), for tolerances."""
        if self.problem.num_arcs == 0:
            return 1.0
        best = np.zeros(self.problem.num_leads)
        np.maximum.at(best, self.problem.arc_lead, np.abs(self.problem.arc_value))
        scale = float(best.sum()) / max(self._num_leads_with_arcs, 1)
        return scale if scale > 0 else 1.0
