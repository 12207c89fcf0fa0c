"""Primal side of the large-problem path: integral assignments from Lagrangian multipliers.

* :func:`lagrangian_rounding` solves min-cost flows on a support set of arcs with values
  adjusted by the share-row multipliers (capacity and per-kind limits stay exact inside the
  network) and nudges the multipliers of violated rows until the flow respects them — a
  subgradient "tatonnement" started from near-optimal dual prices.
* :func:`drop_repair` and :func:`greedy_fill` turn an assignment that breaks only "max" rows
  into a feasible one (drop the cheapest offending leads, then refill what still fits).
* :func:`neighbourhood` picks the leads worth re-optimising with CP-SAT.

None of these prove anything; the bound always comes from :mod:`engine.solver.lagrangian`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.solver._scaling import scale_values
from engine.solver.lagrangian import LagrangianDual
from engine.solver.network import solve_transport
from engine.solver.problem import AssignmentProblem
from engine.solver.rows import SideRows, measures_by_officer

__all__ = [
    "Candidate",
    "drop_repair",
    "greedy_fill",
    "lagrangian_rounding",
    "lns_improve",
    "neighbourhood",
    "total_violation",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An integral assignment as a set of arcs.

    Attributes:
        arcs: sorted indices of used arcs (one per assigned lead).
        value: total original value.
        violation: total relative violation of the side rows (0 = feasible).
    """

    arcs: IntArray
    value: float
    violation: float


def _row_slack(
    rows: SideRows, counts: FloatArray, values: FloatArray, tighten: float = 0.0
) -> list[FloatArray]:
    """Per block, ``sign * activity / member`` (positive = violated), in measure units.

    ``tighten`` > 0 shrinks every row's allowance by that relative amount (max shares
    scaled down, min shares up), so a flow that meets the tightened rows meets the real ones
    with room to spare.
    """
    out = []
    for block in rows.blocks:
        measure = counts if block.measure == "count" else values
        rho = block.rho * (1.0 - block.sign * tighten)
        activity = block.member * (block.members @ measure) - rho * measure.sum()
        out.append(block.sign * activity / float(block.member))
    return out


def total_violation(problem: AssignmentProblem, rows: SideRows, arcs: IntArray) -> float:
    """Sum of relative row violations of an arc set (0 when every side row holds).

    Capacity and per-kind limits are not checked here: the network enforces them.
    """
    counts, values = measures_by_officer(
        problem.num_officers,
        problem.arc_officer[arcs],
        problem.arc_value[arcs],
        np.ones(arcs.shape[0]),
    )
    total = 0.0
    for block, signed in zip(rows.blocks, _row_slack(rows, counts, values), strict=True):
        scale = max(float(values.sum() if block.measure == "value" else counts.sum()), 1e-12)
        total += float(np.maximum(signed, 0.0).sum()) / scale
    if arcs.shape[0] < rows.min_assigned:
        total += (rows.min_assigned - arcs.shape[0]) / max(rows.min_assigned, 1)
    return total


def _flow(
    problem: AssignmentProblem, rows: SideRows, support: IntArray, adjusted: FloatArray
) -> IntArray:
    """Max-adjusted-value assignment on ``support`` arcs; returns used arc indices."""
    scaled = scale_values(adjusted, 2**30)
    kind = rows.lead_kind[problem.arc_lead[support]] if rows.lead_kind is not None else None
    result = solve_transport(
        problem.num_leads,
        problem.arc_lead[support],
        problem.arc_officer[support],
        scaled.weights,
        problem.capacity,
        arc_kind=kind,
        kind_capacity=rows.kind_limit,
    )
    return support[result.arc_flow > 0]


