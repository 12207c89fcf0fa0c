"""Lead parsing: a CSV row becomes a Lead, or an InputError listing every problem in the row."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain import Lead, LoanProgram, LoanPurpose
from engine.errors import InputError, Problem
from engine.leads import LeadParser, parse_bool, parse_money, parse_timestamp
from tests.conftest import lead_row, make_lead

WHERE = "leads.csv row 7"


def parse(**fields: Any) -> Lead:
    return LeadParser.default().parse(lead_row(fields.pop("lead_id", "L1"), **fields), WHERE)


def refuse(**fields: Any) -> InputError:
    with pytest.raises(InputError) as info:
        parse(**fields)
    return info.value


# ---------------------------------------------------------------- valid rows


def test_parse_valid_row_gives_every_field():
    """A valid row yields a Lead with typed values and the place looked up from the ZIP."""
    lead = parse(source="Web_Form", campaign="spring-25", first_time_buyer="yes",
                 email=" Pat.Doe@Example.COM ", phone="(312) 555-0134")
    assert lead.lead_id == "L1"
    assert lead.received_at == datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    assert lead.source == "web_form"
    assert lead.contact.email == "Pat.Doe@example.com"
    assert lead.contact.phone == "+13125550134"
    assert (lead.contact.first_name, lead.contact.last_name) == ("Pat", "Doe")
    assert (lead.zip, lead.state, lead.county_fips, lead.timezone) == (
        "75201", "TX", "48113", "America/Chicago")
    assert lead.loan_purpose is LoanPurpose.PURCHASE
    assert lead.loan_program is LoanProgram.CONVENTIONAL
    assert lead.loan_amount_usd == 300_000.0
    assert lead.property_value_usd == 400_000.0
    assert lead.credit_score == 720
    assert lead.language == "en"
    assert lead.is_veteran is False
    assert lead.first_time_buyer is True
    assert lead.campaign == "spring-25"
    assert lead.ltv == pytest.approx(0.75)


@pytest.mark.parametrize(("phone", "e164"), [
    ("(312) 555-0134", "+13125550134"),
    ("312.555.0134", "+13125550134"),
    ("+1 312 555 0134", "+13125550134"),
    ("1-312-555-0134", "+13125550134"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_parse_phone_is_e164(phone, e164):
    """Phone numbers in any common US (or explicit international) form are stored as E.164."""
    assert parse(phone=phone).contact.phone == e164


@pytest.mark.parametrize(("zip_code", "place"), [
    ("90012", ("CA", "06037", "America/Los_Angeles")),
    ("02134", ("MA", "25025", "America/New_York")),  # leading zero kept
    ("75201-1234", ("TX", "48113", "America/Chicago")),  # ZIP+4
    ("20001", ("DC", "11001", "America/New_York")),
])
def test_parse_place_comes_from_zip(zip_code, place):
    """State, county FIPS and timezone come from the ZIP table; ZIP+4 keeps the 5 digits."""
    lead = parse(zip=zip_code)
    assert (lead.state, lead.county_fips, lead.timezone) == place
    assert lead.zip == zip_code[:5]


def test_parse_consistent_state_and_county_columns_are_accepted():
    """A state column that matches the ZIP (any case) and a county of that state are kept."""
    lead = parse(zip="75201", state="tx", county_fips="48085")  # Collin County, TX
    assert (lead.state, lead.county_fips) == ("TX", "48085")


@pytest.mark.parametrize(("zip_code", "amount", "received_at", "jumbo", "limit"), [
    # Los Angeles County 06037: 2025 limit 1,209,750; 2024 limit 1,149,825
    ("90012", "900000", "2025-03-04T15:00:00+00:00", False, 1_209_750),
    ("90012", "1300000", "2025-03-04T15:00:00+00:00", True, 1_209_750),
    ("90012", "1209750", "2025-03-04T15:00:00+00:00", False, 1_209_750),  # at the limit
    ("90012", "1209751", "2025-03-04T15:00:00+00:00", True, 1_209_750),
    ("90012", "1200000", "2024-06-01T12:00:00+00:00", True, 1_149_825),  # 2024 table
    ("90012", "1200000", "2025-06-01T12:00:00+00:00", False, 1_209_750),
    ("90012", "1200000", "2026-06-01T12:00:00+00:00", False, 1_209_750),  # latest table
    ("90012", "1200000", "2023-06-01T12:00:00+00:00", True, 1_149_825),  # earliest table
    # Dallas County 48113: 2025 limit 806,500; 2024 limit 766,550
    ("75201", "900000", "2025-03-04T15:00:00+00:00", True, 806_500),
    ("75201", "780000", "2025-03-04T15:00:00+00:00", False, 806_500),
    ("75201", "780000", "2024-03-04T15:00:00+00:00", True, 766_550),
    ("75201", "900000", "2027-01-01T00:00:00-06:00", True, 806_500),
])
def test_parse_is_jumbo_against_county_limit_of_lead_year(zip_code, amount, received_at,
                                                          jumbo, limit):
    """is_jumbo compares the amount with the county's one-unit limit of the lead's year (the
    latest table for later years, the earliest for earlier ones)."""
    lead = parse(zip=zip_code, loan_amount=amount, received_at=received_at)
    assert lead.conforming_limit_usd == limit
    assert lead.is_jumbo is jumbo


def test_parse_county_column_fills_in_a_zip_without_county():
    """A county of the ZIP's state given for a ZIP without one is used for the loan limit."""
    lead = parse(zip="90085", county_fips="06037", loan_amount="1300000")
    assert lead.county_fips == "06037"
    assert lead.conforming_limit_usd == 1_209_750 and lead.is_jumbo is True


