"""Round-robin and weighted round-robin by stride scheduling (virtual time).

Each officer in a pool has a *pass*: the leads they have had, divided by their weight. The
pool's virtual time ``V`` advances by ``1 / W`` per lead, ``W`` being the total weight of the
officers eligible for it, so it tracks the pass a continuously available officer would have.
An officer's start is ``max(pass, V - 1/weight)``; among the officers whose turn has come
(start no later than ``V``) the smallest finish, ``start + 1/weight``, goes next (worst-case
fair weighted fair queueing, WF2Q); the chosen officer's pass becomes their finish. Properties
(tests/engine/test_rotation.py):

- any weights: each officer within one lead of its exact share in every prefix (a property
  test over random weights), interleaved rather than in bursts;
- an officer who was away, off shift or at a cap is skipped and keeps their pass; on return
  their start is lifted to one stride behind ``V``, so they are next in line (their place is
  kept) but get no catch-up burst for the leads they missed;
- ties go to the least recently assigned officer, then to a fixed seeded order (never to roster
  or creation order);
- a newcomer starts at ``V``: a fair share from the first lead, no zero-history flood.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from engine import core
from engine.policies.base import Selection, SelectionContext
from engine.roster import Roster
from engine.state import PoolRotation


@cache
def _seed_rank(officer_id: str, seed: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{officer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def seeded_order(roster: Roster, seed: int) -> np.ndarray:
    """(M,) uint64 tie-break keys: a fixed pseudo-random order of officer ids for ``seed``
    that does not depend on roster order."""
    cached: dict[int, np.ndarray] = roster.__dict__.setdefault("_seeded", {})
    found = cached.get(seed)
    if found is None:
        found = cached[seed] = np.array(
            [_seed_rank(oid, seed) for oid in roster.ids], dtype=np.uint64)
    return found


def rotation_order(ctx: SelectionContext, weighted: bool) -> np.ndarray:
    """The candidates (roster indices) in rotation order: first the officers whose turn has
    come (start no later than the pool's virtual time) by earliest finish, then the others
    by earliest start (worst-case fair weighted fair queueing, WF2Q: choosing only among
    officers whose turn has come keeps everyone within one lead of their exact share).
    Ranked by the routing core (``engine.core.rotation_order``)."""
    return core.rotation_order(
        ctx.candidates.astype(np.int64, copy=False), ctx.roster.weights, weighted,
        ctx.rotation.passes, float(ctx.rotation.virtual_time), ctx.state.last_assigned_s,
        seeded_order(ctx.roster, ctx.seed))


def eligible_weight(roster: Roster, candidates: np.ndarray, weighted: bool) -> float:
    """W: the total weight of the officers eligible for a lead."""
    return float(roster.weights[candidates].sum()) if weighted else float(len(candidates))


def advance(rotation: PoolRotation, roster: Roster, officer: int, weighted: bool,
            total_weight: float) -> tuple[float, float]:
    """New (pass, virtual time) of a pool after ``officer`` (a roster index) takes a lead for
    which officers of ``total_weight`` were eligible."""
    return core.advance_step(float(roster.weights[officer]), weighted,
                             float(rotation.passes[officer]), float(rotation.virtual_time),
                             total_weight)


@dataclass(frozen=True, slots=True)
class Rotation:
    """Round robin (``weighted=False``: every weight counts as 1) or weighted round robin."""

    weighted: bool = True
    needs_scorer = False
    batch_window_s = None
    reprice_every_s = None
    horizon_s = None

    @property
    def name(self) -> str:
        return "weighted_round_robin" if self.weighted else "round_robin"

    def select(self, ctx: SelectionContext) -> Selection:
        return Selection(rotation_order(ctx, self.weighted), 1.0, None)


@dataclass(frozen=True, slots=True)
class RotationFactory:
    weighted: bool

    def validate_params(self, params: Mapping[str, Any]) -> None:
        if params:
            raise ValueError(f"rotation takes no params; got {sorted(params)}")

    def build(self, params: Mapping[str, Any]) -> Rotation:
        return Rotation(self.weighted)
