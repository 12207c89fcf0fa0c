"""Protected characteristics: recognised under any spelling, never confused with ordinary fields."""

from __future__ import annotations

import re

import pytest

from engine.fair_lending import PROTECTED_TERMS, protected_characteristic
from engine.leads import KNOWN_COLUMNS
from engine.roster import OFFICER_COLUMNS
from engine.rules.fields import BUILTIN_FIELDS


@pytest.mark.parametrize(("name", "characteristic"), [
    ("race", "race"),
    ("applicant_race_1", "race"),
    ("co-applicant-race-2", "race"),
    ("APPLICANT_RACE", "race"),
    ("HMDARace", "race"),
    ("races", "race"),
    ("applicant_ethnicity", "ethnicity"),
    ("applicant_ethnicities", "ethnicity"),
    ("isHispanic", "ethnicity"),
    ("skin_tone", "color"),
    ("religion", "religion"),
    ("churchMember", "religion"),
    ("country_of_birth", "national origin"),
    ("CitizenshipStatus", "national origin"),
    ("Gender", "sex"),
    ("genders", "sex"),
    ("applicant_sex", "sex"),
    ("preferredPronouns", "sex"),
    ("is_married", "marital status"),
    ("MaritalStatus", "marital status"),
    ("spouse_name", "marital status"),
    ("dob", "age"),
    ("applicantDOB", "age"),
    ("coBorrowerDateOfBirth", "age"),
    ("borrower_age", "age"),
    ("age_bracket", "age"),
    ("isSenior", "age"),
    ("loan_age", "age"),  # "age" as a whole word is refused, to be safe
    ("HasChildren", "familial status"),
    ("numberOfDependents", "familial status"),
    ("household_size", "familial status"),
    ("disability", "disability"),
    ("hasDisabilities", "disability"),
    ("snap_benefits", "public assistance"),
    ("isSNAPRecipient", "public assistance"),
    ("receives_food_stamps", "public assistance"),
    ("section_8_voucher", "public assistance"),
    ("section8Voucher", "public assistance"),
    ("applicantRace1", "race"),
    ("coapplicant_race2", "race"),
])
def test_protected_characteristic_caught_under_any_spelling(name, characteristic):
    """Synonyms are caught after splitting on separators, camelCase and acronyms, and in the
    plural."""
    assert protected_characteristic(name) == characteristic


@pytest.mark.parametrize("name", [
    "mortgage_type", "page_id", "usage", "language", "preferred_language", "zip",
    "credit_score", "loan_program", "source", "storage", "percentage", "message", "mileage",
    "status", "manager", "package", "utm_campaign", "broker_tier", "raceway_park",
    "racetrack", "zip3", "v2_source", "URLPath", "HTTPStatus",
])
def test_protected_characteristic_ordinary_fields_pass(name):
    """Ordinary field names, including ones containing a protected word inside a longer word,
    are not flagged."""
    assert protected_characteristic(name) is None


@pytest.mark.parametrize("name", sorted(set(BUILTIN_FIELDS) | KNOWN_COLUMNS | set(OFFICER_COLUMNS)))
def test_protected_characteristic_engine_fields_pass(name):
    """No field the engine itself reads (lead columns, rule fields, roster columns) is
    flagged."""
    assert protected_characteristic(name) is None


def _camel(term: str) -> str:
    first, *rest = re.split(r"\s+", term)
    return first + "".join(w.capitalize() for w in rest)


@pytest.mark.parametrize(("characteristic", "term"), [
    (c, t) for c, terms in PROTECTED_TERMS.items() for t in terms])
def test_protected_characteristic_every_listed_term_in_every_style(characteristic, term):
    """Every listed term is caught as its own characteristic as written, in snake_case,
    camelCase, UPPER-KEBAB and with a prefix."""
    snake = term.replace(" ", "_")
    for name in (term, snake, _camel(term), snake.upper().replace("_", "-"),
                 f"coborrower_{snake}", f"applicant{_camel(term)[0].upper()}{_camel(term)[1:]}"):
        assert protected_characteristic(name) == characteristic, name