def lagrangian_rounding(
    problem: AssignmentProblem,
    rows: SideRows,
    dual: LagrangianDual,
    y: FloatArray,
    support: IntArray,
    *,
    deadline: float,
    max_rounds: int = 100,
    step: float = 0.5,
    tighten: float = 5e-4,
    min_push: float = 5e-3,
) -> list[Candidate]:
    """Integral assignments from the multipliers ``y``, nudged towards row feasibility.

    Returns every distinct assignment produced (the caller repairs and keeps the best).
    """
    y = y.copy()
    num_officers = problem.num_officers
    mu_end = num_officers
    candidates: list[Candidate] = []
    offsets = np.cumsum([mu_end] + [b.num_rows for b in rows.blocks])
    value_scale = dual.value_scale()
    # Rows that stay violated round after round get a doubling push (a row whose officers
    # have no cheaper alternative needs a large multiplier change before the flow moves).
    boost = [np.ones(block.num_rows) for block in rows.blocks]
    seen: set[tuple[float, float]] = set()
    repeats = 0
    for round_index in range(max_rounds):
        if time.perf_counter() >= deadline:
            break
        # Capacity prices and kind prices are enforced exactly by the network: drop them.
        side_only = y.copy()
        side_only[:mu_end] = 0.0
        if dual.size > offsets[-1] + (1 if rows.min_assigned > 0 else 0):
            side_only[offsets[-1] + (1 if rows.min_assigned > 0 else 0) :] = 0.0
        adjusted = dual.reduced_values(side_only, support)
        used = _flow(problem, rows, support, adjusted)
        value = float(problem.arc_value[used].sum())
        violation = total_violation(problem, rows, used)
        candidates.append(Candidate(np.sort(used), value, violation))
        # Stop once the flows keep coming back to assignments already produced.
        key = (round(value, 9), round(violation, 12))
        repeats = repeats + 1 if key in seen else 0
        seen.add(key)
        if repeats >= 10:
            break
        if violation == 0.0 and not rows.blocks:
            break
        counts, values = measures_by_officer(
            num_officers, problem.arc_officer[used], problem.arc_value[used], np.ones(used.shape[0])
        )
        rate = step / (1.0 + round_index / 8.0)
        slack = _row_slack(rows, counts, values, tighten)
        for b, (block, signed) in enumerate(zip(rows.blocks, slack, strict=True)):
            measure = counts if block.measure == "count" else values
            member_measure = block.members @ measure
            typical = max(float(measure.sum()) / max(num_officers, 1), 1e-12)
            # Only violated rows move: the dual already prices the rest well, and relaxing
            # slack rows here makes the flows oscillate.
            relative = np.maximum(signed, 0.0) / np.maximum(member_measure, typical)
            # A violation, however small, needs a discrete change of the flow: give every
            # violated row at least a minimum push.
            relative = np.where(signed > 0, np.maximum(relative, min_push), 0.0)
            unit = 1.0 if block.measure == "value" else value_scale
            y[offsets[b] : offsets[b + 1]] += rate * unit * relative * boost[b]
            boost[b] = np.where(signed > 0, np.minimum(boost[b] * 2.0, 1e6), 1.0)
        if rows.min_assigned > 0:
            short = (rows.min_assigned - used.shape[0]) / max(rows.min_assigned, 1)
            y[offsets[-1]] = max(y[offsets[-1]] + rate * value_scale * short, 0.0)
    return candidates


def drop_repair(problem: AssignmentProblem, rows: SideRows, arcs: IntArray) -> IntArray | None:
    """Drop the cheapest leads of officers in violated max rows until every row holds.

    Only valid when the problem has no min rows and no ``min_assigned`` (dropping can only
    break those); returns None in that case or if it fails to converge.
    """
    if rows.min_assigned > 0 or any(block.sense == "min" for block in rows.blocks):
        return None
    num_officers = problem.num_officers
    used = np.sort(arcs)
    for _ in range(200):
        counts, values = measures_by_officer(
            num_officers, problem.arc_officer[used], problem.arc_value[used], np.ones(used.shape[0])
        )
        remove = np.zeros(used.shape[0], dtype=bool)
        for block, signed in zip(rows.blocks, _row_slack(rows, counts, values), strict=True):
            violated = np.flatnonzero(signed > 0)
            if violated.size == 0:
                continue
            members = block.members[violated]
            for r, excess in zip(range(violated.shape[0]), signed[violated], strict=True):
                officers = members.indices[members.indptr[r] : members.indptr[r + 1]]
                in_row = np.flatnonzero(np.isin(problem.arc_officer[used], officers) & ~remove)
                if in_row.size == 0:
                    continue
                measure = (
                    problem.arc_value[used[in_row]]
                    if block.measure == "value"
                    else np.ones(in_row.size)
                )
                order = np.argsort(problem.arc_value[used[in_row]], kind="stable")
                # Remove cheapest first until the removed measure covers the excess; the
                # shrinking total is handled by the next pass.
                cumulative = np.cumsum(measure[order])
                take = int(np.searchsorted(cumulative, excess * (1 + 1e-9), side="left")) + 1
                remove[in_row[order[: min(take, in_row.size)]]] = True
        if not remove.any():
            return used
        used = used[~remove]
    return None


