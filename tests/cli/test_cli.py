"""The ``leadroute`` command line: help, ``route`` on files, ``policy check`` and ``schema``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from cli.main import app
from cli.route import OUTPUT_COLUMNS
from engine.io import load_roster
from engine.rules import policy_json_schema
from tests.conftest import DATA, lead_row, officer_row, write_csv

DEMO_LEADS = DATA / "demo" / "leads.csv"
DEMO_OFFICERS = DATA / "demo" / "officers.csv"
DEFAULT_POLICY = DATA / "policies" / "default.yaml"
DOCUMENTED_COLUMNS = ("lead_id", "officer_id", "status", "reason", "state", "county_fips",
                      "is_jumbo", "explanation")


def run(*args: Any) -> Result:
    """Invoke the CLI; whatever happens, no traceback may reach the user."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def fails(*args: Any) -> str:
    """Invoke the CLI expecting a usage or input error (exit 2); return its stderr."""
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    return result.stderr


def read_out(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture
def officers_csv(tmp_path) -> Path:
    """One Texas officer working Mon-Fri 08:00-17:00 Chicago time, and one in California."""
    return write_csv(tmp_path / "officers.csv", [
        officer_row("A", work_hours="Mon-Fri 08:00-17:00"),
        officer_row("CA", licensed_states="CA", timezone="America/Los_Angeles"),
    ])


# ---------------------------------------------------------------- help


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of a (typer or click) command tree, the root included."""
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*prefix, name))
    return paths


ALL_COMMANDS = command_paths(typer.main.get_command(app))


def test_cli_command_tree_has_the_documented_commands():
    """route, policy check and policy schema are all there (the help test walks this tree)."""
    assert {(), ("route",), ("policy",), ("policy", "check"), ("policy", "schema")} <= set(
        ALL_COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "leadroute")
def test_cli_help_works_on_every_command(path):
    """``--help`` on the app and on every command and subcommand exits 0 with usage text."""
    result = run(*path, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert " ".join(path) in result.output


# ---------------------------------------------------------------- route


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Result, list[str], list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("demo") / "routed.csv"
    result = run("route", DEMO_LEADS, "--officers", DEMO_OFFICERS, "--policy", DEFAULT_POLICY,
                 "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    header, rows = read_out(out)
    return result, header, rows


def test_route_demo_writes_one_row_per_lead_with_documented_columns(demo_run):
    """Routing the demo files writes the documented columns and one row per lead, in file
    order."""
    result, header, rows = demo_run
    assert tuple(header) == DOCUMENTED_COLUMNS == OUTPUT_COLUMNS
    with open(DEMO_LEADS, newline="") as fh:
        lead_ids = [row["lead_id"] for row in csv.DictReader(fh)]
    assert [row["lead_id"] for row in rows] == lead_ids
    assert f"routed {len(lead_ids)} leads" in result.stderr


def test_route_demo_rows_are_consistent(demo_run):
    """Each row's status, officer, place and explanation agree; an assigned officer is on the
    roster and licensed in the lead's state."""
    _, _, rows = demo_run
    licensed = {o.officer_id: {lic.state for lic in o.licenses}
                for o in load_roster(DEMO_OFFICERS)}
    statuses = {row["status"] for row in rows}
    assert "assigned" in statuses
    assert statuses <= {"assigned", "offered", "held", "unassigned"}
    for row in rows:
        explanation = json.loads(row["explanation"])
        assert explanation["status"] == row["status"]
        assert explanation["policy"] == "default" and explanation["version"] == "1"
        assert len(row["state"]) == 2 and len(row["county_fips"]) in (0, 5)
        assert row["is_jumbo"] in ("true", "false", "")
        if row["status"] == "assigned":
            assert row["state"] in licensed[row["officer_id"]]
            assert explanation["offer"]["officer_ids"] == [row["officer_id"]]
        else:
            assert row["officer_id"] == ""


def test_route_bad_rows_rejected_others_still_route(tmp_path, officers_csv):
    """Rows that fail validation are written as rejected with a reason naming the field, the
    row and a masked personal value; the other rows are still routed (assigned or held)."""
    leads = write_csv(tmp_path / "leads.csv", [
        lead_row("L1"),  # Tuesday 09:00 in Chicago: A is working
        lead_row("L2", zip="00000"),
        lead_row("L3", received_at="2025-03-04T03:00:00+00:00"),  # Monday 21:00: A is off
        lead_row("L4", email="jane.roe@example", phone=""),
        lead_row("L5", loan_amount="-100", language="klingon"),
    ])
    out = tmp_path / "out" / "routed.csv"
    result = run("route", leads, "--officers", officers_csv, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    _, rows = read_out(out)
    assert [(r["lead_id"], r["status"], r["officer_id"]) for r in rows] == [
        ("L1", "assigned", "A"), ("L2", "rejected", ""), ("L3", "held", ""),
        ("L4", "rejected", ""), ("L5", "rejected", "")]
    reasons = {r["lead_id"]: r["reason"] for r in rows}
    assert reasons["L2"].startswith("leads.csv row 3: zip='00000': is not a known US ZIP code")
    assert reasons["L4"].startswith("leads.csv row 5: email=j*")
    assert "jane.roe@example" not in reasons["L4"]
    assert "loan_amount='-100'" in reasons["L5"] and "language='klingon'" in reasons["L5"]
    held = json.loads(rows[2]["explanation"])
    assert held["hold_until"] == "2025-03-04T14:00:00+00:00"  # Tuesday 08:00 in Chicago
    assert "assigned 1, held 1, rejected 3" in result.stderr


def test_route_ignores_protected_columns_and_says_so(tmp_path, officers_csv):
    """Protected-characteristic columns in a leads file are named as ignored in the summary."""
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1", race="x", applicant_age="40")])
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers_csv, "--out", out, "--no-progress")
    assert result.exit_code == 0
    assert "ignored protected-characteristic columns (never used for routing): race, " \
           "applicant_age" in result.stderr


def test_route_broadcast_offers_and_carries_rotation(tmp_path):
    """With a broadcast offer every lead is offered; the batch counts the first officer as
    having accepted, so the rotation moves on to the other officer for the next lead."""
    officers = write_csv(tmp_path / "officers.csv", [officer_row("A"), officer_row("B")])
    policy = tmp_path / "broadcast.yaml"
    policy.write_text(DEFAULT_POLICY.read_text().replace(
        "offer: {mode: assign, accept_within_s: 900}",
        "offer: {mode: broadcast, max_officers: 2, accept_within_s: 900}"))
    leads = write_csv(tmp_path / "leads.csv", [
        lead_row("L1"), lead_row("L2", received_at="2025-03-04T15:05:00+00:00")])
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers, "--policy", policy, "--out", out,
                 "--no-progress")
    assert result.exit_code == 0, result.output
    _, rows = read_out(out)
    assert [r["status"] for r in rows] == ["offered", "offered"]
    firsts = [json.loads(r["explanation"])["offer"]["officer_ids"] for r in rows]
    assert all(sorted(f) == ["A", "B"] for f in firsts)
    assert firsts[0][0] != firsts[1][0]


