"""Every page of the lab under Streamlit's AppTest: no exception, its key widgets, a run that
changes what is shown, bad input answered with an error that names its place."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.lab.conftest import PAGES, ROOT, LiveApi

TIMEOUT_S = 120


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT_S)
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def shown(markdown: str) -> str:
    """Markdown as the reader sees it (the lab escapes what it did not write itself)."""
    return markdown.replace("\\", "")


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + \
        [s.value for s in at.success] + [w.value for w in at.warning] + \
        [c.value for c in at.caption] + [i.value for i in at.info]
    return shown("\n".join(str(p) for p in parts))


def test_app_navigation_opens_the_data_page():
    """The entry point builds the navigation and opens the Data page."""
    at = AppTest.from_file(str(ROOT / "lab" / "app.py"), default_timeout=TIMEOUT_S).run()
    no_exception(at)
    assert at.title[0].value == "Data"


def test_data_page_lists_scenarios_and_checks_uploads():
    """The Data page offers the shipped scenarios; a good roster is counted, a bad one is
    refused with its row and column."""
    at = page("data").run()
    no_exception(at)
    assert "reference" in at.selectbox(key="data_scenario").options
    at.selectbox(key="data_scenario").set_value("surge").run()
    no_exception(at)
    assert any(m.value == "30" for m in at.metric)
    good = (ROOT / "data" / "demo" / "officers.csv").read_bytes()
    at.file_uploader(key="upload_roster").upload("officers.csv", good, "text/csv")
    at.run()
    no_exception(at)
    assert "officers.csv: 40 officers" in texts(at)
    bad = good.replace(b",America/Chicago,", b",Mars/Olympus,", 1)
    at.file_uploader(key="upload_roster").set_value(("bad.csv", bad, "text/csv"))
    at.run()
    no_exception(at)
    assert at.error, "a bad roster shows an error"
    assert "bad.csv" in shown(at.error[0].value)
    table = at.dataframe[0].value
    assert "timezone" in set(table["field"]) and table["where"].str.contains("row").all()


def test_data_page_refuses_a_leads_file_that_is_not_text():
    """A binary file as leads is an error naming the file, not a traceback."""
    at = page("data").run()
    at.file_uploader(key="upload_leads").upload("leads.csv", b"\xff\xfe\x00bad\x00", "text/csv")
    at.run()
    no_exception(at)
    assert at.error or at.warning


def test_policy_editor_validates_as_you_type():
    """A valid draft says so; a broken one shows the YAML path; the form rewrites the YAML and
    the diff shows the change."""
    at = page("policy").run()
    no_exception(at)
    assert at.success and "Valid" in shown(at.success[0].value)
    text = at.text_area(key="policy_yaml").value
    at.text_area(key="policy_yaml").set_value(
        text.replace("accept_within_s: 900", "accept_within_s: -5")).run()
    no_exception(at)
    assert at.error and "routing.offer.accept_within_s" in shown(at.error[0].value)
    at.text_area(key="policy_yaml").set_value(text).run()
    at.selectbox[1].set_value("round_robin")  # Method, in the form
    at.button[1].click().run()  # Apply to the YAML
    no_exception(at)
    assert "method: round_robin" in at.text_area(key="policy_yaml").value
    assert at.success and "method round_robin" in shown(at.success[0].value)
    assert any("+    method: round_robin" in c.value or "+  method: round_robin" in c.value
               for c in at.code)


@pytest.mark.slow
def test_whatif_runs_and_a_surge_changes_the_figures():
    """Running the what-if shows the verdict and KPI cards; surging the volume and running
    again changes them."""
    at = page("whatif").run()
    no_exception(at)
    assert at.button(key="whatif_run")
    assert at.multiselect(key="whatif_policies").value == ["rules", "weighted_round_robin"]
    at.number_input(key="whatif_days").set_value(1.0)
    at.number_input(key="whatif_replications").set_value(2)
    at.button(key="whatif_run").click().run()
    no_exception(at)
    assert at.header[0].value == "Verdict"
    verdict = shown(next(m.value for m in at.markdown if m.value.startswith("**")))
    assert "rules" in verdict and "weighted_round_robin" in verdict
    assert "interval" in verdict
    cards = {m.label: m.value for m in at.metric}
    assert "Funded (expected)" in cards
    before = [m.value for m in at.metric]
    at.slider(key="whatif_surge").set_value(2.0)
    at.button(key="whatif_run").click().run()
    no_exception(at)
    assert [m.value for m in at.metric] != before


def test_whatif_with_a_broken_draft_shows_the_yaml_path():
    """A draft policy that does not load is an error with its YAML path, not a traceback."""
    at = page("whatif")
    at.session_state["draft_policy"] = (ROOT / "data" / "policies" / "default.yaml").read_text(
    ).replace("method: weighted_round_robin", "method: nope")
    at.run()
    at.multiselect(key="whatif_policies").set_value(["rules", "draft (Policy editor)"])
    at.number_input(key="whatif_days").set_value(0.25)
    at.button(key="whatif_run").click().run()
    no_exception(at)
    assert at.error and "routing.method" in shown(at.error[0].value)


def test_decision_explorer_lays_out_every_officer():
    """Every officer of the roster appears in the first step's table, chosen, candidate or left
    out with a reason; the draft policy is replayed beside the active one."""
    at = page("explorer").run()
    no_exception(at)
    ids = at.selectbox(key="explorer_lead").options
    at.selectbox(key="explorer_lead").set_value(ids[3]).run()
    no_exception(at)
    assert len(at.dataframe) == 2  # active and draft
    table = at.dataframe[0].value
    assert set(table["outcome"]) <= {"chosen", "candidate", "left out"}
    assert table[table["step"] == 1]["officer_id"].nunique() == 40
    assert table[table["outcome"] == "left out"]["why"].str.len().gt(0).all()


@pytest.mark.slow
def test_model_page_checks_the_model_against_the_world():
    """Simulate, train and check shows AUC and Brier, the reliability plot, officer skill
    against the truth and off-policy estimates beside the truths."""
    at = page("model").run()
    no_exception(at)
    at.number_input(key="model_days").set_value(1.0)
    at.button(key="model_run").click().run()
    no_exception(at)
    labels = {m.label for m in at.metric}
    assert {"AUC", "Brier"} <= labels
    headers = [h.value for h in at.header]
    assert "Off-policy estimates against the simulated truth" in headers
    ope = at.dataframe[-1].value
    assert set(ope["estimator"]) == {"ips", "snips", "doubly_robust"}
    assert ope["truth_same_contexts"].gt(0).all()


def test_model_page_shows_the_running_systems_model(monkeypatch, tmp_path):
    """With LEADROUTE_LAB_MODEL (set by leadroute up), the page shows that model's card."""
    from cli.up import train_demo_model

    _, model = train_demo_model(tmp_path, days=3.0, seed=0)
    monkeypatch.setenv("LEADROUTE_LAB_MODEL", str(model))
    at = page("model").run()
    no_exception(at)
    assert "The running system's model" in [s.value for s in at.subheader]
    assert "Held out: AUC" in texts(at)