def greedy_fill(
    problem: AssignmentProblem, rows: SideRows, arcs: IntArray, support: IntArray
) -> IntArray:
    """Add unassigned leads (best value first) where capacity, kinds and max rows allow.

    Only used when there are no min rows: adding a lead only loosens other officers' max
    rows, so each candidate is checked against the rows of its own officer.
    """
    num_officers = problem.num_officers
    used = np.sort(arcs)
    assigned = np.zeros(problem.num_leads, dtype=bool)
    assigned[problem.arc_lead[used]] = True
    counts, values = measures_by_officer(
        num_officers, problem.arc_officer[used], problem.arc_value[used], np.ones(used.shape[0])
    )
    counts = counts.astype(np.int64)
    kind_load = None
    if rows.kind_limit is not None and rows.lead_kind is not None:
        kind_load = np.zeros(rows.kind_limit.shape, dtype=np.int64)
        np.add.at(kind_load, (rows.lead_kind[problem.arc_lead[used]], problem.arc_officer[used]), 1)
    officer_rows = []
    for block in rows.blocks:
        membership = block.members.T.tocsr()  # officer -> rows
        officer_rows.append((block, membership))
    count_total = int(counts.sum())
    value_total = float(values.sum())
    group_count = [b.members @ counts.astype(np.float64) for b in rows.blocks]
    group_value = [b.members @ values for b in rows.blocks]
    candidates = support[~assigned[problem.arc_lead[support]]]
    candidates = candidates[problem.arc_value[candidates] > 0]
    candidates = candidates[np.argsort(-problem.arc_value[candidates], kind="stable")]
    added = []
    for arc in candidates:
        lead = problem.arc_lead[arc]
        j = problem.arc_officer[arc]
        if assigned[lead] or counts[j] >= problem.capacity[j]:
            continue
        if kind_load is not None and rows.lead_kind is not None and rows.kind_limit is not None:
            kind = rows.lead_kind[lead]
            if kind_load[kind, j] >= rows.kind_limit[kind, j]:
                continue
        value = float(problem.arc_value[arc])
        fits = True
        for b, (block, membership) in enumerate(officer_rows):
            for r in membership.indices[membership.indptr[j] : membership.indptr[j + 1]]:
                if block.measure == "count":
                    lhs = block.member * (group_count[b][r] + 1)
                    rhs = block.rho[r] * (count_total + 1)
                else:
                    lhs = block.member * (group_value[b][r] + value)
                    rhs = block.rho[r] * (value_total + value) * (1 - 1e-9)
                if lhs > rhs:
                    fits = False
                    break
            if not fits:
                break
        if not fits:
            continue
        assigned[lead] = True
        counts[j] += 1
        count_total += 1
        value_total += value
        if kind_load is not None and rows.lead_kind is not None:
            kind_load[rows.lead_kind[lead], j] += 1
        for b, (_, membership) in enumerate(officer_rows):
            for r in membership.indices[membership.indptr[j] : membership.indptr[j + 1]]:
                group_count[b][r] += 1
                group_value[b][r] += value
        added.append(arc)
    if not added:
        return used
    return np.sort(np.concatenate((used, np.asarray(added, dtype=np.int64))))


