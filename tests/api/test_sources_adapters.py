"""Each source's adapter on its own: recorded payloads in, the canonical lead out, or an
error naming the source's field and value. No database, no HTTP."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.settings import DATA
from api.sources import google_ads, meta, vendors
from api.sources.common import Refused, source_time
from api.sources.mapping import (
    MappingError,
    SourceMap,
    apply_map,
    flatten,
    load_map,
    parse_form,
    read_payload,
)
from api.sources.registry import SourceMaps

RECORDED = Path(__file__).parent / "data" / "sources"
MAPS = DATA / "sources"


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


@lru_cache(maxsize=16)
def shipped(name: str) -> SourceMap:
    return load_map(MAPS / name)


def test_shipped_maps_all_load():
    """Every shipped map is valid (the server checks them all at start too)."""
    read = SourceMaps(MAPS).check_all()
    assert {"meta.yaml", "google_ads.yaml", "web.yaml", "vendors/leadconduit.yaml",
            "vendors/bankrate.yaml", "referrals/realtor.yaml", "referrals/crm.yaml"} <= set(read)


# ----------------------------------------------------------------------------- Meta


def test_meta_handshake_answers_the_bare_challenge_only_for_our_token():
    """subscribe + our token: the challenge; anything else: refused with 403."""
    assert meta.handshake("subscribe", "tok", "1158201444", "tok") == "1158201444"
    for mode, token in (("subscribe", "wrong"), ("unsubscribe", "tok"), (None, "tok"),
                        ("subscribe", None), ("subscribe", "tok\u0000")):
        with pytest.raises(Refused) as err:
            meta.handshake(mode, token, "1158201444", "tok")
        assert err.value.status == 403
    with pytest.raises(Refused):
        meta.handshake("subscribe", "", "1", "")  # not configured: never matches


def test_meta_signature_is_checked_on_the_raw_bytes():
    """The HMAC of the exact bytes passes; a changed byte, another secret, an absent or
    malformed header are refused (401 absent, 403 wrong)."""
    raw = recorded("meta_notification.json")
    good = meta.sign(raw, "app-secret")
    meta.verify_signature(raw, good, "app-secret")
    meta.verify_signature(raw, good.upper().replace("SHA256=", "sha256="), "app-secret")
    cases = [(raw + b" ", good, 403), (raw, meta.sign(raw, "other"), 403), (raw, None, 401),
             (raw, "", 401), (raw, "sha1=" + "0" * 40, 403), (raw, good[:-1], 403),
             (raw, "sha256=" + "g" * 64, 403)]
    for body, header, status in cases:
        with pytest.raises(Refused) as err:
            meta.verify_signature(body, header, "app-secret")
        assert err.value.status == status, header


def test_meta_notification_keeps_ids_above_2_53_exact():
    """Bare JSON numbers above 2**53 come out digit for digit; non-leadgen changes are
    skipped."""
    refs = meta.parse_notification(recorded("meta_notification.json"))
    assert [r.leadgen_id for r in refs] == ["1234567890123456789", "9007199254740993"]
    assert refs[1].ad_id == "23851234567890123" and refs[0].ad_id == "0"
    assert refs[0].form_id == "2710185729164881" and refs[0].page_id == "153125381133"
    assert int(refs[1].leadgen_id) != int(float(refs[1].leadgen_id))  # a float would round


@pytest.mark.parametrize(("body", "field"), [
    (b'{"object": "page"}', "entry"),
    (b'{"entry": [{"changes": "x"}]}', "entry[0].changes"),
    (b'{"entry": [{"changes": [{"field": "leadgen", "value": {"leadgen_id": "12a"}}]}]}',
     "entry[0].changes[0].value.leadgen_id"),
    (b'{"entry": [{"changes": [{"field": "leadgen", "value": {"leadgen_id": 1.5}}]}]}',
     "entry[0].changes[0].value.leadgen_id"),
    (b'{"entry": [{"changes": [{"field": "leadgen", "value": []}]}]}',
     "entry[0].changes[0].value"),
    (b"not json", "body"),
    (b'{"entry": NaN}', "body"),
])
def test_meta_notification_errors_name_the_place(body: bytes, field: str):
    """A broken notification names where it breaks."""
    with pytest.raises(MappingError) as err:
        meta.parse_notification(body)
    assert err.value.problems[0].field == field


def test_meta_graph_lead_maps_through_the_map():
    """The Graph lead's answers become the lead's fields; protected answers are dropped;
    the id is the exact leadgen id; created_time with a +0000 offset is read."""
    ref = meta.parse_notification(recorded("meta_notification.json"))[0]
    lead = json.loads(recorded("meta_graph_lead.json"))
    out = meta.map_lead(lead, ref, shipped("meta.yaml")).fields
    assert out["lead_id"] == "1234567890123456789"
    assert (out["first_name"], out["last_name"]) == ("Jordan Q.", "Rivera")
    assert out["loan_purpose"] == "purchase" and out["loan_program"] == "fha"
    assert out["credit_score"] == "680" and out["is_veteran"] == "false"
    assert out["received_at"] == "2025-03-04T14:58:00+00:00"
    assert out["source"] == "meta" and out["meta_form_id"] == "2710185729164881"
    assert "gender" not in out and "date_of_birth" not in out


def test_meta_form_overrides_apply_to_their_form_only():
    """A form's own fields and defaults apply to leads of that form only."""
    base = shipped("meta.yaml").model_dump()
    base["forms"] = {"77": {"fields": {"which_program": "loan_program"},
                            "defaults": {"loan_purpose": "refinance"}}}
    m = SourceMap.model_validate(base)
    answers = {"field_data": [{"name": "which_program", "values": ["VA"]}]}
    ref77 = meta.LeadgenRef("1", "2", "77", "0", "")
    ref78 = meta.LeadgenRef("1", "2", "78", "0", "")
    assert meta.map_lead(answers, ref77, m).fields["loan_program"] == "va"
    assert meta.map_lead(answers, ref77, m).fields["loan_purpose"] == "refinance"
    assert "loan_program" not in meta.map_lead(answers, ref78, m).fields