def test_production_page_without_an_api_says_how_to_start_it(monkeypatch):
    """No API at the address: an error that says how to start it, no traceback."""
    from tests.lab.conftest import free_port

    monkeypatch.setenv("LEADROUTE_LAB_API_URL", f"http://127.0.0.1:{free_port()}")
    at = page("production").run()
    no_exception(at)
    assert at.error and "make run" in shown(at.error[0].value)


def test_production_page_pushes_a_policy_through_the_api(monkeypatch, live_api: LiveApi):
    """Reads the API, uploads the draft, dry-runs it on recent leads and activates it; the
    API then routes with it."""
    for n in range(5):
        r = httpx.post(f"{live_api.url}/v1/leads", headers={
            "Authorization": f"Bearer {live_api.ingest_key}"}, json={
            "lead_id": f"T-{n}", "source": "zillow", "email": f"p{n}@example.com",
            "zip": "75201", "loan_purpose": "purchase", "loan_program": "conventional",
            "loan_amount": 300000})
        assert r.status_code == 201, r.text
    monkeypatch.setenv("LEADROUTE_LAB_API_URL", live_api.url)
    monkeypatch.setenv("LEADROUTE_LAB_API_KEY", live_api.admin_key)
    at = page("production")
    draft = (ROOT / "data" / "policies" / "default.yaml").read_text().replace(
        "policy: default", "policy: lab-test").replace("weighted_round_robin", "round_robin")
    at.session_state["draft_policy"] = draft
    at.run()
    no_exception(at)
    assert at.success and "API at" in shown(at.success[0].value)
    at.button(key="prod_dry_run").click().run()
    no_exception(at)
    assert any("Dry run of policy" in shown(s.value) for s in at.subheader)
    at.button(key="prod_activate").click().run()
    no_exception(at)
    assert any("now routes new leads" in shown(s.value) for s in at.success)
    listed = httpx.get(f"{live_api.url}/v1/policies",
                       headers={"Authorization": f"Bearer {live_api.admin_key}"}).json()
    assert [p["name"] for p in listed["items"] if p["active"]] == ["lab-test"]


