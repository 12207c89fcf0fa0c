"""Roster parsing: officer rows become Officers, or one InputError with file, row and column."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.domain import AwayPeriod, Caps, Channel, License, OfficerStatus, Specialty
from engine.errors import InputError
from engine.io import load_roster
from engine.roster import OFFICER_COLUMNS, Roster, parse_officers
from tests.conftest import DATA, make_officer, officer_row, write_csv

CHICAGO = ZoneInfo("America/Chicago")


def refuse(*rows: dict[str, str], source: str = "officers.csv") -> InputError:
    with pytest.raises(InputError) as info:
        parse_officers(list(rows), source)
    return info.value


# ---------------------------------------------------------------- valid rows


def test_parse_officer_valid_row_gives_every_field():
    """A valid row yields an Officer with typed licenses, languages, caps, hours and contacts."""
    officer = make_officer(
        "LO1", name="Alex Able", nmls_id="100000", licensed_states="CA:2026-12-31; tx",
        languages="en;ES", specialties="va;FHA", max_open="40", daily_cap="15", hourly_cap="",
        work_hours="Mon-Fri 09:00-17:00", weight="2.5", team="team-ca", status="Away",
        email="LO1@Lender.Example.com", phone="(202) 555-0100", notify="email; SMS",
        backup_officer_id="LO2",
        away="2026-12-01/2026-12-05;2026-12-24T09:00:00-06:00/2026-12-24T17:00")
    assert officer.officer_id == "LO1"
    assert (officer.name, officer.nmls_id, officer.team) == ("Alex Able", "100000", "team-ca")
    assert officer.licenses == (License("CA", date(2026, 12, 31)), License("TX", None))
    assert officer.languages == frozenset({"en", "es"})
    assert officer.specialties == frozenset({Specialty.VA, Specialty.FHA})
    assert officer.caps == Caps(max_open=40, daily=15, hourly=None)
    assert officer.schedule.is_open(9 * 60) and not officer.schedule.is_open(8 * 60)
    assert officer.weight == 2.5
    assert officer.timezone == "America/Chicago"
    assert officer.status is OfficerStatus.AWAY
    assert officer.email == "LO1@lender.example.com"
    assert officer.phone == "+12025550100"
    assert officer.notify == (Channel.EMAIL, Channel.SMS)
    assert officer.backup_officer_id == "LO2"
    assert officer.away == (
        AwayPeriod(datetime(2026, 12, 1, tzinfo=CHICAGO), datetime(2026, 12, 6, tzinfo=CHICAGO)),
        AwayPeriod(datetime(2026, 12, 24, 15, tzinfo=UTC), datetime(2026, 12, 24, 17,
                                                                   tzinfo=CHICAGO)),
    )


def test_parse_officer_empty_optional_columns_take_defaults():
    """Empty languages, caps, hours, weight, status and notify mean en, no cap, always,
    1, active and email."""
    officer = make_officer("LO1", languages="", max_open="", daily_cap="", hourly_cap="",
                           work_hours="", weight="", status="", notify="")
    assert officer.languages == frozenset({"en"})
    assert officer.caps == Caps(None, None, None)
    assert officer.schedule.always
    assert officer.weight == 1.0
    assert officer.status is OfficerStatus.ACTIVE
    assert officer.notify == (Channel.EMAIL,)


def test_parse_officer_zero_cap_is_a_cap():
    """A cap of 0 is a real cap (no leads), not 'no cap'."""
    assert make_officer("LO1", daily_cap="0").caps.daily == 0


@pytest.mark.parametrize(("states", "day", "active"), [
    ("CA:2026-12-31", date(2026, 12, 31), True),
    ("CA:2026-12-31", date(2027, 1, 1), False),
    ("CA", date(2099, 1, 1), True),
    ("CA: 2026-12-31 ", date(2026, 12, 30), True),
])
def test_parse_officer_license_expiry(states, day, active):
    """``CA:2026-12-31`` is a California license valid through that day; no date, no expiry."""
    (lic,) = make_officer("LO1", licensed_states=states).licenses
    assert lic.state == "CA"
    assert lic.active_on(day) is active


def test_parse_officer_away_whole_days_are_inclusive():
    """``START/END`` dates cover whole days, END included, in the officer's timezone."""
    (period,) = make_officer("LO1", away="2026-12-01/2026-12-01",
                             timezone="America/New_York").away
    ny = ZoneInfo("America/New_York")
    assert period.covers(datetime(2026, 12, 1, 23, 59, tzinfo=ny))
    assert not period.covers(datetime(2026, 12, 2, 0, 0, tzinfo=ny))
    assert not period.covers(datetime(2026, 11, 30, 23, 59, tzinfo=ny))


