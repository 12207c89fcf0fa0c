"""Pools on a roster: names that match no officer and pools that select nobody are found."""

from __future__ import annotations

import pytest

from engine.rules.coverage import pool_warnings
from tests.conftest import make_policy, make_roster

ROSTER = make_roster("A", ("B", {"team": "tx", "specialties": "va"}),
                     ("C", {"languages": "en;es", "licensed_states": "TX;CA"}))


@pytest.mark.parametrize(("pools", "expected"), [
    ("main: {everyone: true}\nclosers: {ids: [A, B]}", []),
    ("main: {everyone: true}\nclosers: {ids: [A, NOPE, GONE]}",
     [("pools.closers.ids", "pool 'closers' names officer id(s) not on the roster: NOPE, GONE",
       False)]),
    ("main: {everyone: true}\nclosers: {ids: [NOPE]}",
     [("pools.closers.ids", "pool 'closers' names officer id(s) not on the roster: NOPE", False),
      ("pools.closers", "pool 'closers' selects NO officer on the roster: every lead sent to it "
                        "goes to its fallback, or is held or unassigned", True)]),
    ("main: {everyone: true}\nteam: {teams: [tx, ny]}",
     [("pools.team.teams", "pool 'team' names team(s) no officer on the roster is in: ny",
       False)]),
    ("main: {everyone: true}\nalaska: {states: [AK]}",
     [("pools.alaska", "pool 'alaska' selects NO officer on the roster: every lead sent to it "
                       "goes to its fallback, or is held or unassigned", True)]),
    ("main: {everyone: true}\nfrench: {languages: [fr]}\nrev: {specialties: [reverse]}",
     [("pools.french", "pool 'french' selects NO officer", True),
      ("pools.rev", "pool 'rev' selects NO officer", True)]),
])
def test_pool_warnings_name_unknown_officers_and_empty_pools(pools, expected):
    """Unknown officer ids and teams are named with the pool's YAML path; a pool that selects
    no officer on the roster is flagged as such."""
    found = pool_warnings(make_policy(pools=pools), ROSTER)
    assert [(w.path, w.selects_nobody) for w in found] == [(p, s) for p, _, s in expected]
    for w, (_, message, _) in zip(found, expected, strict=True):
        assert w.message.startswith(message)
