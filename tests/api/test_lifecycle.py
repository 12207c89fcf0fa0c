"""A stored lead's life: answers, deadlines, cascades, held leads and freed slots, carried
out by the engine's lifecycle in database transactions, surviving a restart."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import Lead, OfficerState
from api.security import Scope
from tests.api.conftest import Api, Clock, make_api, policy_yaml, use_policy


def _kinds(api: Api, lead_id: int) -> list[tuple[str, str | None]]:
    return [(h["kind"], h["officer_id"]) for h in api.lead(lead_id)["history"]
            if h["kind"] != "notice"]


def _open(api: Api) -> dict[str, int]:
    with api.db.reading() as s:
        return {r.officer_id: r.open_leads for r in s.scalars(select(OfficerState))}


def test_accept_by_the_assigned_officer(api: Api):
    """The officer the lead is assigned to accepts it: accepted, deadline cleared."""
    api.officers("A")
    lead = api.post_lead().json()
    r = api.act(lead["id"], "accept", "A")
    assert r.status_code == 200, r.text
    assert r.json()["assignment"]["status"] == "accepted"
    assert r.json()["assignment"]["due_at"] is None
    assert _kinds(api, lead["id"])[-1] == ("accepted", "A")


def test_accept_twice_is_409(api: Api):
    """A second acceptance does not apply: 409 with the lifecycle's note."""
    api.officers("A")
    lead = api.post_lead().json()
    assert api.act(lead["id"], "accept", "A").status_code == 200
    r = api.act(lead["id"], "accept", "A")
    assert r.status_code == 409
    assert "accepted, not offered" in r.json()["detail"]


def test_decline_moves_the_lead_on_at_once(api: Api):
    """A declined lead is re-routed in the same transaction, to another officer."""
    api.officers("A", "B")
    lead = api.post_lead().json()
    first = lead["assignment"]["officer_id"]
    other = "B" if first == "A" else "A"
    r = api.act(lead["id"], "decline", first, reason="on a call")
    assert r.status_code == 200, r.text
    assert r.json()["assignment"]["officer_id"] == other
    assert ("declined", first) in _kinds(api, lead["id"])
    assert _open(api) == {first: 0, other: 1}


def test_expired_offer_moves_on_when_due(api: Api):
    """Not accepted within the SLA: the worker re-routes the lead (an SLA breach charged to
    the officer) when its due time comes, not before."""
    api.officers("A", "B")
    lead = api.post_lead().json()
    first = lead["assignment"]["officer_id"]
    assert api.work(899) == 0
    assert api.work(2) == 1
    got = api.lead(lead["id"])
    assert got["assignment"]["officer_id"] != first
    assert ("sla_breach", first) in _kinds(api, lead["id"])


def test_due_times_survive_a_restart(db_url: str, clock: Clock):
    """Every due time is a row: an app started afresh on the same database moves on the
    offers that expired while it was down."""
    app, _ = make_api(db_url, clock)
    with TestClient(app) as client:
        api = Api(client, app.state.db, clock)
        api.keys["ingest"] = api.key(Scope.INGEST)
        api.officers("A", "B")
        lead_id = api.post_lead().json()["id"]
    clock.advance(3600)
    app2, _ = make_api(db_url, clock)
    with TestClient(app2) as client2:
        api2 = Api(client2, app2.state.db, clock)
        api2.keys["admin"] = api2.key(Scope.ADMIN)
        assert api2.work() == 1
        kinds = [h["kind"] for h in api2.lead(lead_id)["history"]]
    assert kinds.count("sla_breach") == 1 and kinds.count("assigned") == 2


def test_cascade_steps_and_lapses(api: Api):
    """A cascade offers one officer at a time; a step that passes moves to the next."""
    api.officers("A", "B", "C")
    use_policy(api, policy_yaml(
        offer="{mode: cascade, max_officers: 3, step_s: 60, accept_within_s: 600}"))
    lead = api.post_lead().json()
    assert lead["assignment"]["status"] == "offered"
    first = lead["assignment"]["offered_to"]
    assert len(first) == 1
    api.work(61)
    got = api.lead(lead["id"])
    assert len(got["assignment"]["offered_to"]) == 2
    assert ("lapsed", first[0]) in _kinds(api, lead["id"])
    late = api.act(lead["id"], "accept", first[0])
    assert late.status_code == 409