def test_route_escalation_says_when_each_next_officer_is_offered(tmp_path):
    """An escalating offer lists the officers in order with step_s, so whoever acts on the
    row knows when to notify the next one."""
    officers = write_csv(tmp_path / "officers.csv", [officer_row("A"), officer_row("B")])
    policy = tmp_path / "escalate.yaml"
    policy.write_text(DEFAULT_POLICY.read_text().replace(
        "offer: {mode: assign, accept_within_s: 900}",
        "offer: {mode: escalate, max_officers: 2, step_s: 120, accept_within_s: 900}"))
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers, "--policy", policy, "--out", out,
                 "--no-progress")
    assert result.exit_code == 0, result.output
    _, rows = read_out(out)
    offer = json.loads(rows[0]["explanation"])["offer"]
    assert rows[0]["status"] == "offered"
    assert offer["mode"] == "escalate" and offer["step_s"] == 120
    assert sorted(offer["officer_ids"]) == ["A", "B"]


def test_route_explain_summary_counts_unlicensed(tmp_path, officers_csv):
    """``--explain summary`` counts officers not licensed in the state instead of listing."""
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers_csv, "--out", out, "--no-progress",
                 "--explain", "summary")
    assert result.exit_code == 0
    _, rows = read_out(out)
    step = json.loads(rows[0]["explanation"])["steps"][0]
    assert step["excluded"] == {"not_licensed": 1}


