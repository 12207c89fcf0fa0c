"""The condition language: every operator on real lead facts, and load errors with YAML paths."""

from __future__ import annotations

from typing import Any

import pytest

from engine.domain import Lead
from engine.policies import METHODS
from engine.rules import Policy, PolicyError, parse_policy
from engine.rules.fields import convert_custom, read_facts
from tests.conftest import make_lead, make_policy

POOLS = "main: {everyone: true}\nhit: {everyone: true}"


def rule_policy(condition: str, custom_fields: str = "") -> Policy:
    """A policy whose one rule sends leads matching ``condition`` to pool ``hit``."""
    extra = f"custom_fields: {custom_fields}\n" if custom_fields else ""
    return make_policy(rules=f"- {{name: r, if: {condition}, then: {{pool: hit}}}}",
                       pools=POOLS, extra=extra)


def holds(condition: str, lead: Lead, custom_fields: str = "") -> bool:
    """Whether ``condition`` matches ``lead`` when the policy is loaded and run on its facts."""
    policy = rule_policy(condition, custom_fields)
    facts, _ = read_facts(lead, policy.builtin_fields, policy.custom_fields)
    action, path = policy.match(facts)
    assert path[0]["rule"] == "r"
    assert path[0]["matched"] == (action.steps[0].pool == "hit")
    return action.steps[0].pool == "hit"


# ---------------------------------------------------------------- operators

OPERATOR_CASES = [
    # (condition, lead fields, expected)
    ("{field: loan_program, eq: va}", {"loan_program": "va"}, True),
    ("{field: loan_program, eq: va}", {"loan_program": "fha"}, False),
    ("{field: is_veteran, eq: true}", {"is_veteran": "yes"}, True),
    ("{field: is_veteran, eq: true}", {"is_veteran": "no"}, False),
    ("{field: state, ne: TX}", {"zip": "90012"}, True),
    ("{field: state, ne: TX}", {"zip": "75201"}, False),
    ("{field: loan_amount, lt: 300000}", {"loan_amount": "299999"}, True),
    ("{field: loan_amount, lt: 300000}", {"loan_amount": "300000"}, False),
    ("{field: loan_amount, lte: 300000}", {"loan_amount": "300000"}, True),
    ("{field: loan_amount, lte: 300000}", {"loan_amount": "300001"}, False),
    ("{field: credit_score, gt: 700}", {"credit_score": "701"}, True),
    ("{field: credit_score, gt: 700}", {"credit_score": "700"}, False),
    ("{field: credit_score, gte: 700}", {"credit_score": "700"}, True),
    ("{field: credit_score, gte: 700}", {"credit_score": "699"}, False),
    ("{field: state, in: [CA, TX]}", {"zip": "75201"}, True),
    ("{field: state, in: [CA, TX]}", {"zip": "10001"}, False),
    ("{field: state, not_in: [CA, TX]}", {"zip": "10001"}, True),
    ("{field: state, not_in: [CA, TX]}", {"zip": "90012"}, False),
    ("{field: credit_score, between: [620, 679]}", {"credit_score": "620"}, True),
    ("{field: credit_score, between: [620, 679]}", {"credit_score": "679"}, True),
    ("{field: credit_score, between: [620, 679]}", {"credit_score": "619"}, False),
    ("{field: credit_score, between: [620, 679]}", {"credit_score": "680"}, False),
    ("{field: zip, starts_with: ['900', '901']}", {"zip": "90012"}, True),
    ("{field: zip, starts_with: ['900', '901']}", {"zip": "75201"}, False),
    ("{field: zip, starts_with: '752'}", {"zip": "75201"}, True),
    ("{field: zip, starts_with: '752'}", {"zip": "02134"}, False),
    ("{field: zip, starts_with: '021'}", {"zip": "02134"}, True),  # leading zero kept
    ("{field: credit_score, missing: true}", {"credit_score": ""}, True),
    ("{field: credit_score, missing: true}", {"credit_score": "720"}, False),
    ("{field: credit_score, missing: false}", {"credit_score": "720"}, True),
    ("{field: credit_score, missing: false}", {"credit_score": ""}, False),
    ("{field: campaign, missing: true}", {"campaign": ""}, True),
    ("{field: campaign, eq: spring}", {"campaign": "spring"}, True),
]