def test_parse_is_jumbo_uses_state_limit_when_zip_has_no_county():
    """A ZIP without a county takes its state's limit when every county shares one (Texas)."""
    lead = parse(zip="75059", loan_amount="900000")  # TX ZIP with no county in the table
    assert lead.county_fips == ""
    assert lead.conforming_limit_usd == 806_500 and lead.is_jumbo is True


def test_parse_is_jumbo_is_none_when_limit_unknown():
    """Without a county in a state whose counties differ (California), is_jumbo is None."""
    lead = parse(zip="90085", loan_amount="900000")  # CA ZIP with no county in the table
    assert lead.conforming_limit_usd is None and lead.is_jumbo is None


@pytest.mark.parametrize(("fields", "expected"), [
    ({"property_value": ""}, None),
    ({"loan_amount": "350000", "property_value": "400000"}, 0.875),
    ({"loan_amount": "$350,000.00", "property_value": "$500,000"}, 0.7),
])
def test_parse_ltv_is_amount_over_value(fields, expected):
    """ltv is loan amount / property value, None without a property value."""
    ltv = parse(**fields).ltv
    assert ltv == (None if expected is None else pytest.approx(expected))


def test_parse_optional_values_default_when_empty():
    """Empty credit score, language, is_veteran and first_time_buyer take their defaults."""
    lead = parse(credit_score="", language="", is_veteran="", property_value="")
    assert lead.credit_score is None
    assert lead.language == "en"
    assert lead.is_veteran is False
    assert lead.first_time_buyer is None
    assert lead.property_value_usd is None


@pytest.mark.parametrize(("fields", "attribute", "value"), [
    ({"loan_purpose": "Cash-Out Refinance"}, "loan_purpose", LoanPurpose.CASH_OUT_REFINANCE),
    ({"loan_program": "NON QM"}, "loan_program", LoanProgram.NON_QM),
    ({"language": "ES"}, "language", "es"),
    ({"is_veteran": "Yes"}, "is_veteran", True),
    ({"credit_score": "300"}, "credit_score", 300),
    ({"credit_score": "850"}, "credit_score", 850),
    ({"credit_score": "720.0"}, "credit_score", 720),
    ({"received_at": "2025-03-04T10:00:00Z"},
     "received_at", datetime(2025, 3, 4, 10, tzinfo=UTC)),
    ({"received_at": "2025-03-04T10:00:00-05:00"},
     "received_at", datetime(2025, 3, 4, 10, tzinfo=timezone(timedelta(hours=-5)))),
])
def test_parse_accepts_common_spellings(fields, attribute, value):
    """Enum names in any case with spaces or dashes, booleans as yes/no, boundary scores."""
    assert getattr(parse(**fields), attribute) == value


@pytest.mark.parametrize("fields", [
    {"phone": ""},
    {"email": ""},
])
def test_parse_one_contact_channel_is_enough(fields):
    """A lead with only a phone or only an email is accepted."""
    lead = parse(**fields)
    assert bool(lead.contact.phone) != bool(lead.contact.email)


