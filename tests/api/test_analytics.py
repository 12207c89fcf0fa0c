"""GET /v1/analytics/{report}: figures computed from leads with known times and outcomes,
CSV export, parameters refused with their name, test leads left out; GET /metrics."""

from __future__ import annotations

import csv
import io

import pytest

from tests.api.conftest import Api


def _lifecycle(api: Api, officer: str, accept_s: float, contact_s: float | None = None,
               outcome: str | None = None, **lead: str) -> int:
    """A lead posted now, accepted after accept_s, contacted after contact_s (from arrival)."""
    lid: int = api.post_lead(**lead).json()["id"]
    api.clock.advance(accept_s)
    assert api.act(lid, "accept", officer).status_code == 200
    if contact_s is not None:
        api.clock.advance(contact_s - accept_s)
        assert api.act(lid, "outcome", officer, outcome="contacted").status_code == 200
    if outcome == "funded":
        assert api.act(lid, "outcome", officer, outcome="funded",
                       amount="300000.00").status_code == 200
    elif outcome == "lost":
        assert api.act(lid, "outcome", officer, outcome="lost").status_code == 200
    api.clock.advance(60)
    return lid


def _get(api: Api, report: str, **params: str):
    return api.client.get(f"/v1/analytics/{report}", params=params,
                          headers=api.headers("analyst"))


def test_speed_to_lead_median_and_p90(api: Api):
    """Accepts after 10, 20, 30, 40 and 100 s: median 30, p90 76 (linear interpolation)."""
    api.officers("A")
    for s in (10, 20, 30, 40, 100):
        _lifecycle(api, "A", s, contact_s=s * 2)
    r = _get(api, "speed-to-lead", by="officer")
    assert r.status_code == 200, r.text
    (row,) = r.json()["items"]
    assert row["group"] == "A" and row["leads"] == 5 and row["accepted"] == 5
    assert row["accept_median_s"] == 30 and row["accept_p90_s"] == 76
    assert row["contact_median_s"] == 60 and row["contact_p90_s"] == 152


def test_speed_to_lead_by_hour_in_a_timezone(api: Api):
    """Hours are the lead's arrival hour in ``tz``: 15:00 UTC is 09 in Chicago."""
    api.officers("A")
    _lifecycle(api, "A", 5)
    items = _get(api, "speed-to-lead", by="hour", tz="America/Chicago").json()["items"]
    assert [i["group"] for i in items] == ["09"]


def test_funnel_cost_and_csv(api: Api):
    """Funnel counts by source, cost per funded loan from the configured cost per lead,
    the same rows as CSV."""
    api.client.app.state.settings = api.client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"lead_cost_usd": {"web_form": 40.0}})
    api.officers("A")
    _lifecycle(api, "A", 10, 20, "funded")
    _lifecycle(api, "A", 10, None, "lost")
    _lifecycle(api, "A", 10)
    api.post_lead(source="zillow")
    (web, zillow) = _get(api, "funnel").json()["items"]
    assert (web["group"], web["leads"], web["accepted"], web["contacted"], web["funded"],
            web["lost"], web["funded_amount_usd"]) == ("web_form", 3, 3, 1, 1, 1, 300000.0)
    assert web["funded_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert (zillow["group"], zillow["leads"], zillow["assigned"], zillow["accepted"]) == (
        "zillow", 1, 1, 0)
    cost = {i["group"]: i for i in _get(api, "cost").json()["items"]}
    assert cost["web_form"]["cost_usd"] == 120.0
    assert cost["web_form"]["cost_per_funded_usd"] == 120.0
    assert cost["zillow"]["cost_usd"] is None
    r = _get(api, "funnel", format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["group"] for row in rows] == ["web_form", "zillow"]
    assert rows[0]["funded"] == "1"


def test_csv_cells_cannot_run_as_formulas(api: Api):
    """A source written like a formula is written with a leading quote."""
    api.officers("A")
    api.post_lead(source="=cmd")
    r = _get(api, "funnel", format="csv")
    assert r.text.splitlines()[1].startswith("'=cmd,1,1,")


def test_sla_counts_breaches_and_reroutes(api: Api):
    """An assignment not accepted in time is a breach charged to the officer and the lead
    goes to the other officer: one re-routed lead."""
    api.officers("A", "B")
    lid = api.post_lead().json()["id"]
    first = api.lead(lid)["assignment"]["officer_id"]
    api.work(16 * 60)  # the default policy's accept_within_s is 900 s or less
    second = api.lead(lid)["assignment"]["officer_id"]
    assert {first, second} == {"A", "B"}
    by_officer = {i["group"]: i for i in _get(api, "sla").json()["items"]}
    assert by_officer[first]["breaches"] == 1 and by_officer[first]["breach_rate"] == 1.0
    assert by_officer[second]["breaches"] == 0 and by_officer[second]["notices"] == 1
    (src,) = _get(api, "sla", by="source").json()["items"]
    assert src["rerouted_leads"] == 1 and src["leads"] == 1
    assert lid


