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
    ``defer_until`` (POSIX seconds) when known. ``offerable``: (K,) bool in ``order``, the
    officers an offer to several may go to, for a method that finds the others not worth
    their slot (None: all); the offer takes the first officer, then the run of offerable
    ones after it."""

    order: np.ndarray  # (K,) int64 roster indices
    propensity: float = 1.0
    scores: np.ndarray | None = None
    defer: str | None = None
    defer_until: float | None = None
    offerable: np.ndarray | None = None


class SelectionPolicy(Protocol):
    """One method: order the eligible candidates. Must be deterministic given its inputs
    (randomized policies draw from a generator seeded by ``ctx.seed``, the lead id and the
    moment of the decision).

    What a method needs from its callers it says itself (as scikit-learn's estimator tags
    do), so no caller compares method names:

    - ``needs_scorer``: it ranks by conversion estimates (a ``Scorer`` must be passed, or a
      model file named in ``routing.params.model``);
    - ``weighted``: its rotation (order, tie-breaks) counts officer weights;
    - ``batch_window_s``: callers collect leads this many seconds and route them together
      with ``engine.batch.decide_batch`` (None: one lead at a time);
    - ``reprice_every_s``: it reads capacity prices that callers refresh this often with
      ``engine.maintenance.reprice`` (None: no prices); ``horizon_s`` the forecast they
      price.
    """

    @property
    def name(self) -> str: ...

    @property
    def needs_scorer(self) -> bool: ...

    @property
    def weighted(self) -> bool: ...

    @property
    def batch_window_s(self) -> float | None: ...

    @property
    def reprice_every_s(self) -> float | None: ...

    @property
    def horizon_s(self) -> float | None: ...

    def select(self, ctx: SelectionContext) -> Selection: ...


class MethodFactory(Protocol):
    """Builds a selection policy from the ``routing.params`` of a policy file."""

    def validate_params(self, params: Mapping[str, Any]) -> None: ...

    def build(self, params: Mapping[str, Any]) -> SelectionPolicy: ...