def lns_improve(
    problem: AssignmentProblem,
    rows: SideRows,
    start: IntArray,
    support: IntArray,
    weight: IntArray,
    *,
    deadline: float,
    num_workers: int,
    officers_per_move: int = 8,
    partners_per_move: int = 32,
    seed: int = 0,
) -> tuple[IntArray, int, int]:
    """Large-neighbourhood search with CP-SAT as the sub-solver.

    Each move frees the leads of a few "hot" officers (in tight or violated rows) and of the
    officers their leads could swap with, lets them move among those officers only (plus
    unassigned), and asks CP-SAT for the best re-assignment with every other lead fixed.
    Moves are accepted when the result still meets every side row and is better.

    Args:
        start: a feasible arc set to improve.
        support: arcs worth considering (the Lagrangian support).
        weight: ``(A,)`` CP-SAT objective weights.
        deadline: ``time.perf_counter()`` value to stop at.
        seed: fixes the move order, so the search is deterministic for a given input.

    Returns:
        ``(best arcs, moves tried, moves accepted)``.
    """
    from engine.solver.cp_sat import solve_cp_sat  # deferred: keeps this module light

    rng = np.random.default_rng(seed)
    num_officers = problem.num_officers
    current = np.sort(start)
    current_value = float(problem.arc_value[current].sum())
    support_officer = problem.arc_officer[support]
    support_lead = problem.arc_lead[support]
    tried = accepted = 0
    while time.perf_counter() < deadline - 0.05:
        counts, values = measures_by_officer(
            num_officers,
            problem.arc_officer[current],
            problem.arc_value[current],
            np.ones(current.shape[0]),
        )
        hot = np.zeros(num_officers, dtype=bool)
        for block, signed in zip(rows.blocks, _row_slack(rows, counts, values), strict=True):
            measure = counts if block.measure == "count" else values
            tight = signed > -0.05 * np.maximum(block.members @ measure, 1e-12)
            if tight.any():
                hot[block.members[np.flatnonzero(tight)].indices] = True
        hot_officers = np.flatnonzero(hot)
        if hot_officers.size == 0:
            break
        seeds = rng.choice(
            hot_officers, size=min(officers_per_move, hot_officers.size), replace=False
        )
        chosen = np.zeros(num_officers, dtype=bool)
        chosen[seeds] = True
        # Partners: officers most often linked to the seeds through support arcs.
        lead_on = np.full(problem.num_leads, -1, dtype=np.int64)
        lead_on[problem.arc_lead[current]] = problem.arc_officer[current]
        touching = chosen[support_officer] | chosen[np.maximum(lead_on[support_lead], 0)] & (
            lead_on[support_lead] >= 0
        )
        linked = np.bincount(support_officer[touching], minlength=num_officers)
        linked[chosen] = 0
        partners = np.argsort(-linked, kind="stable")[:partners_per_move]
        chosen[partners[linked[partners] > 0]] = True
        # Free leads: those on chosen officers, and unassigned leads reaching them.
        on_chosen = (lead_on >= 0) & chosen[np.maximum(lead_on, 0)]
        reaching = np.zeros(problem.num_leads, dtype=bool)
        reaching[support_lead[chosen[support_officer]]] = True
        free_lead = on_chosen | ((lead_on < 0) & reaching)
        keep = free_lead[support_lead] & chosen[support_officer]
        free = np.union1d(support[keep], current[free_lead[problem.arc_lead[current]]])
        fixed = current[~free_lead[problem.arc_lead[current]]]
        hint = np.isin(free, current)
        outcome = solve_cp_sat(
            problem,
            rows,
            weight,
            free,
            fixed,
            hint=hint,
            time_limit_s=min(0.5, max(deadline - time.perf_counter(), 0.01)),
            num_workers=num_workers,
        )
        tried += 1
        if outcome.status not in ("optimal", "feasible"):
            continue
        candidate = np.sort(np.concatenate((fixed, free[outcome.chosen])))
        value = float(problem.arc_value[candidate].sum())
        if (
            value > current_value + 1e-9 * abs(current_value)
            and total_violation(problem, rows, candidate) == 0.0
        ):
            current, current_value = candidate, value
            accepted += 1
    return current, tried, accepted


