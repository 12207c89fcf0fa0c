"""The source endpoints end to end: authenticity before anything is kept, a Meta lead fetched
from a local stand-in of the Graph API by the worker with retries, Google Ads and vendor leads
stored once however often they are delivered, unreadable deliveries kept for admins, a
referral's officer taken when eligible."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from api.models import Lead as LeadRow
from api.models import RejectedDelivery, SourceFetch
from api.security import Scope
from api.sources.meta import sign
from tests.api.conftest import Api, Clock, make_api
from tests.api.sources_peers import (
    ACCESS_TOKEN,
    APP_SECRET,
    GOOGLE_KEY,
    VERIFY_TOKEN,
    GraphStandIn,
    source_settings,
)

RECORDED = Path(__file__).parent / "data" / "sources"
BIG_ID = "1234567890123456789"
FORM = "application/x-www-form-urlencoded"


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    g = GraphStandIn().start()
    g.leads[BIG_ID] = json.loads(recorded("meta_graph_lead.json"))
    yield g
    g.stop()


@pytest.fixture
def src(db_url: str, clock: Clock, graph: GraphStandIn) -> Iterator[Api]:
    """The API with every source configured (SQLite and PostgreSQL), three officers: LO1
    and LO2 licensed in Texas, LO3 in California only."""
    app, _ = make_api(db_url, clock, **source_settings(graph.url))
    with TestClient(app) as client:
        out = Api(client, app.state.db, clock)
        out.keys = {s.value: out.key(s) for s in (Scope.ADMIN, Scope.INGEST, Scope.ANALYST)}
        out.officers("LO1", "LO2", ("LO3", {"licensed_states": "CA"}))
        yield out


def count(api: Api, model: Any) -> int:
    with api.db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def meta_post(api: Api, raw: bytes, signature: str | None = "auto") -> Any:
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        headers["X-Hub-Signature-256"] = sign(raw, APP_SECRET)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return api.client.post("/v1/sources/meta/webhook", content=raw, headers=headers)


def fetch(api: Api) -> int:
    done: int = api.client.app.state.fetcher.run_once()  # type: ignore[attr-defined]
    return done


def google_post(api: Api, body: dict[str, Any] | bytes) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.client.post("/v1/sources/google-ads/webhook", content=raw,
                           headers={"Content-Type": "application/json"})


# ----------------------------------------------------------------------------- Meta


def test_meta_handshake(src: Api):
    """Our verify token: 200 with the bare challenge; another token or mode: 403."""
    ok = src.client.get("/v1/sources/meta/webhook", params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert ok.headers["content-type"].startswith("text/plain")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "1"}, {},
                   {"hub.mode": "subscribe", "hub.verify_token": "x" * 10_000,
                    "hub.challenge": "1"},
                   {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "<script>" * 50}):
        r = src.client.get("/v1/sources/meta/webhook", params=params)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


def test_meta_unsigned_or_forged_notifications_keep_nothing(src: Api):
    """No signature: 401; a wrong one, or a body changed after signing: 403; nothing kept."""
    raw = recorded("meta_notification.json")
    assert meta_post(src, raw, None).status_code == 401
    assert meta_post(src, raw, sign(raw, "guessed-secret")).status_code == 403
    assert meta_post(src, raw.replace(b"1234", b"1235"), sign(raw, APP_SECRET)).status_code \
        == 403
    assert meta_post(src, b"{}", "sha256=zz").status_code == 403
    assert count(src, SourceFetch) == 0 and count(src, RejectedDelivery) == 0


def test_meta_notification_is_acknowledged_then_fetched_by_the_worker(src: Api,
                                                                      graph: GraphStandIn):
    """The POST writes one fetch row per exact leadgen id and answers 200 at once; the
    worker fetches from the Graph stand-in and the lead is stored under its exact id and
    routed; a repeated notification fetches nothing again."""
    raw = recorded("meta_notification.json")
    r = meta_post(src, raw)
    assert r.status_code == 200 and r.json() == {"received": 2}
    assert graph.requests == []  # acknowledged before any fetch
    with src.db.reading() as s:
        ids = sorted(s.scalars(select(SourceFetch.external_id)))
    assert ids == sorted([BIG_ID, "9007199254740993"])
    assert fetch(src) == 2
    with src.db.reading() as s:
        lead = s.scalar(select(LeadRow).where(LeadRow.source == "meta"))
        assert lead is not None and lead.external_id == BIG_ID
        assert lead.officer_id in ("LO1", "LO2") and lead.status == "assigned"
        assert lead.payload["loan_program"] == "fha" and "gender" not in lead.payload
        done = s.scalar(select(SourceFetch).where(SourceFetch.external_id == BIG_ID))
        assert done is not None and done.status == "done" and done.lead_id == lead.id
    assert meta_post(src, raw).status_code == 200  # Meta retries its notifications
    assert count(src, SourceFetch) == 2 and fetch(src) == 0
    assert count(src, LeadRow) == 1


def test_meta_fetch_retries_with_backoff_and_gives_up(src: Api, graph: GraphStandIn,
                                                      clock: Clock):
    """A failing Graph API is retried later (2 s, then about 4 s...), never with the token
    in the stored error; a lead the Graph never has is marked dead after the attempts."""
    graph.fail_next = 2
    meta_post(src, recorded("meta_notification.json"))
    fetch(src)
    with src.db.reading() as s:
        rows = {r.external_id: r for r in s.scalars(select(SourceFetch))}
    for row in rows.values():
        assert row.status == "pending" and row.attempts == 1
        assert "500" in row.last_error and ACCESS_TOKEN not in row.last_error
        wait = (row.next_attempt_at - clock.now).total_seconds()
        assert 1.0 <= wait <= 2.0
    assert fetch(src) == 0  # not due yet
    clock.advance(2.1)
    assert fetch(src) == 2
    assert count(src, LeadRow) == 1  # the known lead stored; the other is a 404
    for _ in range(4):
        clock.advance(60)
        fetch(src)
    with src.db.reading() as s:
        dead = s.scalar(select(SourceFetch).where(SourceFetch.external_id == "9007199254740993"))
        assert dead is not None and dead.status == "dead" and dead.attempts == 4
        assert "404" in dead.last_error
    listed = src.client.get("/v1/sources/fetches", params={"status": "dead"},
                            headers=src.headers()).json()["items"]
    assert [x["external_id"] for x in listed] == ["9007199254740993"]
    done = src.client.get("/v1/sources/fetches", params={"status": "done"},
                          headers=src.headers()).json()["items"]
    retry = src.client.post(f"/v1/sources/fetches/{done[0]['id']}/retry", headers=src.headers())
    assert retry.status_code == 409  # a fetched lead is not fetched again
    graph.leads["9007199254740993"] = graph.leads[BIG_ID] | {"field_data": [
        *graph.leads[BIG_ID]["field_data"][:1],
        {"name": "email", "values": ["second@example.com"]},
        *graph.leads[BIG_ID]["field_data"][3:]]}  # the lead appears; an operator retries
    retry = src.client.post(f"/v1/sources/fetches/{listed[0]['id']}/retry",
                            headers=src.headers())
    assert retry.status_code == 200 and retry.json()["status"] == "pending"
    assert fetch(src) == 1 and count(src, LeadRow) == 2
    assert src.client.get("/v1/sources/fetches", params={"status": "nope"},
                          headers=src.headers()).status_code == 422


def test_meta_fetch_with_a_wrong_token_keeps_the_token_out_of_errors(src: Api):
    """Graph's 400 for a bad token is retried (an operator may fix the token), and the
    stored error never holds the token."""
    fetcher = src.client.app.state.fetcher  # type: ignore[attr-defined]
    fetcher.settings = fetcher.settings.model_copy(
        update={"meta_access_token": SecretStr("EAAG-expired-token-42")})
    meta_post(src, recorded("meta_notification.json"))
    fetch(src)
    with src.db.reading() as s:
        rows = list(s.scalars(select(SourceFetch)))
    assert len(rows) == 2
    for row in rows:
        assert row.status == "pending" and "HTTP 400" in row.last_error
        assert "EAAG-expired-token-42" not in row.last_error
    assert count(src, LeadRow) == 0


def test_meta_unreadable_lead_is_kept_for_inspection(src: Api, graph: GraphStandIn):
    """A Graph lead without a ZIP code is not routed: kept as a rejected delivery with the
    raw answer and the field named, listed for admins only."""
    lead = json.loads(recorded("meta_graph_lead.json"))
    lead["field_data"] = [f for f in lead["field_data"] if f["name"] != "zip_code"]
    graph.leads[BIG_ID] = lead
    meta_post(src, recorded("meta_notification.json"))
    fetch(src)
    assert count(src, LeadRow) == 0
    page = src.client.get("/v1/sources/rejected", headers=src.headers()).json()
    item = page["items"][0]
    assert item["source"] == "meta" and item["external_id"] == BIG_ID
    assert any(e["field"] == "zip" for e in item["errors"])
    assert "jordan.rivera@example.com" in item["body"]  # the raw answer, for an admin
    for who in ("ingest", "analyst"):
        assert src.client.get("/v1/sources/rejected", headers=src.headers(who)).status_code \
            == 403
    assert src.client.get("/v1/sources/rejected").status_code == 401


def test_meta_readable_but_malformed_notification_is_422_and_kept(src: Api):
    """A signed notification with a broken leadgen id: 422 naming it, kept, nothing
    fetched."""
    raw = b'{"object": "page", "entry": [{"changes": [{"field": "leadgen", ' \
          b'"value": {"leadgen_id": "12ab"}}]}]}'
    r = meta_post(src, raw)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "entry[0].changes[0].value.leadgen_id"
    assert count(src, RejectedDelivery) == 1 and count(src, SourceFetch) == 0


# ----------------------------------------------------------------------------- Google Ads


def test_google_wrong_or_missing_key_keeps_nothing(src: Api):
    """A wrong key: 403; none, or a body that is not JSON: 401; nothing kept."""
    body = json.loads(recorded("google_ads_lead.json"))
    assert google_post(src, {**body, "google_key": "GOOGLE-SHARED-KEZ"}).status_code == 403
    assert google_post(src, {k: v for k, v in body.items() if k != "google_key"}
                       ).status_code == 401
    assert google_post(src, b"{not json").status_code == 401
    assert google_post(src, {**body, "google_key": GOOGLE_KEY + "\u00e9"}).status_code == 403
    assert count(src, LeadRow) == 0 and count(src, RejectedDelivery) == 0


def test_google_retried_deliveries_make_one_lead(src: Api):
    """The same lead_id delivered three times: one lead, answered 200 each time."""
    raw = recorded("google_ads_lead.json")
    answers = [google_post(src, raw) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["repeated"] for a in answers] == [False, True, True]
    assert len({a.json()["id"] for a in answers}) == 1
    assert count(src, LeadRow) == 1
    lead = src.lead(answers[0].json()["id"])
    assert lead["is_test"] is False
    assert lead["lead"]["loan_program"] == "va" and lead["lead"]["credit_score"] == "740"
    assert lead["received_at"].startswith("2025-03-04T14:59:30")


def test_google_test_lead_is_stored_flagged_and_not_routed(src: Api):
    """is_test: stored with the flag, closed at once, no officer, no notice, not in the
    history export."""
    r = google_post(src, recorded("google_ads_test_lead.json"))
    assert r.status_code == 200
    got = r.json()
    assert got["status"] == "closed" and got["officer_id"] is None
    with src.db.reading() as s:
        row = s.get(LeadRow, got["id"])
        assert row is not None and row.is_test and row.explanation["status"] == "test"
    lead = src.lead(got["id"])
    assert lead["is_test"] is True
    assert not [h for h in lead["history"] if h["kind"] == "notice"]
    export = src.client.get("/v1/history.csv", headers=src.headers()).text
    assert "TeSter-123" not in export
    assert src.act(got["id"], "accept", "admin", officer_id="LO1").status_code == 409


def test_google_unreadable_lead_is_422_naming_the_column_and_kept(src: Api):
    """No loan amount and a bad email: 422 naming each (by Google's column id), kept."""
    body = json.loads(recorded("google_ads_lead.json"))
    body["user_column_data"] = [c for c in body["user_column_data"]
                                if c["column_id"] != "LOAN_AMOUNT"]
    for c in body["user_column_data"]:
        if c["column_id"] == "EMAIL":
            c["string_value"] = "not-an-email"
    r = google_post(src, body)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"EMAIL", "loan_amount"} <= fields
    assert count(src, LeadRow) == 0 and count(src, RejectedDelivery) == 1