# ---------------------------------------------------------------- route: refused input


def test_route_missing_lead_column_exits_2_naming_it(tmp_path, officers_csv):
    """A leads file without required columns exits 2 naming them, and writes nothing."""
    header = [c for c in lead_row() if c not in ("zip", "loan_amount")]
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")], header=header)
    out = tmp_path / "routed.csv"
    err = fails("route", leads, "--officers", officers_csv, "--out", out)
    assert "leads.csv row 1: columns='zip, loan_amount': required lead columns are missing" in err
    assert not out.exists()


@pytest.mark.parametrize(("rows", "message"), [
    ([officer_row("A"), officer_row("B", weight="0")],
     "officers.csv row 3: weight='0': expected a positive number"),
    ([officer_row("A"), officer_row("B", licensed_states="TX;XX")],
     "officers.csv row 3: licensed_states='XX': is not a US state"),
    ([officer_row("A"), officer_row("A")], "officers.csv row 3: officer_id='A': duplicates"),
    ([officer_row("A", backup_officer_id="Z")],
     "officers.csv row 2: backup_officer_id='Z': is not another officer"),
])
def test_route_bad_roster_exits_2_naming_file_row_column(tmp_path, rows, message):
    """A bad roster exits 2 with file, row and column of the problem."""
    officers = write_csv(tmp_path / "officers.csv", rows)
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    assert message in fails("route", leads, "--officers", officers, "--out",
                            tmp_path / "routed.csv")


def test_route_roster_missing_column_exits_2_naming_it(tmp_path):
    """A roster without a required column exits 2 naming the file and column."""
    row = officer_row("A")
    header = [c for c in row if c != "timezone"]
    officers = write_csv(tmp_path / "officers.csv", [row], header=header)
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    err = fails("route", leads, "--officers", officers, "--out", tmp_path / "routed.csv")
    assert "officers.csv row 1: columns='timezone': required officer columns are missing" in err


def test_route_bad_policy_exits_2_with_yaml_path(tmp_path, officers_csv):
    """A bad policy exits 2 with the policy file and the YAML path."""
    policy = tmp_path / "bad.yaml"
    policy.write_text(DEFAULT_POLICY.read_text().replace("{pool: main}", "{pool: mian}"))
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    err = fails("route", leads, "--officers", officers_csv, "--policy", policy, "--out",
                tmp_path / "routed.csv")
    assert f"{policy}: else.pool: unknown pool 'mian'" in err


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot be read"),
    (b"lead_id,received_\xe0t\nL1,Jos\xe9\n",
     "leads.csv row 1: header='received_\ufffdt': has bytes that are not UTF-8 (0xE0)"),
    (b"", "required lead columns are missing"),
])
def test_route_unreadable_leads_file_exits_2(tmp_path, officers_csv, content, message):
    """A missing, non-UTF-8 or empty leads file exits 2 naming the file."""
    leads = tmp_path / "leads.csv"
    if content is not None:
        leads.write_bytes(content)
    err = fails("route", leads, "--officers", officers_csv, "--out", tmp_path / "routed.csv")
    assert "leads.csv" in err and message in err


@pytest.mark.parametrize(("out", "message"), [
    (".", "cannot be written: Is a directory"),
    ("leads.csv/routed.csv", "cannot be written"),
])
def test_route_unwritable_out_exits_2(tmp_path, officers_csv, out, message):
    """An output path that cannot be written (a directory, under a file) exits 2 naming it."""
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    err = fails("route", leads, "--officers", officers_csv, "--out", tmp_path / out)
    assert f"out='{tmp_path / out}'" in err and message in err


