"""lab.workbench and lab.production: what the pages show, computed without Streamlit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError
from engine.io import load_roster
from engine.rules import PolicyError, load_policy
from lab.production import Api, ApiError, history_figures
from lab.workbench import (
    DATA,
    Changes,
    check_leads,
    check_roster,
    decide_lead,
    lay_out_decision,
    policy_diff,
    problems_frame,
    roster_csv_text,
    run_whatif,
    shipped_policies,
    with_changes,
)
from simulator.errors import ParamError
from simulator.scenario import load_scenario

REFERENCE = DATA / "scenarios" / "reference.yaml"


def test_whatif_verdict_is_the_simulators():
    """The what-if's verdict is simulator.metrics.verdict's, split into its headline, its
    plain words on trust, and its note; the lab computes none of it."""
    from simulator.metrics import verdict

    sc = load_scenario(REFERENCE)
    policies = [(n, shipped_policies()[n]) for n in ("rules", "weighted_round_robin")]
    result = run_whatif(with_changes(sc, Changes(days=0.5)), policies, replications=2, seed=0)
    found = verdict(result.summary)
    assert result.verdict == found.headline
    assert result.verdict_detail in found.text and result.verdict_note == found.read_me
    assert result.verdict_trusted is (found.trusted and found.separated)
    assert not result.verdict_trusted  # two replications are too few to trust


def test_changes_surge_and_days_reach_the_scenario():
    """Fewer days and a surge change the scenario the simulator runs."""
    sc = load_scenario(REFERENCE)
    changed = with_changes(sc, Changes(days=1.5, volume_multiplier=2.0))
    assert changed.days == 1.5
    assert changed.stream.volume_multiplier == pytest.approx(2 * sc.stream.volume_multiplier)
    assert with_changes(sc, Changes()) == sc


@pytest.mark.parametrize("surge", [0.0, -1.0, math.nan, math.inf])
def test_changes_refuse_a_surge_that_makes_no_sense(surge):
    """A surge of zero, below zero or not a number is refused with its field."""
    with pytest.raises(ParamError, match="volume_multiplier"):
        with_changes(load_scenario(REFERENCE), Changes(volume_multiplier=surge))


def test_edited_roster_with_a_bad_row_names_row_and_column():
    """An officer added with a bad cap is refused with its row and column."""
    sc = load_scenario(REFERENCE)
    text = roster_csv_text(sc)
    header, first = text.splitlines()[:2]
    cells = first.split(",")
    cells[0] = "LO-NEW"
    cells[header.split(",").index("daily_cap")] = "lots"
    with pytest.raises(InputError) as caught:
        with_changes(sc, Changes(roster_csv=text + ",".join(cells) + "\n"))
    assert any(p.field == "daily_cap" and "row" in p.where for p in caught.value.problems)


def test_removing_officers_changes_the_run():
    """A roster without half its officers gives fewer expected conversions on the same
    leads."""
    sc = load_scenario(REFERENCE)
    lines = roster_csv_text(sc).splitlines(keepends=True)
    half = "".join(lines[: 1 + (len(lines) - 1) // 2])
    policies = [("rules", shipped_policies()["rules"])]
    full = run_whatif(with_changes(sc, Changes(days=0.5)), policies, replications=1, seed=0)
    fewer = run_whatif(with_changes(sc, Changes(days=0.5, roster_csv=half)), policies,
                       replications=1, seed=0)
    assert full.kpis.iloc[0]["Funded (expected)"] > fewer.kpis.iloc[0]["Funded (expected)"]
    stages = full.funnel[full.funnel["policy"] == "rules"]["leads"].to_numpy()
    assert (np.diff(stages) <= 0).all(), "a funnel never widens"


def test_uploaded_roster_problems_as_a_table():
    """A roster that is not UTF-8, and one with a bad timezone, are refused with their place."""
    with pytest.raises(InputError, match="not UTF-8"):
        check_roster(b"\xff\xfe\x00", "roster.csv")
    good = (DATA / "demo" / "officers.csv").read_bytes()
    with pytest.raises(InputError) as caught:
        check_roster(good.replace(b",America/Chicago,", b",../../etc/passwd,", 1), "r.csv")
    table = problems_frame(caught.value)
    assert list(table.columns) == ["where", "field", "value", "problem"]
    assert "timezone" in set(table["field"]) and table["where"].str.contains("r.csv row").all()


def test_uploaded_leads_keep_good_rows_and_list_bad_ones():
    """Bad rows are listed with their row numbers; the others are leads; contact details
    never appear whole in the problems."""
    text = (DATA / "demo" / "leads.csv").read_text().splitlines()
    header, rows = text[0], text[1:6]
    bad = rows[1].replace("+13125550001", "=cmd|' /C calc'!A0")
    checked = check_leads(("\n".join([header, rows[0], bad, *rows[2:]]) + "\n").encode(),
                          "leads.csv")
    assert checked.rows == 5 and len(checked.leads) == 4
    assert checked.problems and all("row 3" in p.where for p in checked.problems)
    shown = problems_frame(InputError(checked.problems))
    assert shown.iloc[0]["field"] == "phone" and "calc" not in shown.iloc[0]["value"]


def test_problems_frame_of_a_policy_error_names_the_yaml_path():
    """A policy error becomes one row with its YAML path."""
    table = problems_frame(PolicyError("routing.offer.accept_within_s", "must be > 0", "d"))
    assert table.iloc[0]["field"] == "routing.offer.accept_within_s"


def test_decision_laid_out_names_every_officer_once_per_step():
    """Each officer in a step's pool is a candidate, the chosen one, or left out with a
    reason."""
    officers = load_roster(DATA / "demo" / "officers.csv")
    leads = check_leads((DATA / "demo" / "leads.csv").read_bytes(), "leads.csv").leads
    policy = load_policy(DATA / "policies" / "default.yaml")
    seen = set()
    for lead in leads[:40]:
        decision = decide_lead(lead, officers, policy)
        table = lay_out_decision(decision)
        for _, step in table.groupby("step"):
            assert step["officer_id"].is_unique
        chosen = table[table["outcome"] == "chosen"]["officer_id"].tolist()
        if decision.officer_id:
            assert decision.officer_id in chosen
        seen.add(decision.status.value)
    assert {"assigned", "held"} <= seen


def test_policy_diff_shows_the_changed_line():
    """The diff against the active policy shows the changed line and nothing when equal."""
    a = "policy: x\nversion: 1\n"
    assert policy_diff(a, a) == ""
    assert "+version: 2" in policy_diff(a, a.replace("1", "2"))


def test_history_figures_from_the_export():
    """Minutes from arrival to first contact and funded share by source and officer."""
    history = pd.DataFrame({
        "received_at": ["2025-03-04T15:00:00+00:00", "2025-03-04T15:00:00+00:00"],
        "assigned_at": ["2025-03-04T15:01:00+00:00", "2025-03-04T15:02:00+00:00"],
        "response_delay_s": ["60", ""], "source": ["zillow", "facebook"],
        "officer_id": ["LO1", "LO1"], "funded": ["1", "0"]})
    figures = history_figures(history)
    assert figures["speed"]["minutes_to_first_contact"].tolist() == [2.0]
    by_officer = figures["officer_id"].set_index("officer_id")
    assert by_officer.loc["LO1", "leads"] == 2 and by_officer.loc["LO1", "funded_share"] == 0.5
    assert history_figures(pd.DataFrame()) == {}


def test_api_client_reports_the_yaml_path_of_a_refused_policy(live_api):
    """A policy the API refuses is an ApiError with the API's field (the YAML path)."""
    api = Api.connect(live_api.url, live_api.admin_key)
    assert api.health()["status"] == "ok"
    broken = (DATA / "policies" / "default.yaml").read_text().replace(
        "accept_within_s: 900", "accept_within_s: -1")
    with pytest.raises(ApiError) as caught:
        api.upload_policy(broken)
    assert caught.value.status == 422
    assert "routing.offer.accept_within_s" in str(caught.value)
    with pytest.raises(ApiError) as denied:
        Api.connect(live_api.url, "lr_admin_" + "x" * 43).policies()
    assert denied.value.status == 401
    assert api.analytics_paths() == [] or all(p.startswith("/v1/analytics")
                                              for p in api.analytics_paths())