def test_pages_are_thin():
    """Pages draw; the work is in engine/, simulator/ and lab/workbench.py (no page longer
    than a screenful or two)."""
    for path in Path(PAGES).glob("*.py"):
        assert len(path.read_text().splitlines()) < 200, path.name


@pytest.mark.parametrize("name", ["data", "policy", "whatif", "explorer", "model",
                                  "production"])
def test_every_page_runs_without_exception(name, monkeypatch):
    """Each page opens cleanly with nothing chosen yet."""
    monkeypatch.setenv("LEADROUTE_LAB_API_URL", "http://127.0.0.1:9")
    at = page(name).run()
    no_exception(at)
    assert at.title


def test_data_page_checks_the_production_history(monkeypatch, live_api: LiveApi):
    """The API's history export is read and checked against the roster on the Data page."""
    admin = {"Authorization": f"Bearer {live_api.admin_key}"}
    accepted = 0
    for n in range(6):
        r = httpx.post(f"{live_api.url}/v1/leads", headers=admin, json={
            "lead_id": f"H-{n}", "source": "zillow", "email": f"h{n}@example.com",
            "zip": "75201", "loan_purpose": "purchase", "loan_program": "conventional",
            "loan_amount": 300000})
        assert r.status_code == 201, r.text
        officer = (r.json()["assignment"] or {}).get("officer_id")
        if officer:
            a = httpx.post(f"{live_api.url}/v1/leads/{r.json()['id']}/accept", headers=admin,
                           json={"officer_id": officer})
            accepted += a.status_code == 200
    monkeypatch.setenv("LEADROUTE_LAB_API_URL", live_api.url)
    monkeypatch.setenv("LEADROUTE_LAB_API_KEY", live_api.admin_key)
    at = page("data").run()
    at.selectbox(key="data_scenario").set_value("demo").run()
    at.button(key="api_history").click().run()
    no_exception(at)
    assert accepted > 0
    assert f"The API's history: {accepted} worked leads" in texts(at)


