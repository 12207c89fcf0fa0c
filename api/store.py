"""``SqlStateStore``: the routing state in database rows, read and written in the caller's
transaction (``engine.store.StateStore``).

``load`` reads every officer's counters and every pool's rotation; on PostgreSQL with
``SELECT ... FOR UPDATE`` (officers in id order, then pools in name order: every transaction
takes them in the same order, so none deadlock), on SQLite inside the ``BEGIN IMMEDIATE``
write transaction. ``apply`` carries the effects out in memory (``engine.lifecycle
.apply_effects``); ``flush`` writes back the rows that changed, before the transaction
commits with the lead's case, history and outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.models import Config, OfficerState, RotationPass, RotationPool
from engine.lifecycle import Effect, apply_effects
from engine.state import PoolRotation, RoutingState

_COUNTERS = ("open_leads", "day_key", "day_count", "hour_key", "hour_count", "reserved")
_STATE = cast(Table, OfficerState.__table__)
_POOLS = cast(Table, RotationPool.__table__)
_PASSES = cast(Table, RotationPass.__table__)
_STATE_COLUMNS = ("open_leads", "day_key", "day_count", "hour_key", "hour_count",
                  "last_assigned_s", "price", "reserved")
_READ_STATE = select(_STATE).order_by(_STATE.c.officer_id)
_LOCK_STATE = _READ_STATE.with_for_update()
_READ_POOLS = select(_POOLS).order_by(_POOLS.c.pool)
_LOCK_POOLS = _READ_POOLS.with_for_update()
_READ_PASSES = select(_PASSES)
_READ_PRICES_SET = select(Config.prices_set_s).where(Config.id == 1)
# executemany updates by key, in SQLAlchemy Core (no ORM bookkeeping on the hot path)
_UPDATE_STATE = update(_STATE).where(_STATE.c.officer_id == bindparam("key")).values(
    {c: bindparam(f"v_{c}") for c in _STATE_COLUMNS})
_UPDATE_PASS = update(_PASSES).where(_PASSES.c.pool == bindparam("key_pool"),
                                     _PASSES.c.officer_id == bindparam("key_officer")
                                     ).values(pass_value=bindparam("v_pass"))


class SqlStateStore:
    """The routing state of one transaction. ``lock``: take row locks (PostgreSQL)."""

    def __init__(self, session: Session, *, lock: bool = True) -> None:
        self.session = session
        self.lock = lock and session.get_bind().dialect.name == "postgresql"
        self.state: RoutingState | None = None
        self._loaded: RoutingState | None = None

    def load(self, officer_ids: Sequence[str], prices_set_s: float | None = None
             ) -> RoutingState:
        """The state of ``officer_ids`` (in that order), locked for this transaction. Officers
        without a row start empty (their row is written on flush). ``prices_set_s``: the
        config row's value when the caller has read it already."""
        if self.state is not None and self.state.officer_ids == tuple(officer_ids):
            return self.state
        q, pools_q = (_LOCK_STATE, _LOCK_POOLS) if self.lock else (_READ_STATE, _READ_POOLS)
        rows = {r.officer_id: r for r in self.session.execute(q)}
        pools = list(self.session.execute(pools_q))
        passes: dict[str, dict[str, float]] = {}
        for p in self.session.execute(_READ_PASSES):
            passes.setdefault(p.pool, {})[p.officer_id] = p.pass_value
        if prices_set_s is None:
            prices_set_s = self.session.execute(_READ_PRICES_SET).scalar()
        ids = tuple(officer_ids)
        state = RoutingState.empty(ids)
        for i, oid in enumerate(ids):
            r = rows.get(oid)
            if r is None:
                continue
            state.open_leads[i], state.day_key[i] = r.open_leads, r.day_key
            state.day_count[i], state.hour_key[i] = r.day_count, r.hour_key
            state.hour_count[i], state.reserved[i] = r.hour_count, r.reserved
            state.last_assigned_s[i] = -np.inf if r.last_assigned_s is None \
                else r.last_assigned_s
            state.prices[i] = r.price
        state.prices_set_s = -np.inf if prices_set_s is None else prices_set_s
        for pool in pools:
            vt = pool.virtual_time
            known = passes.get(pool.pool, {})
            state.rotations[pool.pool] = PoolRotation(
                np.array([known.get(oid, vt) for oid in ids], dtype=float), vt)
        self._missing = [oid for oid in ids if oid not in rows]
        self._known_passes = {pool: set(p) for pool, p in passes.items()}
        self._loaded = state.copy()
        self.state = state
        return state

    def apply(self, effects: Sequence[Effect]) -> None:
        assert self.state is not None, "load the state before applying effects"
        apply_effects(self.state, effects)

    def flush(self) -> None:
        """Write the rows that changed since ``load``."""
        state, before = self.state, self._loaded
        if state is None or before is None:
            return
        s = self.session
        changed = np.zeros(len(state.officer_ids), dtype=bool)
        for name in _COUNTERS:
            changed |= getattr(state, name) != getattr(before, name)
        changed |= state.last_assigned_s != before.last_assigned_s  # -inf == -inf
        changed |= state.prices != before.prices
        missing = set(self._missing)
        rows = []
        for i in np.flatnonzero(changed | np.isin(np.array(state.officer_ids, dtype=object),
                                                  list(missing))):
            oid = state.officer_ids[i]
            rows.append({
                "officer_id": oid, "open_leads": int(state.open_leads[i]),
                "day_key": int(state.day_key[i]), "day_count": int(state.day_count[i]),
                "hour_key": int(state.hour_key[i]), "hour_count": int(state.hour_count[i]),
                "last_assigned_s": None if np.isinf(state.last_assigned_s[i])
                else float(state.last_assigned_s[i]),
                "price": float(state.prices[i]), "reserved": int(state.reserved[i]),
            })
        inserts = [r for r in rows if r["officer_id"] in missing]
        updates = [r for r in rows if r["officer_id"] not in missing]
        if inserts:
            s.execute(self._upsert(OfficerState, ["officer_id"]), inserts)
        if updates:
            s.execute(_UPDATE_STATE, [{"key": r["officer_id"],
                                       **{f"v_{c}": r[c] for c in _STATE_COLUMNS}}
                                      for r in updates])
        for pool, rot in state.rotations.items():
            old = before.rotations.get(pool)
            if old is None or old.virtual_time != rot.virtual_time:
                s.execute(self._upsert(RotationPool, ["pool"]),
                          [{"pool": pool, "virtual_time": float(rot.virtual_time)}])
            moved = np.ones(len(rot.passes), dtype=bool) if old is None \
                else rot.passes != old.passes
            known = self._known_passes.get(pool, set())
            values = [{"pool": pool, "officer_id": state.officer_ids[i],
                       "pass_value": float(rot.passes[i])}
                      for i in np.flatnonzero(moved)]
            new = [v for v in values if v["officer_id"] not in known]
            old_rows = [v for v in values if v["officer_id"] in known]
            if new:
                s.execute(self._upsert(RotationPass, ["pool", "officer_id"]), new)
            if old_rows:
                s.execute(_UPDATE_PASS, [{"key_pool": v["pool"], "key_officer": v["officer_id"],
                                          "v_pass": v["pass_value"]} for v in old_rows])
        if state.prices_set_s != before.prices_set_s:
            s.execute(update(Config).where(Config.id == 1).values(
                prices_set_s=None if np.isinf(state.prices_set_s) else state.prices_set_s))
        self._loaded = state.copy()
        self._missing = []
        for pool in state.rotations:
            self._known_passes[pool] = set(state.officer_ids)

    def _upsert(self, model: type, keys: list[str]) -> Any:
        """INSERT ... ON CONFLICT (keys) DO UPDATE for executemany parameter lists."""
        return upsert(self.session.get_bind().dialect.name, model, tuple(keys))


@lru_cache(maxsize=32)
def upsert(dialect: str, model: type, keys: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET every other column (built once)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    cols = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=cols)


__all__ = ["SqlStateStore"]
