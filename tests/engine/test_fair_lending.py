"""Protected characteristics: recognised under any spelling, never confused with ordinary fields."""

from __future__ import annotations

import re

import pytest

from engine.fair_lending import (
    PROTECTED_TERMS,
    VALUE_PREFIXES,
    VALUE_TERMS,
    protected_characteristic,
    protected_refusal,
)
from engine.leads import KNOWN_COLUMNS
from engine.roster import OFFICER_COLUMNS
from engine.rules import PolicyError
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


@pytest.mark.parametrize(("name", "characteristic"), [
    # no separators
    ("applicantsex", "sex"), ("dateofbirth", "age"), ("coborrowerdob", "age"),
    ("applicantrace1", "race"), ("numberofdependents", "familial status"),
    ("maritalstatuscode", "marital status"), ("ismarried", "marital status"),
    ("hmdaethnicity", "ethnicity"),
    # the name carries the value
    ("is_female", "sex"), ("isMale", "sex"), ("is_married", "marital status"),
    ("is_divorced", "marital status"), ("is_hispanic", "ethnicity"), ("is_pregnant",
                                                                      "familial status"),
    ("is_disabled", "disability"), ("is_white", "race"), ("non_white", "race"),
    ("isBlack", "race"), ("is_single", "marital status"), ("is_senior", "age"),
    ("has_kids", "familial status"), ("is_blind", "disability"), ("is_muslim", "religion"),
    ("is_citizen", "national origin"), ("is_immigrant", "national origin"),
    # abbreviations and derived forms
    ("dob", "age"), ("DOB_YYYY", "age"), ("birth_year", "age"), ("BirthYr", "age"),
    ("yob", "age"), ("age_band", "age"), ("ageband", "age"), ("age_bucket_cd", "age"),
    ("birth_month", "age"), ("years_old", "age"),
    # other languages, with and without accents
    ("sexo", "sex"), ("género", "sex"), ("genero", "sex"), ("edad", "age"), ("raza", "race"),
    ("etnia", "ethnicity"), ("religión", "religion"), ("estado_civil", "marital status"),
    ("fecha_de_nacimiento", "age"), ("nacionalidad", "national origin"),
    ("discapacidad", "disability"), ("hijos", "familial status"),
    ("sexe", "sex"), ("âge", "age"), ("date_de_naissance", "age"), ("état_civil",
                                                                    "marital status"),
    ("nationalité", "national origin"), ("enfants", "familial status"),
    ("idade", "age"), ("raça", "race"), ("religião", "religion"), ("deficiência", "disability"),
    ("data_de_nascimento", "age"), ("filhos", "familial status"),
    # look-alike characters: Cyrillic, Greek, zero-width, full-width, invisible fillers
    ("ѕех", "sex"), ("ѕex", "sex"), ("gеnder", "sex"), ("rаce", "race"), ("ΑGE", "age"),
    ("se\u200bx", "sex"), ("r\u200dace", "race"), ("a\u00adge", "age"), ("ｓｅｘ", "sex"),
    ("ＡＧＥ", "age"), ("𝐫𝐚𝐜𝐞", "race"), ("se\u3164x", "sex"), ("s\u0301ex", "sex"),
    # separators inside the word, digits and symbols for letters
    ("s_e_x", "sex"), ("S.E.X", "sex"), ("r-a-c-e", "race"), ("s3x", "sex"), ("r4ce", "race"),
    ("r@ce", "race"), ("d0b", "age"), ("fema1e", "sex"), ("ag3", "age"),
])
def test_protected_characteristic_caught_under_disguise(name, characteristic):
    """Names without separators, names stating the value, abbreviations, Spanish, French and
    Portuguese terms, look-alike and invisible characters are all caught."""
    assert protected_characteristic(name) == characteristic


@pytest.mark.parametrize("name", [
    "campaign", "stage", "message", "usage", "sextant", "passage", "percentage", "mileage",
    "image", "language", "preferred_language", "languages", "agent_id", "agency",
    "average_rate", "garage_spaces", "homepage_url", "heritage_bank", "coverage", "leverage",
    "brokerage_fee", "acreage", "square_footage", "postage", "wage_income", "engagement",
    "page_views", "damage_claim", "vintage", "grace_period", "trace_id", "terrace",
    "essex_county", "middlesex_branch", "sussex", "colorado_branch", "snapshot_id", "session_id",
    "assigned_to", "classic", "mission", "adobe_id", "skidmore", "senior_lien_balance",
    "single_family", "is_single_family", "white_label", "is_white_label", "blackout_dates",
    "partner_id", "parent_id", "is_parent_company", "lead_origin", "is_invalid", "is_minor_change",
    "is_old_loan", "man_hours", "stage_1", "sexton", "homestead", "utm_medium", "ltv_band",
    "credit_band", "is_jumbo", "is_veteran", "first_time_buyer",
])
def test_protected_characteristic_ordinary_names_with_protected_letters_pass(name):
    """Words that merely contain the letters of a term (``passage``, ``sextant``) or use a
    value word in an ordinary sense (``white_label``, ``single_family``) are not flagged."""
    assert protected_characteristic(name) is None