# ----------------------------------------------------------------------------- Google Ads


def test_google_key_must_match():
    """Our key: the body; a wrong key 403; no key, no JSON or no object 401."""
    raw = recorded("google_ads_lead.json")
    assert google_ads.authenticate(raw, "GOOGLE-SHARED-KEY")["lead_id"]
    with pytest.raises(Refused) as err:
        google_ads.authenticate(raw, "GOOGLE-SHARED-KEY-2")
    assert err.value.status == 403
    for body in (b"{}", b"[]", b"nope", b'{"google_key": 12}', b'{"google_key": ""}',
                 b'{"google_key": "GOOGLE-SHARED-KEY",}'):
        with pytest.raises(Refused) as err:
            google_ads.authenticate(body, "GOOGLE-SHARED-KEY")
        assert err.value.status == 401, body


def test_google_columns_map_by_column_id():
    """user_column_data by column_id (custom question ids through the map); unknown body
    fields ignored; the lead id and submit time kept."""
    data = google_ads.authenticate(recorded("google_ads_lead.json"), "GOOGLE-SHARED-KEY")
    got = google_ads.map_delivery(data, shipped("google_ads.yaml"))
    out = got.mapped.fields
    assert not got.is_test
    assert out["lead_id"] == "Cj0KCQiA-prod-lead-000123"
    assert (out["first_name"], out["last_name"]) == ("Casey", "Morgan")
    assert out["zip"] == "75201" and out["region"] == "Texas"
    assert (out["loan_purpose"], out["loan_program"], out["credit_score"]) == (
        "refinance", "va", "740")
    assert out["is_veteran"] == "true" and out["received_at"] == "2025-03-04T14:59:30+00:00"
    assert out["google_campaign_id"] == "20000000002"
    assert "unknown_future_field" not in out


def test_google_test_lead_is_flagged():
    """Google's "send test data" lead comes out flagged."""
    data = google_ads.authenticate(recorded("google_ads_test_lead.json"), "GOOGLE-SHARED-KEY")
    assert google_ads.map_delivery(data, shipped("google_ads.yaml")).is_test


@pytest.mark.parametrize(("change", "field"), [
    ({"lead_id": None}, "lead_id"),
    ({"lead_id": "x" * 201}, "lead_id"),
    ({"user_column_data": "FULL_NAME"}, "user_column_data"),
    ({"user_column_data": [{"string_value": "a"}]}, "user_column_data[0].column_id"),
    ({"user_column_data": [{"column_id": "EMAIL", "string_value": {"a": 1}}]},
     "user_column_data[0].string_value"),
    ({"user_column_data": [{"column_id": "EMAIL", "string_value": "a@example.com"},
                           {"column_id": "EMAIL", "string_value": "b@example.com"}]},
     "user_column_data[1].column_id"),
])
def test_google_bad_deliveries_name_the_field(change: dict[str, object], field: str):
    """Each broken part of a keyed delivery is named."""
    data = {**json.loads(recorded("google_ads_lead.json")), **change}
    with pytest.raises(MappingError) as err:
        google_ads.map_delivery(data, shipped("google_ads.yaml"))
    assert err.value.problems[0].field == field