# ----------------------------------------------------------------------------- vendors


def vendor_post(api: Api, vendor: str, raw: bytes, ctype: str, who: str | None = "ingest"
                ) -> Any:
    headers = {"Content-Type": ctype, **(api.headers(who) if who else {})}
    return api.client.post(f"/v1/sources/vendors/{vendor}", content=raw, headers=headers)


def test_leadconduit_post_answers_in_its_shape_and_keeps_consent(src: Api):
    """201 {outcome: success, lead: {id}}; a repeat 200, same id; consent evidence and the
    vendor's fields kept with the lead."""
    raw = recorded("leadconduit_post.txt")
    r = vendor_post(src, "leadconduit", raw, FORM)
    assert r.status_code == 201 and r.json()["outcome"] == "success"
    lead_id = int(r.json()["lead"]["id"])
    again = vendor_post(src, "leadconduit", raw, FORM)
    assert again.status_code == 200 and again.json()["lead"]["id"] == str(lead_id)
    fields = src.lead(lead_id)["lead"]
    assert fields["trustedform_cert_url"].startswith("https://cert.trustedform.com/")
    assert fields["jornaya_lead_id"] and fields["tcpa_text"].startswith("By clicking")
    assert fields["credit_score"] == "680" and fields["property_use"] == "primary_residence"


