"""``leadroute simulate`` and ``leadroute sweep`` through typer's CliRunner, on a fresh app."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from cli.simulate import register
from simulator import policies as policy_table
from simulator.metrics import SUMMARY_COLUMNS
from tests.simulator.conftest import DATA

DATA_FILES = ("summary.csv", "comparison.csv", "events.parquet", "history.csv")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:  # a group, so commands are addressed by name
        """Test app."""

    return app


def _simulate(app: typer.Typer, out: Path, *extra: str) -> object:
    return CliRunner().invoke(app, [
        "simulate", "--scenario", str(DATA / "small.yaml"), "--policy", "round_robin",
        "--policy", "first_to_claim", "--replications", "2", "--seed", "4", "--out", str(out),
        "--no-progress", *extra])


def _digest(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in DATA_FILES}


@pytest.fixture(scope="module")
def first_run(app, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    result = _simulate(app, out)
    assert result.exit_code == 0, result.output
    (out / "console.txt").write_text(result.output, encoding="utf-8")
    return out


def test_simulate_opens_with_the_verdict_in_the_console_and_report(first_run):
    """The console and report.html open with the verdict from simulator.metrics.verdict:
    the best policy by expected conversions, and, with 2 replications, the warning that the
    intervals are not to be trusted; then which figure to read."""
    from simulator.metrics import verdict

    found = verdict(pd.read_csv(first_run / "summary.csv"))
    console = " ".join((first_run / "console.txt").read_text().split())
    assert console.startswith("Verdict: " + " ".join(found.headline.split()))
    assert "not to be trusted" in console and "Read expected conversions" in console
    html = (first_run / "report.html").read_text()
    assert html.index("<h2>Verdict</h2>") < html.index("<h2>Means over replications</h2>")
    assert "not to be trusted" in html


def test_simulate_writes_every_file_with_the_promised_columns(first_run):
    """summary.csv has the promised columns, one row per policy and replication; the other
    files are there and readable."""
    summary = pd.read_csv(first_run / "summary.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert len(summary) == 4 and set(summary["policy"]) == {"round_robin", "first_to_claim"}
    comparison = pd.read_csv(first_run / "comparison.csv")
    assert {"policy", "baseline", "metric", "mean_difference", "ci_low", "ci_high"} <= \
        set(comparison.columns)
    events = pq.read_table(first_run / "events.parquet").to_pandas()
    assert {"arrived", "accepted"} <= set(events["event"])
    assert set(events["lead_id"]) <= set(pd.read_csv(first_run / "history.csv")["lead_id"]
                                        .str.split("-r").str[0]) | set(events["lead_id"])
    html = (first_run / "report.html").read_text()
    assert html.count("<script") >= 6 and "<script src=" not in html  # plotly.js inlined
    # means: a row per metric, a column per policy; whole numbers without decimals
    assert re.search(r"<th>metric</th>\s*<th>round_robin</th>\s*<th>first_to_claim</th>",
                     html)
    leads = summary.groupby("policy", sort=False)["leads"].mean()
    assert all(v.is_integer() for v in leads)
    assert re.search(r"<td>leads</td>\s*" + r"\s*".join(f"<td>{v:,.0f}</td>" for v in leads),
                     html)


def test_the_same_seed_writes_identical_data_files(app, first_run, tmp_path):
    """Byte-identical summary, comparison, events and history for the same seed."""
    assert _simulate(app, tmp_path).exit_code == 0
    assert _digest(tmp_path) == _digest(first_run)


def test_history_is_in_the_format_the_scoring_model_reads(first_run):
    """history.csv loads with the scoring model's own history reader, against the roster."""
    history = pytest.importorskip("engine.scoring.history")
    from engine.io import load_roster
    from engine.roster import Roster

    loaded = history.load_history(first_run / "history.csv",
                                  Roster(load_roster(DATA / "small_officers.csv")))
    assert len(loaded) > 500
    assert set(loaded.ignored_columns) == {"true_p_funded", "replication", "simulated_policy"}


