"""Routing state: the explicit data a decision reads and the change it returns.

The state holds, per officer, the counters that caps need (open leads, leads this local day and
this local hour, when last assigned), and per pool the rotation positions. It is plain arrays
keyed by officer id so the API can load it from and save it to database rows inside the
assignment's transaction, and the simulator can keep it in memory and replay it.

A decision never mutates the state; it returns a ``StateDelta`` that the caller applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from engine import core
from engine.frozen import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class RotationStep:
    """Advance of one pool's rotation: ``officer_id``'s pass becomes ``new_pass`` and the
    pool's virtual time becomes ``virtual_time`` (see ``engine.policies.rotation``)."""

    pool: str
    officer_id: str
    new_pass: float
    virtual_time: float


@quick_init
@dataclass(frozen=True, slots=True)
class StateDelta:
    """The change one decision makes: an assignment to count and a rotation to advance.

    ``day_key`` / ``hour_key`` are the officer-local calendar day (date ordinal) and clock hour
    (ordinal * 24 + hour) the assignment counts against. An empty delta changes nothing.
    """

    officer_id: str | None = None
    assigned_at: datetime | None = None
    day_key: int = 0
    hour_key: int = 0
    rotation: RotationStep | None = None

    @property
    def is_empty(self) -> bool:
        return self.officer_id is None and self.rotation is None


EMPTY_DELTA = StateDelta()


@dataclass(slots=True)
class PoolRotation:
    """Stride-scheduling positions of one pool: a pass per officer and the virtual time."""

    passes: np.ndarray  # (M,) float
    virtual_time: float = 0.0


