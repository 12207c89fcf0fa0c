"""The worker refreshes the dual-price method's capacity prices on the policy's schedule,
from the stored demand of the last horizon."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.models import Config, OfficerState
from tests.api.conftest import Api, policy_yaml, use_policy


def _prices(api: Api) -> tuple[float | None, dict[str, float]]:
    with api.db.reading() as s:
        at = s.scalar(select(Config.prices_set_s))
        prices = {r.officer_id: r.price for r in s.scalars(select(OfficerState))}
    return at, prices


def test_worker_reprices_dual_price_from_recent_demand(api: Api, small_model):
    """Demand above the officers' daily caps gives positive prices at the next refresh; the
    refresh waits for its schedule."""
    api.officers(("A", {"daily_cap": 3}), ("B", {"daily_cap": 3}))
    use_policy(api, policy_yaml(method="dual_price", extra_routing=(
        f", params: {{model: {small_model}, reprice_every_s: 3600, horizon_s: 14400}}")))
    api.work()  # the first refresh: nothing seen yet, prices zero
    first_at, prices = _prices(api)
    assert first_at == pytest.approx(api.clock.now.timestamp())
    assert all(p == 0 for p in prices.values())
    for _ in range(12):
        assert api.post_lead().status_code == 201
        api.clock.advance(60)
    api.work()  # within the hour: not due, nothing changes
    assert _prices(api)[0] == first_at
    api.work(3600)
    at, prices = _prices(api)
    assert at == pytest.approx(api.clock.now.timestamp())
    assert set(prices) == {"A", "B"} and all(p > 0 for p in prices.values()), prices


def test_round_robin_policy_never_reprices(api: Api):
    """Methods without prices leave them alone."""
    api.officers("A")
    api.post_lead()
    api.work(7200)
    assert _prices(api)[0] is None


def test_batch_window_is_routed_together(api: Api, small_model):
    """batch_optimal: leads wait for their window's end, then one solve shares the officers'
    capacity among them (the lead left out is held by the batch's optimum, not by a cap met
    one lead at a time)."""
    api.officers(("A", {"daily_cap": 1}), ("B", {"daily_cap": 1}))
    use_policy(api, policy_yaml(method="batch_optimal", extra_routing=(
        f", params: {{model: {small_model}, window_s: 300}}")))
    ids = []
    for amount in (200000, 450000, 700000):
        r = api.post_lead(loan_amount=str(amount))
        assert r.status_code == 201, r.text
        assert r.json()["assignment"]["status"] == "new"
        ids.append(r.json()["id"])
        api.clock.advance(30)
    assert api.work() == 0  # the window has not ended
    assert api.work(300) >= 3
    leads = [api.lead(i) for i in ids]
    statuses = sorted(x["assignment"]["status"] for x in leads)
    assert statuses == ["assigned", "assigned", "held"], statuses
    assert {x["assignment"]["officer_id"] for x in leads} >= {"A", "B"}
    held = next(x for x in leads if x["assignment"]["status"] == "held")
    assert "batch's optimal assignment" in str(held["explanation"]), held["explanation"]
