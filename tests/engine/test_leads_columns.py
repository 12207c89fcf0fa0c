"""Column-wise lead parsing (``LeadParser.parse_rows``) gives, row for row, what ``parse``
gives: an equal Lead with fields of the same types, or an InputError with the same problems
in the same order."""

from __future__ import annotations

import csv
import io
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.leads
from cli.route import route_file
from engine.domain import Contact, Lead
from engine.errors import InputError, Problem
from engine.io import read_csv
from engine.leads import CONSENT_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, LeadParser
from tests.conftest import LEAD_DEFAULTS
from tests.engine.test_hostile_input import TRICKY

PARSER = LeadParser.default()
DATA = Path(__file__).resolve().parents[2] / "data"

# Values each column may hold that pass (and some that do not), repeated across the rows of a
# batch so that a text checked once is read again.
VALID: dict[str, list[str]] = {
    "received_at": ["2025-03-04T15:00:00+00:00", "2025-03-04T10:15:00-05:00",
                    "2024-12-31T23:59:59Z", " 2025-03-09T03:30:00-04:00 ", "2025-03-04T15:00:00z"],
    "source": ["web_form", "Referral", " WEB "],
    "first_name": ["Pat", "", " Zoë "],
    "last_name": ["Doe", "O'Neil, Jr."],
    "email": ["pat@example.com", "Pat.Doe@Example.COM", "", "ü@example.com", "not-an-email"],
    "phone": ["(312) 555-0134", "", "+44 20 7946 0958", "1-312-555-0134", "555"],
    "zip": ["75201", "60614", "10001", "02134", "75201-1234", "00000", "6061"],
    "state": ["", "TX", "tx", "IL", "ZZ"],
    "county_fips": ["", "48113", "17031", "1703"],
    "loan_purpose": ["purchase", "Refinance", "cash-out refinance", "home equity", "refi"],
    "loan_program": ["conventional", "FHA", " va ", "non-qm", "jumbo"],
    "loan_amount": ["300000", "$350,000.00", "1,000,000", "800000", "0", "1e6"],
    "property_value": ["", "400000", "1,200,000.50", "-5"],
    "credit_score": ["", "720", "720.0", "300", "850", "851"],
    "language": ["", "en", "ES", "zh", "xx"],
    "is_veteran": ["", "true", "Y", "no", "maybe"],
    "first_time_buyer": ["", "yes", "0", "perhaps"],
    "campaign": ["", "spring", "=1+1"],
    "tcpa_text": ["", "I agree,\nto be called"],
    "consent_ip": ["", "203.0.113.7"],
    "broker_tier": ["gold", " x ", ""],
    "applicant_race": ["", "x"],  # a protected characteristic: dropped
    "": ["", "stray"],  # a column with no name
}
EXTRA = ("broker_tier", "applicant_race", "", "tcpa_text", "consent_ip")
WILD = st.one_of(st.sampled_from(TRICKY), st.text(max_size=16))


def same(column_wise: Lead | InputError, row_wise: Lead | InputError) -> bool:
    """Equal Leads whose fields (and contact's) have the same types, dicts in the same order;
    or InputErrors with the same problems in the same order."""
    if isinstance(row_wise, InputError):
        return isinstance(column_wise, InputError) and column_wise.problems == row_wise.problems
    if not isinstance(column_wise, Lead) or column_wise != row_wise:
        return False
    for a, b in ((column_wise, row_wise), (column_wise.contact, row_wise.contact)):
        for f in fields(a):  # type: ignore[arg-type]
            x, y = getattr(a, f.name), getattr(b, f.name)
            if type(x) is not type(y) or (isinstance(x, dict) and list(x.items()) != list(
                    y.items())):
                return False
    return True


def row_wise(rows: list[Any], wheres: list[str]) -> list[Lead | InputError]:
    out: list[Lead | InputError] = []
    for row, where in zip(rows, wheres, strict=True):
        try:
            out.append(PARSER.parse(row, where))
        except InputError as exc:
            out.append(exc)
    return out