def test_parse_custom_columns_kept_protected_dropped_consent_separate():
    """Unknown columns become custom fields, except protected characteristics, which are
    dropped; consent evidence is kept apart from custom fields."""
    lead = parse(broker_tier="gold", utm_medium="cpc", race="x", gender="f", age="41",
                 applicant_sex="f", coBorrowerDateOfBirth="1970-01-01", marital_status="single",
                 tcpa_text="I agree to be called", jornaya_lead_id="ABC-123",
                 trusted_form_token="tf-9")
    assert lead.custom == {"broker_tier": "gold", "utm_medium": "cpc"}
    assert lead.consent == {"tcpa_text": "I agree to be called", "jornaya_lead_id": "ABC-123",
                            "trusted_form_token": "tf-9"}


def test_parse_known_columns_are_not_custom():
    """Known lead columns (state, campaign, ...) never show up as custom fields."""
    lead = parse(state="TX", county_fips="48113", campaign="c")
    assert lead.custom == {}


# ---------------------------------------------------------------- refusals

FULL_PROGRAMS = "conventional, fha, va, usda, non_qm, reverse"
FULL_PURPOSES = "purchase, refinance, cash_out_refinance, home_equity, reverse"

REFUSALS = [
    # (fields, field, message fragment)
    ({"zip": "00000"}, "zip", "is not a known US ZIP code"),
    ({"zip": "7520"}, "zip", "expected a 5-digit US ZIP code"),
    ({"zip": "752011"}, "zip", "expected a 5-digit US ZIP code"),
    ({"zip": "7520A"}, "zip", "expected a 5-digit US ZIP code"),
    ({"zip": ""}, "zip", "expected a 5-digit US ZIP code"),
    ({"zip": "09001"}, "zip", "military APO/FPO address"),
    ({"zip": "34002"}, "zip", "military APO/FPO address"),
    ({"zip": "96941"}, "zip", "Federated States of Micronesia"),
    ({"zip": "96960"}, "zip", "Marshall Islands"),
    ({"zip": "96940"}, "zip", "Palau"),
    ({"state": "XX"}, "state", "is not a US state"),
    ({"state": "AE"}, "state", "is not a US state"),
    ({"state": "CA"}, "state", "does not match zip 75201, which is in TX"),
    ({"county_fips": "06037"}, "county_fips", "is not a county of TX (zip 75201); it is in CA"),
    ({"zip": "75059", "county_fips": "06037"}, "county_fips", "is not a county of TX"),
    ({"county_fips": "48999"}, "county_fips", "is not a known county FIPS code"),
    ({"county_fips": "4811"}, "county_fips", "expected a 5-digit county FIPS code"),
    ({"loan_amount": "-5"}, "loan_amount", "must be greater than 0"),
    ({"loan_amount": "0"}, "loan_amount", "must be greater than 0"),
    ({"loan_amount": "lots"}, "loan_amount", "expected a dollar amount"),
    ({"loan_amount": ""}, "loan_amount", "expected a dollar amount"),
    ({"loan_amount": "nan"}, "loan_amount", "expected a dollar amount"),
    ({"loan_amount": "inf"}, "loan_amount", "expected a dollar amount"),
    ({"property_value": "-1"}, "property_value", "must be greater than 0"),
    ({"property_value": "big"}, "property_value", "expected a dollar amount"),
    ({"received_at": "yesterday"}, "received_at", "expected an ISO 8601 time with a UTC offset"),
    ({"received_at": "2025-03-04T10:00:00"}, "received_at", "with a UTC offset"),
    ({"received_at": "2025-03-04"}, "received_at", "with a UTC offset"),
    ({"received_at": ""}, "received_at", "with a UTC offset"),
    ({"received_at": "0001-01-01T00:00:00+05:00"}, "received_at",
     "year 1 is outside 1970 to 2200; an ISO 8601 time"),
    ({"received_at": "9999-12-31T23:00:00-05:00"}, "received_at",
     "year 9999 is outside 1970 to 2200"),
    ({"received_at": "0025-03-04T15:00:00+00:00"}, "received_at",
     "year 25 is outside 1970 to 2200"),
    ({"loan_amount": "350,0,0,0"}, "loan_amount", "expected a dollar amount in ASCII digits, e.g. "
                                                  "350000, 350000.00 or $350,000 (commas between "
                                                  "groups of three digits)"),
    ({"loan_amount": "1_000_000"}, "loan_amount", "expected a dollar amount in ASCII digits"),
    ({"loan_amount": "1e300"}, "loan_amount", "expected a dollar amount in ASCII digits"),
    ({"loan_amount": "\u0663\u0665\u0660\u0660\u0660\u0660"}, "loan_amount",
     "expected a dollar amount in ASCII digits"),
    ({"loan_amount": "\uff13\uff15\uff10\uff10\uff10\uff10"}, "loan_amount",
     "expected a dollar amount in ASCII digits"),
    ({"loan_amount": "$2,000,000,000"}, "loan_amount", "must be at most 1,000,000,000"),
    ({"property_value": "4e5"}, "property_value", "expected a dollar amount in ASCII digits"),
    ({"credit_score": "\u0667\u0662\u0660"}, "credit_score", "expected a whole number"),
    ({"credit_score": "7.2e2"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"credit_score": "7_20"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"zip": "\u0667\u0665\u0662\u0660\u0661"}, "zip", "expected a 5-digit US ZIP code"),
    ({"county_fips": "\uff14\uff18\uff11\uff11\uff13"}, "county_fips",
     "expected a 5-digit county FIPS code"),
    ({"loan_purpose": "buy"}, "loan_purpose", f"expected one of {FULL_PURPOSES}"),
    ({"loan_program": "jumbo"}, "loan_program", f"expected one of {FULL_PROGRAMS}"),
    ({"language": "eng"}, "language", "expected an ISO 639-1 code"),
    ({"language": "es-MX"}, "language", "expected an ISO 639-1 code"),
    ({"language": "xx"}, "language", "expected an ISO 639-1 code"),
    ({"credit_score": "900"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"credit_score": "851"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"credit_score": "299"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"credit_score": "700.5"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"credit_score": "good"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"credit_score": "inf"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"credit_score": "1e999"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"credit_score": "nan"}, "credit_score", "expected a whole number from 300 to 850"),
    ({"is_veteran": "maybe"}, "is_veteran", "expected true or false"),
    ({"first_time_buyer": "sometimes"}, "first_time_buyer", "expected true or false"),
    ({"lead_id": ""}, "lead_id", "is required"),
    ({"lead_id": "L1\nL2"}, "lead_id", "has a control character ('\\n') at position 3: a value "
                                      "is one line of text"),
    ({"source": "web\x00form"}, "source", "has a control character ('\\x00') at position 4"),
    ({"campaign": "spring\tpush"}, "campaign", "has a control character ('\\t')"),
    ({"source": ""}, "source", "is required"),
]