def test_bankrate_post_answers_in_its_shape(src: Api):
    """A Bankrate JSON post: 201 with its fields; "740+" stored as 740."""
    r = vendor_post(src, "bankrate", recorded("bankrate_post.json"), "application/json")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "accepted" and r.json()["bankrateLeadId"] == "BR-88213377"
    assert src.lead(int(r.json()["leadId"]))["lead"]["credit_score"] == "740"
    bad = recorded("bankrate_post.json").replace(b"BR-88213377", b"BR-2").replace(
        b'"740+"', b'"Superb"')
    r = vendor_post(src, "bankrate", bad, "application/json")
    assert r.status_code == 422 and r.json()["status"] == 422
    assert r.json()["result"] == "rejected" and "creditProfileDescription" in r.json()["reason"]


def test_vendor_posts_need_an_ingest_key_and_a_known_map(src: Api):
    """No key: 401; an officer-less analyst key: 403; an unknown vendor or a name that is
    not a plain name: 404; nothing kept."""
    raw = recorded("leadconduit_post.txt")
    assert vendor_post(src, "leadconduit", raw, FORM, who=None).status_code == 401
    assert vendor_post(src, "leadconduit", raw, FORM, who="analyst").status_code == 403
    assert vendor_post(src, "nosuchvendor", raw, FORM).status_code == 404
    for name in ("..%2Fmeta", "LeadConduit", "a" * 65):
        assert vendor_post(src, name, raw, FORM).status_code in (404, 422)
    assert count(src, LeadRow) == 0 and count(src, RejectedDelivery) == 0