def assert_same(rows: list[Any]) -> list[Lead | InputError]:
    wheres = [f"leads.csv row {i + 2}" for i in range(len(rows))]
    column_wise = PARSER.parse_rows(rows, wheres)
    expected = row_wise(rows, wheres)
    assert len(column_wise) == len(expected)
    for i, (got, want) in enumerate(zip(column_wise, expected, strict=True)):
        assert same(got, want), (i, rows[i], got, want)
    return column_wise


@st.composite
def batches(draw: Any) -> list[Any]:
    """Rows sharing a header (required columns, some optional, consent and custom ones, in
    any order), each value one of ``VALID``'s or, for a few columns a row, anything; now and
    then a row with other columns or a value that is not text."""
    known = [*REQUIRED_COLUMNS, *draw(st.lists(st.sampled_from(OPTIONAL_COLUMNS), unique=True)),
             *draw(st.lists(st.sampled_from(EXTRA), unique=True))]
    header = draw(st.permutations(known))
    rows: list[Any] = []
    for _ in range(draw(st.integers(1, 12))):
        row: dict[str, Any] = {c: draw(st.sampled_from(VALID.get(c, [""]))) for c in header}
        row["lead_id"] = draw(st.sampled_from(["L1", "L2", " L3 ", "", "=1+1", "L\x00"]))
        for column in draw(st.lists(st.sampled_from(header), max_size=3, unique=True)):
            row[column] = draw(WILD)
        odd = draw(st.integers(0, 19))
        if odd == 0:  # a column fewer
            row.pop(draw(st.sampled_from(header)))
        elif odd == 1:  # a column more
            row[draw(st.sampled_from([*CONSENT_COLUMNS, "state", "dob", "x"]))] = "1"
        elif odd == 2:  # a value that is not text, as a JSON body may hold
            row[draw(st.sampled_from(header))] = draw(st.sampled_from([None, 720, 1.5, True]))
        elif odd == 3:  # the same columns in another order
            row = dict(reversed(row.items()))
        rows.append(row)
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_parse_rows_matches_parse_row_by_row(rows):
    """Whatever the rows, each gets from parse_rows the Lead or the InputError parse gives."""
    assert_same(rows)


def test_parse_rows_reads_valid_rows_column_wise():
    """Valid rows that differ in every column come out as parse builds them, typed the same
    (a money amount a float, a credit score an int, a flag a bool, None where absent)."""
    rows = [dict(LEAD_DEFAULTS, lead_id=f"L{i}", **values) for i, values in enumerate([
        {},
        {"loan_amount": "$1,000,000.00", "property_value": "", "credit_score": "720.0"},
        {"zip": "60614", "state": "il", "county_fips": "17031", "language": "ES",
         "first_time_buyer": "y", "is_veteran": "1", "email": "", "broker_tier": " gold "},
        {"received_at": "2025-03-04T15:00:00z", "phone": "", "tcpa_text": "I agree,\nok"},
    ])]
    rows = [dict(row, **{c: row.get(c, "") for c in ("state", "county_fips", "first_time_buyer",
                                                      "broker_tier", "tcpa_text")})
            for row in rows]
    leads = assert_same(rows)
    assert all(isinstance(lead, Lead) for lead in leads)
    assert leads[1].loan_amount_usd == 1_000_000.0 and leads[1].property_value_usd is None
    assert leads[1].credit_score == 720 and type(leads[1].credit_score) is int
    assert leads[2].custom == {"broker_tier": " gold "}  # custom values kept as written
    assert leads[2].first_time_buyer is True and leads[0].first_time_buyer is None
    assert leads[3].consent == {"tcpa_text": "I agree,\nok"}