def test_unknown_policy_and_bad_scenario_exit_with_a_message(app, tmp_path):
    """A name that is neither built in nor a file, and a broken scenario, exit 2 and say
    what is wrong."""
    result = CliRunner().invoke(app, ["simulate", "--scenario", str(DATA / "small.yaml"),
                                      "--policy", "fastest", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown policy 'fastest'" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {DATA / 'small.yaml'}\nworld: {{response: {{median_s: 0}}}}\n")
    result = CliRunner().invoke(app, ["simulate", "--scenario", str(bad), "--policy",
                                      "rules", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "world.response.median_s: must be > 0" in result.output


def test_a_policy_file_can_be_simulated(app, tmp_path):
    """A policy YAML path works like a built-in name."""
    result = CliRunner().invoke(app, [
        "simulate", "--scenario", str(DATA / "small.yaml"), "--policy",
        str(policy_table.BUILTINS["weighted_round_robin"].path), "--replications", "1",
        "--out", str(tmp_path), "--no-events", "--no-history", "--no-report"])
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "summary.csv")["policy"]) == {"weighted_round_robin"}
    assert not (tmp_path / "events.parquet").exists()


@pytest.mark.slow
def test_sweep_runs_a_grid_on_a_local_dask_cluster(app, tmp_path):
    """Two SLA values of one policy, two replications, on a one-worker local cluster."""
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"scenarios: [{DATA / 'small.yaml'}]\npolicies: [rules]\n"
                    "params:\n  routing.offer.accept_within_s: [600, 1800]\n"
                    "replications: 2\nseed: 3\n")
    result = CliRunner().invoke(app, ["sweep", "--grid", str(grid), "--out", str(tmp_path),
                                      "--workers", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(tmp_path / "sweep.csv")
    assert len(rows) == 4
    assert set(rows["variant"]) == {"rules[accept_within_s=600]", "rules[accept_within_s=1800]"}
    means = pd.read_csv(tmp_path / "sweep_means.csv")
    assert len(means) == 2 and (means["replications"] == 2).all()


def test_an_out_that_cannot_take_files_is_refused_before_any_work(app, tmp_path, monkeypatch):
    """``--out`` naming a file, or a folder under one, exits 2 at once, for both commands:
    nothing is simulated only to be lost at the end."""
    import simulator.runner

    def never(*args, **kwargs):  # the run must not start
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(simulator.runner, "run_experiment", never)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for out, says in ((a_file, "is a file"), (a_file / "sub", "cannot be written")):
        result = _simulate(app, out)
        assert result.exit_code == 2 and f"--out {out}: {says}" in result.output
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"scenarios: [{DATA / 'small.yaml'}]\npolicies: [rules]\n")
    result = CliRunner().invoke(app, ["sweep", "--grid", str(grid), "--out", str(a_file),
                                      "--no-progress"])
    assert result.exit_code == 2 and "is a file" in result.output


@pytest.mark.parametrize("body, says", [
    ("scenarios: [{small}, {broken}]\npolicies: [rules]\n",
     "scenarios[1]: {broken}: days: must be > 0"),
    ("scenarios: [{small}]\npolicies: [rules]\nparams: {{routing.offer.accept_within_s: []}}\n",
     "params.routing.offer.accept_within_s: List should have at least 1 item"),
    ("scenarios: [{small}]\npolicies: [rules]\nseed: -1\n",
     "seed: Input should be greater than or equal to 0"),
])
def test_a_grid_is_checked_whole_before_dask_starts(tmp_path, body, says):
    """A scenario file that exists but does not validate, an empty parameter list and a
    negative seed are grid errors at load, with the grid file and the key."""
    from simulator.errors import ScenarioError
    from simulator.sweep import load_grid

    broken = tmp_path / "broken.yaml"
    broken.write_text(f"extends: {DATA / 'small.yaml'}\ndays: -1\n")
    grid = tmp_path / "grid.yaml"
    grid.write_text(body.format(small=DATA / "small.yaml", broken=broken))
    with pytest.raises(ScenarioError) as err:
        load_grid(grid)
    assert says.format(broken=broken) in str(err.value) and "grid.yaml" in str(err.value)


def test_grid_labels_are_unique(tmp_path):
    """Two scenario files that share a ``scenario:`` name, a policy given twice and two
    parameters whose paths end alike each get their own label, so means never mix them."""
    from simulator.sweep import load_grid

    other = tmp_path / "other.yaml"
    other.write_text(f"extends: {DATA / 'small.yaml'}\nstream: {{leads_per_day: 20}}\n")
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"scenarios: [{DATA / 'small.yaml'}, {other}]\n"
                    "policies: [round_robin, round_robin]\n"
                    "params: {routing.offer.accept_within_s: [600], "
                    "else.offer.accept_within_s: [300], routing.seed: [1]}\n")
    g = load_grid(grid)
    assert len(set(g.labels)) == 2 and g.labels[1] == g.labels[0] + "#2"
    labels = [v.label for v in g.variants]
    assert len(set(labels)) == 2 and labels[1] == labels[0] + "#2"
    assert "routing.offer.accept_within_s=600" in labels[0]
    assert "else.offer.accept_within_s=300" in labels[0] and "seed=1" in labels[0]