@pytest.mark.parametrize(("fields", "field", "message"), REFUSALS)
def test_parse_refuses_bad_value_naming_field_value_and_where(fields, field, message):
    """Each bad value is one problem whose message names the field, the value and the row."""
    error = refuse(**fields)
    assert [p.field for p in error.problems] == [field]
    problem = error.problems[0]
    raw = fields[field]
    assert problem.value == raw
    assert message in problem.message
    text = str(error)
    assert text.startswith(f"{WHERE}: {field}={raw!r}: ")
    assert message in text


PERSONAL_REFUSALS = [
    # (fields, field, raw personal value, message fragment)
    ({"email": "jane.roe@example"}, "email", "jane.roe@example", "is not a valid email address"),
    ({"email": "jane roe@example.com"}, "email", "jane roe@example.com", "not a valid email"),
    ({"phone": "555-0134"}, "phone", "555-0134", "is not a valid phone number"),
    ({"phone": "312-555-013"}, "phone", "312-555-013", "is not a valid phone number"),
]


@pytest.mark.parametrize(("fields", "field", "raw", "message"), PERSONAL_REFUSALS)
def test_parse_refuses_bad_contact_with_value_masked(fields, field, raw, message):
    """A bad email or phone is reported by field and row with the value masked, never whole."""
    error = refuse(**fields)
    assert [p.field for p in error.problems] == [field]
    text = str(error)
    assert text.startswith(f"{WHERE}: {field}={raw[0]}*")
    assert message in text
    assert raw not in text


def test_parse_refuses_lead_without_phone_or_email():
    """A lead with neither phone nor email cannot be contacted and is refused."""
    error = refuse(phone="", email="")
    assert [p.field for p in error.problems] == ["phone"]
    assert "needs a phone or an email" in str(error)
    assert WHERE in str(error)


def test_parse_reports_every_problem_in_the_row():
    """All problems of one row are reported together, each with the row's location."""
    error = refuse(zip="00000", loan_amount="-1", email="not-an-email", language="klingon",
                   credit_score="9000", is_veteran="perhaps", received_at="soon",
                   loan_program="jumbo")
    fields = sorted(p.field for p in error.problems)
    assert fields == sorted(["zip", "loan_amount", "email", "language", "credit_score",
                             "is_veteran", "received_at", "loan_program"])
    text = str(error)
    assert text.count(WHERE) == len(error.problems)
    assert all(p.where == WHERE for p in error.problems)