def test_data_page_fits_a_scenario_when_the_installation_can(tmp_path):
    """With simulator.fit, an uploaded history and roster give a fitted scenario for the
    what-if; without it, the page says the step is not there."""
    from cli.up import train_demo_model
    from lab.workbench import scenario_fit_available

    at = page("data").run()
    if not scenario_fit_available():
        assert "not in this installation" in texts(at)
        return
    history, _ = train_demo_model(tmp_path, days=7.0, seed=0)
    roster = (ROOT / "data" / "demo" / "officers.csv").read_bytes()
    at.file_uploader(key="upload_roster").upload("officers.csv", roster, "text/csv")
    at.file_uploader(key="upload_history").upload("history.csv", history.read_bytes(),
                                                  "text/csv")
    at.run()
    at.button(key="fit_scenario").click().run()
    no_exception(at)
    assert "Fitted:" in texts(at), texts(at)
    assert at.session_state["own_scenario"].name == "fitted"
    # every lead received, replayed in place of the worked ones: the history's own rows
    # (its lead columns) and one lead no officer worked
    text = history.read_text(encoding="utf-8")
    last = text.rstrip("\n").splitlines()[-1]
    extra = last.replace(last.split(",", 1)[0], "never-worked-1", 1)
    at.file_uploader(key="upload_leads").upload("received.csv",
                                                (text + extra + "\n").encode(), "text/csv")
    at.run()
    at.checkbox(key="fit_every_lead").check().run()
    at.button(key="fit_scenario").click().run()
    no_exception(at)
    assert "Fitted:" in texts(at), texts(at)
    fitted = at.session_state["own_scenario"]
    rows = len(text.rstrip("\n").splitlines()) - 1
    assert f"replays {rows + 1} leads received" in fitted.description


def test_own_leads_replayed_in_the_whatif():
    """An uploaded roster and leads file become a replayed scenario the what-if runs."""
    at = page("data").run()
    roster = (ROOT / "data" / "demo" / "officers.csv").read_bytes()
    lines = (ROOT / "data" / "demo" / "leads.csv").read_text().splitlines(keepends=True)
    leads = "".join(lines[:151]).encode()
    few = "".join(lines[:4]).encode()  # three leads within minutes: a replay shorter than
    at.file_uploader(key="upload_leads").upload("few.csv", few, "text/csv")  # the days step
    at.file_uploader(key="upload_roster").upload("officers.csv", (
        ROOT / "data" / "demo" / "officers.csv").read_bytes(), "text/csv")
    at.run()
    at.button(key="use_own").click().run()
    short = page("whatif")
    short.session_state["own_scenario"] = at.session_state["own_scenario"]
    short.run()
    no_exception(short)
    short.button(key="whatif_run").click().run()
    no_exception(short)
    at = page("data").run()
    at.file_uploader(key="upload_roster").upload("officers.csv", roster, "text/csv")
    at.file_uploader(key="upload_leads").upload("leads.csv", leads, "text/csv")
    at.run()
    at.button(key="use_own").click().run()
    no_exception(at)
    own = at.session_state["own_scenario"]
    assert own.name == "own leads" and len(own.officers) == 40
    whatif = page("whatif")
    whatif.session_state["own_scenario"] = own
    whatif.run()
    whatif.number_input(key="whatif_replications").set_value(2)
    whatif.button(key="whatif_run").click().run()
    no_exception(whatif)
    assert whatif.header[0].value == "Verdict"
    summary = whatif.session_state["whatif_result"].summary
    assert set(summary["leads"]) == {150}


def test_policy_editor_edits_a_rule_in_the_form():
    """A rule's pool chosen in the form lands in the YAML, which stays valid."""
    at = page("policy").run()
    pool = next(s for s in at.selectbox if s.label == "Pool")
    assert pool.value == "va_specialists"
    pool.set_value("main")
    next(b for b in at.button if b.label == "Apply to the YAML").click().run()
    no_exception(at)
    import yaml

    tree = yaml.safe_load(at.text_area(key="policy_yaml").value)
    assert tree["rules"][0]["then"]["pool"] == "main"
    assert at.success and "Valid" in shown(at.success[0].value)


@pytest.mark.parametrize("hostile", [
    "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + k)}: &{chr(98 + k)} [*{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, "
        f"*{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, "
        f"*{chr(97 + k)}]\n" for k in range(9)),
    "[" * 5000 + "]" * 5000,
    "policy: \"unterminated\n",
    "\x00\x01binary",
])
def test_policy_editor_survives_hostile_yaml(hostile):
    """An alias bomb, deep nesting, broken or binary text: an error, never a hang or a crash."""
    at = page("policy").run()
    at.text_area(key="policy_yaml").set_value(hostile).run(timeout=30)
    no_exception(at)
    assert at.error