@pytest.mark.parametrize(("condition", "fields", "expected"), OPERATOR_CASES)
def test_condition_operator_on_lead_facts(condition, fields, expected):
    """Each operator (eq ne lt lte gt gte in not_in between starts_with missing) matches
    exactly the leads it should."""
    assert holds(condition, make_lead(**fields)) is expected


LOGIC_CASES = [
    # (condition, lead fields, expected); the default lead is Dallas, TX, $300,000, score 720
    ("{all: [{field: state, eq: TX}, {field: loan_amount, gt: 250000}]}", {}, True),
    ("{all: [{field: state, eq: TX}, {field: loan_amount, gt: 350000}]}", {}, False),
    ("{any: [{field: state, eq: CA}, {field: loan_amount, gt: 250000}]}", {}, True),
    ("{any: [{field: state, eq: CA}, {field: loan_amount, gt: 350000}]}", {}, False),
    ("{not: {field: state, eq: CA}}", {}, True),
    ("{not: {field: state, eq: TX}}", {}, False),
    ("{all: [{field: state, eq: TX}, {any: [{field: credit_score, lt: 600}, "
     "{not: {field: loan_program, in: [va, fha]}}]}]}", {}, True),
    ("{all: [{field: state, eq: TX}, {any: [{field: credit_score, lt: 600}, "
     "{not: {field: loan_program, in: [va, fha]}}]}]}", {"loan_program": "fha"}, False),
    ("{not: {any: [{field: state, eq: CA}, {all: [{field: is_veteran, eq: true}, "
     "{field: loan_amount, gt: 1}]}]}}", {"is_veteran": "true"}, False),
    ("{not: {any: [{field: state, eq: CA}, {all: [{field: is_veteran, eq: true}, "
     "{field: loan_amount, gt: 1}]}]}}", {}, True),
]


@pytest.mark.parametrize(("condition", "fields", "expected"), LOGIC_CASES)
def test_condition_all_any_not_nest(condition, fields, expected):
    """all needs every part, any needs one, not inverts; they nest to any depth."""
    assert holds(condition, make_lead(**fields)) is expected


MISSING_CASES = [
    # comparisons with a missing credit score (or ltv without a property value) are false ...
    "{field: credit_score, eq: 720}",
    "{field: credit_score, ne: 720}",
    "{field: credit_score, lt: 900}",
    "{field: credit_score, gte: 0}",
    "{field: credit_score, in: [720]}",
    "{field: credit_score, not_in: [720]}",
    "{field: credit_score, between: [300, 850]}",
    "{field: ltv, lt: 100}",
]


@pytest.mark.parametrize("condition", MISSING_CASES)
def test_condition_comparison_with_missing_value_is_false_and_not_true(condition):
    """A comparison with a missing value is false, whatever the operator, and its not is
    true."""
    lead = make_lead(credit_score="", property_value="")
    assert holds(condition, lead) is False
    assert holds(f"{{not: {condition}}}", lead) is True


# ---------------------------------------------------------------- derived fields

DERIVED_CASES = [
    # Los Angeles County 2025 limit 1,209,750; Dallas County 806,500
    ("{field: is_jumbo, eq: true}", {"zip": "90012", "loan_amount": "1300000"}, True),
    ("{field: is_jumbo, eq: true}", {"zip": "90012", "loan_amount": "900000"}, False),
    ("{field: is_jumbo, eq: true}", {"zip": "75201", "loan_amount": "900000"}, True),
    ("{field: is_jumbo, missing: true}", {"zip": "90085", "loan_amount": "900000"}, True),
    ("{field: conforming_limit, eq: 806500}", {"zip": "75201"}, True),
    ("{field: ltv, gt: 0.8}", {"loan_amount": "350000", "property_value": "400000"}, True),
    ("{field: ltv, gt: 0.8}", {"loan_amount": "300000", "property_value": "400000"}, False),
    ("{field: ltv, missing: true}", {"property_value": ""}, True),
    # 2025-03-04 15:00 UTC: 09:00 Tuesday in Dallas (CST), 07:00 in Los Angeles (PST)
    ("{field: local_hour, eq: 9}", {"zip": "75201"}, True),
    ("{field: local_hour, eq: 7}", {"zip": "90012"}, True),
    ("{field: local_hour, between: [8, 17]}", {"zip": "90012"}, False),
    ("{field: local_weekday, eq: tue}", {"zip": "75201"}, True),
    # 03:00 UTC on Tuesday is still Monday evening in Los Angeles
    ("{field: local_weekday, eq: mon}",
     {"zip": "90012", "received_at": "2025-03-04T03:00:00+00:00"}, True),
    ("{field: local_hour, eq: 19}",
     {"zip": "90012", "received_at": "2025-03-04T03:00:00+00:00"}, True),
    # after the switch to daylight time (9 March 2025) Dallas is UTC-5
    ("{field: local_hour, eq: 10}",
     {"zip": "75201", "received_at": "2025-03-10T15:00:00+00:00"}, True),
    ("{field: local_weekday, in: [sat, sun]}",
     {"zip": "75201", "received_at": "2025-03-08T15:00:00Z"}, True),
    ("{field: state, eq: CA}", {"zip": "90012"}, True),
    ("{field: county_fips, eq: '06037'}", {"zip": "90012"}, True),
    ("{field: timezone, eq: America/Chicago}", {"zip": "75201"}, True),
    ("{field: has_phone, eq: true}", {"phone": ""}, False),
    ("{field: has_email, eq: true}", {"phone": ""}, True),
    ("{field: has_consent, eq: true}", {"tcpa_text": "I agree"}, True),
    ("{field: has_consent, eq: true}", {}, False),
    ("{field: first_time_buyer, eq: false}", {"first_time_buyer": "no"}, True),
    ("{field: first_time_buyer, missing: true}", {}, True),
    ("{field: language, ne: en}", {"language": "es"}, True),
    ("{field: source, eq: web_form}", {"source": "Web_Form"}, True),
]