def neighbourhood(
    problem: AssignmentProblem,
    rows: SideRows,
    base: IntArray,
    support: IntArray,
    reduced: FloatArray,
    *,
    max_free_arcs: int,
    arcs_per_lead: int = 4,
) -> tuple[IntArray, IntArray]:
    """Choose ``(free arcs, fixed arcs)`` for a CP-SAT re-optimisation around ``base``.

    Free leads, in priority order: leads of officers in violated or tight rows, unassigned
    leads, then leads whose two best reduced values are closest (near-ties). Each free lead
    keeps its current arc and its best support arcs by reduced value.
    """
    num_officers = problem.num_officers
    counts, values = measures_by_officer(
        num_officers, problem.arc_officer[base], problem.arc_value[base], np.ones(base.shape[0])
    )
    hot = np.zeros(num_officers, dtype=bool)
    for block, signed in zip(rows.blocks, _row_slack(rows, counts, values), strict=True):
        measure = counts if block.measure == "count" else values
        member_measure = block.members @ measure
        tight = signed > -0.02 * np.maximum(member_measure, 1e-12)
        if tight.any():
            hot[block.members[np.flatnonzero(tight)].indices] = True
    lead_of_base = np.full(problem.num_leads, -1, dtype=np.int64)
    lead_of_base[problem.arc_lead[base]] = base
    support_lead = problem.arc_lead[support]
    # Rank support arcs per lead by reduced value.
    order = np.lexsort((-reduced[support], support_lead))
    ranked = support[order]
    ranked_lead = support_lead[order]
    starts = np.searchsorted(ranked_lead, np.arange(problem.num_leads + 1))
    best_two = np.full((problem.num_leads, 2), -np.inf)
    has = np.diff(starts)
    first = starts[:-1]
    best_two[has >= 1, 0] = reduced[ranked[first[has >= 1]]]
    best_two[has >= 2, 1] = reduced[ranked[first[has >= 2] + 1]]
    with np.errstate(invalid="ignore"):
        closeness = np.nan_to_num(best_two[:, 0] - best_two[:, 1], nan=np.inf, posinf=np.inf)
    assigned = lead_of_base >= 0
    on_hot = np.zeros(problem.num_leads, dtype=bool)
    on_hot[assigned] = hot[problem.arc_officer[lead_of_base[assigned]]]
    reaches_hot = np.zeros(problem.num_leads, dtype=bool)
    reaches_hot[support_lead[hot[problem.arc_officer[support]]]] = True
    priority = np.where(on_hot, 0.0, np.where(~assigned & (has > 0), 1.0, 2.0))
    priority = np.where(reaches_hot & (priority == 2.0), 1.5, priority)
    candidates = np.flatnonzero(has > 0)
    ranking = np.lexsort((closeness[candidates], priority[candidates]))
    chosen_leads: list[int] = []
    budget = 0
    for lead in candidates[ranking]:
        cost = min(int(has[lead]), arcs_per_lead) + 1
        if budget + cost > max_free_arcs:
            break
        chosen_leads.append(int(lead))
        budget += cost
    free_lead = np.zeros(problem.num_leads, dtype=bool)
    free_lead[chosen_leads] = True
    keep = np.zeros(problem.num_arcs, dtype=bool)
    rank_in_lead = np.arange(ranked.shape[0]) - starts[ranked_lead]
    pick = free_lead[ranked_lead] & (rank_in_lead < arcs_per_lead)
    keep[ranked[pick]] = True
    keep[base[free_lead[problem.arc_lead[base]]]] = True
    free = np.flatnonzero(keep)
    fixed = base[~free_lead[problem.arc_lead[base]]]
    return free, np.sort(fixed)