def test_route_bad_explain_option_exits_2(tmp_path, officers_csv):
    """``--explain`` other than full or summary exits 2 naming the value."""
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    err = fails("route", leads, "--officers", officers_csv, "--explain", "verbose")
    assert "--explain must be full or summary, got 'verbose'" in err


# ---------------------------------------------------------------- policy


def test_policy_check_default_ok():
    """``policy check`` on the shipped policy exits 0 and summarises it."""
    result = run("policy", "check", DEFAULT_POLICY)
    assert result.exit_code == 0
    assert result.stdout.strip() == (f"{DEFAULT_POLICY}: policy 'default' version 1: 4 rules, "
                                     "4 pools, method weighted_round_robin: OK")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("field: is_jumbo", "field: applicant_race", "rules[2].if.field: 'applicant_race' is a "
                                                  "protected characteristic (race)"),
    ("method: weighted_round_robin", "method: lottery", "routing.method: unknown method"),
    ("fallback: [main], priority: high}\n\n  - name: reverse",
     "fallback: [nope], priority: high}\n\n  - name: reverse",
     "rules[0].then.fallback[0].pool: unknown pool 'nope'"),
    ("pools:\n", "pools:\n  main: {everyone: true}\n", "line 18 column 3: not valid YAML: "
                                                        "found duplicate key 'main'"),
    ("else: {pool: main}", "else: {pool: main", "not valid YAML"),
])
def test_policy_check_failing_exits_2_with_path(tmp_path, old, new, message):
    """``policy check`` on a bad file exits 2 with the file and the YAML path or line."""
    text = DEFAULT_POLICY.read_text()
    assert old in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new, 1))
    err = fails("policy", "check", path)
    assert err.startswith(f"error: {path}: ")
    assert message in err


def test_policy_check_missing_file_exits_2(tmp_path):
    """``policy check`` on a missing file exits 2 naming it."""
    path = tmp_path / "nope.yaml"
    assert f"{path}: (file): cannot read policy file" in fails("policy", "check", path)


def test_policy_schema_unwritable_out_exits_2(tmp_path):
    """``policy schema --out`` into a missing directory exits 2 naming the path."""
    assert "missing" in fails("policy", "schema", "--out", tmp_path / "missing" / "s.json")


def test_policy_schema_out_writes_json(tmp_path):
    """``policy schema --out`` writes the JSON Schema; without it, the schema goes to stdout."""
    out = tmp_path / "policy.schema.json"
    result = run("policy", "schema", "--out", out)
    assert result.exit_code == 0
    assert json.loads(out.read_text()) == policy_json_schema()
    printed = run("policy", "schema")
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == policy_json_schema()