@pytest.mark.parametrize(("condition", "fields", "expected"), DERIVED_CASES)
def test_condition_derived_fields(condition, fields, expected):
    """Derived facts (is_jumbo, ltv, local_hour, local_weekday, state, ...) are what rules see."""
    assert holds(condition, make_lead(**fields)) is expected


# ---------------------------------------------------------------- custom fields

CUSTOM_CASES = [
    # (declared type, lead value or None for no column, condition, expected)
    ("string", "gold", "{field: tier, eq: gold}", True),
    ("string", " gold ", "{field: tier, eq: gold}", True),
    ("string", "silver", "{field: tier, in: [gold, platinum]}", False),
    ("string", "GA-900", "{field: tier, starts_with: GA}", True),
    ("number", "12.5", "{field: tier, gt: 12}", True),
    ("number", "12.5", "{field: tier, between: [0, 12]}", False),
    ("number", "abc", "{field: tier, missing: true}", True),
    ("number", "inf", "{field: tier, missing: true}", True),
    ("number", "nan", "{field: tier, missing: true}", True),
    ("integer", "3", "{field: tier, eq: 3}", True),
    ("integer", "3.0", "{field: tier, eq: 3}", True),
    ("integer", "3.5", "{field: tier, missing: true}", True),
    ("integer", "inf", "{field: tier, missing: true}", True),
    ("boolean", "yes", "{field: tier, eq: true}", True),
    ("boolean", "N", "{field: tier, eq: false}", True),
    ("boolean", "maybe", "{field: tier, missing: true}", True),
    ("string", "", "{field: tier, missing: true}", True),
    ("string", None, "{field: tier, missing: true}", True),
    ("string", None, "{field: tier, ne: gold}", False),
]


@pytest.mark.parametrize(("type_", "raw", "condition", "expected"), CUSTOM_CASES)
def test_condition_custom_field_converted_to_declared_type(type_, raw, condition, expected):
    """A declared custom field reads the lead's column as its type; an empty, absent or
    unreadable value is missing."""
    lead = make_lead() if raw is None else make_lead(tier=raw)
    assert holds(condition, lead, custom_fields=f"{{tier: {type_}}}") is expected


@pytest.mark.parametrize(("type_", "raw"), [
    ("number", "abc"), ("number", "inf"), ("integer", "3.5"), ("integer", "1e999"),
    ("boolean", "maybe"), ("number", "1_000"), ("number", "\u0663\u0665\u0660"),
    ("integer", "\uff13\uff15"), ("number", "nan"), ("number", "0x10"),
])
def test_read_facts_unreadable_custom_value_is_missing_with_a_note(type_, raw):
    """A custom value that cannot be read as its type is missing, with a note naming it."""
    facts, notes = read_facts(make_lead(tier=raw), (), {"tier": type_})
    assert facts == {"tier": None}
    assert len(notes) == 1 and "tier" in notes[0] and repr(raw) in notes[0]