def test_workload_shares_and_jain_index(api: Api):
    """Two equal officers with 2 and 2 accepted leads: shares 0.5, Jain's index 1.0."""
    api.officers("A", "B")
    for _ in range(4):
        lid = api.post_lead().json()["id"]
        who = api.lead(lid)["assignment"]["officer_id"]
        assert api.act(lid, "accept", who).status_code == 200
    body = _get(api, "workload").json()
    shares = {i["group"]: i["accepted_share"] for i in body["items"]}
    assert shares == {"A": 0.5, "B": 0.5}
    assert body["summary"]["jain_index"] == 1.0
    assert {i["group"]: i["open_now"] for i in body["items"]} == {"A": 2, "B": 2}


def test_accuracy_counts_a_matching_specialist(api: Api):
    """A VA lead with a VA specialist eligible: counted, and a hit when they got it."""
    api.officers(("V", {"specialties": "va"}))
    api.post_lead(loan_program="va")
    (row,) = [i for i in _get(api, "accuracy").json()["items"] if i["group"] == "va"]
    assert (row["match_eligible"], row["reached_match"], row["accuracy"]) == (1, 1, 1.0)


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "2025-03-01T00:00:00"}, "since"),
    ({"until": "2025-03-01T00:00:00"}, "until"),
    ({"since": "2025-03-05T00:00:00Z", "until": "2025-03-01T00:00:00Z"}, "since"),
    ({"since": "2020-01-01T00:00:00Z", "until": "2025-03-01T00:00:00Z"}, "since"),
    ({"by": "zip"}, "by"),
    ({"until": "0001-01-01T00:00:00Z"}, "until"),
    ({"since": "0001-01-01T00:00:00+14:00", "until": "2025-01-02T00:00:00Z"}, "since"),
    ({"until": "9999-12-31T23:59:59.999999-14:00"}, "until"),
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"tz": "../../etc/passwd"}, "tz"),
    ({"tz": "localtime"}, "tz"),
])
def test_bad_parameters_are_422_naming_the_field(api: Api, params: dict[str, str],
                                                  field: str):
    """Naive times, an empty or too long range, an unknown grouping or timezone."""
    r = _get(api, "speed-to-lead", **params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


def test_unknown_report_is_422_and_officers_may_not_read(api: Api):
    """Only the six reports exist; an officer key is refused."""
    assert _get(api, "salaries").status_code == 422
    api.officers("A")
    r = api.client.get("/v1/analytics/funnel", headers=api.headers("A"))
    assert r.status_code == 403


def test_window_leaves_out_other_times(api: Api):
    """since/until select by arrival: a window before the leads is empty."""
    api.officers("A")
    api.post_lead()
    items = _get(api, "funnel", since="2025-01-01T00:00:00Z",
                 until="2025-02-01T00:00:00Z").json()["items"]
    assert items == []


def test_metrics_count_routing_and_the_backlog(api: Api):
    """/metrics: leads routed by status, the decision histogram, the pending notices."""
    api.officers("A")
    api.post_lead()
    text = api.client.get("/metrics").text
    assert 'leadroute_leads_routed_total{status="assigned"}' in text
    assert "leadroute_decision_seconds_count" in text
    assert 'leadroute_outbox_backlog{status="pending"} 1.0' in text
    assert "leadroute_notification_delay_seconds_count" in text
    assert "_created" not in text


def test_accuracy_counts_a_miss_when_the_specialist_was_passed_over(api: Api):
    """Round robin over a VA specialist and a generalist: of two VA leads one reaches the
    specialist, so accuracy is 0.5; a Spanish speaker's lead with no Spanish speaker eligible
    is not counted as eligible."""
    from tests.api.conftest import policy_yaml, use_policy

    api.officers(("V", {"specialties": "va"}), "N")
    use_policy(api, policy_yaml())
    got = {api.lead(api.post_lead(loan_program="va").json()["id"])["assignment"]["officer_id"]
           for _ in range(2)}
    assert got == {"V", "N"}
    api.post_lead(language="es")
    items = {i["group"]: i for i in _get(api, "accuracy").json()["items"]}
    assert (items["va"]["match_eligible"], items["va"]["reached_match"],
            items["va"]["accuracy"]) == (2, 1, 0.5)
    assert (items["language:es"]["leads"], items["language:es"]["match_eligible"],
            items["language:es"]["accuracy"]) == (1, 0, None)
