"""The assignment problem: who may take which lead, at what value, under which limits.

The solver receives numbers only. A problem is a sparse bipartite graph between ``L`` leads
and ``M`` officers: every eligible (lead, officer) pair is an *arc* with a finite value
(expected value of giving that lead to that officer, any unit the caller likes, typically
USD or a conversion probability). Ineligible pairs simply have no arc.

Arcs are stored sorted by (lead, officer) with no duplicates, so every solver and the
validator can rely on that order.

Shares (``group_min_share`` and friends) are fractions in [0, 1]. They are used at a
resolution of one part per million: each share is rounded to the nearest multiple of 1e-6
(:attr:`SHARE_SCALE`) before use, by the solvers and by the validator alike, which keeps the
count-based constraints exact integer arithmetic everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SHARE_SCALE", "AssignmentProblem"]

#: Shares are interpreted in parts per million (see module docstring).
SHARE_SCALE = 1_000_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return ``array`` marked read-only (callers pass their own copies)."""
    array.flags.writeable = False
    return array


def _shape_error(field: str, expected: str, received: object) -> ValueError:
    return ValueError(f"{field}: expected {expected}, received {received}")


# eq=False: field-wise equality on numpy arrays is ambiguous; identity is the useful notion.
@dataclass(frozen=True, slots=True, eq=False)
class AssignmentProblem:
    """A lead-to-officer assignment problem with optional side constraints.

    The objective is to maximise the total value of assigned (lead, officer) pairs. Each lead
    goes to at most one eligible officer; leads may stay unassigned.

    Build one with :meth:`from_arrays` (dense value matrix, ``NaN`` = ineligible) or
    :meth:`from_pairs` (sparse arcs). Direct construction expects the normalised arrays
    described below and is validated in ``__post_init__``.

    Attributes:
        num_leads: ``L``, the number of leads (rows), >= 0.
        arc_lead: ``(A,)`` int64 lead index of each eligible pair, in ``[0, L)``.
        arc_officer: ``(A,)`` int64 officer index of each eligible pair, in ``[0, M)``.
            Arcs are sorted by (lead, officer) and unique.
        arc_value: ``(A,)`` float64 finite value of each eligible pair (caller's unit).
        capacity: ``(M,)`` int64 >= 0, most leads each officer may receive.
        groups: ``(M,)`` int64 group (team) index per officer in ``[0, G)``, or ``None``.
        group_min_share: ``(G,)`` float64 in [0, 1]; group ``g`` receives at least this
            fraction of the assigned leads (count): ``count_g >= share_g * n_assigned``.
        group_max_share: ``(G,)`` float64 in [0, 1]; ``count_g <= share_g * n_assigned``.
        officer_min_share: ``(M,)`` float64 in [0, 1]; officer ``j`` receives at least this
            fraction of the assigned leads (count).
        officer_max_share: ``(M,)`` float64 in [0, 1]; at most this fraction (count).
        kinds: ``(L,)`` int64 kind of each lead in ``[0, K)`` (e.g. loan product), or ``None``.
        max_per_kind: ``(K, M)`` int64 >= 0; officer ``j`` receives at most
            ``max_per_kind[k, j]`` leads of kind ``k``.
        value_share_max: fraction in (0, 1]; every officer's assigned total value is at most
            this fraction of the total assigned value: ``V_j <= share * V``.
        value_floor: fraction in [0, 1]; every officer with capacity > 0 receives at least
            this fraction of the mean assigned value per such officer:
            ``V_j >= floor * V / M_cap`` where ``M_cap`` counts officers with capacity > 0.
        min_assigned: at least this many leads must be assigned (count, >= 0). Share
            constraints alone are always met by assigning nothing; this is what makes them
            bite.
        time_limit_s: wall-clock budget for the solve, seconds (> 0).
        num_workers: worker threads for CP-SAT (>= 1).
    """

    num_leads: int
    arc_lead: IntArray
    arc_officer: IntArray
    arc_value: FloatArray
    capacity: IntArray
    groups: IntArray | None = None
    group_min_share: FloatArray | None = None
    group_max_share: FloatArray | None = None
    officer_min_share: FloatArray | None = None
    officer_max_share: FloatArray | None = None
    kinds: IntArray | None = None
    max_per_kind: IntArray | None = None
    value_share_max: float | None = None
    value_floor: float | None = None
    min_assigned: int = 0
    time_limit_s: float = 10.0
    num_workers: int = 2

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        self._check_core()
        self._check_groups()
        self._check_officer_shares()
        self._check_kinds()
        self._check_value_constraints()
        self._check_settings()

    def _check_core(self) -> None:
        if isinstance(self.num_leads, bool) or not isinstance(self.num_leads, int | np.integer):
            raise _shape_error("num_leads", "an int >= 0", repr(self.num_leads))
        if self.num_leads < 0:
            raise _shape_error("num_leads", "an int >= 0", self.num_leads)
        for name in ("arc_lead", "arc_officer", "arc_value", "capacity"):
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.ndim != 1:
                shape = getattr(array, "shape", type(array).__name__)
                raise _shape_error(name, "a 1-D numpy array", shape)
        num_arcs = self.arc_lead.shape[0]
        for name in ("arc_officer", "arc_value"):
            if getattr(self, name).shape[0] != num_arcs:
                raise _shape_error(
                    name, f"shape ({num_arcs},) like arc_lead", getattr(self, name).shape
                )
        if self.arc_lead.dtype != np.int64 or self.arc_officer.dtype != np.int64:
            raise _shape_error(
                "arc_lead/arc_officer",
                "dtype int64",
                f"{self.arc_lead.dtype}/{self.arc_officer.dtype}",
            )
        if self.arc_value.dtype != np.float64:
            raise _shape_error("arc_value", "dtype float64", self.arc_value.dtype)
        if self.capacity.dtype != np.int64:
            raise _shape_error("capacity", "dtype int64", self.capacity.dtype)
        if not np.all(np.isfinite(self.arc_value)):
            bad = int(np.flatnonzero(~np.isfinite(self.arc_value))[0])
            raise _shape_error(
                "arc_value",
                "finite values (use NaN only in from_arrays to mark ineligible pairs)",
                f"{self.arc_value[bad]} at arc {bad} "
                f"(lead {self.arc_lead[bad]}, officer {self.arc_officer[bad]})",
            )
        if self.capacity.size and self.capacity.min() < 0:
            bad = int(np.argmin(self.capacity))
            raise _shape_error("capacity", "values >= 0", f"{self.capacity[bad]} at officer {bad}")
        num_officers = self.capacity.shape[0]
        if num_arcs:
            if self.arc_lead.min() < 0 or self.arc_lead.max() >= self.num_leads:
                raise _shape_error(
                    "arc_lead",
                    f"lead indices in [0, {self.num_leads})",
                    f"range [{self.arc_lead.min()}, {self.arc_lead.max()}]",
                )
            if self.arc_officer.min() < 0 or self.arc_officer.max() >= num_officers:
                raise _shape_error(
                    "arc_officer",
                    f"officer indices in [0, {num_officers}) (len(capacity))",
                    f"range [{self.arc_officer.min()}, {self.arc_officer.max()}]",
                )
            key = self.arc_lead * max(num_officers, 1) + self.arc_officer
            steps = np.diff(key)
            if steps.size and steps.min() <= 0:
                bad = int(np.flatnonzero(steps <= 0)[0]) + 1
                raise _shape_error(
                    "arc_lead/arc_officer",
                    "arcs sorted by (lead, officer) without duplicates (from_pairs sorts)",
                    f"arc {bad} (lead {self.arc_lead[bad]}, officer {self.arc_officer[bad]}) "
                    "out of order or repeated",
                )

    def _check_share_array(self, name: str, expected_len: int, what: str) -> None:
        array = getattr(self, name)
        if array is None:
            return
        if not isinstance(array, np.ndarray) or array.shape != (expected_len,):
            raise _shape_error(
                name, f"shape ({expected_len},) ({what})", getattr(array, "shape", array)
            )
        if array.dtype != np.float64:
            raise _shape_error(name, "dtype float64", array.dtype)
        if (
            not np.all(np.isfinite(array))
            or array.min(initial=0.0) < 0
            or array.max(initial=0.0) > 1
        ):
            bad = int(np.flatnonzero(~((array >= 0) & (array <= 1)))[0])
            raise _shape_error(name, "fractions in [0, 1]", f"{array[bad]} at index {bad}")

    def _check_groups(self) -> None:
        shares_given = self.group_min_share is not None or self.group_max_share is not None
        if self.groups is None:
            if shares_given:
                raise _shape_error(
                    "groups", "an (M,) group index array when group shares are given", None
                )
            return
        num_officers = self.capacity.shape[0]
        if not isinstance(self.groups, np.ndarray) or self.groups.shape != (num_officers,):
            raise _shape_error(
                "groups",
                f"shape ({num_officers},) like capacity",
                getattr(self.groups, "shape", self.groups),
            )
        if self.groups.dtype != np.int64:
            raise _shape_error("groups", "dtype int64", self.groups.dtype)
        if num_officers and self.groups.min() < 0:
            raise _shape_error("groups", "group indices >= 0", int(self.groups.min()))
        num_groups = self.num_groups
        self._check_share_array("group_min_share", num_groups, "one share per group")
        self._check_share_array("group_max_share", num_groups, "one share per group")
        if num_officers and self.groups.max() >= num_groups:
            raise _shape_error(
                "groups",
                f"group indices in [0, {num_groups}) (one share per group)",
                f"max index {int(self.groups.max())}",
            )
        if self.group_min_share is not None and self.group_max_share is not None:
            low = self.share_ppm(self.group_min_share)
            high = self.share_ppm(self.group_max_share)
            if np.any(low > high):
                bad = int(np.flatnonzero(low > high)[0])
                raise _shape_error(
                    "group_min_share",
                    "min share <= max share for every group",
                    f"group {bad}: min {self.group_min_share[bad]} > "
                    f"max {self.group_max_share[bad]}",
                )

    def _check_officer_shares(self) -> None:
        num_officers = self.capacity.shape[0]
        self._check_share_array("officer_min_share", num_officers, "one share per officer")
        self._check_share_array("officer_max_share", num_officers, "one share per officer")
        if self.officer_min_share is not None and self.officer_max_share is not None:
            low = self.share_ppm(self.officer_min_share)
            high = self.share_ppm(self.officer_max_share)
            if np.any(low > high):
                bad = int(np.flatnonzero(low > high)[0])
                raise _shape_error(
                    "officer_min_share",
                    "min share <= max share for every officer",
                    f"officer {bad}: min {self.officer_min_share[bad]} > "
                    f"max {self.officer_max_share[bad]}",
                )

    def _check_kinds(self) -> None:
        if self.kinds is None and self.max_per_kind is None:
            return
        if self.kinds is None or self.max_per_kind is None:
            raise _shape_error(
                "kinds/max_per_kind",
                "both given or both None",
                f"kinds={'set' if self.kinds is not None else None}, "
                f"max_per_kind={'set' if self.max_per_kind is not None else None}",
            )
        if not isinstance(self.kinds, np.ndarray) or self.kinds.shape != (self.num_leads,):
            raise _shape_error(
                "kinds",
                f"shape ({self.num_leads},) (one kind per lead)",
                getattr(self.kinds, "shape", self.kinds),
            )
        if self.kinds.dtype != np.int64:
            raise _shape_error("kinds", "dtype int64", self.kinds.dtype)
        num_officers = self.capacity.shape[0]
        if (
            not isinstance(self.max_per_kind, np.ndarray)
            or self.max_per_kind.ndim != 2
            or self.max_per_kind.shape[1] != num_officers
        ):
            raise _shape_error(
                "max_per_kind",
                f"shape (K, {num_officers})",
                getattr(self.max_per_kind, "shape", None),
            )
        if self.max_per_kind.dtype != np.int64:
            raise _shape_error("max_per_kind", "dtype int64", self.max_per_kind.dtype)
        if self.max_per_kind.size and self.max_per_kind.min() < 0:
            raise _shape_error("max_per_kind", "values >= 0", int(self.max_per_kind.min()))
        if self.num_leads and (
            self.kinds.min() < 0 or self.kinds.max() >= self.max_per_kind.shape[0]
        ):
            raise _shape_error(
                "kinds",
                f"kind indices in [0, {self.max_per_kind.shape[0]}) (rows of max_per_kind)",
                f"range [{self.kinds.min()}, {self.kinds.max()}]",
            )

    def _check_value_constraints(self) -> None:
        for name, low_open in (("value_share_max", True), ("value_floor", False)):
            share = getattr(self, name)
            if share is None:
                continue
            if isinstance(share, bool) or not isinstance(share, float | int | np.floating):
                raise _shape_error(name, "a float fraction or None", repr(share))
            ok = (0 < share <= 1) if low_open else (0 <= share <= 1)
            if not np.isfinite(share) or not ok:
                interval = "(0, 1]" if low_open else "[0, 1]"
                raise _shape_error(name, f"a fraction in {interval}", share)
        if self.has_value_constraints and self.arc_value.size and self.arc_value.min() < 0:
            bad = int(np.argmin(self.arc_value))
            raise _shape_error(
                "arc_value",
                "values >= 0 when value_share_max or value_floor is set",
                f"{self.arc_value[bad]} at lead {self.arc_lead[bad]}, "
                f"officer {self.arc_officer[bad]}",
            )

    def _check_settings(self) -> None:
        if isinstance(self.min_assigned, bool) or not isinstance(
            self.min_assigned, int | np.integer
        ):
            raise _shape_error("min_assigned", "an int >= 0", repr(self.min_assigned))
        if not 0 <= self.min_assigned <= self.num_leads:
            raise _shape_error(
                "min_assigned", f"an int in [0, {self.num_leads}]", self.min_assigned
            )
        if not isinstance(self.time_limit_s, float | int) or not (
            np.isfinite(self.time_limit_s) and self.time_limit_s > 0
        ):
            raise _shape_error("time_limit_s", "a finite number of seconds > 0", self.time_limit_s)
        if (
            isinstance(self.num_workers, bool)
            or not isinstance(self.num_workers, int)
            or self.num_workers < 1
        ):
            raise _shape_error("num_workers", "an int >= 1", self.num_workers)

    # ------------------------------------------------------------------ derived facts
    @property
    def num_officers(self) -> int:
        """``M``, the number of officers."""
        return int(self.capacity.shape[0])

    @property
    def num_arcs(self) -> int:
        """``A``, the number of eligible (lead, officer) pairs."""
        return int(self.arc_lead.shape[0])

    @property
    def num_groups(self) -> int:
        """``G``: the length of the group share arrays, or one more than the largest group
        index when no shares are given (0 without groups). Groups may have no officers."""
        if self.groups is None:
            return 0
        for share in (self.group_min_share, self.group_max_share):
            if isinstance(share, np.ndarray) and share.ndim == 1:
                return int(share.shape[0])
        return int(self.groups.max()) + 1 if self.groups.size else 0

    @property
    def has_value_constraints(self) -> bool:
        """True when a value-based fairness constraint is set."""
        return self.value_share_max is not None or self.value_floor is not None

    @property
    def has_side_constraints(self) -> bool:
        """True when anything beyond eligibility and capacity constrains the assignment."""
        return (
            self.group_min_share is not None
            or self.group_max_share is not None
            or self.officer_min_share is not None
            or self.officer_max_share is not None
            or self.kinds is not None
            or self.has_value_constraints
            or self.min_assigned > 0
        )

    @staticmethod
    def share_ppm(share: npt.ArrayLike) -> IntArray:
        """Shares rounded to integer parts per million (the resolution every check uses)."""
        return np.rint(np.asarray(share, dtype=np.float64) * SHARE_SCALE).astype(np.int64)

    def value_matrix(self) -> FloatArray:
        """Dense ``(L, M)`` value matrix with ``NaN`` for ineligible pairs (small problems)."""
        dense = np.full((self.num_leads, self.num_officers), np.nan)
        dense[self.arc_lead, self.arc_officer] = self.arc_value
        return dense

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls, value: npt.ArrayLike, capacity: npt.ArrayLike, **side_constraints: Any
    ) -> AssignmentProblem:
        """Build a problem from a dense value matrix.

        Args:
            value: ``(L, M)`` float array; ``value[i, j]`` is the value of giving lead ``i`` to
                officer ``j``; ``NaN`` marks an ineligible pair. ``inf`` is rejected.
            capacity: ``(M,)`` int array, most leads per officer (>= 0).
            **side_constraints: any of the optional fields of :class:`AssignmentProblem`
                (``groups``, ``group_min_share``, ``group_max_share``, ``officer_min_share``,
                ``officer_max_share``, ``kinds``, ``max_per_kind``, ``value_share_max``,
                ``value_floor``, ``min_assigned``, ``time_limit_s``, ``num_workers``).
                ``officer_*_share`` may be a scalar (same for every officer);
                ``max_per_kind`` may be ``(M,)`` (same limit for every kind).

        Raises:
            ValueError: on malformed input; the message names the field, what was expected
                and what was received.
        """
        dense = np.asarray(value, dtype=np.float64)
        if dense.ndim != 2:
            raise _shape_error("value", "a 2-D (L, M) array", dense.shape)
        if np.isinf(dense).any():
            lead, officer = np.argwhere(np.isinf(dense))[0]
            raise _shape_error(
                "value",
                "finite values or NaN (ineligible)",
                f"inf at lead {lead}, officer {officer}",
            )
        cap = _as_int_vector("capacity", capacity)
        if cap.shape[0] != dense.shape[1]:
            raise _shape_error(
                "capacity", f"shape ({dense.shape[1]},) (one per column of value)", cap.shape
            )
        lead, officer = np.nonzero(~np.isnan(dense))
        return cls.from_pairs(
            lead,
            officer,
            dense[lead, officer],
            cap,
            num_leads=dense.shape[0],
            _sorted=True,
            **side_constraints,
        )

    @classmethod
    def from_pairs(
        cls,
        lead: npt.ArrayLike,
        officer: npt.ArrayLike,
        value: npt.ArrayLike,
        capacity: npt.ArrayLike,
        *,
        num_leads: int,
        _sorted: bool = False,
        **side_constraints: Any,
    ) -> AssignmentProblem:
        """Build a problem from sparse eligible pairs (any order, no duplicates).

        Args:
            lead: ``(A,)`` int lead index of each eligible pair.
            officer: ``(A,)`` int officer index of each eligible pair.
            value: ``(A,)`` float finite value of each pair.
            capacity: ``(M,)`` int, most leads per officer.
            num_leads: ``L``; leads without any pair are allowed (they stay unassigned).
            **side_constraints: as in :meth:`from_arrays`.
        """
        lead_arr = _as_int_vector("lead", lead)
        officer_arr = _as_int_vector("officer", officer)
        value_arr = np.array(value, dtype=np.float64, copy=True).reshape(-1)
        if not (lead_arr.shape == officer_arr.shape == value_arr.shape):
            raise _shape_error(
                "lead/officer/value",
                "three arrays of the same length",
                f"{lead_arr.shape}/{officer_arr.shape}/{value_arr.shape}",
            )
        cap = _as_int_vector("capacity", capacity)
        if not _sorted and lead_arr.size:
            order = np.lexsort((officer_arr, lead_arr))
            lead_arr, officer_arr, value_arr = lead_arr[order], officer_arr[order], value_arr[order]
        num_officers = cap.shape[0]
        options = _normalise_side_constraints(num_officers, side_constraints)
        return cls(
            num_leads=int(num_leads),
            arc_lead=_frozen(lead_arr),
            arc_officer=_frozen(officer_arr),
            arc_value=_frozen(value_arr),
            capacity=_frozen(cap),
            **options,
        )


