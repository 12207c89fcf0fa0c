"""Side constraints compiled to one uniform row shape.

Every share-type constraint of :class:`~engine.solver.problem.AssignmentProblem` is a row

    sum_a x_a * m_a * (member * [officer(a) in E_r] - rho_r)   >= 0   (a "min" row)
                                                               <= 0   (a "max" row)

where ``x_a`` is 1 if arc ``a`` is used, ``m_a`` is the measure of the arc (1 for counts, the
arc value for value-based rows), ``E_r`` a set of officers, and ``rho_r`` an integer share in
parts per million with ``member`` the matching integer multiplier. In real numbers the row
reads ``member * measure(E_r) >= rho_r * measure(all)``:

=====================  =======  ======  =======================  ==========================
constraint             measure  sense   E_r                      member, rho_r
=====================  =======  ======  =======================  ==========================
group_min_share[g]     count    min     officers of group g      1e6, share_ppm
group_max_share[g]     count    max     officers of group g      1e6, share_ppm
officer_min_share[j]   count    min     {j}                      1e6, share_ppm
officer_max_share[j]   count    max     {j}                      1e6, share_ppm
value_share_max        value    max     {j}, one row per j       1e6, share_ppm
value_floor            value    min     {j} with capacity > 0    1e6 * M_cap, floor_ppm
=====================  =======  ======  =======================  ==========================

Rows that can never bind are skipped (min share 0, max share 1). ``min_assigned`` and the
per-kind limits are kept apart (see :class:`SideRows`). This module is pure numpy/scipy so the
Lagrangian bound, the CP-SAT model builder and the diagnostics all read the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.solver.problem import SHARE_SCALE, AssignmentProblem

__all__ = ["RowBlock", "SideRows", "compile_rows", "measures_by_officer"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RowBlock:
    """A family of share rows with one measure and one sense.

    Attributes:
        name: the problem field the rows come from, e.g. ``"group_min_share"``.
        measure: ``"count"`` or ``"value"``.
        sense: ``"min"`` (``>= 0``) or ``"max"`` (``<= 0``).
        members: ``(R, M)`` 0/1 CSR matrix, row ``r`` marks the officers of ``E_r``.
        member: integer multiplier of the member term.
        rho: ``(R,)`` int64 share numerators (parts per million).
        labels: ``(R,)`` human-readable row names, e.g. ``"group 3"``.
        index: ``(R,)`` group or officer index of each row.
    """

    name: str
    measure: Literal["count", "value"]
    sense: Literal["min", "max"]
    members: sp.csr_matrix
    member: int
    rho: IntArray
    labels: tuple[str, ...]
    index: IntArray

    @property
    def num_rows(self) -> int:
        """Number of rows ``R``."""
        return int(self.rho.shape[0])

    @property
    def sign(self) -> float:
        """+1 for max rows, -1 for min rows: the row times ``sign`` is ``<= 0``."""
        return 1.0 if self.sense == "max" else -1.0

    @property
    def rho_fraction(self) -> FloatArray:
        """``rho / member`` as floats (the share in real numbers)."""
        return self.rho / float(self.member)


@dataclass(frozen=True, slots=True)
class SideRows:
    """All side constraints of a problem in row form.

    Attributes:
        blocks: share-row families (possibly empty).
        min_assigned: lower bound on the number of assigned leads.
        kind_limit: ``(K, M)`` per-officer limit per lead kind, or None.
        lead_kind: ``(L,)`` kind per lead, or None.
    """

    blocks: tuple[RowBlock, ...]
    min_assigned: int
    kind_limit: IntArray | None
    lead_kind: IntArray | None

    @property
    def has_value_rows(self) -> bool:
        """True when some row measures value."""
        return any(block.measure == "value" for block in self.blocks)


def _block(
    name: str,
    measure: Literal["count", "value"],
    sense: Literal["min", "max"],
    member_sets: sp.csr_matrix,
    member: int,
    rho: IntArray,
    index: IntArray,
    label: str,
) -> RowBlock:
    return RowBlock(
        name=name,
        measure=measure,
        sense=sense,
        members=member_sets,
        member=member,
        rho=rho.astype(np.int64),
        labels=tuple(f"{label} {k}" for k in index),
        index=index.astype(np.int64),
    )


Sense = Literal["min", "max"]
# (field, sense, the share at which the row can never bind)
_GROUP_FIELDS: tuple[tuple[str, Sense, int], ...] = (
    ("group_min_share", "min", 0),
    ("group_max_share", "max", SHARE_SCALE),
)
_OFFICER_FIELDS: tuple[tuple[str, Sense, int], ...] = (
    ("officer_min_share", "min", 0),
    ("officer_max_share", "max", SHARE_SCALE),
)


def _indicator(rows: IntArray, columns: IntArray, shape: tuple[int, int]) -> sp.csr_matrix:
    data = np.ones(rows.shape[0])
    return sp.csr_matrix((data, (rows, columns)), shape=shape)


def compile_rows(problem: AssignmentProblem) -> SideRows:
    """Translate the side constraints of ``problem`` into :class:`SideRows`."""
    num_officers = problem.num_officers
    blocks: list[RowBlock] = []
    if problem.groups is not None:
        num_groups = problem.num_groups
        group_sets = _indicator(problem.groups, np.arange(num_officers), (num_groups, num_officers))
        for name, sense, trivial in _GROUP_FIELDS:
            share = getattr(problem, name)
            if share is None:
                continue
            ppm = AssignmentProblem.share_ppm(share)
            live = np.flatnonzero(ppm != trivial)
            if live.size:
                blocks.append(
                    _block(
                        name,
                        "count",
                        sense,
                        group_sets[live],
                        SHARE_SCALE,
                        ppm[live],
                        live,
                        "group",
                    )
                )
    for name, sense, trivial in _OFFICER_FIELDS:
        share = getattr(problem, name)
        if share is None:
            continue
        ppm = AssignmentProblem.share_ppm(share)
        live = np.flatnonzero(ppm != trivial)
        if live.size:
            sets = _indicator(np.arange(live.shape[0]), live, (live.shape[0], num_officers))
            blocks.append(
                _block(name, "count", sense, sets, SHARE_SCALE, ppm[live], live, "officer")
            )
    if problem.value_share_max is not None:
        ppm_value = int(AssignmentProblem.share_ppm(problem.value_share_max))
        if ppm_value < SHARE_SCALE:
            officers = np.arange(num_officers)
            sets = _indicator(officers, officers, (num_officers, num_officers))
            blocks.append(
                _block(
                    "value_share_max",
                    "value",
                    "max",
                    sets,
                    SHARE_SCALE,
                    np.full(num_officers, ppm_value),
                    officers,
                    "officer",
                )
            )
    if problem.value_floor is not None:
        ppm_value = int(AssignmentProblem.share_ppm(problem.value_floor))
        with_capacity = np.flatnonzero(problem.capacity > 0)
        if ppm_value > 0 and with_capacity.size:
            sets = _indicator(
                np.arange(with_capacity.shape[0]),
                with_capacity,
                (with_capacity.shape[0], num_officers),
            )
            blocks.append(
                _block(
                    "value_floor",
                    "value",
                    "min",
                    sets,
                    SHARE_SCALE * int(with_capacity.shape[0]),
                    np.full(with_capacity.shape[0], ppm_value),
                    with_capacity,
                    "officer",
                )
            )
    return SideRows(
        blocks=tuple(blocks),
        min_assigned=problem.min_assigned,
        kind_limit=problem.max_per_kind,
        lead_kind=problem.kinds,
    )


def measures_by_officer(
    num_officers: int, arc_officer: IntArray, arc_value: FloatArray, weight: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``(M,)`` count and value per officer for arc weights (0/1 or fractional)."""
    counts = np.bincount(arc_officer, weights=weight, minlength=num_officers).astype(np.float64)
    values = np.bincount(arc_officer, weights=weight * arc_value, minlength=num_officers)
    return counts, values.astype(np.float64)