@dataclass(slots=True)
class RoutingState:
    """Counters per officer (arrays aligned with ``officer_ids``) and rotations per pool."""

    officer_ids: tuple[str, ...]
    open_leads: np.ndarray  # (M,) int64, assigned and not yet released
    day_key: np.ndarray  # (M,) int64, local date ordinal that day_count refers to
    day_count: np.ndarray  # (M,) int64
    hour_key: np.ndarray  # (M,) int64, local ordinal*24+hour that hour_count refers to
    hour_count: np.ndarray  # (M,) int64
    last_assigned_s: np.ndarray  # (M,) float, POSIX seconds; -inf when never assigned
    rotations: dict[str, PoolRotation] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)
    # capacity prices of the dual-price method, in value units, and when they were set
    prices: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prices_set_s: float = -np.inf
    # (M,) int64: slots held by open offers (``lifecycle.offers_hold_slots``); they count
    # against every cap until the offer is claimed, withdrawn or lapses
    reserved: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    reserved_total: int = 0  # reserved.sum(), kept so the checks can skip reservations

    def __post_init__(self) -> None:
        if not self.index:
            self.index = {oid: i for i, oid in enumerate(self.officer_ids)}
        if len(self.prices) != len(self.officer_ids):
            self.prices = np.zeros(len(self.officer_ids))
        if len(self.reserved) != len(self.officer_ids):
            self.reserved = np.zeros(len(self.officer_ids), dtype=np.int64)
        self.reserved_total = int(self.reserved.sum())

    @classmethod
    def empty(cls, officer_ids: tuple[str, ...] | list[str]) -> RoutingState:
        m = len(officer_ids)
        zeros = lambda: np.zeros(m, dtype=np.int64)  # noqa: E731
        return cls(tuple(officer_ids), zeros(), zeros(), zeros(), zeros(), zeros(),
                   np.full(m, -np.inf))

    def for_officers(self, officer_ids: tuple[str, ...]) -> RoutingState:
        """This state re-laid for another officer list: known officers keep their counters and
        rotation positions, new ones start empty, officers no longer listed are dropped."""
        if officer_ids == self.officer_ids:
            return self
        new = RoutingState.empty(officer_ids)
        src = np.array([self.index.get(oid, -1) for oid in officer_ids], dtype=np.int64)
        known = src >= 0
        for name in ("open_leads", "day_key", "day_count", "hour_key", "hour_count",
                     "last_assigned_s", "reserved"):
            getattr(new, name)[known] = getattr(self, name)[src[known]]
        for pool, rot in self.rotations.items():
            passes = np.full(len(officer_ids), rot.virtual_time)
            passes[known] = rot.passes[src[known]]
            new.rotations[pool] = PoolRotation(passes, rot.virtual_time)
        new.prices[known] = self.prices[src[known]]
        new.prices_set_s = self.prices_set_s
        new.reserved_total = int(new.reserved.sum())
        return new

    def copy(self) -> RoutingState:
        return RoutingState(
            self.officer_ids, self.open_leads.copy(), self.day_key.copy(),
            self.day_count.copy(), self.hour_key.copy(), self.hour_count.copy(),
            self.last_assigned_s.copy(),
            {k: PoolRotation(v.passes.copy(), v.virtual_time) for k, v in self.rotations.items()},
            dict(self.index), self.prices.copy(), self.prices_set_s, self.reserved.copy(),
        )

    def set_prices(self, prices: np.ndarray, at_s: float) -> None:
        """Install new capacity prices ((M,), value units), computed at POSIX time ``at_s``."""
        if prices.shape != (len(self.officer_ids),):
            raise ValueError(f"prices must have shape ({len(self.officer_ids)},), "
                             f"got {prices.shape}")
        self.prices = np.asarray(prices, dtype=float).copy()
        self.prices_set_s = at_s

    def rotation(self, pool: str) -> PoolRotation:
        """The rotation of ``pool`` (a fresh one, not stored, if the pool has none yet)."""
        found = self.rotations.get(pool)
        if found is None:
            return PoolRotation(np.zeros(len(self.officer_ids)))
        return found

    def apply(self, delta: StateDelta) -> None:
        """Apply a decision's change in place (the caller owns this state)."""
        if delta.officer_id is not None:
            i = self.index[delta.officer_id]
            core.claim(i, delta.day_key, delta.hour_key, self.open_leads, self.day_key,
                       self.day_count, self.hour_key, self.hour_count)
            if delta.assigned_at is not None:
                self.last_assigned_s[i] = delta.assigned_at.timestamp()
        step = delta.rotation
        if step is not None:
            rot = self.rotations.get(step.pool)
            if rot is None:
                rot = self.rotations[step.pool] = PoolRotation(np.zeros(len(self.officer_ids)))
            rot.passes[self.index[step.officer_id]] = step.new_pass
            rot.virtual_time = step.virtual_time

    def release(self, officer_id: str) -> None:
        """A lead of ``officer_id`` closed (funded, lost or reassigned): one fewer open."""
        i = self.index[officer_id]
        if self.open_leads[i] > 0:
            self.open_leads[i] -= 1

    def uncount(self, delta: StateDelta) -> tuple[bool, bool]:
        """Stop counting an assignment against its officer's daily and hourly caps (when the
        day and hour it counted in are still current). The rotation keeps its advance: the
        officer had their turn. Returns whether the day's and the hour's count were lowered."""
        if delta.officer_id is None:
            return False, False
        i = self.index[delta.officer_id]
        day = bool(self.day_key[i] == delta.day_key and self.day_count[i] > 0)
        if day:
            self.day_count[i] -= 1
        hour = bool(self.hour_key[i] == delta.hour_key and self.hour_count[i] > 0)
        if hour:
            self.hour_count[i] -= 1
        return day, hour

    def reserve(self, officer_id: str) -> None:
        """An open offer holds one of ``officer_id``'s slots."""
        self.reserved[self.index[officer_id]] += 1
        self.reserved_total += 1

    def unreserve(self, officer_id: str) -> None:
        """An offer's slot is no longer held (claimed, withdrawn, refused or lapsed)."""
        i = self.index[officer_id]
        if self.reserved[i] > 0:
            self.reserved[i] -= 1
            self.reserved_total -= 1

    def take_back(self, delta: StateDelta) -> None:
        """An assignment that did not stand (not accepted within the SLA, declined): the lead
        is no longer open with the officer and no longer counts against their caps."""
        if delta.officer_id is not None:
            self.release(delta.officer_id)
            self.uncount(delta)

    def to_records(self) -> dict[str, Any]:
        """Plain, JSON-ready form (for a database row set or a file)."""
        return {
            "officers": [
                {"officer_id": oid, "open_leads": int(self.open_leads[i]),
                 "day_key": int(self.day_key[i]), "day_count": int(self.day_count[i]),
                 "hour_key": int(self.hour_key[i]), "hour_count": int(self.hour_count[i]),
                 "last_assigned_s": None if np.isinf(self.last_assigned_s[i])
                 else float(self.last_assigned_s[i]),
                 "price": float(self.prices[i]), "reserved": int(self.reserved[i])}
                for i, oid in enumerate(self.officer_ids)
            ],
            "prices_set_s": None if np.isinf(self.prices_set_s) else self.prices_set_s,
            "rotations": {
                pool: {"virtual_time": rot.virtual_time,
                       "passes": {oid: float(rot.passes[i])
                                  for i, oid in enumerate(self.officer_ids)}}
                for pool, rot in self.rotations.items()
            },
        }

    @classmethod
    def from_records(cls, records: dict[str, Any]) -> RoutingState:
        rows = records["officers"]
        state = cls.empty([r["officer_id"] for r in rows])
        for i, r in enumerate(rows):
            state.open_leads[i] = r["open_leads"]
            state.day_key[i], state.day_count[i] = r["day_key"], r["day_count"]
            state.hour_key[i], state.hour_count[i] = r["hour_key"], r["hour_count"]
            last = r.get("last_assigned_s")
            state.last_assigned_s[i] = -np.inf if last is None else last
            state.prices[i] = r.get("price", 0.0)
            state.reserved[i] = r.get("reserved", 0)
        state.reserved_total = int(state.reserved.sum())
        set_s = records.get("prices_set_s")
        state.prices_set_s = -np.inf if set_s is None else float(set_s)
        for pool, rot in records.get("rotations", {}).items():
            vt = float(rot["virtual_time"])
            passes = np.array([rot["passes"].get(oid, vt) for oid in state.officer_ids])
            state.rotations[pool] = PoolRotation(passes, vt)
        return state