@pytest.mark.parametrize("hostile", [
    "![x](http://evil.example/t.png)", "[click](javascript:alert(1))", "$\\frac{1}{0}$",
    ":red[alarm]", "<img src=x onerror=alert(1)>", "**bold** _it_ `code`",
])
def test_plain_keeps_markdown_from_acting(hostile):
    """A file or policy name is shown as written: every Markdown mark is escaped, and
    removing the escapes gives the text back."""
    from lab.workbench import plain

    text = plain(hostile)
    for char in "![]()$:<>*_`":
        assert text.count("\\" + char) == hostile.count(char)
    assert text.replace("\\", "") == hostile.replace("\\", "")


def test_analytics_reports_are_read_from_the_openapi_document():
    """A /v1/analytics/{report} path with listed reports gives one path per report; other
    paths are left alone."""
    from lab.production import _values

    spec = {"components": {"schemas": {"R": {"enum": ["funnel", "sla"]}}}}
    assert _values({"$ref": "#/components/schemas/R"}, spec) == ["funnel", "sla"]
    assert _values({"anyOf": [{"enum": ["a"]}, {"const": "b"}]}, spec) == ["a", "b"]
    assert _values({"type": "string"}, spec) == []


def _form_of(tree):
    from lab.workbench import RoutingForm

    r = tree["routing"]
    return RoutingForm(name=tree["policy"], version=str(tree["version"]), method=r["method"],
                       offer_mode=r["offer"]["mode"],
                       accept_within_s=r["offer"]["accept_within_s"],
                       after_hours=r["after_hours"]["action"], after_hours_pool="",
                       held_order="freshest_first", epsilon=0.0, objective="conversions")