def test_broadcast_simultaneous_accepts_have_one_winner(api: Api):
    """Several officers accepting a broadcast at once: exactly one gets it."""
    ids = [f"O{i}" for i in range(6)]
    api.officers(*ids)
    use_policy(api, policy_yaml(offer="{mode: broadcast, max_officers: 6, "
                                      "accept_within_s: 600}"))
    lead = api.post_lead().json()
    assert sorted(lead["assignment"]["offered_to"]) == ids
    results: dict[str, int] = {}
    barrier = threading.Barrier(len(ids))

    def accept(officer: str) -> None:
        barrier.wait()
        results[officer] = api.act(lead["id"], "accept", officer).status_code

    threads = [threading.Thread(target=accept, args=(o,)) for o in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200] + [409] * 5
    winner = next(o for o, code in results.items() if code == 200)
    got = api.lead(lead["id"])
    assert got["assignment"]["officer_id"] == winner
    assert [k for k in _kinds(api, lead["id"]) if k[0] == "accepted"] == [("accepted", winner)]
    assert sum(_open(api).values()) == 1


def test_held_lead_is_placed_when_a_shift_opens(api: Api, clock: Clock):
    """A lead nobody can take now is held until hold_until, then the worker places it."""
    api.officers(("A", {"work_hours": "Mon-Fri 09:00-10:00"}))  # Chicago, UTC-6
    clock.advance(-3600)
    lead = api.post_lead().json()
    assert lead["assignment"]["status"] == "held"
    assert lead["assignment"]["due_at"].startswith("2025-03-04T15:00:00")
    assert api.work(1800) == 0
    assert api.work(1800) == 1
    assert api.lead(lead["id"])["assignment"]["officer_id"] == "A"


def test_held_leads_are_worked_in_the_policy_order(api: Api, clock: Clock):
    """When a shift opens for one slot, the held lead the policy puts first gets it
    (freshest_first: the newest)."""
    api.officers(("A", {"work_hours": "Mon-Fri 09:00-10:00", "max_open": 1}))
    clock.advance(-3600)
    older = api.post_lead().json()
    clock.advance(60)
    newer = api.post_lead().json()
    api.work(3600)
    assert api.lead(newer["id"])["assignment"]["officer_id"] == "A"
    assert api.lead(older["id"])["assignment"]["status"] == "held"


def test_freed_slot_takes_a_held_lead_at_once(api: Api):
    """An officer at their cap closes a lead: the held lead is tried in that transaction."""
    api.officers(("A", {"max_open": 1}))
    first = api.post_lead().json()
    held = api.post_lead().json()
    assert held["assignment"]["status"] == "held"
    assert api.act(first["id"], "accept", "A").status_code == 200
    r = api.act(first["id"], "outcome", "A", outcome="funded", amount="300000.00")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"]["funded_amount"] == "300000.00"
    got = api.lead(held["id"])
    assert got["assignment"]["officer_id"] == "A"
    assert _open(api) == {"A": 1}


def test_outcomes_are_recorded_and_close_the_lead(api: Api):
    """contacted and application are recorded; lost closes the lead and frees the slot."""
    api.officers("A")
    lead = api.post_lead().json()
    api.act(lead["id"], "accept", "A")
    for outcome in ("contacted", "application"):
        assert api.act(lead["id"], "outcome", "A", outcome=outcome).status_code == 200
    r = api.act(lead["id"], "outcome", "A", outcome="lost")
    assert r.json()["assignment"]["status"] == "closed"
    assert r.json()["outcome"]["outcome"] == "lost"
    assert _open(api) == {"A": 0}
    kinds = [k for k, _ in _kinds(api, lead["id"])]
    assert kinds[-3:] == ["contacted", "application", "released"]


def test_outcome_before_acceptance_is_409(api: Api):
    """No outcome for a lead nobody accepted."""
    api.officers("A")
    lead = api.post_lead().json()
    r = api.act(lead["id"], "outcome", "A", outcome="contacted")
    assert r.status_code == 409


def test_funded_needs_an_amount(api: Api):
    """funded without a valid amount is a 422 naming amount."""
    api.officers("A")
    lead = api.post_lead().json()
    api.act(lead["id"], "accept", "A")
    for amount in (None, "abc", "-5", "1e20"):
        r = api.act(lead["id"], "outcome", "A", outcome="funded", amount=amount)
        assert r.status_code == 422, amount
        assert r.json()["errors"][0]["field"] == "amount"


def test_state_rows_match_the_leads(api: Api):
    """After a mix of answers, each officer's open leads equal the leads they hold."""
    api.officers("A", "B", "C")
    leads = [api.post_lead().json() for _ in range(9)]
    for k, lead in enumerate(leads):
        officer = lead["assignment"]["officer_id"]
        if k % 3 == 0:
            api.act(lead["id"], "decline", officer)
        elif k % 3 == 1:
            api.act(lead["id"], "accept", officer)
    with api.db.reading() as s:
        holding: dict[str, int] = {}
        for row in s.scalars(select(Lead).where(Lead.officer_id.is_not(None))):
            if row.stage in ("offered", "accepted"):
                holding[row.officer_id] = holding.get(row.officer_id, 0) + 1
    assert {k: v for k, v in _open(api).items() if v} == holding
