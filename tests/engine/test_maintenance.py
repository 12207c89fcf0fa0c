"""Repricing for the dual-price method: prices from a forecast of the coming demand."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np

from engine.maintenance import reprice, reprice_due
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_policy, make_roster


class SkillScorer:
    """Officer S converts every lead at 0.5, the others at 0.2."""

    def score(self, leads, roster, state, now):
        row = np.array([0.5 if oid == "S" else 0.2 for oid in roster.ids_tuple])
        return np.tile(row, (len(leads), 1))


POLICY = make_policy(routing="{method: dual_price, params: {reprice_every_s: 600}}")


def forecast(n):
    lead = make_lead("F")
    return [replace(lead, lead_id=f"F{k}", received_at=TUESDAY_15_UTC + timedelta(minutes=k))
            for k in range(n)]


def test_scarce_skilled_officer_gets_a_positive_price():
    """When demand exceeds the skilled officer's capacity, their capacity has a price; the
    plentiful officers' does not."""
    roster = make_roster(("S", {"daily_cap": 3}), "A", "B")
    state = RoutingState.empty(roster.ids_tuple)
    prices = reprice(POLICY, roster, state, TUESDAY_15_UTC, SkillScorer(), forecast(20))
    assert prices[0] > 0.2  # S: worth 0.5 against 0.2 elsewhere, capacity binding
    assert prices[1] == prices[2] == 0.0


def test_no_price_when_capacity_is_ample():
    """With capacity for every forecast lead, no officer's capacity has a price."""
    roster = make_roster(("S", {"daily_cap": 50}), "A")
    prices = reprice(POLICY, roster, RoutingState.empty(roster.ids_tuple), TUESDAY_15_UTC,
                     SkillScorer(), forecast(20))
    assert np.allclose(prices, 0.0)


def test_reprice_is_due_on_the_policy_schedule():
    """Prices are due at first, then every reprice_every_s seconds."""
    roster = make_roster("A")
    state = RoutingState.empty(roster.ids_tuple)
    assert reprice_due(POLICY, state, TUESDAY_15_UTC)
    state.set_prices(np.zeros(1), TUESDAY_15_UTC.timestamp())
    assert not reprice_due(POLICY, state, TUESDAY_15_UTC + timedelta(seconds=599))
    assert reprice_due(POLICY, state, TUESDAY_15_UTC + timedelta(seconds=600))
    assert not reprice_due(make_policy(), state, TUESDAY_15_UTC)  # rotations never reprice