def test_policy_form_round_trip_keeps_the_policy():
    """The form's fields written back unchanged give a policy that decides every demo lead
    as the shipped one does."""
    import yaml

    from engine.rules import parse_policy
    from lab.workbench import edit_policy, one_line, rules_of

    text = (DATA / "policies" / "default.yaml").read_text()
    tree = yaml.safe_load(text)
    pools = {name: one_line(spec) for name, spec in tree["pools"].items()}
    edited = edit_policy(tree, _form_of(tree), pools, rules_of(tree))
    again = parse_policy(yaml.safe_dump(edited, sort_keys=False), "edited")
    shipped = parse_policy(text, "shipped")
    officers = load_roster(DATA / "demo" / "officers.csv")
    leads = check_leads((DATA / "demo" / "leads.csv").read_bytes(), "leads.csv").leads
    for lead in leads[:80]:
        a, b = decide_lead(lead, officers, shipped), decide_lead(lead, officers, again)
        assert (a.status, a.officer_id, a.reason) == (b.status, b.officer_id, b.reason)


def test_policy_form_changes_a_rule_and_refuses_a_broken_condition():
    """A rule's pool and fallback change from the form; a condition that is not YAML is
    refused at rules[k].if."""
    from dataclasses import replace as copy

    import yaml

    from lab.workbench import edit_policy, rules_of

    tree = yaml.safe_load((DATA / "policies" / "default.yaml").read_text())
    rules = rules_of(tree)
    rules[0] = copy(rules[0], pool="main", fallback=())
    edited = edit_policy(tree, _form_of(tree), {}, rules)
    assert edited["rules"][0]["then"]["pool"] == "main"
    assert "fallback" not in edited["rules"][0]["then"]
    rules[1] = copy(rules[1], condition="{field: [unclosed")
    with pytest.raises(PolicyError) as caught:
        edit_policy(tree, _form_of(tree), {}, rules)
    assert caught.value.path == "rules[1].if"