def test_read_facts_note_masks_contact_details():
    """A note on an unreadable custom value never shows an email or phone number whole."""
    _, notes = read_facts(make_lead(tier="pat.doe@example.com"), (), {"tier": "number"})
    assert len(notes) == 1 and "doe@example" not in notes[0]


@pytest.mark.parametrize(("raw", "type_", "value"), [
    ("7", "number", 7.0), ("7", "integer", 7), (" x ", "string", "x"), ("true", "boolean", True),
    (True, "boolean", True), ("", "number", None), ("  ", "string", None), (None, "integer", None),
    ("-2.5e3", "number", -2500.0), (".5", "number", 0.5), ("12.0", "integer", 12),
])
def test_convert_custom_reads_each_type(raw, type_, value):
    """Text converts to the declared type; empty text is None."""
    converted = convert_custom(raw, type_)
    assert converted == value and type(converted) is type(value)


def test_policy_reads_only_the_fields_its_rules_use():
    """A loaded policy lists the built-in and custom fields its rules read, nothing else."""
    policy = make_policy(
        rules="- {name: a, if: {all: [{field: state, eq: TX}, {field: tier, eq: gold}]}, "
              "then: {pool: main}}", extra="custom_fields: {tier: string, unused: number}\n")
    assert policy.builtin_fields == ("state",)
    assert dict(policy.custom_fields) == {"tier": "string"}


# ---------------------------------------------------------------- load errors


def rule(condition: str, name: str = "r", then: str = "{pool: main}") -> str:
    return f"- {{name: {name}, if: {condition}, then: {then}}}"


TX = "{field: state, eq: TX}"
CA = "{field: state, eq: CA}"