def test_parse_officers_keeps_file_order():
    """parse_officers returns the officers in row order."""
    officers = parse_officers([officer_row("B"), officer_row("A"), officer_row("C")])
    assert [o.officer_id for o in officers] == ["B", "A", "C"]


def test_parse_officers_backup_on_roster_is_accepted():
    """A backup officer who is another officer on the roster is accepted, in any row order."""
    officers = parse_officers([officer_row("A", backup_officer_id="B"), officer_row("B")])
    assert officers[0].backup_officer_id == "B"


def test_load_roster_reads_demo_file():
    """The demo roster loads: forty officers with unique ids."""
    officers = load_roster(DATA / "demo" / "officers.csv")
    assert len(officers) == 40
    assert len({o.officer_id for o in officers}) == 40


# ---------------------------------------------------------------- refusals

REFUSALS = [
    # (fields, column, message fragment)
    ({"officer_id": ""}, "officer_id", "is required"),
    ({"licensed_states": "TX;XX"}, "licensed_states", "'XX': is not a US state"),
    ({"licensed_states": "TX;AE"}, "licensed_states", "'AE': is not a US state"),
    ({"licensed_states": "TX;tx"}, "licensed_states", "lists TX twice"),
    ({"licensed_states": "CA:2026-13-01"}, "licensed_states",
     "expiry must be a date like CA:2026-12-31"),
    ({"licensed_states": "CA:next year"}, "licensed_states", "expiry must be a date"),
    ({"timezone": "Mars/Base"}, "timezone", "is not an IANA timezone"),
    ({"timezone": "America"}, "timezone", "is not an IANA timezone"),
    ({"timezone": "Central"}, "timezone", "is not an IANA timezone"),
    ({"timezone": ""}, "timezone", "is not an IANA timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone", "is not an IANA timezone"),
    ({"max_open": "-1"}, "max_open", "must not be negative"),
    ({"daily_cap": "-3"}, "daily_cap", "must not be negative"),
    ({"daily_cap": "2.5"}, "daily_cap", "expected a whole number of leads"),
    ({"hourly_cap": "many"}, "hourly_cap", "expected a whole number of leads"),
    ({"weight": "0"}, "weight", "expected a positive number"),
    ({"weight": "-1"}, "weight", "expected a positive number"),
    ({"weight": "heavy"}, "weight", "expected a positive number"),
    ({"weight": "nan"}, "weight", "expected a positive number"),
    ({"weight": "inf"}, "weight", "expected a positive number"),
    ({"specialties": "va;bogus"}, "specialties", "'bogus': expected one of va, fha, usda"),
    ({"languages": "en;xx"}, "languages", "'xx': is not an ISO 639-1 code"),
    ({"languages": "english"}, "languages", "is not an ISO 639-1 code"),
    ({"work_hours": "Mon 25:00-26:00"}, "work_hours", "'25:00' is not a time of day"),
    ({"work_hours": "weekdays"}, "work_hours", "is not like 'Mon-Fri 08:00-18:00'"),
    ({"status": "gone"}, "status", "expected active or away"),
    ({"notify": "fax"}, "notify", "'fax': expected one of email, sms, webhook, push"),
    ({"notify": "email;sms", "phone": ""}, "phone", "is required when notify includes sms"),
    ({"notify": "email", "email": ""}, "email", "is required when notify includes email"),
    ({"away": "2026-12-05/2026-12-01"}, "away", "ends before it starts"),
    ({"away": "2026-12-05T10:00:00/2026-12-05T09:00:00"}, "away", "ends before it starts"),
    ({"away": "2026-12-01"}, "away", "expected START/END"),
    ({"away": "2026-12-01/someday"}, "away", "expected START/END dates or times"),
    ({"away": "0001-01-01/0001-01-02"}, "away", "expected dates from 1970 to 2200"),
    ({"away": "2026-12-01/9999-12-30"}, "away", "expected dates from 1970 to 2200"),
    ({"max_open": "100000000000000000000"}, "max_open", "must be at most 100,000 (empty means "
                                                        "no cap)"),
    ({"daily_cap": "100001"}, "daily_cap", "must be at most 100,000"),
    ({"hourly_cap": "1_000"}, "hourly_cap", "expected a whole number of leads"),
    ({"hourly_cap": "\u0665"}, "hourly_cap", "expected a whole number of leads"),
    ({"hourly_cap": "+5"}, "hourly_cap", "expected a whole number of leads"),
    ({"weight": "1e-320"}, "weight", "must be from 0.001 to 1000 (1 is the usual share"),
    ({"weight": "1e308"}, "weight", "must be from 0.001 to 1000"),
    ({"weight": "0.0001"}, "weight", "must be from 0.001 to 1000"),
    ({"weight": "1_0"}, "weight", "expected a positive number"),
    ({"weight": "\u0662"}, "weight", "expected a positive number"),
    ({"team": "main\nother"}, "team", "has a control character ('\\n') at position 5"),
    ({"timezone": "localtime"}, "timezone", "is not an IANA timezone such as America/Chicago"),
    ({"timezone": "posixrules"}, "timezone", "is not an IANA timezone"),
    ({"timezone": "Factory"}, "timezone", "is not an IANA timezone"),
    ({"timezone": "/usr/share/zoneinfo/America/Chicago"}, "timezone", "is not an IANA timezone"),
    ({"timezone": "posix/America/Chicago"}, "timezone", "is not an IANA timezone"),
    ({"timezone": "right/UTC"}, "timezone", "is not an IANA timezone"),
]


