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
    assert reprice_due(POLICY, roster, state, TUESDAY_15_UTC)
    state.set_prices(np.zeros(1), TUESDAY_15_UTC.timestamp())
    assert not reprice_due(POLICY, roster, state, TUESDAY_15_UTC + timedelta(seconds=599))
    assert reprice_due(POLICY, roster, state, TUESDAY_15_UTC + timedelta(seconds=600))
    assert not reprice_due(make_policy(), roster, state, TUESDAY_15_UTC)  # rotations: never
    # nobody on shift (18:00 in Chicago): not due, however old the prices
    shifts = make_roster(("A", {"work_hours": "Mon-Fri 09:00-17:00"}))
    assert not reprice_due(POLICY, shifts, state, TUESDAY_15_UTC + timedelta(hours=9))
    assert reprice_due(POLICY, shifts, state, TUESDAY_15_UTC + timedelta(days=1))


def test_todays_capacity_is_priced_by_todays_demand_only():
    """A daily cap renews at local midnight: leads expected tomorrow compete for tomorrow's
    cap, so they put no price on the slots left today."""
    roster = make_roster(("S", {"daily_cap": 3}), "A")
    state = RoutingState.empty(roster.ids_tuple)
    tomorrow = [replace(lead, received_at=lead.received_at + timedelta(days=1))
                for lead in forecast(20)]
    prices = reprice(POLICY, roster, state, TUESDAY_15_UTC, SkillScorer(), tomorrow)
    assert np.allclose(prices, 0.0)
    today = reprice(POLICY, roster, state, TUESDAY_15_UTC, SkillScorer(), forecast(20))
    assert today[0] > 0.2


def test_slots_used_today_raise_the_price():
    """The price reads what is left of today's cap: with two of three slots used, the last
    slot is worth at least as much as when all three were free."""
    roster = make_roster(("S", {"daily_cap": 3}), "A")
    state = RoutingState.empty(roster.ids_tuple)
    free = reprice(POLICY, roster, state, TUESDAY_15_UTC, SkillScorer(), forecast(3))
    _, day, _ = roster.local_clock(TUESDAY_15_UTC)
    state.day_key[0], state.day_count[0] = day[0], 2
    used = reprice(POLICY, roster, state, TUESDAY_15_UTC, SkillScorer(), forecast(3))
    assert free[0] == 0.0 < used[0]


def test_precomputed_eligibility_gives_the_same_prices():
    """A caller with a fixed forecast sample passes its eligibility once; the prices are the
    same as when reprice plans each lead, and a wrong shape is refused."""
    import pytest

    from engine.maintenance import forecast_eligibility

    roster = make_roster(("S", {"daily_cap": 3}), "A", ("B", {"licensed_states": "CA"}))
    state = RoutingState.empty(roster.ids_tuple)
    leads = forecast(20)
    eligible = forecast_eligibility(POLICY, roster, leads)
    assert eligible.shape == (20, 3) and not eligible[:, 2].any()  # B: not licensed in TX
    np.testing.assert_allclose(
        reprice(POLICY, roster, state, TUESDAY_15_UTC, SkillScorer(), leads, eligible=eligible),
        reprice(POLICY, roster, state, TUESDAY_15_UTC, SkillScorer(), leads))
    with pytest.raises(ValueError, match="eligible must have shape"):
        reprice(POLICY, roster, state, TUESDAY_15_UTC, SkillScorer(), leads,
                eligible=eligible[:5])


def test_next_refresh_waits_for_someone_on_shift():
    """Prices are due reprice_every_s after the last refresh while someone works; a refresh
    that would fall when nobody is on shift moves to the first shift opening."""
    from engine.maintenance import next_reprice_at

    roster = make_roster(("A", {"work_hours": "Mon-Fri 09:00-17:00"}),
                         ("B", {"work_hours": "Mon-Fri 10:00-18:00"}))  # America/Chicago
    state = RoutingState.empty(roster.ids_tuple)
    assert next_reprice_at(make_policy(), roster, state, TUESDAY_15_UTC) is None
    state.set_prices(np.zeros(2), TUESDAY_15_UTC.timestamp())  # 09:00 in Chicago
    assert next_reprice_at(POLICY, roster, state, TUESDAY_15_UTC) == \
        TUESDAY_15_UTC + timedelta(seconds=600)
    evening = TUESDAY_15_UTC + timedelta(hours=9)  # 18:00 in Chicago: everyone is off
    state.set_prices(np.zeros(2), evening.timestamp())
    assert next_reprice_at(POLICY, roster, state, evening) == TUESDAY_15_UTC + timedelta(days=1)