def test_vendor_unreadable_post_names_the_vendor_field_and_is_kept(src: Api):
    """A LeadConduit post with a bad ZIP: 422 naming mortgage.property.postal_code with the
    vendor's failure shape added; the raw body kept."""
    raw = recorded("leadconduit_post.txt").replace(b"postal_code=75201", b"postal_code=7520")
    r = vendor_post(src, "leadconduit", raw, FORM)
    assert r.status_code == 422
    body = r.json()
    assert body["outcome"] == "failure" and "mortgage.property.postal_code" in body["reason"]
    assert any(e["field"] == "mortgage.property.postal_code" for e in body["errors"])
    assert body["status"] == 422 and body["type"] == "urn:leadroute:problem:unreadable-delivery"
    kept = src.client.get("/v1/sources/rejected?source=leadconduit",
                          headers=src.headers()).json()["items"]
    assert len(kept) == 1 and kept[0]["body"] == raw.decode()
    assert count(src, LeadRow) == 0


def test_a_new_vendor_is_a_map_file(src: Api, tmp_path: Path):
    """A map dropped into the sources folder serves its vendor without a restart."""
    folder = src.client.app.state.sources.folder  # type: ignore[attr-defined]
    target = tmp_path / "maps"
    shutil.copytree(folder, target)
    src.client.app.state.sources.folder = target  # type: ignore[attr-defined]
    (target / "vendors" / "acme.yaml").write_text(
        "source: acme\nfields: {ref: lead_id, mail: email, zip5: zip, amt: loan_amount,\n"
        "  goal: loan_purpose}\nvalues: {loan_purpose: {buy: purchase}}\n"
        "defaults: {loan_program: conventional, is_veteran: 'false'}\n")
    r = vendor_post(src, "acme", json.dumps({"ref": "A-1", "mail": "x@example.com",
                                             "zip5": "75201", "amt": 250000,
                                             "goal": "Buy"}).encode(), "application/json")
    assert r.status_code == 201, r.text
    assert src.lead(r.json()["id"])["source"] == "acme"


# ----------------------------------------------------------------------------- referrals


def referral(api: Api, officer: str, ref: str) -> Any:
    body = json.loads(recorded("referral_realtor.json"))
    body.update(loan_officer_id=officer, referral_id=ref,
                client_email=f"{ref.lower()}@example.com")
    return api.client.post("/v1/sources/referrals/realtor", json=body,
                           headers=api.headers("ingest"))


def test_referral_gets_its_requested_officer_when_eligible(src: Api):
    """The officer a realtor names takes the lead (whoever the rotation was at), and the
    explanation says so."""
    for i, officer in enumerate(("LO2", "LO2", "LO1", "LO2")):
        r = referral(src, officer, f"RE-{i}")
        assert r.status_code == 201, r.text
        lead = src.lead(r.json()["id"])
        assert lead["assignment"]["officer_id"] == officer
        asked = lead["explanation"]["requested_officer"]
        assert asked == {"officer_id": officer, "on_roster": True, "officer_taken": True}
        assert f"requested officer {officer} was eligible and taken first" in \
            lead["explanation"]["notes"]


