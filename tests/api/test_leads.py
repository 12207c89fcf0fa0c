"""POST /v1/leads and reading leads back: the assignment and explanation in the answer,
idempotency by key and by the source's id, repeat leads, every bad field at once."""

from __future__ import annotations

from sqlalchemy import func, select

from api.models import Lead, LeadEvent, Outbox
from tests.api.conftest import Api, lead_body, policy_yaml, use_policy


def _count(api: Api, table: type) -> int:
    with api.db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_post_lead_answers_the_assignment_and_explanation(api: Api):
    """201 with id, assignment (officer, status, accept_by, offered) and the explanation."""
    api.officers("A", "B")
    r = api.post_lead("Z-1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["external_id"] == "Z-1"
    a = body["assignment"]
    assert a["status"] == "assigned" and a["officer_id"] in ("A", "B")
    assert a["offered_to"] == [a["officer_id"]]
    assert a["accept_by"].startswith("2025-03-04T15:15:00")
    assert body["explanation"]["policy"] == "default"
    assert body["explanation"]["steps"][-1]["candidates"]


def test_post_lead_stores_the_decision_with_history_and_outbox(api: Api):
    """The decision, its history lines (with policy version and propensity) and a pending
    notice row are stored with the lead."""
    api.officers("A")
    lead_id = api.post_lead().json()["id"]
    got = api.lead(lead_id)
    kinds = [h["kind"] for h in got["history"]]
    assert kinds == ["arrived", "assigned", "notice"]
    assigned = got["history"][1]
    assert assigned["policy_version"] == "1" and assigned["propensity"] == 1.0
    with api.db.reading() as s:
        notices = s.scalars(select(Outbox)).all()
    assert [(n.officer_id, n.kind, n.status) for n in notices] == [("A", "notify", "pending")]


def test_post_lead_same_idempotency_key_returns_the_original(api: Api):
    """The same Idempotency-Key and body answers 200 with the stored lead, never a second."""
    api.officers("A", "B")
    first = api.post_lead(headers={"Idempotency-Key": "k-1"}, email="pat@example.com")
    again = api.post_lead(headers={"Idempotency-Key": "k-1"}, email="pat@example.com")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["assignment"] == first.json()["assignment"]
    assert _count(api, Lead) == 1


def test_post_lead_same_key_other_body_is_422(api: Api):
    """Reusing an Idempotency-Key with another body is refused, naming the header."""
    api.officers("A")
    api.post_lead(headers={"Idempotency-Key": "k-2"}, email="pat@example.com")
    r = api.post_lead(headers={"Idempotency-Key": "k-2"}, email="pat@example.com",
                      loan_amount="310000")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _count(api, Lead) == 1


def test_post_lead_same_source_and_external_id_returns_the_original(api: Api):
    """A source's own id is a natural idempotency key (a unique constraint)."""
    api.officers("A")
    first = api.post_lead("G-77", source="google_ads")
    again = api.post_lead("G-77", source="google_ads")
    other_source = api.post_lead("G-77", source="meta")
    assert (first.status_code, again.status_code, other_source.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"]
    assert _count(api, Lead) == 2


def test_post_lead_drops_protected_characteristics(api: Api):
    """Fields naming a protected characteristic are dropped and never stored."""
    api.officers("A")
    r = api.post_lead(race="x-race-value", applicant_age="71", marital_status="married",
                      broker_tier="gold")
    assert r.status_code == 201
    with api.db.reading() as s:
        payload = s.scalars(select(Lead.payload)).one()
        events = " ".join(str(e.data) + e.detail for e in s.scalars(select(LeadEvent)))
    assert "broker_tier" in payload
    assert not {"race", "applicant_age", "marital_status"} & set(payload)
    assert "x-race-value" not in str(payload) + events


def test_post_lead_names_every_bad_field_at_once(api: Api):
    """422 Problem Details listing each bad field with its reason; nothing is stored."""
    api.officers("A")
    r = api.client.post("/v1/leads", headers=api.headers("ingest"), json=lead_body(
        zip="123", loan_amount="lots", credit_score="900", email="not-an-email",
        extra={"nested": 1}))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 422 and body["type"].endswith("validation")
    fields = {e["field"] for e in body["errors"]}
    assert {"zip", "loan_amount", "credit_score", "email", "extra"} <= fields
    email = next(e for e in body["errors"] if e["field"] == "email")
    assert email["value"] != "not-an-email"  # personal: masked
    assert _count(api, Lead) == 0 and _count(api, LeadEvent) == 0


def test_post_lead_malformed_json_is_400(api: Api):
    """A body that is not JSON is a 400 Problem, not a 500."""
    r = api.client.post("/v1/leads", content=b'{"source": ', headers={
        **api.headers("ingest"), "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["type"].endswith("malformed-json")


def test_post_lead_body_must_be_an_object(api: Api):
    """A JSON array or number is a 422 naming the body."""
    r = api.client.post("/v1/leads", json=[1, 2], headers=api.headers("ingest"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"


def test_post_lead_refuses_times_far_off(api: Api):
    """received_at more than a day ahead (or before 1990) is refused, named."""
    r = api.post_lead(received_at="2031-01-01T00:00:00Z")
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["received_at"]


def test_post_lead_repeat_goes_to_the_same_officer(api: Api):
    """A lead with the phone of a recent one is linked and goes to its officer, as the
    explanation says."""
    api.officers("A", "B", "C")
    first = api.post_lead(phone="(312) 555-0199", email="one@example.com").json()
    officer = first["assignment"]["officer_id"]
    again = api.post_lead(phone="312.555.0199", email="two@example.com").json()
    assert again["duplicate_of"] == first["id"]
    assert again["assignment"]["officer_id"] == officer
    link = again["explanation"]["duplicate_of"]
    assert link == {"lead_id": first["id"], "matched_on": "phone", "officer_id": officer,
                    "officer_taken": True}
    assert any(f"repeat of lead {first['id']}" in n for n in again["explanation"]["notes"])


def test_post_lead_repeat_routes_as_usual_when_the_officer_cannot_take_it(api: Api):
    """When the earlier lead's officer is not eligible (at a cap), the repeat routes as
    usual and the explanation says why."""
    api.officers(("A", {"max_open": 1}), "B")
    first = api.post_lead(email="same@example.com", phone="").json()
    assert first["assignment"]["officer_id"] == "A"
    again = api.post_lead(email="same@example.com", phone="(312) 555-0100").json()
    assert again["duplicate_of"] == first["id"]
    assert again["assignment"]["officer_id"] == "B"
    assert again["explanation"]["duplicate_of"]["officer_taken"] is False


def test_post_lead_repeat_window_is_the_policy_setting(api: Api):
    """routing.duplicates.window_s: 0 turns linking off."""
    api.officers("A", "B")
    use_policy(api, policy_yaml(extra_routing=", duplicates: {window_s: 0}"))
    first = api.post_lead(phone="(312) 555-0199").json()
    again = api.post_lead(phone="(312) 555-0199").json()
    assert again["duplicate_of"] is None
    assert again["assignment"]["officer_id"] != first["assignment"]["officer_id"]


def test_get_lead_404_for_an_unknown_id(api: Api):
    """An unknown lead is a 404 Problem."""
    r = api.client.get("/v1/leads/999", headers=api.headers())
    assert r.status_code == 404 and r.json()["status"] == 404


def test_list_leads_pages_with_a_cursor(api: Api):
    """Newest first, `limit` per page, `next` until the last page."""
    api.officers("A")
    ids = [api.post_lead(f"P{i}").json()["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.client.get("/v1/leads", params=params, headers=api.headers("analyst")).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids[::-1]


def test_list_leads_filters_by_source_officer_and_status(api: Api):
    """source, officer_id and status narrow the list."""
    api.officers("A", "B")
    a = api.post_lead(source="zillow").json()
    b = api.post_lead(source="meta").json()

    def ids(**params: str) -> list[int]:
        r = api.client.get("/v1/leads", params=params, headers=api.headers("analyst"))
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert ids(source="zillow") == [a["id"]]
    assert ids(officer_id=b["assignment"]["officer_id"]) == [b["id"]]
    assert ids(status="assigned") == [b["id"], a["id"]]
    assert ids(status="held") == []


def test_list_leads_bad_cursor_or_status_is_422(api: Api):
    """A cursor this API did not give, or an unknown status, is a 422 naming it."""
    for params, field in (({"cursor": "garbage!"}, "cursor"), ({"status": "lost"}, "status")):
        r = api.client.get("/v1/leads", params=params, headers=api.headers("analyst"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == field


def test_list_leads_masks_contact_details_for_analysts(api: Api):
    """An analyst sees the lead's fields with contact details masked."""
    api.officers("A")
    api.post_lead(first_name="Morgan", email="morgan@example.com")
    page = api.client.get("/v1/leads", headers=api.headers("analyst")).json()
    fields = page["items"][0]["lead"]
    assert fields["first_name"] != "Morgan" and fields["email"] != "morgan@example.com"
    assert fields["zip"] == "75201"


def test_post_lead_with_no_officers_is_given_up_with_the_reason(api: Api):
    """With nobody on the roster the lead is stored and given up, saying why, not a 500."""
    r = api.post_lead()
    assert r.status_code == 201, r.text
    assert r.json()["assignment"]["status"] == "given_up"
    assert "no officers" in r.json()["assignment"]["reason"]
