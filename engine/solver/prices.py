"""Capacity prices: the duals of the assignment LP on a forecast of coming demand.

For a forecast of ``N`` leads (values ``v_ij``, missing = ineligible) and officer capacities
``kappa_j`` (typically the remaining capacity scaled to the forecast size, so fractional),
the LP

    max  sum_ij v_ij x_ij
    s.t. sum_j x_ij <= 1        for every forecast lead i      (dual u_i >= 0)
         sum_i x_ij <= kappa_j  for every officer j            (dual mu_j >= 0)
         x >= 0

has optimal capacity duals ``mu``: the value an officer's marginal unit of capacity is
expected to earn later. An online policy that gives each arriving lead to the eligible
officer maximising ``v_ij - mu_j`` (when positive) is the classic bid-price / dual-price
rule (see docs/solver.md for references).

Methods:

* ``"glop"``: OR-Tools GLOP (dual simplex), model filled from a sparse matrix.
* ``"highs"``: HiGHS via ``highspy`` (prints a one-time banner on first use in a process).
* ``"network"``: the same LP solved exactly as a min-cost flow: lead supplies and capacities
  are multiplied by ``resolution`` (default 1000) and capacities rounded, then the smallest
  optimal officer duals are recovered from the flow by shortest paths. Much faster on large
  forecasts; capacities are used at a resolution of ``1/resolution`` of a lead.

LP duals are not unique when the LP is degenerate. ``"network"`` returns the componentwise
smallest optimal prices; the simplex methods return whichever vertex they end on. All three
return prices >= 0 in the value unit of the forecast, per lead.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.solver._scaling import scale_values
from engine.solver.network import officer_prices, solve_transport

__all__ = ["PriceMethod", "capacity_prices", "forecast_arcs"]

PriceMethod = Literal["glop", "highs", "network"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def forecast_arcs(
    value_forecast: npt.ArrayLike | sp.sparray | sp.spmatrix,
) -> tuple[int, int, IntArray, IntArray, FloatArray]:
    """``(N, M, lead, officer, value)`` arcs of a forecast, sorted by (lead, officer).

    Args:
        value_forecast: dense ``(N, M)`` array with ``NaN`` for ineligible pairs, or a scipy
            sparse matrix whose stored entries are the eligible pairs (explicit zeros count).

    Raises:
        ValueError: on a non-2-D input or non-finite stored values.
    """
    if sp.issparse(value_forecast):
        matrix = sp.coo_array(value_forecast)
        if matrix.ndim != 2:
            raise ValueError(
                f"value_forecast: expected a 2-D (N, M) matrix, received {matrix.shape}"
            )
        num_rows, num_cols = matrix.shape
        lead = matrix.row.astype(np.int64)
        officer = matrix.col.astype(np.int64)
        value = matrix.data.astype(np.float64)
        order = np.lexsort((officer, lead))
        lead, officer, value = lead[order], officer[order], value[order]
    else:
        dense = np.asarray(value_forecast, dtype=np.float64)
        if dense.ndim != 2:
            raise ValueError(
                f"value_forecast: expected a 2-D (N, M) array, received shape {dense.shape}"
            )
        num_rows, num_cols = dense.shape
        lead, officer = np.nonzero(~np.isnan(dense))
        value = dense[lead, officer]
        lead = lead.astype(np.int64)
        officer = officer.astype(np.int64)
    if not np.all(np.isfinite(value)):
        bad = int(np.flatnonzero(~np.isfinite(value))[0])
        raise ValueError(
            f"value_forecast: expected finite values (NaN marks ineligible), received {value[bad]} "
            f"at lead {lead[bad]}, officer {officer[bad]}"
        )
    return int(num_rows), int(num_cols), lead, officer, value


def capacity_prices(
    value_forecast: npt.ArrayLike | sp.sparray | sp.spmatrix,
    capacity: npt.ArrayLike,
    *,
    method: PriceMethod = "glop",
    resolution: int = 1000,
) -> FloatArray:
    """Capacity duals of the assignment LP on a demand forecast.

    Args:
        value_forecast: ``(N, M)`` forecast values, ``NaN`` = ineligible (or sparse, see
            :func:`forecast_arcs`).
        capacity: ``(M,)`` capacities for the forecast, >= 0, may be fractional (e.g.
            remaining capacity x N / leads still expected).
        method: ``"glop"``, ``"highs"`` or ``"network"``.
        resolution: for ``"network"`` only, units per lead (capacities rounded to
            ``1/resolution``).

    Returns:
        ``(M,)`` prices >= 0 in value units per lead.

    Raises:
        ValueError: on malformed input or an unknown method.
    """
    num_leads, num_officers, lead, officer, value = forecast_arcs(value_forecast)
    kappa = np.asarray(capacity, dtype=np.float64).reshape(-1)
    if kappa.shape != (num_officers,):
        raise ValueError(
            f"capacity: expected shape ({num_officers},) (one per forecast column), "
            f"received {kappa.shape}"
        )
    if not np.all(np.isfinite(kappa)) or kappa.min(initial=0.0) < 0:
        bad = int(np.flatnonzero(~(np.isfinite(kappa) & (kappa >= 0)))[0])
        raise ValueError(
            f"capacity: expected finite values >= 0, received {kappa[bad]} at officer {bad}"
        )
    if method not in ("glop", "highs", "network"):
        raise ValueError(f"method: expected 'glop', 'highs' or 'network', received {method!r}")
    if lead.size == 0:
        return np.zeros(num_officers)
    if method == "network":
        return _network_prices(num_leads, lead, officer, value, kappa, resolution)
    matrix = _constraint_matrix(num_leads, num_officers, lead, officer)
    upper = np.concatenate((np.ones(num_leads), kappa))
    if method == "glop":
        duals = _glop_duals(matrix, value, upper)
    else:
        duals = _highs_duals(matrix, value, upper)
    # Clamp solver noise: capacity duals of a maximisation with <= rows are >= 0.
    return np.maximum(duals[num_leads:], 0.0)


def _constraint_matrix(
    num_leads: int, num_officers: int, lead: IntArray, officer: IntArray
) -> sp.csr_matrix:
    columns = np.arange(lead.shape[0])
    rows = np.concatenate((lead, num_leads + officer))
    return sp.csr_matrix(
        (np.ones(2 * lead.shape[0]), (rows, np.concatenate((columns, columns)))),
        shape=(num_leads + num_officers, lead.shape[0]),
    )


def _glop_duals(matrix: sp.csr_matrix, value: FloatArray, upper: FloatArray) -> FloatArray:
    from ortools.linear_solver.python import model_builder_helper as mbh

    # The bundled type stub mis-declares the numpy argument types of this call.
    model: Any = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(
        np.zeros(value.shape[0]),
        np.ones(value.shape[0]),
        value,
        np.full(upper.shape[0], -np.inf),
        upper,
        matrix,
    )
    model.set_maximize(True)
    solver = mbh.ModelSolverHelper("glop")
    solver.solve(model)
    if solver.status() != mbh.SolveStatus.OPTIMAL:
        raise RuntimeError(f"GLOP returned {solver.status()!r} on a bounded feasible LP")
    return np.asarray(solver.dual_values(), dtype=np.float64)


def _highs_duals(matrix: sp.csr_matrix, value: FloatArray, upper: FloatArray) -> FloatArray:
    import highspy

    columns = matrix.tocsc()
    model = highspy.HighsLp()
    model.num_col_ = value.shape[0]
    model.num_row_ = upper.shape[0]
    model.col_cost_ = value
    model.col_lower_ = np.zeros(value.shape[0])
    model.col_upper_ = np.ones(value.shape[0])
    model.row_lower_ = np.full(upper.shape[0], -highspy.kHighsInf)
    model.row_upper_ = upper
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = columns.indptr
    model.a_matrix_.index_ = columns.indices
    model.a_matrix_.value_ = columns.data
    model.a_matrix_.num_col_ = value.shape[0]
    model.a_matrix_.num_row_ = upper.shape[0]
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.passModel(model)
    # passModel keeps the default (minimise) sense; set it explicitly.
    solver.changeObjectiveSense(highspy.ObjSense.kMaximize)
    solver.run()
    if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS returned {solver.getModelStatus()!r} on a bounded feasible LP")
    return np.asarray(solver.getSolution().row_dual, dtype=np.float64)


def _network_prices(
    num_leads: int,
    lead: IntArray,
    officer: IntArray,
    value: FloatArray,
    kappa: FloatArray,
    resolution: int,
) -> FloatArray:
    scaled = scale_values(value, 2**30 // max(resolution, 1))
    capacity_units = np.rint(kappa * resolution).astype(np.int64)
    flow = solve_transport(
        num_leads, lead, officer, scaled.weights, capacity_units, lead_supply=resolution
    )
    prices = officer_prices(
        num_leads,
        lead,
        officer,
        scaled.weights,
        capacity_units,
        flow.arc_flow,
        lead_supply=resolution,
    )
    if prices is None:
        raise RuntimeError("min-cost flow returned a flow without consistent prices")
    return prices / scaled.scale
