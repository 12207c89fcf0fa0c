"""Round-robin and weighted round-robin by stride scheduling (virtual time).

Each officer in a pool has a *pass*. The officer with the smallest virtual finish time,
``max(pass, V) + 1 / weight``, is next; their pass becomes that finish time and the pool's
virtual time ``V`` moves up to their start. Properties (tests/engine/test_rotation.py):

- weights 3:1 give 3:1 in every window (each officer within one lead of its exact share in every
  prefix), interleaved rather than in bursts;
- an officer who was away, off shift or at a cap is skipped and keeps their pass; on return their
  start is lifted to ``V``, so they are next in line (their place is kept) but get no catch-up
  burst for the leads they missed;
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


def rotation_order(ctx: SelectionContext, weighted: bool) -> tuple[np.ndarray, np.ndarray]:
    """Candidates in rotation order and their virtual finish times (same order)."""
    cand = ctx.candidates
    start = np.maximum(ctx.rotation.passes[cand], ctx.rotation.virtual_time)
    stride = 1.0 / ctx.roster.weights[cand] if weighted else np.ones(len(cand))
    finish = start + stride
    keys = (seeded_order(ctx.roster, ctx.seed)[cand], ctx.state.last_assigned_s[cand], finish)
    idx = np.lexsort(keys)
    return cand[idx], finish[idx]


def advance(rotation: PoolRotation, roster: Roster, officer: int, weighted: bool
            ) -> tuple[float, float]:
    """New (pass, virtual time) of a pool after ``officer`` (a roster index) takes a lead."""
    start = max(float(rotation.passes[officer]), rotation.virtual_time)
    stride = 1.0 / float(roster.weights[officer]) if weighted else 1.0
    return start + stride, start


@dataclass(frozen=True, slots=True)
class Rotation:
    """Round robin (``weighted=False``: every weight counts as 1) or weighted round robin."""

    weighted: bool = True

    @property
    def name(self) -> str:
        return "weighted_round_robin" if self.weighted else "round_robin"

    def select(self, ctx: SelectionContext) -> Selection:
        order, _ = rotation_order(ctx, self.weighted)
        return Selection(order, 1.0, None)


@dataclass(frozen=True, slots=True)
class RotationFactory:
    weighted: bool

    def validate_params(self, params: Mapping[str, Any]) -> None:
        if params:
            raise ValueError(f"rotation takes no params; got {sorted(params)}")

    def build(self, params: Mapping[str, Any]) -> Rotation:
        return Rotation(self.weighted)