def test_route_rejects_a_repeated_lead_id(tmp_path):
    """A lead id seen before in the file is rejected, naming the earlier row; the first routes."""
    with open(DATA / "demo" / "leads.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:3]
    rows.append(dict(rows[1]))
    leads = tmp_path / "leads.csv"
    with open(leads, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "out.csv"
    result = run("route", "--officers", DATA / "demo" / "officers.csv", "--out", out, leads)
    assert result.exit_code == 0
    with open(out, newline="") as fh:
        got = list(csv.DictReader(fh))
    assert [r["status"] == "rejected" for r in got] == [False, False, False, True]
    assert "duplicates the lead on row 3" in got[3]["reason"]


@pytest.mark.parametrize("method", ["greedy", "dual_price", "batch_optimal"])
def test_route_with_a_scoring_method_and_model(method, small_model, tmp_path):
    """Scoring methods route the demo file with --model; every assignment carries scores."""
    policy = tmp_path / "p.yaml"
    params = "{window_s: 300}" if method == "batch_optimal" else \
        "{reprice_every_s: 3600, horizon_s: 86400}" if method == "dual_price" else "{}"
    policy.write_text(f"policy: {method}\nversion: 1\nrouting: {{method: {method}, "
                      f"params: {params}}}\npools: {{main: {{everyone: true}}}}\n"
                      "else: {pool: main}\n")
    out = tmp_path / "out.csv"
    result = run("route", "--officers", DATA / "demo" / "officers.csv", "--policy", policy,
                 "--model", small_model, "--out", out, DATA / "demo" / "leads.csv")
    assert result.exit_code == 0, result.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assigned = [r for r in rows if r["status"] == "assigned"]
    assert len(assigned) > len(rows) / 2
    for r in assigned[:50]:
        ex = json.loads(r["explanation"])
        assert ex["method"] == method and ex["steps"][-1]["scores"]


def test_route_scoring_method_without_model_exits_2(tmp_path):
    """A scoring method with no model is refused before routing, saying what to give."""
    policy = tmp_path / "p.yaml"
    policy.write_text("policy: g\nversion: 1\nrouting: {method: greedy}\n"
                      "pools: {main: {everyone: true}}\nelse: {pool: main}\n")
    message = fails("route", "--officers", DATA / "demo" / "officers.csv", "--policy", policy,
                    "--out", tmp_path / "o.csv", DATA / "demo" / "leads.csv")
    assert "--model" in message


def test_route_masks_contact_details_in_every_message(tmp_path, officers_csv):
    """A lead id that is an email address, or a phone number under another column, is masked
    in the rejected rows' reasons and on stderr."""
    leads = write_csv(tmp_path / "leads.csv", [
        lead_row("pat.doe@example.com"), lead_row("pat.doe@example.com"),
        lead_row("L3", zip="(312) 555-0134", loan_purpose="pat.doe@example.com"),
    ])
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers_csv, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    _, rows = read_out(out)
    assert [r["status"] for r in rows][1:] == ["rejected", "rejected"]
    assert "duplicates the lead on row 2" in rows[1]["reason"]
    messages = rows[1]["reason"] + rows[2]["reason"] + result.output
    assert "doe@example.com" not in messages and "555-0134" not in messages


def test_route_roster_problem_masks_a_shifted_phone(tmp_path):
    """A roster row whose phone number landed in another column is refused without showing
    the number."""
    officers = write_csv(tmp_path / "officers.csv", [
        officer_row("A", timezone="+1 312 555 0134", email="lo.a@lender.example.com",
                    notify="lo.a@lender.example.com")])
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    err = fails("route", leads, "--officers", officers, "--out", tmp_path / "routed.csv")
    assert "officers.csv row 2: timezone=" in err
    assert "555 0134" not in err and "lo.a@lender" not in err


# ---------------------------------------------------------------- route: every row comes out


def _lead_lines(n: int) -> list[str]:
    """Header and ``n`` valid lead rows as CSV lines, lead_id first (lead ids L1..Ln on rows
    2..n+1, a minute apart)."""
    header = ["lead_id", *(c for c in lead_row() if c != "lead_id")]
    lines = [",".join(header)]
    for i in range(1, n + 1):
        row = lead_row(f"L{i}", received_at=f"2025-03-04T15:{i % 60:02d}:00+00:00")
        lines.append(",".join(f'"{row[c]}"' if "," in row[c] else row[c] for c in header))
    return lines


def _route_lines(tmp_path: Path, officers: Path, lines: list[str] | bytes
                 ) -> tuple[Result, list[dict[str, str]]]:
    leads = tmp_path / "leads.csv"
    if isinstance(lines, bytes):
        leads.write_bytes(lines)
    else:
        leads.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    return result, read_out(out)[1]


def test_route_unterminated_quote_rejects_its_row_and_routes_the_rest(tmp_path, officers_csv):
    """A quote opened on row 3 of a 1,000-row file and never closed rejects row 3, naming the
    column and line where it opens; the 999 other rows all come out, routed."""
    lines = _lead_lines(1000)
    lines[2] = lines[2].replace(",Pat,", ',"Pat,', 1)
    result, rows = _route_lines(tmp_path, officers_csv, lines)
    assert [r["lead_id"] for r in rows] == [f"L{i}" for i in range(1, 1001)]
    assert rows[1]["status"] == "rejected"
    assert rows[1]["reason"].startswith("leads.csv row 3: first_name=")
    assert "opens a quoted value (line 3 of the file) that is never closed" in rows[1]["reason"]
    assert all(r["status"] != "rejected" for i, r in enumerate(rows) if i != 1)
    assert "routed 1000 leads" in result.stderr and "rejected 1;" in result.stderr


def test_route_quote_closed_rows_later_loses_no_row(tmp_path, officers_csv):
    """A stray quote that pairs with a quote several rows down rejects its own row only; the
    rows in between are read as rows, not as one long value."""
    lines = _lead_lines(8)
    lines[2] = lines[2].replace(",Pat,", ',"Pat,', 1)
    lines[6] = lines[6].replace(",Pat,", ',"Pat, Jr.",', 1)
    _, rows = _route_lines(tmp_path, officers_csv, lines)
    assert [r["lead_id"] for r in rows] == [f"L{i}" for i in range(1, 9)]
    assert [r["status"] == "rejected" for r in rows] == [False, True] + [False] * 6
    assert "runs over 5 lines" in rows[1]["reason"]


@pytest.mark.parametrize(("change", "row", "message"), [
    (lambda ls: ls.__setitem__(2, ls[2].replace("Pat", "x" * 131_073)), 3,
     "leads.csv row 3: first_name=1********: is longer than 65,536 characters"),
    (lambda ls: ls.__setitem__(3, ls[3].replace("web_form", "web_form," + "y" * 200_000)), 4,
     "leads.csv row 4: values=16: expected 15"),
    (lambda ls: ls.__setitem__(2, ls[2].replace(",Pat,Doe,", ",Doe, Pat,Roe,")), 3,
     "leads.csv row 3: values=16: expected 15, one for each column of the header: a comma "
     "inside a value that is not quoted?"),
    (lambda ls: ls.__setitem__(4, ls[4].replace(",Pat,Doe,", ",Pat Doe,")), 5,
     "leads.csv row 5: values=14: expected 15"),
])
def test_route_malformed_row_is_rejected_alone(tmp_path, officers_csv, change, row, message):
    """A value over the length limit, or more or fewer values than the header has columns,
    rejects that row, naming row and column; the others route."""
    lines = _lead_lines(5)
    change(lines)
    _, rows = _route_lines(tmp_path, officers_csv, lines)
    assert [r["lead_id"] for r in rows] == [f"L{i}" for i in range(1, 6)]
    rejected = [i + 2 for i, r in enumerate(rows) if r["status"] == "rejected"]  # file rows
    assert rejected == [row]
    assert rows[row - 2]["reason"].startswith(message)


def test_route_non_utf8_byte_rejects_its_row_only(tmp_path, officers_csv):
    """A byte that is not UTF-8 rejects the row it is on, naming row, column and byte; the
    other rows route."""
    lines = [line.encode() for line in _lead_lines(4)]
    lines[3] = lines[3].replace(b",Pat,", b",Jos\xe9,")
    _, rows = _route_lines(tmp_path, officers_csv, b"\n".join(lines) + b"\n")
    assert [r["status"] == "rejected" for r in rows] == [False, False, True, False]
    assert rows[2]["lead_id"] == "L3"
    assert rows[2]["reason"].startswith("leads.csv row 4: first_name=J***: has bytes that are "
                                        "not UTF-8 (0xE9)")


def test_route_repeated_header_column_is_refused_naming_it(tmp_path, officers_csv):
    """A column named twice in the header refuses the file, naming the column."""
    lines = _lead_lines(2)
    lines[0] += ",zip"
    lines[1:] = [line + ",75201" for line in lines[1:]]
    leads = tmp_path / "leads.csv"
    leads.write_text("\n".join(lines) + "\n")
    err = fails("route", leads, "--officers", officers_csv, "--out", tmp_path / "o.csv")
    assert "leads.csv row 1: columns='zip': is named twice in the header (columns 8 and 16)" in err


def test_route_roster_row_with_an_unquoted_comma_is_refused_naming_the_row(tmp_path):
    """A roster row with more values than the header is refused with file and row, and the
    values that shifted are not shown."""
    officers = write_csv(tmp_path / "officers.csv", [officer_row("A"), officer_row("B")])
    lines = officers.read_text().splitlines()
    lines[2] = lines[2].replace("Officer,", "Doe, Jane,", 1)
    officers.write_text("\n".join(lines) + "\n")
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    err = fails("route", leads, "--officers", officers, "--out", tmp_path / "o.csv")
    assert "officers.csv row 3: values=18: expected 17" in err
    assert "Jane" not in err


@pytest.mark.parametrize(("fields", "message"), [
    ({"received_at": "9999-12-31T23:00:00-05:00"},
     "leads.csv row 3: received_at='9999-12-31T23:00:00-05:00': year 9999 is outside 1970 to "
     "2200"),
    ({"received_at": "0001-01-01T00:00:00+05:00"}, "received_at='0001-01-01T00:00:00+05:00': "
                                                    "year 1 is outside 1970 to 2200"),
    ({"received_at": "0025-03-04T15:00:00+00:00"}, "year 25 is outside 1970 to 2200"),
    ({"loan_amount": "350,0,0,0"}, "loan_amount='350,0,0,0': expected a dollar amount"),
    ({"loan_amount": "1e300"}, "loan_amount='1e300': expected a dollar amount"),
    ({"property_value": "1_000_000"}, "property_value='1_000_000': expected a dollar amount"),
    ({"loan_amount": "\u0663\u0665\u0660\u0660\u0660\u0660"}, "expected a dollar amount"),
])
def test_route_implausible_value_rejects_its_row_not_the_batch(tmp_path, officers_csv, fields,
                                                               message):
    """A far-off year or an amount not written as dollars rejects its row with field, value
    and row; the rows around it route."""
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1"), lead_row("L2", **fields),
                                               lead_row("L3")])
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers_csv, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    _, rows = read_out(out)
    assert [r["status"] for r in rows] == ["assigned", "rejected", "assigned"]
    assert message in rows[1]["reason"]


