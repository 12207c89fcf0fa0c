"""validate_assignment: one violation per rule, and no solver behind it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.solver import AssignmentProblem, validate_assignment

SOLVER_DIR = Path(__file__).resolve().parents[2] / "engine" / "solver"
NAN = np.nan


def _problem(**side: Any) -> AssignmentProblem:
    value = np.array([[3.0, 1.0, NAN], [2.0, 2.0, 1.0], [1.0, NAN, 4.0], [NAN, 5.0, 1.0]])
    return AssignmentProblem.from_arrays(value, np.array([2, 1, 2]), **side)


def test_validate_accepts_valid_assignment() -> None:
    """A feasible assignment has no violations."""
    assert validate_assignment(_problem(), np.array([0, 0, 2, 1])) == []


def test_validate_accepts_empty_assignment_for_share_constraints() -> None:
    """Assigning nothing meets every share constraint (0 >= share x 0)."""
    problem = _problem(
        groups=[0, 0, 1], group_min_share=[0.5, 0.5], officer_min_share=0.2, value_floor=0.5
    )
    assert validate_assignment(problem, np.full(4, -1)) == []


CASES: list[tuple[str, dict[str, Any], list[int], str]] = [
    ("ineligible pair", {}, [2, -1, -1, -1], "lead 0: officer 2 is not eligible"),
    ("over capacity", {}, [-1, 1, -1, 1], "officer 1: 2 leads > capacity 1"),
    ("bad officer index", {}, [3, -1, -1, -1], "officer index 3 outside [-1, 3)"),
    ("min_assigned", {"min_assigned": 2}, [0, -1, -1, -1], "1 leads assigned < min_assigned 2"),
    (
        "kind limit",
        {"kinds": [0, 0, 1, 1], "max_per_kind": [[1, 1, 1], [1, 1, 1]]},
        [0, 0, -1, -1],
        "officer 0: 2 leads of kind 0 > max_per_kind 1",
    ),
    (
        "group min share",
        {"groups": [0, 0, 1], "group_min_share": [0.0, 0.5]},
        [0, 0, 2, -1],
        "group 1: 1 of 3 assigned leads",
    ),
    (
        "group max share",
        {"groups": [0, 0, 1], "group_max_share": [0.5, 1.0]},
        [0, 0, 2, -1],
        "group 0: 2 of 3 assigned leads",
    ),
    (
        "officer min share",
        {"officer_min_share": [0.0, 0.4, 0.0]},
        [0, 0, 2, 1],
        "officer 1: 1 of 4 assigned leads",
    ),
    (
        "officer max share",
        {"officer_max_share": 0.4},
        [0, 0, 2, 1],
        "officer 0: 2 of 4 assigned leads",
    ),
    (
        "value share max",
        {"value_share_max": 0.5},
        [0, -1, 2, -1],
        "officer 2: value 4 is 0.571429 of total 7",
    ),
    ("value floor", {"value_floor": 0.9}, [0, 0, 2, 1], "officer 2: value 4 < value_floor 0.9"),
]


@pytest.mark.parametrize(
    ("case", "side", "assignment", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_validate_reports_each_rule(
    case: str, side: dict[str, Any], assignment: list[int], message: str
) -> None:
    """Each broken rule yields a readable message naming the lead, officer or group."""
    violations = validate_assignment(_problem(**side), np.array(assignment))
    assert any(message in v for v in violations), violations


def test_validate_reports_shape_mismatch() -> None:
    """A wrongly shaped assignment is reported, not raised."""
    assert validate_assignment(_problem(), np.array([0, 1])) == [
        "assignment: expected shape (4,), received (2,)"
    ]


def test_validate_value_share_at_exact_limit_passes() -> None:
    """Equality at a value share limit is allowed (<=), up to float tolerance."""
    value = np.array([[1.0, NAN], [NAN, 1.0]])
    problem = AssignmentProblem.from_arrays(value, np.array([1, 1]), value_share_max=0.5)
    assert validate_assignment(problem, np.array([0, 1])) == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_validation_module_imports_no_solver() -> None:
    """validation.py and what it imports from the package use numpy only (no OR-Tools, no HiGHS)."""
    seen: set[str] = set()
    pending = ["engine.solver.validation"]
    external: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _imports(SOLVER_DIR / f"{module.rsplit('.', 1)[1]}.py"):
            if name.startswith("engine.solver."):
                pending.append(name)
            else:
                external.add(name.split(".")[0])
    assert external <= {"__future__", "numpy", "typing", "dataclasses"}, external


def test_validation_module_loads_without_solver_packages() -> None:
    """Loading validation.py on its own pulls in neither ortools nor highspy."""
    code = f"""
import sys, types
for name, path in (("engine", {str(SOLVER_DIR.parent)!r}), ("engine.solver", {str(SOLVER_DIR)!r})):
    package = types.ModuleType(name); package.__path__ = [path]; sys.modules[name] = package
import engine.solver.validation
loaded = [m for m in sys.modules if m.split(".")[0] in ("ortools", "highspy", "scipy")]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True)