@pytest.mark.parametrize(("characteristic", "word"), [
    (c, w) for c, words in VALUE_TERMS.items() for w in words])
def test_protected_characteristic_value_terms_only_as_stated_values(characteristic, word):
    """A value term counts when the name states it as a value at its end (``is_white``,
    ``non_white_flag``), not on its own or in the middle of a longer name."""
    for prefix in VALUE_PREFIXES:
        assert protected_characteristic(f"{prefix}_{word}") == characteristic
        assert protected_characteristic(f"applicant_{prefix}{word.capitalize()}_flag") == \
            characteristic
    assert protected_characteristic(word) is None
    assert protected_characteristic(f"is_{word}_office_code") is None


@pytest.mark.parametrize(("name", "message"), [
    ("race", "'race' is a protected characteristic (race) and may never be a routing input"),
    ("ѕех", "'ѕех' (read as 'sex') is a protected characteristic (sex)"),
    ("s3x", "'s3x' (read as 'sex') is a protected characteristic (sex)"),
    ("is_female", "'is_female' is a protected characteristic (sex)"),
    ("date_of_birth", "'date_of_birth' is a protected characteristic (age)"),
])
def test_protected_refusal_names_the_reading_when_disguised(name, message):
    """The refusal says which characteristic, and what a disguised name was read as."""
    refusal = protected_refusal(name)
    assert refusal is not None and refusal.startswith(message)


@pytest.mark.parametrize("name", ["applicantsex", "ѕех", "se\u200bx", "is_female", "edad",
                                  "dateofbirth", "age_band", "raza"])
def test_policy_refuses_disguised_protected_names_with_yaml_path(name):
    """A disguised protected name is refused as a rule field and as a custom field, at its YAML
    path."""
    from tests.conftest import make_policy

    with pytest.raises(PolicyError) as rule_err:
        make_policy(rules=f"- {{name: r, if: {{field: '{name}', eq: x}}, then: {{pool: main}}}}",
                    extra=f"custom_fields: {{'{name}': string}}\n")
    assert rule_err.value.path == "custom_fields." + name
    assert "protected characteristic" in rule_err.value.message
    with pytest.raises(PolicyError) as field_err:
        make_policy(rules=f"- {{name: r, if: {{field: '{name}', eq: x}}, then: {{pool: main}}}}")
    assert field_err.value.path == "rules[0].if.field"
    assert "protected characteristic" in field_err.value.message


def test_lead_parser_drops_disguised_protected_columns():
    """Columns with disguised protected names never become custom fields of a lead."""
    from tests.conftest import make_lead

    names = ["applicantsex", "ѕех", "se\u200bx", "is_female", "edad", "ｒａｃｅ", "broker_tier"]
    lead = make_lead(**{n: "x" for n in names})
    assert set(lead.custom) == {"broker_tier"}


def test_fair_lending_docs_table_lists_every_term():
    """docs/fair-lending.md lists exactly the terms and value terms the check uses."""
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "fair-lending.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 3 and cells[0] in PROTECTED_TERMS:
            rows[cells[0]] = (tuple(t.strip() for t in cells[1].split(",")),
                              tuple(t.strip() for t in cells[2].split(",") if t.strip()))
    assert rows == {c: (terms, VALUE_TERMS.get(c, ())) for c, terms in PROTECTED_TERMS.items()}


@pytest.mark.parametrize(("name", "expected"), [
    ("racex" * 12_000, None), ("_".join(["racex"] * 12_000), None), ("a1" * 20_000, None),
    ("r" * 65_536 + "_race", "race"), ("_".join(["x" * 100] * 300 + ["applicant_sex"]), "sex"),
])
def test_protected_characteristic_reads_long_names_quickly(name, expected):
    """However long a name, it is read without a blow-up (runs of words are bounded: an
    unbounded reader took minutes on these), and a term with its wrapping words among long
    ones is still caught. The bound is generous so that a busy machine cannot fail it; the
    speed itself is not what this checks."""
    import time

    started = time.perf_counter()
    assert protected_characteristic(name) == expected
    assert time.perf_counter() - started < 20.0
