"""Assignment solver: lead-to-officer assignment with capacities and fairness constraints.

Receives numbers only (values, eligibility, capacities); imports nothing else from the
project. See docs/solver.md for the formulations, the bound arguments and benchmarks.
"""

from engine.solver.online import (
    DualPriceAssigner,
    ForecastSource,
    PoolForecast,
    greedy_choice,
    price_choice,
)
from engine.solver.prices import capacity_prices
from engine.solver.problem import AssignmentProblem
from engine.solver.result import AssignmentResult, SolveStatus
from engine.solver.solve import solve_assignment
from engine.solver.validation import validate_assignment

__all__ = [
    "AssignmentProblem",
    "AssignmentResult",
    "DualPriceAssigner",
    "ForecastSource",
    "PoolForecast",
    "SolveStatus",
    "capacity_prices",
    "greedy_choice",
    "price_choice",
    "solve_assignment",
    "validate_assignment",
]
