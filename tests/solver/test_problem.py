"""AssignmentProblem construction and input validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.solver import AssignmentProblem

NAN = np.nan
VALUE = np.array([[1.0, 2.0], [NAN, 3.0], [4.0, NAN]])
CAPACITY = np.array([1, 2])


def test_from_arrays_keeps_only_eligible_pairs_sorted() -> None:
    """NaN cells become missing arcs; arcs are sorted by (lead, officer)."""
    problem = AssignmentProblem.from_arrays(VALUE, CAPACITY)
    assert problem.num_leads == 3 and problem.num_officers == 2 and problem.num_arcs == 4
    assert problem.arc_lead.tolist() == [0, 0, 1, 2]
    assert problem.arc_officer.tolist() == [0, 1, 1, 0]
    assert problem.arc_value.tolist() == [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(problem.value_matrix(), VALUE)


def test_from_pairs_sorts_arcs_and_matches_from_arrays() -> None:
    """Sparse construction in any order gives the same problem as the dense one."""
    problem = AssignmentProblem.from_pairs(
        [2, 0, 1, 0], [0, 1, 1, 0], [4.0, 2.0, 3.0, 1.0], CAPACITY, num_leads=3
    )
    dense = AssignmentProblem.from_arrays(VALUE, CAPACITY)
    np.testing.assert_array_equal(problem.arc_lead, dense.arc_lead)
    np.testing.assert_array_equal(problem.arc_officer, dense.arc_officer)
    np.testing.assert_array_equal(problem.arc_value, dense.arc_value)


def test_problem_arrays_are_read_only() -> None:
    """A built problem cannot be changed in place (frozen data, frozen arrays)."""
    problem = AssignmentProblem.from_arrays(VALUE, CAPACITY, officer_max_share=0.5)
    with pytest.raises(ValueError):
        problem.arc_value[0] = 9.0
    with pytest.raises(ValueError):
        problem.capacity[0] = 9
    with pytest.raises(AttributeError):
        problem.time_limit_s = 1.0  # type: ignore[misc]


def test_from_arrays_broadcasts_scalar_officer_share_and_kind_limit() -> None:
    """A scalar officer share and an (M,) per-kind limit are expanded to full shape."""
    problem = AssignmentProblem.from_arrays(
        VALUE, CAPACITY, officer_min_share=0.1, kinds=[0, 1, 1], max_per_kind=[1, 2]
    )
    assert problem.officer_min_share is not None and problem.officer_min_share.tolist() == [
        0.1,
        0.1,
    ]
    assert problem.max_per_kind is not None and problem.max_per_kind.tolist() == [[1, 2], [1, 2]]


def test_share_ppm_rounds_to_parts_per_million() -> None:
    """Shares are used at a resolution of 1e-6."""
    assert AssignmentProblem.share_ppm(0.1234564).tolist() == 123456
    assert AssignmentProblem.share_ppm([0.3, 1.0]).tolist() == [300000, 1000000]


def test_side_constraint_flags() -> None:
    """has_side_constraints is False only for a pure transportation problem."""
    assert not AssignmentProblem.from_arrays(VALUE, CAPACITY).has_side_constraints
    assert AssignmentProblem.from_arrays(VALUE, CAPACITY, min_assigned=1).has_side_constraints
    assert AssignmentProblem.from_arrays(VALUE, CAPACITY, value_floor=0.1).has_value_constraints


BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("value not 2-D", {"value": np.ones(3)}, "value: expected a 2-D"),
    (
        "value with inf",
        {"value": np.array([[1.0, np.inf]])},
        "value: expected finite values or NaN",
    ),
    ("capacity length", {"capacity": np.array([1, 2, 3])}, "capacity: expected shape (2,)"),
    ("negative capacity", {"capacity": np.array([1, -1])}, "capacity: expected values >= 0"),
    (
        "fractional capacity",
        {"capacity": np.array([1.5, 2.0])},
        "capacity: expected integer values",
    ),
    (
        "groups length",
        {"groups": [0, 1, 1], "group_min_share": [0.1, 0.1]},
        "groups: expected shape (2,)",
    ),
    (
        "shares without groups",
        {"group_min_share": [0.1]},
        "groups: expected an (M,) group index array",
    ),
    (
        "group index beyond shares",
        {"groups": [0, 1], "group_min_share": [0.1]},
        "groups: expected group indices in [0, 1)",
    ),
    (
        "group share lengths differ",
        {"groups": [0, 1], "group_min_share": [0.1, 0.1], "group_max_share": [1.0]},
        "group_max_share: expected shape (2,)",
    ),
    (
        "group share above 1",
        {"groups": [0, 0], "group_max_share": [1.5]},
        "group_max_share: expected fractions in [0, 1]",
    ),
    (
        "group min above max",
        {"groups": [0, 0], "group_min_share": [0.6], "group_max_share": [0.5]},
        "min share <= max share",
    ),
    (
        "officer share negative",
        {"officer_max_share": -0.1},
        "officer_max_share: expected fractions in [0, 1]",
    ),
    (
        "officer share length",
        {"officer_min_share": [0.1, 0.1, 0.1]},
        "officer_min_share: expected shape (2,)",
    ),
    (
        "kinds without limits",
        {"kinds": [0, 0, 0]},
        "kinds/max_per_kind: expected both given or both None",
    ),
    ("kinds length", {"kinds": [0, 0], "max_per_kind": [[1, 1]]}, "kinds: expected shape (3,)"),
    (
        "kind out of range",
        {"kinds": [0, 0, 2], "max_per_kind": [[1, 1], [1, 1]]},
        "kinds: expected kind indices in [0, 2)",
    ),
    (
        "kind limit negative",
        {"kinds": [0, 0, 0], "max_per_kind": [[1, -1]]},
        "max_per_kind: expected values >= 0",
    ),
    (
        "value share zero",
        {"value_share_max": 0.0},
        "value_share_max: expected a fraction in (0, 1]",
    ),
    ("value floor above 1", {"value_floor": 1.5}, "value_floor: expected a fraction in [0, 1]"),
    ("min_assigned too big", {"min_assigned": 4}, "min_assigned: expected an int in [0, 3]"),
    ("min_assigned float", {"min_assigned": 1.5}, "min_assigned: expected an int >= 0"),
    (
        "time limit zero",
        {"time_limit_s": 0.0},
        "time_limit_s: expected a finite number of seconds > 0",
    ),
    ("workers zero", {"num_workers": 0}, "num_workers: expected an int >= 1"),
    ("unknown keyword", {"max_share": 0.5}, "side_constraints: expected keywords among"),
    (
        "negative values with value rows",
        {"value": np.array([[-1.0, 2.0], [1.0, 1.0], [1.0, 1.0]]), "value_floor": 0.1},
        "arc_value: expected values >= 0 when value_share_max or value_floor is set",
    ),
]


@pytest.mark.parametrize(("case", "changes", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_from_arrays_rejects_bad_input(case: str, changes: dict[str, Any], message: str) -> None:
    """Bad input raises ValueError naming the field, what was expected and what was received."""
    arguments: dict[str, Any] = {"value": VALUE, "capacity": CAPACITY, **changes}
    with pytest.raises(ValueError, match="received") as error:
        AssignmentProblem.from_arrays(
            arguments.pop("value"), arguments.pop("capacity"), **arguments
        )
    assert message in str(error.value)


PAIR_BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "duplicate pair",
        {"lead": [0, 0], "officer": [1, 1], "value": [1.0, 2.0]},
        "without duplicates",
    ),
    (
        "lead out of range",
        {"lead": [0, 5], "officer": [0, 1], "value": [1.0, 2.0]},
        "arc_lead: expected lead indices in [0, 3)",
    ),
    (
        "officer out of range",
        {"lead": [0, 1], "officer": [0, 2], "value": [1.0, 2.0]},
        "arc_officer: expected officer indices in [0, 2)",
    ),
    (
        "length mismatch",
        {"lead": [0, 1], "officer": [0], "value": [1.0, 2.0]},
        "lead/officer/value: expected three arrays",
    ),
    (
        "nan value",
        {"lead": [0], "officer": [0], "value": [np.nan]},
        "arc_value: expected finite values",
    ),
]


@pytest.mark.parametrize(
    ("case", "arrays", "message"), PAIR_BAD_INPUTS, ids=[c[0] for c in PAIR_BAD_INPUTS]
)
def test_from_pairs_rejects_bad_input(case: str, arrays: dict[str, Any], message: str) -> None:
    """Sparse input errors name the field and the offending value."""
    with pytest.raises(ValueError, match="received") as error:
        AssignmentProblem.from_pairs(
            arrays["lead"], arrays["officer"], arrays["value"], CAPACITY, num_leads=3
        )
    assert message in str(error.value)


def test_direct_construction_rejects_wrong_dtype() -> None:
    """Direct construction requires the normalised dtypes (from_* constructors convert)."""
    with pytest.raises(ValueError, match="capacity: expected dtype int64"):
        AssignmentProblem(
            num_leads=1,
            arc_lead=np.array([0]),
            arc_officer=np.array([0]),
            arc_value=np.array([1.0]),
            capacity=np.array([1.0]),  # type: ignore[arg-type]
        )