def test_parse_error_never_shows_personal_values_whole():
    """Names, email and phone of a rejected row do not appear in its error message."""
    error = refuse(first_name="Marguerite", last_name="Okonkwo-Bell",
                   email="marguerite.okonkwo@example", phone="555-0199", zip="00000",
                   loan_amount="x")
    text = str(error)
    for personal in ("Marguerite", "Okonkwo", "marguerite.okonkwo@example", "555-0199",
                     "okonkwo", "0199"):
        assert personal not in text
    assert {"email", "phone", "zip", "loan_amount"} <= {p.field for p in error.problems}


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("first_name", "Marguerite", "first_name=M********"),
    ("last_name", "Li", "last_name=L*"),
    ("email", "a@b.co", "email=a*****"),
    ("phone", "", "phone=*"),
    ("zip", "00000", "zip='00000'"),
])
def test_problem_masks_personal_fields_only(field, value, shown):
    """Contact fields are shown as first character and stars; other values as written."""
    assert f"{shown}: bad" in str(Problem(field, value, "bad", WHERE))


def test_parse_unknown_zip_is_reported_instead_of_state_mismatch():
    """A state column next to an unknown ZIP is not checked: the ZIP is the problem."""
    error = refuse(zip="00000", state="CA")
    assert [p.field for p in error.problems] == ["zip"]


# ---------------------------------------------------------------- small parsers


@pytest.mark.parametrize(("text", "expected"), [
    ("350000", 350000.0), ("350,000.00", 350000.0), ("$350,000", 350000.0), ("$ 350000", 350000),
    ("350000.5", 350000.5), ("1,234,567", 1234567.0), ("-5", -5.0),
    ("", None), ("abc", None), ("nan", None), ("inf", None), ("-inf", None),
    (" 1e6 ", None), ("1e300", None), ("350,0,0,0", None), ("1_000_000", None),
    ("35,0000", None), (",350", None), ("350,", None), ("350000.", None), ("0x10", None),
    ("\u0663\u0665\u0660\u0660\u0660\u0660", None), ("\uff13\uff15\uff10\uff10\uff10", None),
    ("\u09e9\u09eb\u09e6", None), ("350 000", None),
])
def test_parse_money_reads_dollar_amounts(text, expected):
    """Dollar amounts in ASCII digits, with commas only between groups of three and an optional
    dollar sign; None for exponents, underscores, other scripts' digits, NaN and infinity."""
    assert parse_money(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("true", True), ("Y", True), ("1", True), ("YES", True), ("t", True),
    ("false", False), ("no", False), ("0", False), ("", False), ("F", False),
    ("maybe", None), ("2", None),
])
def test_parse_bool_reads_yes_and_no(text, expected):
    """true/yes/y/t/1 and false/no/n/f/0/empty in any case; None otherwise."""
    assert parse_bool(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-03-04T15:00:00+00:00", datetime(2025, 3, 4, 15, tzinfo=UTC)),
    ("2025-03-04T15:00:00z", datetime(2025, 3, 4, 15, tzinfo=UTC)),
    ("2025-03-04 10:00:00-05:00", datetime(2025, 3, 4, 15, tzinfo=UTC)),
    ("2025-03-04T15:00:00", None),
    ("04/03/2025 15:00", None),
    ("0001-01-01T00:00:00+05:00", None), ("9999-12-31T23:00:00-05:00", None),
    ("0025-03-04T15:00:00+00:00", None), ("1969-12-31T23:59:59+00:00", None),
    ("2201-01-01T00:00:00+00:00", None), ("\uff12\uff10\uff12\uff15-03-04T15:00:00+00:00", None),
    ("1970-01-01T00:00:00+00:00", datetime(1970, 1, 1, tzinfo=UTC)),
    ("2200-12-31T23:00:00-05:00", datetime(2201, 1, 1, 4, tzinfo=UTC)),
])
def test_parse_timestamp_requires_offset(text, expected):
    """ISO 8601 with an offset (Z allowed), in a year from 1970 to 2200; naive times, other
    formats and far-off years give None."""
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(("field", "value", "hidden"), [
    ("timezone", "(312) 555-0134", "555-0134"),        # a shifted roster row
    ("lead_id", "pat.doe@example.com", "doe@example"),  # an id that is an email address
    ("zip", "+1 312 555 0134", "555 0134"),
    ("loan_purpose", "call 312.555.0134 after 5", "555.0134"),
    ("source", "+44 20 7946 0958", "7946"),
    ("borrower_name", "Marguerite", "Marguerite"),       # a name column, by its name
    ("coBorrowerMobile", "3125550134", "3125550134"),
    ("received_at", "2025-03-04 312 555 0134", "555 0134"),  # a phone after a date
    ("loan_program", "12/31/2025 (312) 555-0134", "555-0134"),
    ("mobilePhone", "3125550134", "3125550134"),
])
def test_problem_masks_contact_values_by_content_and_column(field, value, hidden):
    """A value that looks like an email or phone number is masked under any column, and so is
    any value of a column named for contact details."""
    text = str(Problem(field, value, "bad", WHERE))
    assert hidden not in text
    assert text.startswith(f"{WHERE}: {field}=")


