"""Transportation problems as min-cost flow (OR-Tools ``SimpleMinCostFlow``), plus exact duals.

Network (``L`` leads, ``M`` officers, ``A`` eligible arcs with integer weight ``w > 0``)::

    source --(cap s_i, cost 0)--> lead i --(cap s_i, cost -w_a)--> officer j
    officer j --(cap c_j, cost 0)--> sink
    source --(cap sum s_i, cost 0)--> sink          (bypass: a lead may stay unassigned)

with supply ``sum s_i`` at the source and the same demand at the sink. ``s_i = 1`` for the
assignment problem; larger ``s_i`` scales a fractional LP to integers (see
:func:`engine.solver.prices.capacity_prices`). Minimising cost is maximising total weight; the
bypass makes "leave a lead unassigned" cost nothing, so the optimum is the max-weight
assignment (not the max-cardinality one). Arcs with ``w <= 0`` are left out: with a free
bypass they can never improve the optimum.

When leads have kinds with per-officer limits, a layer of (officer, kind) nodes sits between
leads and officers, with capacity ``max_per_kind[k, j]``: still a pure network.

Arcs are created with the vectorised ``add_arcs_with_capacity_and_unit_cost`` call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

__all__ = ["FlowResult", "officer_prices", "solve_transport"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class FlowResult:
    """Solution of :func:`solve_transport`.

    Attributes:
        arc_flow: ``(A,)`` int64 flow on each input arc (0 or 1 when supplies are 1).
        total_weight: ``sum(w * flow)``, exact integer.
    """

    arc_flow: IntArray
    total_weight: int


def solve_transport(
    num_leads: int,
    arc_lead: IntArray,
    arc_officer: IntArray,
    weight: IntArray,
    capacity: IntArray,
    *,
    lead_supply: int = 1,
    arc_kind: IntArray | None = None,
    kind_capacity: IntArray | None = None,
) -> FlowResult:
    """Max-weight transportation by min-cost flow.

    Args:
        num_leads: ``L``.
        arc_lead: ``(A,)`` lead of each arc.
        arc_officer: ``(A,)`` officer of each arc.
        weight: ``(A,)`` int64 weights; arcs with ``w <= 0`` carry no flow.
        capacity: ``(M,)`` int64 officer capacities (in supply units).
        lead_supply: supply of every lead (1 for an assignment).
        arc_kind: ``(A,)`` kind of each arc's lead, or None.
        kind_capacity: ``(K, M)`` per-officer limit per kind (in supply units), or None.

    Returns:
        The optimal flow on every input arc.

    Raises:
        RuntimeError: if OR-Tools reports anything but OPTIMAL (a bug, not bad input: the
            network always has the all-bypass feasible flow).
    """
    num_officers = int(capacity.shape[0])
    num_arcs = int(arc_lead.shape[0])
    useful = np.flatnonzero(weight > 0)
    source = num_leads + num_officers
    sink = source + 1
    # Lead -> officer arcs, or lead -> (officer, kind) -> officer when kinds are limited.
    if arc_kind is not None and kind_capacity is not None:
        pair = arc_kind[useful] * num_officers + arc_officer[useful]
        layer, layer_index = np.unique(pair, return_inverse=True)
        middle = sink + 1 + layer_index
        layer_tails = sink + 1 + np.arange(layer.shape[0])
        layer_heads = num_leads + layer % num_officers
        layer_caps = kind_capacity.reshape(-1)[layer] * lead_supply
        num_nodes = sink + 1 + layer.shape[0]
    else:
        middle = num_leads + arc_officer[useful]
        layer_tails = layer_heads = layer_caps = np.zeros(0, dtype=np.int64)
        num_nodes = sink + 1
    leads = np.arange(num_leads)
    officers = np.arange(num_officers)
    tails = np.concatenate(
        (arc_lead[useful], np.full(num_leads, source), num_leads + officers, layer_tails, [source])
    )
    heads = np.concatenate((middle, leads, np.full(num_officers, sink), layer_heads, [sink]))
    total_supply = num_leads * lead_supply
    caps = np.concatenate(
        (
            np.full(useful.shape[0], lead_supply),
            np.full(num_leads, lead_supply),
            capacity,
            layer_caps,
            [total_supply],
        )
    )
    costs = np.zeros(tails.shape[0], dtype=np.int64)
    costs[: useful.shape[0]] = -weight[useful]

    flow_solver = min_cost_flow.SimpleMinCostFlow()
    flow_solver.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64), costs
    )
    supplies = np.zeros(num_nodes, dtype=np.int64)
    supplies[source] = total_supply
    supplies[sink] = -total_supply
    flow_solver.set_nodes_supplies(np.arange(num_nodes, dtype=np.int32), supplies)
    status = flow_solver.solve()
    if status != min_cost_flow.SimpleMinCostFlow.OPTIMAL:
        raise RuntimeError(f"SimpleMinCostFlow returned {status!r}; expected OPTIMAL")
    arc_flow = np.zeros(num_arcs, dtype=np.int64)
    if useful.size:
        arc_flow[useful] = flow_solver.flows(np.arange(useful.shape[0], dtype=np.int32))
    return FlowResult(arc_flow=arc_flow, total_weight=-int(flow_solver.optimal_cost()))


def officer_prices(
    num_leads: int,
    arc_lead: IntArray,
    arc_officer: IntArray,
    weight: IntArray,
    capacity: IntArray,
    arc_flow: IntArray,
    *,
    lead_supply: int = 1,
    max_dense_officers: int = 4000,
) -> IntArray | None:
    """Smallest optimal officer duals (capacity prices) from an optimal transportation flow.

    For the LP ``max sum w x`` s.t. ``sum_j x_ij <= s`` (leads), ``sum_i x_ij <= c_j``,
    ``x >= 0`` (all arcs with capacity ``s``), dual prices ``mu >= 0`` and ``u >= 0`` are
    optimal iff complementary slackness holds for the given optimal flow. With ``u_i``
    eliminated this is a system of difference constraints on ``mu``:

    * lead ``i`` sends flow to ``j``, eligible for ``k``: ``mu_k >= mu_j + w_ik - w_ij``;
    * lead ``i`` keeps some supply unassigned: ``mu_k >= w_ik`` for its arcs;
    * lead ``i`` sends flow to ``j``: ``mu_j <= w_ij`` (``u_i >= 0``);
    * officer ``j`` below capacity: ``mu_j <= 0``.

    The componentwise smallest solution is a longest-path problem from a zero node, solved
    by Bellman-Ford (dense ``(M+1)^2`` relaxation when ``M`` is small, sparse otherwise).

    Returns:
        ``(M,)`` int64 prices in weight units, or None when the flow is not optimal for
        these weights (a positive cycle), so no consistent prices exist.
    """
    num_officers = int(capacity.shape[0])
    zero = num_officers
    carries = arc_flow > 0
    inflow = np.bincount(arc_lead, weights=arc_flow, minlength=num_leads)
    unassigned_lead = inflow < lead_supply
    load = np.bincount(arc_officer, weights=arc_flow, minlength=num_officers)

    carrying = np.flatnonzero(carries)
    # Every carrying arc (i, j) pairs with every arc (i, k) of the same lead.
    order = np.argsort(arc_lead[carrying], kind="stable")
    carrying = carrying[order]
    lead_start = np.searchsorted(arc_lead, np.arange(num_leads + 1))
    per_lead = np.diff(lead_start)
    repeats = per_lead[arc_lead[carrying]]
    from_arc = np.repeat(carrying, repeats)
    offsets = np.arange(from_arc.shape[0]) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    to_arc = lead_start[arc_lead[from_arc]] + offsets
    keep = to_arc != from_arc
    from_arc, to_arc = from_arc[keep], to_arc[keep]

    free_arcs = np.flatnonzero(unassigned_lead[arc_lead])
    spare = np.flatnonzero(load < capacity)
    tails = np.concatenate(
        (arc_officer[from_arc], np.full(free_arcs.shape[0], zero), arc_officer[carrying], spare)
    )
    heads = np.concatenate(
        (
            arc_officer[to_arc],
            arc_officer[free_arcs],
            np.full(carrying.shape[0], zero),
            np.full(spare.shape[0], zero),
        )
    )
    lengths = np.concatenate(
        (
            weight[to_arc] - weight[from_arc],
            weight[free_arcs],
            -weight[carrying],
            np.zeros(spare.shape[0], dtype=np.int64),
        )
    ).astype(np.float64)
    if num_officers + 1 <= max_dense_officers:
        return _longest_paths_dense(num_officers + 1, tails, heads, lengths, zero)
    return _longest_paths_sparse(num_officers + 1, tails, heads, lengths, zero)


def _longest_paths_dense(
    num_nodes: int,
    tails: IntArray,
    heads: IntArray,
    lengths: npt.NDArray[np.float64],
    zero: int,
) -> IntArray | None:
    flat = np.full(num_nodes * num_nodes, -np.inf)
    np.maximum.at(flat, tails * num_nodes + heads, lengths)
    table = flat.reshape(num_nodes, num_nodes)
    # Weights are integers below 2**53, so float64 sums are exact here.
    potential = np.zeros(num_nodes)
    for _ in range(num_nodes + 1):
        relaxed = np.maximum(potential, (potential[:, None] + table).max(axis=0))
        if relaxed[zero] > 0:
            return None
        if np.array_equal(relaxed, potential):
            return np.rint(potential[:zero]).astype(np.int64)
        potential = relaxed
    return None


def _longest_paths_sparse(
    num_nodes: int,
    tails: IntArray,
    heads: IntArray,
    lengths: npt.NDArray[np.float64],
    zero: int,
) -> IntArray | None:
    potential = np.zeros(num_nodes)
    for _ in range(num_nodes + 1):
        relaxed = potential.copy()
        np.maximum.at(relaxed, heads, potential[tails] + lengths)
        if relaxed[zero] > 0:
            return None
        if np.array_equal(relaxed, potential):
            return np.rint(potential[:zero]).astype(np.int64)
        potential = relaxed
    return None