LOAD_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    # (make_policy arguments, YAML path, message fragment)
    ({"rules": rule("{field: fico, gt: 1}")}, "rules[0].if.field", "unknown field 'fico'"),
    ({"rules": rule(CA) + "\n" + rule(f"{{all: [{TX}, {{any: [{{field: nope, eq: 1}}]}}]}}",
                                      name="s")},
     "rules[1].if.all[1].any[0].field", "unknown field 'nope'"),
    ({"rules": rule("{field: loan_amount, gt: 'abc'}")}, "rules[0].if.gt",
     "loan_amount is number; expected a number, got 'abc'"),
    ({"rules": rule("{field: credit_score, eq: 700.5}")}, "rules[0].if.eq",
     "credit_score is integer"),
    ({"rules": rule("{field: is_veteran, eq: 'yes'}")}, "rules[0].if.eq", "is_veteran is boolean"),
    ({"rules": rule("{field: zip, eq: 90012}")}, "rules[0].if.eq", "quote numbers-as-text"),
    ({"rules": rule("{field: credit_score, between: [600, 'x']}")}, "rules[0].if.between[1]",
     "credit_score is integer"),
    ({"rules": rule("{field: loan_program, eq: jumbo}")}, "rules[0].if.eq",
     "'jumbo' is not a value of loan_program"),
    ({"rules": rule("{field: state, in: [CA, XX]}")}, "rules[0].if.in[1]",
     "'XX' is not a value of state"),
    ({"rules": rule("{field: local_weekday, eq: Monday}")}, "rules[0].if.eq",
     "'Monday' is not a value of local_weekday"),
    ({"rules": rule(CA) + "\n" + rule(TX, name="s", then="{pool: nope}")}, "rules[1].then.pool",
     "unknown pool 'nope'"),
    ({"rules": rule(CA, then="{pool: main, fallback: [nope]}")},
     "rules[0].then.fallback[0].pool", "unknown pool 'nope'"),
    ({"rules": rule(CA, then="{pool: main, fallback: [main, {pool: nope}]}")},
     "rules[0].then.fallback[1].pool", "unknown pool 'nope'"),
    ({"tail": "else: {pool: nope}"}, "else.pool", "unknown pool 'nope'"),
    ({"routing": "{method: weighted_round_robin, after_hours: {action: pool, pool: night}}"},
     "routing.after_hours.pool", "unknown pool 'night'"),
    ({"routing": "{method: lottery}"}, "routing.method",
     f"unknown method 'lottery'; known: {', '.join(sorted(METHODS))}"),
    ({"rules": "- {name: a, if: " + TX + ", then: {pool: main}, else: {pool: main}}\n"
               + rule(CA, name="b"), "tail": ""},
     "rules[1]", "unreachable: rules[0] ('a') catches every lead"),
    ({"rules": "- {name: a, if: " + TX + ", then: {pool: main}, else: {pool: main}}"},
     "else", "unreachable: rules[0] ('a') already catches every lead"),
    ({"rules": rule(TX, name="a") + "\n" + rule(CA, name="b") + "\n" + rule(TX, name="c")},
     "rules[2].if", "unreachable: same condition as rules[0] ('a')"),
    ({"rules": rule("{field: state, in: []}")}, "rules[0].if",
     "unreachable: this condition can match no lead"),
    ({"rules": rule("{any: []}")}, "rules[0].if", "can match no lead"),
    ({"rules": rule("{all: []}")}, "else", "rules[0] ('r') already catches every lead"),
    ({"rules": rule("{all: []}") + "\n" + rule(TX, name="s")}, "rules[1]", "unreachable"),
    ({"rules": rule("{field: zip, starts_with: []}")}, "rules[0].if", "can match no lead"),
    ({"rules": rule("{field: loan_amount, gt: .nan}")}, "rules[0].if.gt",
     "expected a finite number, got nan"),
    ({"rules": rule("{field: ltv, between: [0, .inf]}")}, "rules[0].if.between[1]",
     "expected a finite number, got inf"),
    ({"rules": rule("{field: credit_score, between: [700, 600]}")}, "rules[0].if.between",
     "low 700 is above high 600"),
    ({"rules": rule("{field: race, eq: x}")}, "rules[0].if.field",
     "'race' is a protected characteristic (race)"),
    ({"rules": rule("{field: applicant_sex, eq: f}")}, "rules[0].if.field",
     "protected characteristic (sex)"),
    ({"rules": rule("{not: {field: dob, missing: true}}")}, "rules[0].if.not.field",
     "protected characteristic (age)"),
    ({"extra": "custom_fields: {applicant_race: string}\n"}, "custom_fields.applicant_race",
     "protected characteristic (race)"),
    ({"extra": "custom_fields: {borrowerAge: integer}\n"}, "custom_fields.borrowerAge",
     "protected characteristic (age)"),
    ({"extra": "custom_fields: {zip: string}\n"}, "custom_fields.zip", "is a built-in lead field"),
    ({"extra": "custom_fields: {tier: text}\n"}, "custom_fields.tier",
     "Input should be 'string', 'number', 'integer' or 'boolean'"),
    ({"extra": "bogus: 1\n"}, "bogus", "unknown key 'bogus'"),
    ({"rules": "- {name: r, if: " + TX + ", then: {pool: main}, unless: " + CA + "}"},
     "rules[0].unless", "unknown key 'unless'"),
    ({"rules": rule(TX, then="{pool: main, bogus: 1}")}, "rules[0].then.bogus",
     "unknown key 'bogus'"),
    ({"rules": rule(TX, then="{pool: main, fallback: [{pool: main, bogus: 1}]}")},
     "rules[0].then.fallback[0].bogus", "unknown key 'bogus'"),
    ({"rules": rule(TX, then="{pool: main, fallback: [{require_languages: [es]}]}")},
     "rules[0].then.fallback[0].pool", "'pool' is required"),
    ({"pools": "main: {everyone: true, bogus: 1}"}, "pools.main.bogus", "unknown key 'bogus'"),
    ({"routing": "{method: round_robin, bogus: 1}"}, "routing.bogus", "unknown key 'bogus'"),
    ({"pools": "main: {specialties: [astrology]}"}, "pools.main.specialties[0]",
     "(got 'astrology')"),
    ({"pools": "main: {}"}, "pools.main", "a pool needs everyone: true or at least one of"),
    ({"pools": "main: {everyone: true}\nes: {languages: [spanish]}"}, "pools.es.languages[0]",
     "'spanish' is not an ISO 639-1 code"),
    ({"pools": "main: {everyone: true}\ntx: {states: [TX, tx]}"}, "pools.tx.states[1]",
     "'tx' is not a US state, DC or territory code"),
    ({"pools": "main: {everyone: true}\nmil: {states: [AE]}"}, "pools.mil.states[0]",
     "'AE' is not a US state"),
    ({"rules": rule(TX, then="{pool: main, require_languages: [klingon]}")},
     "rules[0].then.require_languages[0]", "'klingon' is not an ISO 639-1 code"),
    ({"rules": rule(TX, then="{pool: main, priority: asap}")}, "rules[0].then.priority",
     "(got 'asap')"),
    ({"routing": "{method: round_robin, offer: {mode: cascade}}"}, "routing.offer",
     "a cascade needs step_s"),
    ({"routing": "{method: round_robin, offer: {mode: escalate, max_officers: 3}}"},
     "routing.offer", "escalate needs step_s"),
    ({"tail": ""}, "else", "'else' is required"),
    ({"rules": rule(TX, name="same") + "\n" + rule(CA, name="same")}, "rules[1].name",
     "duplicate rule name 'same' (also rules[0])"),
    ({"rules": "- {name: r, if: " + TX + "}"}, "rules[0].then", "'then' is required"),
    ({"rules": rule("{field: state, gt: CA}")}, "rules[0].if.gt",
     "gt needs a number field; state is string"),
    ({"rules": rule("{field: zip, between: ['750', '760']}")}, "rules[0].if.between",
     "between needs a number field; zip is string"),
    ({"rules": rule("{field: is_jumbo, lte: true}")}, "rules[0].if.lte",
     "lte needs a number field; is_jumbo is boolean"),
    ({"rules": rule("{field: zip, starts_with: 900}")}, "rules[0].if.starts_with",
     "quote digits: '900'"),
    ({"rules": rule("{field: zip, starts_with: ['900', 901]}")}, "rules[0].if.starts_with",
     "quote digits"),
    ({"rules": rule("{field: loan_amount, starts_with: '9'}")}, "rules[0].if.starts_with",
     "starts_with needs a text field"),
    ({"rules": rule("{field: state}")}, "rules[0].if", "expected exactly one operator"),
    ({"rules": rule("{field: state, eq: TX, ne: CA}")}, "rules[0].if",
     "expected exactly one operator"),
    ({"rules": rule("{field: state, equals: TX}")}, "rules[0].if", "found ['equals']"),
    ({"rules": rule("{field: credit_score, missing: 1}")}, "rules[0].if.missing",
     "expected true or false"),
    ({"rules": rule("{field: state, in: TX}")}, "rules[0].if.in", "expected a list of values"),
    ({"rules": rule("{field: state, between: [1]}")}, "rules[0].if.between",
     "between needs a number field"),
    ({"rules": rule("{field: credit_score, between: [1]}")}, "rules[0].if.between",
     "expected [low, high]"),
    ({"rules": rule("{all: [" + TX + "], field: state}")}, "rules[0].if",
     "'all' must stand alone"),
    ({"rules": rule("{all: " + TX + "}")}, "rules[0].if.all", "expected a list of conditions"),
    ({"rules": rule("{state: TX}")}, "rules[0].if", "expected 'field' with an operator"),
    ({"rules": rule("[" + TX + "]")}, "rules[0].if", "Input should be a valid dictionary"),
    ({"rules": rule("{any: [" + TX + ", 3]}")}, "rules[0].if.any[1]",
     "expected a condition mapping"),
]