# ----------------------------------------------------------------------------- vendors


def test_leadconduit_form_post_maps_dotted_names_and_consent():
    """A form-encoded LeadConduit post: dotted names, value maps, consent evidence kept."""
    out = vendors.map_post(recorded("leadconduit_post.txt"),
                           "application/x-www-form-urlencoded; charset=utf-8",
                           shipped("vendors/leadconduit.yaml")).fields
    assert out["lead_id"] == "LC-5f2a9c" and out["last_name"] == "O'Neil"
    assert out["zip"] == "75201" and out["state"] == "TX"
    assert out["loan_amount"] == "$320,000" and out["credit_score"] == "680"
    assert out["is_veteran"] == "false" and out["property_use"] == "primary_residence"
    assert out["trustedform_cert_url"].startswith("https://cert.trustedform.com/")
    assert out["jornaya_lead_id"] == "6A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D"
    assert out["tcpa_text"].startswith("By clicking Submit")


def test_bankrate_json_post_maps_camel_case_and_bands():
    """A Bankrate JSON post: "740+" becomes 740, decimals stay exact, Unicode names kept."""
    out = vendors.map_post(recorded("bankrate_post.json"), "application/json",
                           shipped("vendors/bankrate.yaml")).fields
    assert out["lead_id"] == "BR-88213377" and out["credit_score"] == "740"
    assert out["property_value"] == "440000.00" and out["loan_amount"] == "352000"
    assert out["loan_purpose"] == "purchase" and out["property_type"] == "single_family"
    assert out["last_name"] == "Nguyễn" and out["first_time_buyer"] == "true"
    assert out["jornaya_lead_id"] == "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"


def test_vendor_answers_in_its_shape():
    """LeadConduit's answer: 201 {outcome: success, lead: {id}}; a repeat 200; a failure
    adds outcome and reason to the problem."""
    m = shipped("vendors/leadconduit.yaml")
    assert vendors.answer(m, lead_id=7, external_id="LC-1", status="assigned",
                          repeated=False) == (201, {"outcome": "success", "lead": {"id": "7"}})
    status, body = vendors.answer(m, lead_id=7, external_id="LC-1", status="assigned",
                                  repeated=True)
    assert status == 200 and body["outcome"] == "success"
    assert vendors.failure_fields(m, "zip: is required") == {"outcome": "failure",
                                                             "reason": "zip: is required"}


def test_referral_names_the_requested_officer():
    """A realtor's referral carries the officer asked for and the referrer."""
    out = vendors.map_post(recorded("referral_realtor.json"), "application/json",
                           shipped("referrals/realtor.yaml")).fields
    assert out["requested_officer_id"] == "LO2" and out["referrer"] == "Taylor Brooks"
    assert out["loan_purpose"] == "purchase"  # the partner's default
    assert out["tcpa_text"].startswith("The client agreed")


# ----------------------------------------------------------------------------- the map


def test_two_fields_giving_one_lead_field_differently_is_an_error():
    """email and emailAddress both given, and different: named, not guessed."""
    m = shipped("vendors/bankrate.yaml")
    with pytest.raises(MappingError) as err:
        apply_map(m, {"email": "a@example.com", "emailAddress": "b@example.com"})
    p = err.value.problems[0]
    assert p.field in ("email", "emailAddress") and "@" not in str(p.value)  # masked


def test_values_and_names_compare_case_and_width_insensitively():
    """"PURCHASE", " purchase " and full-width letters read the same; names too."""
    m = shipped("vendors/bankrate.yaml")
    for value in ("PURCHASE", " purchase ", "ｐｕｒｃｈａｓｅ"):
        assert apply_map(m, {"LOANTYPE": value}).fields["loan_purpose"] == "purchase"


def test_unmapped_fields_are_dropped_unless_kept():
    """A field the map does not name is dropped, or kept as a custom field when asked."""
    m = shipped("web.yaml")
    assert "favourite_colour" not in apply_map(m, {"favourite_colour": "red"}).fields
    kept = SourceMap.model_validate({**m.model_dump(), "keep_unmapped": True})
    assert apply_map(kept, {"favourite_colour": "red"}).fields["favourite_colour"] == "red"