_SIDE_FIELDS = frozenset(
    {
        "groups",
        "group_min_share",
        "group_max_share",
        "officer_min_share",
        "officer_max_share",
        "kinds",
        "max_per_kind",
        "value_share_max",
        "value_floor",
        "min_assigned",
        "time_limit_s",
        "num_workers",
    }
)


def _as_int_vector(name: str, data: npt.ArrayLike) -> IntArray:
    array = np.asarray(data)
    if array.ndim != 1:
        raise _shape_error(name, "a 1-D integer array", array.shape)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        as_float = array.astype(np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise _shape_error(name, "integer values", f"dtype {array.dtype}")
    return np.array(array, dtype=np.int64, copy=True)


def _normalise_side_constraints(num_officers: int, options: dict[str, Any]) -> dict[str, Any]:
    unknown = set(options) - _SIDE_FIELDS
    if unknown:
        raise _shape_error(
            "side_constraints", f"keywords among {sorted(_SIDE_FIELDS)}", sorted(unknown)
        )
    out = dict(options)
    if out.get("groups") is not None:
        out["groups"] = _frozen(_as_int_vector("groups", out["groups"]))
    for name in ("group_min_share", "group_max_share"):
        if out.get(name) is not None:
            out[name] = _frozen(np.array(out[name], dtype=np.float64, copy=True).reshape(-1))
    for name in ("officer_min_share", "officer_max_share"):
        if out.get(name) is not None:
            share = np.array(out[name], dtype=np.float64, copy=True)
            if share.ndim == 0:
                share = np.full(num_officers, float(share))
            out[name] = _frozen(share)
    if out.get("kinds") is not None:
        out["kinds"] = _frozen(_as_int_vector("kinds", out["kinds"]))
    if out.get("max_per_kind") is not None:
        limit = np.asarray(out["max_per_kind"])
        if limit.ndim == 1:
            limit = limit[None, :]
            if out.get("kinds") is not None and out["kinds"].size:
                limit = np.repeat(limit, int(out["kinds"].max()) + 1, axis=0)
        if limit.size and not np.issubdtype(limit.dtype, np.integer):
            raise _shape_error("max_per_kind", "integer values", f"dtype {limit.dtype}")
        out["max_per_kind"] = _frozen(np.array(limit, dtype=np.int64, copy=True))
    for name in ("value_share_max", "value_floor"):
        if out.get(name) is not None and isinstance(out[name], np.floating | np.integer):
            out[name] = float(out[name])
    return out