def test_parse_rows_gives_every_problem_of_a_row_in_parse_order():
    """A row with several problems gets them all, in the order parse reports them, with
    the place that was given for it."""
    rows = [dict(LEAD_DEFAULTS, lead_id="L1"),
            dict(LEAD_DEFAULTS, lead_id="", source="", email="x", zip="00000",
                 loan_amount="-5", language="xx", is_veteran="maybe"),
            dict(LEAD_DEFAULTS, lead_id="L\n3", loan_amount="1e6")]
    got = PARSER.parse_rows(rows, ["a row 2", "a row 3", "a row 4"])
    assert isinstance(got[0], Lead)
    assert isinstance(got[1], InputError) and isinstance(got[2], InputError)
    assert [p.field for p in got[1].problems] == [
        "lead_id", "source", "email", "zip", "loan_amount", "language", "is_veteran"]
    assert {p.where for p in got[1].problems} == {"a row 3"}
    assert [p.field for p in got[2].problems] == ["lead_id", "loan_amount"]
    assert "control character" in got[2].problems[0].message


def test_parse_rows_and_parse_share_the_field_checks(monkeypatch):
    """There is one definition of a valid value: a check changed changes both paths."""
    def no_spanish(raw: str, bad: Any) -> str:
        if raw.lower() == "es":
            bad("language", raw, "not today")
        return raw.lower() or "en"

    monkeypatch.setattr(engine.leads, "check_language", no_spanish)
    rows = [dict(LEAD_DEFAULTS, lead_id="L1", language="es"),
            dict(LEAD_DEFAULTS, lead_id="L2", language="en")]
    got = assert_same(rows)
    assert isinstance(got[0], InputError) and got[0].problems[0].message == "not today"
    assert isinstance(got[1], Lead)


def test_parse_rows_checks_each_distinct_text_once(monkeypatch):
    """A column's repeated texts are checked once per call, not once per row."""
    calls: list[str] = []
    check = engine.leads.check_received_at

    def counted(raw: str, bad: Any) -> Any:
        calls.append(raw)
        return check(raw, bad)

    monkeypatch.setattr(engine.leads, "check_received_at", counted)
    rows = [dict(LEAD_DEFAULTS, lead_id=f"L{i}") for i in range(50)]
    assert all(isinstance(lead, Lead) for lead in PARSER.parse_rows(rows, ["w"] * 50))
    assert calls == [LEAD_DEFAULTS["received_at"]]


def test_parse_rows_of_nothing_and_of_mismatched_places():
    """No rows, no leads; a place for each row is required."""
    assert PARSER.parse_rows([], []) == []
    with pytest.raises(ValueError, match="1 rows but 2 places"):
        PARSER.parse_rows([dict(LEAD_DEFAULTS, lead_id="L1")], ["a", "b"])


# ------------------------------------------------------------------ a hostile file

HOSTILE_VALUES = {
    "lead_id": ["=1+1", '"quoted"', "a,b", "line\nbreak", "", "L\x00NUL", "ＬＥＡＤ", "@SUM(A1)"],
    "received_at": ["2025-03-09T02:30:00-05:00", "2025-03-09T02:30:00", "yesterday",
                    "9999-01-01T00:00:00Z", "２０２５-03-04T10:15:00Z"],
    "email": ["not-an-email", "pat@exam ple.com", "ü@example.com", "pat@еxample.com"],
    "phone": ["", "555", "+44 20 7946 0958", "３１２５５５０１３４"],
    "zip": ["6061", "00000", "96799", "606１4", "60614-1234", " 02134"],
    "loan_amount": ["350,000", "1e6", "-5", "0", "350,0,0,0", "٣٥٠٠٠٠", "999999999999"],
    "credit_score": ["720.0", "299", "7e2", "٧٢٠"],
    "state": ["IL", "il", "CA", "ZZ"],
    "tcpa_text": ["I agree,\nto be called", '=HYPERLINK("x")'],
    "broker_tier": ["=1+1", 'a"b'],
}


