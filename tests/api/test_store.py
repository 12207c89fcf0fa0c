"""SqlStateStore keeps the routing state exactly as the in-memory store does, and locks it."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api.db import Database
from api.routers.officers import as_row, save_roster
from api.store import SqlStateStore
from engine.lifecycle import Lifecycle
from engine.state import RoutingState
from engine.store import MemoryStore
from tests.conftest import TUESDAY_15_UTC, make_lead, make_policy, make_roster, officer_row


def _assert_same(a: RoutingState, b: RoutingState) -> None:
    assert a.officer_ids == b.officer_ids
    for name in ("open_leads", "day_key", "day_count", "hour_key", "hour_count", "reserved",
                 "last_assigned_s", "prices"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert set(a.rotations) == set(b.rotations)
    for pool, rot in a.rotations.items():
        assert rot.virtual_time == b.rotations[pool].virtual_time
        np.testing.assert_array_equal(rot.passes, b.rotations[pool].passes)


def test_sql_store_matches_the_memory_store(db_url: str):
    """The same lifecycle effects, applied through both stores and saved between leads,
    leave the same state (counters, caps' day and hour, rotation passes)."""
    ids = ("A", "B", ("C", {"weight": 2}), ("D", {"max_open": 2}))
    roster = make_roster(*ids)
    policy = make_policy(routing="{method: weighted_round_robin, offer: {mode: broadcast, "
                                 "max_officers: 2, accept_within_s: 600}}")
    life = Lifecycle.for_policy(roster, policy)
    memory = MemoryStore.empty(roster.ids_tuple)
    db = Database(db_url)
    with db.writing() as s:
        save_roster(s, [as_row(officer_row(o if isinstance(o, str) else o[0],
                                           **({} if isinstance(o, str) else o[1])))
                        for o in ids], TUESDAY_15_UTC)
    for k in range(12):
        lead = make_lead(f"L{k}")
        with db.writing() as s:
            store = SqlStateStore(s)
            state = store.load(roster.ids_tuple)
            step = life.arrive(lead, state, TUESDAY_15_UTC)
            assert step.case.offer is not None
            accept = life.accept(step.case, lead, step.case.offer.officer_ids[k % 2],
                                 RoutingState.copy(state), TUESDAY_15_UTC)
            store.apply(step.effects)
            store.apply(accept.effects)
            store.flush()
        memory.apply(step.effects)
        memory.apply(accept.effects)
    with db.reading() as s:
        saved = SqlStateStore(s, lock=False).load(roster.ids_tuple)
    db.dispose()
    _assert_same(saved, memory.state)
    assert int(saved.open_leads.sum()) == 12


@pytest.mark.postgres
def test_sql_store_locks_the_state_rows(request: pytest.FixtureRequest):
    """On PostgreSQL a second transaction cannot load the state while the first holds it."""
    url = request.getfixturevalue("pg_url")
    db = Database(url)
    with db.writing() as s:
        save_roster(s, [as_row(officer_row("A"))], TUESDAY_15_UTC)
    other = Database(url)
    try:
        with db.writing() as s:
            SqlStateStore(s).load(("A",))
            with pytest.raises(OperationalError, match="lock"), other.writing() as s2:
                s2.execute(text("SET LOCAL lock_timeout = '200ms'"))
                SqlStateStore(s2).load(("A",))
    finally:
        other.dispose()
        db.dispose()
