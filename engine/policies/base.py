"""The selection-policy protocol: rank the eligible officers of one pool for one lead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from engine.domain import Lead
from engine.roster import Roster
from engine.state import PoolRotation, RoutingState


class Scorer(Protocol):
    """Estimates p(convert | lead, officer) for every pair: an (L, M) array in [0, 1].

    The conversion model (engine/scoring) is one; the simulator passes its world's true
    probabilities as another (an oracle, for upper bounds)."""

    def score(self, leads: Sequence[Lead], roster: Roster, state: RoutingState,
              now: datetime) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class SelectionContext:
    """Everything a selection policy may look at. ``candidates`` are roster indices of the
    officers that passed every hard constraint (licensing, time off, hours, caps), in roster
    order; the policy only orders them."""

    lead: Lead
    facts: Mapping[str, Any]
    roster: Roster
    state: RoutingState
    rotation: PoolRotation
    pool: str
    candidates: np.ndarray  # (K,) int64, K >= 1
    now: datetime
    seed: int
    scorer: Scorer | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    """Candidates in rank order (first = chosen), the probability the policy gave its choice,
    and the scores it ranked by (same order; None for rotations). ``defer`` set (a reason)
    means the method would rather not place the lead now: the decision holds it, until
    ``defer_until`` (POSIX seconds) when known. ``offerable``: how many of the first in
    ``order`` an offer to several officers may go to (None: as many as the offer allows;
    at least 1), for a method that finds the rest not worth their slot."""

    order: np.ndarray  # (K,) int64 roster indices
    propensity: float = 1.0
    scores: np.ndarray | None = None
    defer: str | None = None
    defer_until: float | None = None
    offerable: int | None = None


class SelectionPolicy(Protocol):
    """One method: order the eligible candidates. Must be deterministic given its inputs
    (randomized policies draw from a generator seeded by ``ctx.seed`` and the lead id)."""

    @property
    def name(self) -> str: ...

    def select(self, ctx: SelectionContext) -> Selection: ...


class MethodFactory(Protocol):
    """Builds a selection policy from the ``routing.params`` of a policy file."""

    def validate_params(self, params: Mapping[str, Any]) -> None: ...

    def build(self, params: Mapping[str, Any]) -> SelectionPolicy: ...