def test_a_replay_says_which_rows_it_left_out(app, tmp_path, small_scenario):
    """Replaying a leads file with a bad row: the run goes on, stderr counts and shows the
    row left out, OUT/dropped_rows.txt lists it; a window with no valid lead exits 2."""
    import csv

    import numpy as np

    from simulator.streams import ROUTE_COLUMNS, lead_row, synthetic_stream

    stream = synthetic_stream(small_scenario.stream, start=small_scenario.start, days=1,
                              timezone=small_scenario.timezone, default_states=["TX", "FL"],
                              rng=np.random.default_rng(1))
    rows = [lead_row(lead) for lead in stream.leads[:40]]
    rows.append({**rows[0], "lead_id": "BAD", "zip": "00000"})
    with open(tmp_path / "leads.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=ROUTE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    scenario = tmp_path / "replay.yaml"
    scenario.write_text(f"extends: {DATA / 'small.yaml'}\ndays: 1\n"
                        "stream: {kind: replay, path: leads.csv}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", "--scenario", str(scenario), "--policy",
                                      "round_robin", "--replications", "1", "--out", str(out),
                                      "--no-progress", "--no-report"])
    assert result.exit_code == 0, result.output
    assert "1 row(s) of" in result.output and "zip='00000'" in result.output
    assert "row 42" in (out / "dropped_rows.txt").read_text()
    assert pd.read_csv(out / "summary.csv")["leads"].iloc[0] == 40
    early = tmp_path / "early.yaml"
    early.write_text(f"extends: {scenario}\nstart: 2024-01-02T00:00:00-05:00\n")
    result = CliRunner().invoke(app, ["simulate", "--scenario", str(early), "--policy",
                                      "round_robin", "--out", str(out), "--no-progress"])
    assert result.exit_code == 2 and "has no valid lead" in result.output


def test_a_rerun_into_the_same_folder_leaves_no_file_of_the_last_run(app, tmp_path):
    """Run with every file, then again without events, history and report: only this run's
    files are left."""
    assert _simulate(app, tmp_path).exit_code == 0
    assert (tmp_path / "events.parquet").exists()
    result = _simulate(app, tmp_path, "--no-events", "--no-history", "--no-report")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.csv", "summary.csv"]


def test_simulate_files_neutralize_spreadsheet_formulas(app, tmp_path, small_scenario):
    """Text cells that a spreadsheet would run as a formula (= + - @) are written with a
    leading quote in history.csv and dropped_rows.txt; numbers stay numbers."""
    import csv

    import numpy as np

    from simulator.streams import ROUTE_COLUMNS, lead_row, synthetic_stream

    stream = synthetic_stream(small_scenario.stream, start=small_scenario.start, days=1,
                              timezone=small_scenario.timezone, default_states=["TX", "FL"],
                              rng=np.random.default_rng(1))
    rows = [lead_row(lead) for lead in stream.leads[:30]]
    rows[0].update(lead_id='=HYPERLINK("http://x.example","y")', first_name="@SUM(A1)")
    rows.append({**rows[1], "lead_id": "BAD", "zip": "00000"})
    leads = tmp_path / "-leads.csv"  # the dropped rows' lines begin with the file name
    with open(leads, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=ROUTE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    scenario = tmp_path / "replay.yaml"
    scenario.write_text(f"extends: {DATA / 'small.yaml'}\ndays: 1\n"
                        "stream: {kind: replay, path: '-leads.csv'}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", "--scenario", str(scenario), "--policy",
                                      "round_robin", "--replications", "1", "--out", str(out),
                                      "--no-progress", "--no-report", "--no-events"])
    assert result.exit_code == 0, result.output
    with open(out / "history.csv", newline="") as fh:
        history = list(csv.DictReader(fh))
    first = next(r for r in history if "HYPERLINK" in r["lead_id"])
    assert first["lead_id"].startswith("'=HYPERLINK(") and first["first_name"] == "'@SUM(A1)"
    assert all(r["phone"].startswith("'+1") for r in history if r["phone"])
    assert all(not r[c].startswith(("=", "+", "-", "@")) for r in history for c in r)
    assert pd.read_csv(out / "history.csv")["propensity"].dtype == float
    assert (out / "dropped_rows.txt").read_text().startswith("'-leads.csv row 32: ")


def test_workers_choose_the_cores_and_write_the_same_files(app, first_run, tmp_path):
    """``--workers`` (tests/simulator/test_parallel.py runs replications in workers; a run
    this short stays in process) writes the same files; fewer than one is refused."""
    result = _simulate(app, tmp_path, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert _digest(tmp_path) == _digest(first_run)
    result = _simulate(app, tmp_path / "none", "--workers", "0")
    assert result.exit_code == 2 and "--workers" in result.output