NEVER = "unreachable: this condition can match no lead"

LOAD_ERRORS += [
    ({"rules": rule("{field: " + "t" * 257 + ", eq: x}")}, "rules[0].if.field",
     "expected a field name of at most 256 characters"),
    ({"extra": "custom_fields: {" + "t" * 257 + ": string}\n"}, "custom_fields." + "t" * 80,
     "a custom field name has at most 256 characters"),
    ({"rules": rule("{field: zip, eq: '9021'}")}, "rules[0].if.eq",
     "'9021' is not a value zip can have: zip is 5 digits"),
    ({"rules": rule("{field: zip, starts_with: '123456'}")}, "rules[0].if.starts_with",
     "'123456' begins no value zip can have: zip is 5 digits"),
    ({"rules": rule("{field: zip, starts_with: ['750', '90x']}")}, "rules[0].if.starts_with[1]",
     "'90x' begins no value zip can have"),
    ({"rules": rule("{field: county_fips, in: ['48113', '4811']}")}, "rules[0].if.in[1]",
     "'4811' is not a value county_fips can have"),
    ({"rules": rule("{field: source, eq: Facebook}")}, "rules[0].if.eq",
     "'Facebook' is not a value source can have: source is lower case: sources are read so"),
    ({"rules": rule("{field: language, eq: english}")}, "rules[0].if.eq",
     "'english' is not a value of language"),
    ({"rules": rule("{field: timezone, eq: America/Chicgo}")}, "rules[0].if.eq",
     "'America/Chicgo' is not a value of timezone"),
]