def test_the_source_name_cannot_be_spoofed():
    """A payload's own "source" field never replaces the map's source."""
    m = shipped("web.yaml")
    assert apply_map(m, {"source": "zillow"}).fields["source"] == "web"


@pytest.mark.parametrize(("data", "problem"), [
    ({"source": "Bad Name", "fields": {}}, "source"),
    ({"source": "x", "fields": {"a": "Not A Field!"}}, "fields"),
    ({"source": "x", "fields": {}, "surprise": 1}, "surprise"),
    ({"source": "x", "fields": {}, "answers": {"created": {"status": 999, "body": {}}}},
     "answers.created.status"),
    ({"source": "x", "fields": {}, "answers": {"created": {"status": 201, "body": {}},
                                                "failed": {"status": "no"}}},
     "answers.failed"),
])
def test_broken_maps_are_refused_naming_the_place(tmp_path: Path, data: dict[str, object],
                                                  problem: str):
    """A map with a bad name, target, key or answer is refused with its file and place."""
    path = tmp_path / "v.yaml"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=problem) as err:
        load_map(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("raw", "ctype", "field"), [
    (b"a=1&a=2", "application/x-www-form-urlencoded", "a"),
    (b"\xff\xfe", "application/x-www-form-urlencoded", "body"),
    (b"[1, 2]", "application/json", "body"),
    (b"{", "application/json", "body"),
    (b"a=1", "text/csv", "Content-Type"),
    (json.dumps({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}).encode(),
     "application/json", "a.b.c.d.e.f.g.h.i"),
    (b"[" * 100_000, "application/json", "body"),
])
def test_unreadable_bodies_name_the_place(raw: bytes, ctype: str, field: str):
    """Repeated form names, bad UTF-8, non-objects, broken JSON, unknown types, deep
    nesting: each named."""
    with pytest.raises(MappingError) as err:
        read_payload(raw, ctype)
    assert err.value.problems[0].field == field


def test_flatten_names_nested_fields_with_dots():
    """Nested objects become dotted names; lists of values are joined; booleans are text."""
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": True, "e": None,
                    "f": [{"g": "x"}]}) == {"a.b": "1", "a.c": "1;2", "d": "true", "e": "",
                                            "f.0.g": "x"}
    assert parse_form(b"x=%E2%9C%93&y=") == {"x": "\u2713", "y": ""}


@pytest.mark.parametrize(("text", "iso"), [
    ("2015-11-12T15:27:06+0000", "2015-11-12T15:27:06+00:00"),
    ("2025-03-04 09:00:00-0600", "2025-03-04T09:00:00-06:00"),
    ("2025-03-04T15:00:00Z", "2025-03-04T15:00:00+00:00"),
    ("2025-03-04T15:00:00", None),  # no offset: not ours to guess
    ("yesterday", None), ("", None),
])
def test_source_times_are_read_leniently(text: str, iso: str | None):
    """A source's times with a basic offset or a space are read; others give None."""
    assert source_time(text) == iso


# ----------------------------------------------------------------------------- hostile input


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=400),
       ctype=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                              "text/plain", ""]))
def test_any_body_is_read_or_named_never_crashes(raw: bytes, ctype: str):
    """Whatever the bytes, reading and mapping a vendor body either works or raises a
    MappingError naming a field: never another exception (which would be a 500)."""
    try:
        vendors.map_post(raw, ctype, shipped("vendors/bankrate.yaml"))
    except MappingError as exc:
        assert exc.problems and all(p.field for p in exc.problems)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.floats(allow_nan=False) | st.just([]) | st.just({}),
    lambda inner: st.lists(inner, min_size=1, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, min_size=1, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(st.sampled_from(["entry", "object", "changes", "x"]), json_values,
                            max_size=3))
def test_any_signed_notification_is_read_or_named(body: dict[str, object]):
    """A signed Meta notification of any shape: its leads, or a named MappingError."""
    try:
        meta.parse_notification(json.dumps(body).encode())
    except MappingError as exc:
        assert exc.problems


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(st.sampled_from(["lead_id", "user_column_data", "form_id",
                                             "is_test", "lead_submit_time", "campaign_id"]),
                            json_values, max_size=6))
def test_any_keyed_google_delivery_is_read_or_named(body: dict[str, object]):
    """A Google delivery of any shape with the right key: a lead, or a named MappingError."""
    try:
        google_ads.map_delivery(body, shipped("google_ads.yaml"))
    except MappingError as exc:
        assert exc.problems