def hostile_file(path: Path) -> Path:
    """Good rows mixed with bad values (formulas, quotes, commas, line breaks, look-alike
    letters, NUL, a bad email, a time in the spring-forward gap), duplicate lead ids, short
    and long rows, bytes that are not UTF-8 and a quote never closed."""
    header = [*LEAD_DEFAULTS, "lead_id", "state", "tcpa_text", "broker_tier", "race"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    columns = list(HOSTILE_VALUES)
    for i in range(400):
        row = dict(LEAD_DEFAULTS, lead_id=f"H{i}", state="", tcpa_text="", broker_tier="g",
                   race="")
        for k in range(i % 3):
            column = columns[(i * 7 + k * 3) % len(columns)]
            values = HOSTILE_VALUES[column]
            row[column] = values[(i + k) % len(values)]
        if i % 37 == 5:
            row["lead_id"] = f"H{i - 3}"  # a duplicate
        writer.writerow([row[c] for c in header])
    lines = out.getvalue().split("\r\n")
    short = lines[3].rsplit(",", 2)[0]
    long = lines[4] + ",x,y"
    body = "\r\n".join([*lines[:200], short, long, 'S3,"2025-03-04T10:15:00Z,web',
                        *lines[200:-1]]) + "\r\n"
    data = body.encode().replace(b"Pat", b"P\xff\xfeat", 1) + b'TAIL,"open\r\nmore\r\n'
    path.write_bytes(data)
    return path


def test_parse_rows_on_a_hostile_file_matches_parse(tmp_path):
    """Every readable row of a hostile file gets from parse_rows what parse gives it."""
    _, rows = read_csv(hostile_file(tmp_path / "leads.csv"))
    readable = [row for row in rows if not row.problems]
    got = assert_same([row.values for row in readable])
    assert sum(isinstance(x, Lead) for x in got) > 50
    assert sum(isinstance(x, InputError) for x in got) > 50


def test_route_file_rejects_hostile_rows_as_parse_does(tmp_path):
    """The route command's rejected rows carry parse's problems (or the reader's, or the
    duplicate's), and its routed rows are the rows parse accepts, in file order."""
    leads = hostile_file(tmp_path / "leads.csv")
    out = tmp_path / "out.csv"
    route_file(leads, DATA / "demo" / "officers.csv", DATA / "policies" / "default.yaml", out,
               detail="summary", progress=False)
    with out.open(newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    _, rows = read_csv(leads)
    first: dict[str, int] = {}
    expected = []
    for row in rows:
        lead_id = (row.values.get("lead_id") or "").strip()
        if row.problems:
            expected.append(("rejected", "; ".join(str(p) for p in row.problems)))
            continue
        if lead_id in first:
            expected.append(("rejected", str(Problem(
                "lead_id", lead_id, f"duplicates the lead on row {first[lead_id]}",
                f"leads.csv row {row.number}"))))
            continue
        try:
            PARSER.parse(row.values, f"leads.csv row {row.number}")
        except InputError as exc:
            expected.append(("rejected", "; ".join(str(p) for p in exc.problems)))
            continue
        first[lead_id] = row.number
        expected.append(("routed", ""))
    assert len(written) == len(expected)
    for line, (status, reason) in zip(written, expected, strict=True):
        if status == "rejected":
            assert (line["status"], line["reason"]) == (status, reason)
        else:
            assert line["status"] != "rejected"
    assert any(s == "rejected" and "duplicates" in r for s, r in expected)
    assert any(s == "rejected" and "not UTF-8" in r for s, r in expected)


def test_contact_is_built_from_cleaned_names():
    """The contact's names are the cleaned texts, as parse has them."""
    rows = [dict(LEAD_DEFAULTS, lead_id="L1", first_name="  Zoë ")]
    lead = assert_same(rows)[0]
    assert isinstance(lead, Lead) and lead.contact == Contact("Zoë", "Doe", "pat@example.com",
                                                               "+13125550134")