@pytest.mark.parametrize(("fields", "column", "message"), REFUSALS)
def test_parse_officers_refuses_bad_value_naming_file_row_column(fields, column, message):
    """A bad value is reported with file, row and column: ``officers.csv row 3: col=...``."""
    fields = dict(fields)
    error = refuse(officer_row("OK"), officer_row(fields.pop("officer_id", "BAD"), **fields))
    assert [(p.field, p.where) for p in error.problems] == [(column, "officers.csv row 3")]
    assert str(error).startswith(f"officers.csv row 3: {column}=")
    assert message in str(error)


@pytest.mark.parametrize(("column", "raw"), [
    ("email", "alex.able@lender"),
    ("phone", "202-555-01"),
])
def test_parse_officers_bad_contact_is_masked(column, raw):
    """An officer's bad email or phone is reported with the value masked."""
    error = refuse(officer_row("A", **{column: raw}))
    text = str(error)
    assert text.startswith(f"officers.csv row 2: {column}={raw[0]}*")
    assert raw not in text


def test_parse_officers_duplicate_id_names_the_earlier_row():
    """A repeated officer id is refused on its second row, naming the first."""
    error = refuse(officer_row("A"), officer_row("B"), officer_row("A"))
    assert [(p.field, p.where) for p in error.problems] == [("officer_id", "officers.csv row 4")]
    assert "duplicates the id on row 2" in str(error)


@pytest.mark.parametrize(("rows", "where"), [
    ([officer_row("A", backup_officer_id="Z"), officer_row("B")], "officers.csv row 2"),
    ([officer_row("A"), officer_row("B", backup_officer_id="B")], "officers.csv row 3"),
])
def test_parse_officers_backup_must_be_another_officer_on_roster(rows, where):
    """A backup officer who is not on the roster, or is the officer themself, is refused."""
    error = refuse(*rows)
    assert [(p.field, p.where) for p in error.problems] == [("backup_officer_id", where)]
    assert "is not another officer on the roster" in str(error)


def test_parse_officers_missing_columns_named_with_file():
    """Rows without required columns are refused at once, naming file, header row and columns."""
    row = officer_row("A")
    del row["timezone"], row["weight"]
    error = refuse(row, officer_row("B"))
    assert str(error) == ("officers.csv row 1: columns='timezone, weight': "
                          "missing required columns")


