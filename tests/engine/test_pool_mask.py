"""A pool's mask is kept per roster and policy, and found only for that very policy."""

from __future__ import annotations

from engine.eligibility import pool_mask
from tests.conftest import make_policy, make_roster


def test_pool_mask_is_not_taken_from_a_freed_policy_at_the_same_address():
    """A policy built where a freed one lived (the same ``id``) gets its own pools, not the
    freed policy's mask kept on the roster (a test once saw a pool of ``ids: [NOPE]``
    select everyone this way)."""
    roster = make_roster("A", "B")
    first = make_policy(pools="main: {everyone: true}\ncloser: {everyone: true}")
    second = make_policy(pools="main: {everyone: true}\ncloser: {ids: [NOPE]}")
    assert pool_mask(roster, first, "closer").all()
    # what the cache holds when ``first`` is freed and ``second`` is built at its address
    cache = roster.mask_cache()
    cache[("pool", id(second), "closer")] = cache[("pool", id(first), "closer")]
    assert not pool_mask(roster, second, "closer").any()
    assert pool_mask(roster, second, "closer") is pool_mask(roster, second, "closer")