def test_route_leads_and_time_off_at_the_ends_of_the_accepted_years_route(tmp_path):
    """Times at the edges of 1970 to 2200, in the farthest UTC offsets, with time off and
    license expiry at those edges too, route without error (every row out)."""
    officers = write_csv(tmp_path / "officers.csv", [
        officer_row("A", work_hours="Mon-Fri 08:00-17:00", licensed_states="TX:2200-12-31",
                    away="1970-01-01/1970-01-03;2200-12-01/2200-12-31"),
        officer_row("B", daily_cap="100000", hourly_cap="1", max_open="1")])
    leads = write_csv(tmp_path / "leads.csv", [
        lead_row("L1", received_at="1970-01-01T00:00:00+14:00"),
        lead_row("L2", received_at="2200-12-31T23:59:59-12:00"),
        lead_row("L3", received_at="1970-01-01T00:00:00-12:00"),
        lead_row("L4", received_at="2200-12-31T23:59:59+14:00")])
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    _, rows = read_out(out)
    assert [r["lead_id"] for r in rows] == ["L1", "L2", "L3", "L4"]
    assert all(r["status"] in ("assigned", "held") for r in rows)


@pytest.mark.parametrize(("text", "message"), [
    ("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
     "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
     "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
     "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
     "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
     "stands for more than 100,000 values once its aliases are expanded"),
    ("policy: t\nversion: 1\npools: {main: {everyone: true}}\nrules:\n  - &r\n    name: a\n"
     "    if: {not: *r}\n    then: {pool: main}\nelse: {pool: main}\n",
     "line 7 column 15: the alias *r refers to the node that contains it"),
    ("policy: t\nversion: 1\nrouting: {offer: {accept_within_s: .inf}}\n"
     "pools: {main: {everyone: true}}\nelse: {pool: main}\n",
     "routing.offer.accept_within_s: expected a finite number, got inf"),
])
def test_policy_check_hostile_policy_exits_2_quickly(tmp_path, text, message):
    """A policy of nested aliases (a "billion laughs"), one that contains itself, or an
    infinite SLA is refused at once with exit 2 and the place, not a traceback or minutes
    of work."""
    import time

    path = tmp_path / "p.yaml"
    path.write_text(text)
    started = time.perf_counter()
    err = fails("policy", "check", path)
    assert time.perf_counter() - started < 2.0
    assert message in err