def test_problem_masks_contact_values_inside_the_message():
    """An email or phone number quoted inside a message is masked too."""
    text = str(Problem("lead_id", "L1", "duplicates pat.doe@example.com on row 3, call "
                       "(312) 555-0134", WHERE))
    assert "pat.doe@example.com" not in text and "555-0134" not in text
    assert "duplicates p" in text and "on row 3" in text


@pytest.mark.parametrize("value", [
    "2025-03-04T10:15:00-05:00", "2025-03-04 10:15", "20250304", "12/31/2025", "75201",
    "75201-1234", "$350,000", "350000.00", "1_000_000", "720", "klingon", "48113",
])
def test_problem_leaves_dates_codes_and_amounts_readable(value):
    """Dates, times, ZIP and county codes and amounts are shown as written."""
    assert f"x={value!r}: bad" in str(Problem("x", value, "bad", WHERE))


def test_parse_consent_text_may_span_lines():
    """Consent text (TCPA wording) may hold line breaks; the lead's own columns may not."""
    lead = make_lead(tcpa_text="I agree.\nYou may call me.")
    assert lead.consent["tcpa_text"] == "I agree.\nYou may call me."


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[2-9][0-9]{2}", fullmatch=True), st.from_regex(r"[2-9][0-9]{2}",
                                                                        fullmatch=True),
       st.from_regex(r"[0-9]{4}", fullmatch=True),
       st.sampled_from(["({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "{a}{b}{c}",
                        "1-{a}-{b}-{c}", "{a}-{b}-{c} x12"]),
       st.sampled_from(["", "call ", "2025-03-04 ", "12/31/2025 ", "row 3: ", "L1 "]),
       st.sampled_from(["", " now", ", thanks", " 75201", "T10:15"]))
def test_redact_masks_a_phone_number_however_written(a, b, c, form, before, after):
    """A US phone number written in any common form, anywhere in a message, is masked: its
    last seven digits never appear in the text."""
    from engine.errors import redact

    text = before + form.format(a=a, b=b, c=c) + after
    shown = re.sub(r"\D", "", redact(text))
    assert b + c not in shown


def test_places_and_loan_kinds_kept_from_earlier_rows_parse_as_a_fresh_parser_does():
    """A row whose ZIP/state/county or loan purpose/program text an earlier row already had
    gives the same lead or the same problems as with nothing kept (good and bad values
    interleaved, the same text twice)."""
    import engine.leads as leads_module

    rows = [lead_row("A", zip="60601"), lead_row("B", zip="60601", state="TX"),
            lead_row("C", zip="60601", state="IL", county_fips="17031"),
            lead_row("D", zip="60601", county_fips="48201"), lead_row("E", zip="00000"),
            lead_row("F", zip="60601", loan_purpose="Cash-Out Refinance"),
            lead_row("G", zip="60601", loan_purpose="cash out"),
            lead_row("H", zip="60601", loan_program="FHA", state="il")]

    def outcome(row):
        try:
            return LeadParser.default().parse(row, "here")
        except InputError as exc:
            return [str(p) for p in exc.problems]

    fresh = []
    for row in rows:
        leads_module._PLACES.clear()
        leads_module._ENUMS.clear()
        fresh.append(outcome(row))
    assert [outcome(r) for r in rows + rows] == fresh + fresh
    assert any(isinstance(o, list) for o in fresh) and any(not isinstance(o, list) for o in fresh)