def test_referral_to_an_ineligible_or_unknown_officer_is_routed_as_usual(src: Api):
    """LO3 is not licensed in Texas: routed to another, and the explanation says why; an
    officer not on the roster likewise."""
    lead = src.lead(referral(src, "LO3", "RE-x").json()["id"])
    assert lead["assignment"]["officer_id"] in ("LO1", "LO2")
    assert lead["explanation"]["requested_officer"]["officer_taken"] is False
    assert any("LO3 is not eligible now" in n for n in lead["explanation"]["notes"])
    lead = src.lead(referral(src, "LO99", "RE-y").json()["id"])
    assert lead["explanation"]["requested_officer"]["on_roster"] is False
    assert any("LO99 is not on the roster" in n for n in lead["explanation"]["notes"])


def test_web_form_post_form_encoded_with_an_officer_page(src: Api):
    """A form-encoded web form naming its officer (with Unicode and stray quotes) is stored
    and goes to that officer."""
    raw = (b"submission_id=W-1&name=Zo%C3%AB+%22Zee%22+D%27Angelo&email=zoe%40example.com"
           b"&zip=75201&loan_purpose=refinance&loan_program=fha&loan_amount=200000"
           b"&officer_id=LO1&website=")
    r = src.client.post("/v1/sources/web", content=raw,
                        headers={"Content-Type": FORM, **src.headers("ingest")})
    assert r.status_code == 201, r.text
    lead = src.lead(r.json()["id"])
    assert lead["assignment"]["officer_id"] == "LO1"
    assert lead["lead"]["last_name"] == "D'Angelo" and lead["lead"]["first_name"] == 'Zoë "Zee"'


def test_oversized_bodies_are_refused_unread(src: Api):
    """A body over the limit: 413, nothing kept."""
    big = b"{" + b" " * 1_100_000 + b"}"
    r = src.client.post("/v1/sources/web", content=big,
                        headers={"Content-Type": "application/json", **src.headers("ingest")})
    assert r.status_code == 413
    assert google_post(src, big).status_code == 413
    assert count(src, RejectedDelivery) == 0


def test_source_logs_never_hold_contact_details_or_secrets(src: Api, graph: GraphStandIn,
                                                           caplog: pytest.LogCaptureFixture):
    """Every source, readable or not, and a failing Graph fetch: no name, email, phone,
    token or secret in any log line."""
    import logging

    from api.logs import JsonLines

    caplog.set_level(logging.DEBUG)
    graph.fail_next = 1
    meta_post(src, recorded("meta_notification.json"))
    fetch(src)
    src.clock.advance(3)
    fetch(src)
    google_post(src, recorded("google_ads_lead.json"))
    bad = json.loads(recorded("google_ads_lead.json"))
    bad["lead_id"], bad["user_column_data"][1]["string_value"] = "G-2", "casey@@example"
    google_post(src, bad)
    vendor_post(src, "leadconduit", recorded("leadconduit_post.txt"), FORM)
    vendor_post(src, "bankrate", recorded("bankrate_post.json").replace(b"75201", b"7520"),
                "application/json")
    lines = [JsonLines().format(r) for r in caplog.records]
    assert any("/v1/sources/meta/webhook" in line for line in lines)  # the logs were read
    personal = ("Jordan", "Rivera", "jordan.rivera", "2145550187", "Casey", "casey",
                "Robin", "robin.oneil", "555-0199", "Avery", "avery.nguyen", "555-0166",
                ACCESS_TOKEN, APP_SECRET, GOOGLE_KEY)
    for line in lines:
        for value in personal:
            assert value not in line, line


def test_requested_officer_on_a_plain_lead_and_over_a_repeat_leads_officer(src: Api):
    """POST /v1/leads honours requested_officer_id too; a repeat lead asking for another
    officer goes to the one asked for, and the explanation says both."""
    first = src.post_lead("P-1", email="same@example.com", requested_officer_id="LO1").json()
    assert first["assignment"]["officer_id"] == "LO1"
    again = src.post_lead("P-2", email="same@example.com", requested_officer_id="LO2").json()
    assert again["assignment"]["officer_id"] == "LO2" and again["duplicate_of"] == first["id"]
    notes = again["explanation"]["notes"]
    assert "requested officer LO2 was eligible and taken first" in notes
    assert any("whose officer is LO1: the lead asks for officer LO2 instead" in n
               for n in notes)