# Conditions no lead can satisfy, each refused at the YAML path of the part that cannot hold.
LOAD_ERRORS += [
    ({"rules": rule("{field: credit_score, gt: 900}")}, "rules[0].if",
     f"{NEVER} (credit_score gt 900: credit_score is from 300 to 850)"),
    ({"rules": rule("{field: credit_score, lt: 300}")}, "rules[0].if", NEVER),
    ({"rules": rule("{field: credit_score, gte: 851}")}, "rules[0].if", NEVER),
    ({"rules": rule("{field: credit_score, between: [900, 950]}")}, "rules[0].if", NEVER),
    ({"rules": rule("{field: credit_score, eq: 900}")}, "rules[0].if.eq",
     "900 is not a value credit_score can have: credit_score is from 300 to 850"),
    ({"rules": rule("{field: credit_score, ne: 200}")}, "rules[0].if.ne",
     "200 is not a value credit_score can have"),
    ({"rules": rule("{field: credit_score, in: [700, 900]}")}, "rules[0].if.in[1]",
     "900 is not a value credit_score can have"),
    ({"rules": rule("{field: local_hour, gt: 23}")}, "rules[0].if",
     "local_hour is from 0 to 23"),
    ({"rules": rule("{field: loan_amount, lte: 0}")}, "rules[0].if",
     "loan_amount is above 0 and at most 1,000,000,000"),
    ({"rules": rule("{field: ltv, lt: 0}")}, "rules[0].if", "ltv is above 0"),
    ({"rules": rule("{field: loan_program, eq: foo}")}, "rules[0].if.eq",
     "'foo' is not a value of loan_program"),
    ({"rules": rule("{field: loan_program, starts_with: z}")}, "rules[0].if", NEVER),
    ({"rules": rule("{all: [{field: credit_score, gt: 800}, {field: credit_score, lt: 700}]}")},
     "rules[0].if", f"{NEVER} (no value of credit_score satisfies all[0] and all[1] together)"),
    ({"rules": rule("{all: [{field: loan_amount, gt: 500000}, {field: state, eq: TX}, "
                    "{field: loan_amount, lte: 500000}]}")},
     "rules[0].if", "no value of loan_amount satisfies all[0] and all[2] together"),
    ({"rules": rule("{all: [" + TX + ", " + CA + "]}")}, "rules[0].if",
     "no value of state satisfies all[0] and all[1] together"),
    ({"rules": rule("{all: [{field: is_veteran, eq: true}, {field: is_veteran, eq: false}]}")},
     "rules[0].if", "no value of is_veteran"),
    ({"rules": rule("{all: [{field: credit_score, missing: true}, "
                    "{field: credit_score, gt: 600}]}")}, "rules[0].if",
     "no value of credit_score"),
    ({"rules": rule("{all: [{field: state, in: [TX, CA]}, {field: state, not_in: [TX, CA]}]}")},
     "rules[0].if", "no value of state"),
    ({"rules": rule("{all: [{any: [" + TX + ", " + CA + "]}, {field: state, eq: NY}]}")},
     "rules[0].if", "no value of state satisfies all[0] and all[1] together"),
    ({"rules": rule("{all: [{not: {field: state, ne: TX}}, " + CA + "]}")}, "rules[0].if",
     "no value of state"),
    ({"rules": rule("{all: [{field: tier, eq: gold}, {field: tier, eq: silver}]}"),
      "extra": "custom_fields: {tier: string}\n"}, "rules[0].if", "no value of tier"),
    ({"rules": rule("{any: [{field: credit_score, gt: 900}, " + TX + "]}")}, "rules[0].if.any[0]",
     NEVER),
    ({"rules": rule("{not: {field: credit_score, gt: 900}}")}, "rules[0].if.not", NEVER),
    ({"rules": rule("{not: {all: []}}")}, "rules[0].if",
     f"{NEVER} (not of a condition every lead satisfies)"),
    ({"rules": rule("{any: [{all: [" + TX + ", " + CA + "]}, " + CA + "]}")},
     "rules[0].if.any[0]", "no value of state"),
]


@pytest.mark.parametrize(("kwargs", "path", "message"), LOAD_ERRORS)
def test_policy_load_error_names_yaml_path(kwargs, path, message):
    """A policy problem is refused at load as a PolicyError naming the file and YAML path."""
    with pytest.raises(PolicyError) as info:
        make_policy(**{"pools": POOLS, **kwargs})
    assert info.value.path == path
    assert message in info.value.message
    assert str(info.value).startswith(f"test.yaml: {path}: ")


