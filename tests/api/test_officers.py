"""/v1/officers: the roster in the database, status and time off; an officer going away
mid-offer has the offer moved on."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.conftest import officer_row


def _officer(officer_id: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = dict(officer_row(officer_id))
    row.update(fields)
    for name in ("max_open", "daily_cap", "hourly_cap"):
        row[name] = row[name] or None
    return row


def test_create_officer_then_list_it(api: Api):
    """A created officer is listed with its fields and empty counters."""
    r = api.client.post("/v1/officers", json=_officer("N1", licensed_states=["TX", "CA"]),
                        headers=api.headers())
    assert r.status_code == 201, r.text
    assert r.json()["fields"]["licensed_states"] == "TX;CA"
    page = api.client.get("/v1/officers", headers=api.headers("analyst")).json()
    assert [o["officer_id"] for o in page["items"]] == ["N1"]
    assert page["items"][0]["state"]["open_leads"] == 0


def test_create_officer_twice_is_409(api: Api):
    """An existing id is a conflict (PATCH changes an officer)."""
    api.officers("A")
    r = api.client.post("/v1/officers", json=_officer("A"), headers=api.headers())
    assert r.status_code == 409


def test_create_officer_names_every_bad_field(api: Api):
    """The roster parser's problems come back as a 422 listing each field."""
    r = api.client.post("/v1/officers", headers=api.headers(), json=_officer(
        "N2", licensed_states="XX", timezone="Mars/Base", weight=-1))
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"licensed_states", "timezone", "weight"} <= fields


def test_officers_list_pages_with_a_cursor(api: Api):
    """Officers by id, a page at a time."""
    api.officers(*[f"P{i}" for i in range(5)])
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.client.get("/v1/officers", params=params, headers=api.headers()).json()
        seen += [o["officer_id"] for o in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"P{i}" for i in range(5)]


def test_patch_changes_routing_at_once(api: Api):
    """A new cap applies to the next lead (the roster is rebuilt on change)."""
    api.officers("A")
    r = api.client.patch("/v1/officers/A", json={"max_open": 0}, headers=api.headers())
    assert r.status_code == 200, r.text
    assert r.json()["fields"]["max_open"] == "0"
    assert api.post_lead().json()["assignment"]["status"] == "held"


def test_going_away_moves_open_offers_on(api: Api):
    """An officer set away while a lead is offered to them: the offer moves on at once."""
    api.officers("A", "B")
    lead = api.post_lead().json()
    first = lead["assignment"]["officer_id"]
    r = api.client.post(f"/v1/officers/{first}/status", json={"status": "away"},
                        headers=api.headers())
    assert r.status_code == 200, r.text
    assert r.json()["moved_on"] == [lead["id"]]
    got = api.lead(lead["id"])
    assert got["assignment"]["officer_id"] not in (None, first)
    assert any(h["kind"] == "declined" and h["detail"] == "went away"
               for h in got["history"])


def test_time_off_starting_now_moves_offers_on(api: Api, clock):
    """Time off that has begun counts as away."""
    api.officers("A", "B")
    lead = api.post_lead().json()
    first = lead["assignment"]["officer_id"]
    r = api.client.post(f"/v1/officers/{first}/time-off", headers=api.headers(), json={
        "start": clock.now.isoformat(), "end": "2025-03-10T00:00:00+00:00"})
    assert r.status_code == 200, r.text
    assert r.json()["moved_on"] == [lead["id"]]


def test_time_off_must_end_after_it_starts(api: Api):
    """An empty period is a 422 naming end."""
    api.officers("A")
    r = api.client.post("/v1/officers/A/time-off", headers=api.headers(), json={
        "start": "2025-03-10T00:00:00+00:00", "end": "2025-03-09T00:00:00+00:00"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "end"


def test_back_from_away_takes_held_leads(api: Api):
    """An officer back from away gets the held lead at once."""
    api.officers(("A", {"status": "away"}))
    lead = api.post_lead().json()
    assert lead["assignment"]["status"] == "held"
    r = api.client.post("/v1/officers/A/status", json={"status": "active"},
                        headers=api.headers())
    assert r.status_code == 200
    assert api.lead(lead["id"])["assignment"]["officer_id"] == "A"


def test_unknown_officer_is_404(api: Api):
    for method, path in (("GET", "/v1/officers/NOPE"), ("PATCH", "/v1/officers/NOPE")):
        r = api.client.request(method, path, json={} if method == "PATCH" else None,
                               headers=api.headers())
        assert r.status_code == 404, (method, r.text)