def test_load_roster_missing_columns_refused_even_without_rows(tmp_path):
    """A roster file whose header lacks required columns is refused, even with no rows."""
    path = tmp_path / "officers.csv"
    path.write_text("officer_id,name\n")
    with pytest.raises(InputError) as info:
        load_roster(path)
    text = str(info.value)
    assert text.startswith("officers.csv row 1: columns=")
    for column in OFFICER_COLUMNS[2:]:
        assert column in text


def test_parse_officers_reports_every_problem_of_every_row():
    """Problems in different rows are all reported in one error, each with its row."""
    error = refuse(officer_row("A", weight="0"),
                   officer_row("B", timezone="Nowhere/Town", daily_cap="-1"),
                   officer_row("C"),
                   officer_row("A"),
                   officer_row("D", licensed_states="ZZ", backup_officer_id="Q"))
    assert [(p.where, p.field) for p in error.problems] == [
        ("officers.csv row 2", "weight"),
        ("officers.csv row 3", "timezone"),
        ("officers.csv row 3", "daily_cap"),
        ("officers.csv row 6", "licensed_states"),
    ]
    # row 5 repeats A, whose own row failed: not reported as a duplicate of a refused row
    assert "row 5" not in str(error)


def test_parse_officers_duplicate_and_bad_rows_reported_together():
    """A duplicate id and a bad value elsewhere are both reported in the same error."""
    error = refuse(officer_row("A"), officer_row("A"), officer_row("B", status="retired"))
    assert sorted((p.where, p.field) for p in error.problems) == [
        ("officers.csv row 3", "officer_id"), ("officers.csv row 4", "status")]


def test_load_roster_file_problems_name_the_file(tmp_path):
    """A missing, empty or non-UTF-8 roster file is an InputError naming the file (and, for
    bytes that are not UTF-8, the row and column)."""
    missing = tmp_path / "nope.csv"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(",".join(OFFICER_COLUMNS).encode() + b"\nA,Jos\xe9\n")
    for path, message in [(missing, f"{missing}': cannot be read"), (empty, f"{empty}': is empty"),
                          (latin, "latin.csv row 2: name=J***: has bytes that are not UTF-8")]:
        with pytest.raises(InputError) as info:
            load_roster(path)
        assert message in str(info.value)


def test_load_roster_row_numbers_match_the_file(tmp_path):
    """Row numbers in messages are the file's lines: header row 1, first officer row 2."""
    rows: list[dict[str, Any]] = [officer_row("A"), officer_row("B"),
                                  officer_row("C", weight="-2")]
    path = write_csv(tmp_path / "team.csv", rows)
    with pytest.raises(InputError) as info:
        load_roster(path)
    assert str(info.value).startswith("team.csv row 4: weight='-2': ")


@pytest.mark.parametrize(("fields", "attribute", "value"), [
    ({"weight": "0.001"}, "weight", 0.001), ({"weight": "1000"}, "weight", 1000.0),
    ({"weight": "2.5"}, "weight", 2.5), ({"timezone": "UTC"}, "timezone", "UTC"),
    ({"timezone": "US/Central"}, "timezone", "US/Central"),
    ({"timezone": "America/St_Johns"}, "timezone", "America/St_Johns"),
])
def test_parse_officer_accepts_bounds_and_iana_names(fields, attribute, value):
    """Weights at the ends of their range and IANA names (links such as US/Central too) are
    accepted."""
    assert getattr(make_officer("A", **fields), attribute) == value


def test_parse_officer_accepts_the_largest_cap_and_roster_builds():
    """A cap at the bound is kept and the roster's cap arrays hold it."""
    roster = Roster([make_officer("A", max_open="100000", daily_cap="0", hourly_cap="7")])
    assert roster.officers[0].caps.max_open == 100_000
    assert roster.cap_open[0] == 100_000


def test_load_roster_lists_unreadable_and_invalid_rows_together_by_file_row(tmp_path):
    """Rows that cannot be read (too many values) and rows with bad values are all listed, in
    file order, with the file's own row numbers (a blank line counts as a row)."""
    path = write_csv(tmp_path / "team.csv", [officer_row("A"), officer_row("B"),
                                            officer_row("C", weight="-2")])
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("Officer,", "Doe, Jane,", 1)
    lines.insert(2, "")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        load_roster(path)
    assert [(p.where, p.field) for p in info.value.problems] == [
        ("team.csv row 4", "values"), ("team.csv row 5", "weight")]