def test_route_output_neutralizes_spreadsheet_formulas(tmp_path):
    """Lead ids, officer ids and rejected rows that begin with = + - @ (or a tab) are written
    with a leading quote, so a spreadsheet shows them instead of running them."""
    officers = write_csv(tmp_path / "officers.csv", [officer_row("@LO1")])
    leads = write_csv(tmp_path / "leads.csv", [
        lead_row('=HYPERLINK("http://x.example","click")'), lead_row("-2+3"),
        lead_row("+cmd|' /C calc'!A0", zip="00000"), lead_row("\t=1"), lead_row("L5")])
    out = tmp_path / "routed.csv"
    result = run("route", leads, "--officers", officers, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    _, rows = read_out(out)
    assert [r["lead_id"] for r in rows] == [
        "'=HYPERLINK(\"http://x.example\",\"click\")", "'-2+3", "'+cmd|' /C calc'!A0",
        "'=1", "L5"]  # ids are trimmed: the tab goes, the = stays
    assert rows[0]["officer_id"] == "'@LO1" and rows[2]["status"] == "rejected"
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows
               for v in r.values())


def _closers_policy(tmp_path: Path, ids: str) -> Path:
    """Jumbo loans to a pool of named closers, falling back to everyone."""
    policy = tmp_path / f"closers-{len(ids)}.yaml"
    policy.write_text(f"policy: closers\nversion: 1\npools:\n  main: {{everyone: true}}\n"
                      f"  closers: {{ids: [{ids}]}}\nrules:\n  - name: jumbo\n"
                      "    if: {field: is_jumbo, eq: true}\n"
                      "    then: {pool: closers, fallback: [main]}\nelse: {pool: main}\n")
    return policy