YAML_ERRORS = [
    # (text, location, message fragment)
    ("policy: x\nversion: 1\npools:\n  main: {everyone: true\nelse: {pool: main}\n",
     "line 5 column 5", "not valid YAML: expected ',' or '}'"),
    ("policy: x\nversion: 1\npools:\n\tmain: {everyone: true}\nelse: {pool: main}\n",
     "line 4 column 1", "not valid YAML: found character '\\t'"),
    ("policy: x\nversion: 1\npools: {main: {everyone: true}}\nelse: {pool: main}\n"
     "else: {pool: main}\n", "line 5 column 1", "found duplicate key 'else'"),
    ("policy: x\nversion: 1\npools: {main: {everyone: true}}\nrules:\n  - name: a\n"
     "    if: {field: state, eq: TX}\n    then: {pool: main}\n    if: {field: state, eq: CA}\n"
     "else: {pool: main}\n", "line 8 column 5", "found duplicate key 'if'"),
    ("", "(top)", "expected a mapping with policy, version, pools, rules, else"),
    ("- policy: x\n", "(top)", "expected a mapping"),
    ("policy: x\npools: {main: {everyone: true}}\nelse: {pool: main}\n", "version",
     "'version' is required"),
    ("policy: x\nversion: 1.5\npools: {main: {everyone: true}}\nelse: {pool: main}\n",
     "version", "Input should be a valid integer"),
    ("policy: x\nversion: 1\nelse: {pool: main}\n", "pools", "'pools' is required"),
    ("policy: ''\nversion: 1\npools: {main: {everyone: true}}\nelse: {pool: main}\n", "policy",
     "at least 1 character"),
]


@pytest.mark.parametrize(("text", "path", "message"), YAML_ERRORS)
def test_policy_text_error_names_line_or_key(text, path, message):
    """Invalid YAML is located by line and column (duplicate keys included); structural
    problems by key."""
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    assert info.value.path == path
    assert message in info.value.message
    assert str(info.value).startswith(f"p.yaml: {path}: ")


@pytest.mark.parametrize("condition", [
    "{field: language, ne: en}",
    "{field: state, starts_with: C}",
    "{field: conforming_limit, gte: 1000000}",
    "{field: credit_score, gte: 850}",
    "{field: credit_score, lte: 300}",
    "{field: credit_score, between: [800, 900]}",
    "{all: [{field: credit_score, gt: 600}, {field: credit_score, lt: 700}]}",
    "{all: [{field: credit_score, gte: 700}, {field: credit_score, lte: 700}]}",
    "{all: [" + TX + ", {field: loan_amount, gt: 500000}]}",
    "{any: [" + TX + ", {field: credit_score, gt: 800}]}",
    "{not: {field: credit_score, between: [300, 850]}}",
    "{all: [{not: " + TX + "}, {field: state, ne: CA}]}",
    "{all: [{field: credit_score, missing: false}, {field: credit_score, lt: 620}]}",
    "{field: local_hour, between: [0, 23]}",
    "{all: [{field: zip, starts_with: '750'}, {field: zip, starts_with: '902'}, "
    + TX + "]}",
    "{field: source, in: [facebook, google_ads]}", "{field: zip, eq: '75201'}",
    "{field: timezone, eq: America/Chicago}", "{field: language, in: [es, zh]}",
])
def test_policy_accepts_edge_conditions(condition):
    """Language (the borrower's own preference), text prefixes on enumerations, ranges that
    meet at one value, ranges reaching past a field's bounds and tests the value sets cannot
    decide (prefixes of free text) are allowed."""
    assert len(rule_policy(condition).rules) == 1


def test_policy_rule_with_own_else_replaces_top_level_else():
    """A last rule with its own else needs no top-level else and takes every other lead."""
    policy = make_policy(rules="- {name: r, if: {field: state, eq: CA}, then: {pool: hit}, "
                               "else: {pool: main}}", pools=POOLS, tail="")
    facts, _ = read_facts(make_lead(), policy.builtin_fields, policy.custom_fields)
    action, path = policy.match(facts)
    assert action.steps[0].pool == "main"
    assert path == [{"rule": "r", "matched": False, "branch": "else"}]