def test_route_warns_about_pools_off_the_roster(tmp_path, officers_csv):
    """Routing with a pool that names officer ids not on the roster warns on stderr naming the
    pool and the ids, and loudly when the pool selects nobody; the leads still route."""
    policy = _closers_policy(tmp_path, "A, LO9999, LO0000")
    leads = write_csv(tmp_path / "leads.csv", [lead_row("L1")])
    result = run("route", leads, "--officers", officers_csv, "--policy", policy, "--out",
                 tmp_path / "o.csv", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (f"warning: {policy}: pools.closers.ids: pool 'closers' names officer id(s) not on "
            "the roster: LO9999, LO0000") in result.stderr
    assert "selects NO officer" not in result.stderr
    nobody = _closers_policy(tmp_path, "LO9999")
    result = run("route", leads, "--officers", officers_csv, "--policy", nobody, "--out",
                 tmp_path / "o.csv", "--no-progress")
    assert result.exit_code == 0
    assert f"WARNING: {nobody}: pools.closers: pool 'closers' selects NO officer" in result.stderr


def test_policy_check_with_officers_reports_pools_off_the_roster(tmp_path, officers_csv):
    """``policy check --officers`` names pools whose officers are not on the roster (exit 1),
    says OK on a roster that covers every pool (exit 0), and refuses a bad roster (exit 2)."""
    policy = _closers_policy(tmp_path, "LO9999")
    result = run("policy", "check", policy, "--officers", officers_csv)
    assert result.exit_code == 1
    assert "pools.closers.ids: pool 'closers' names officer id(s) not on the roster: LO9999" \
        in result.stderr
    assert "pools.closers: pool 'closers' selects NO officer" in result.stderr
    assert result.stdout.strip().endswith(f"2 warning(s) on {officers_csv}")
    fine = run("policy", "check", _closers_policy(tmp_path, "A"), "--officers", officers_csv)
    assert fine.exit_code == 0 and fine.stdout.strip().endswith(f": OK on {officers_csv}")
    assert "weight='0'" in fails("policy", "check", policy, "--officers", write_csv(
        tmp_path / "bad.csv", [officer_row("A", weight="0")]))
