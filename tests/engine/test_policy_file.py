"""The shipped policy file: it loads, routes as its description says, and fits the JSON Schema."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import yaml

from engine.decide import Status, decide
from engine.rules import PolicyError, load_policy, parse_policy, policy_json_schema
from engine.rules.fields import read_facts
from engine.state import RoutingState
from tests.conftest import DATA, TUESDAY_15_UTC, make_lead, make_roster

DEFAULT_YAML = DATA / "policies" / "default.yaml"


def test_default_policy_loads_with_documented_rules(default_policy):
    """default.yaml loads: four rules in order, four pools, weighted round robin, assign."""
    assert (default_policy.name, default_policy.version) == ("default", "1")
    assert [r.name for r in default_policy.rules] == [
        "va-loans", "reverse-mortgages", "jumbo-loans", "preferred-language"]
    assert set(default_policy.pools) == {
        "main", "va_specialists", "reverse_specialists", "jumbo_specialists"}
    assert default_policy.routing.method == "weighted_round_robin"
    assert default_policy.routing.offer.mode == "assign"
    assert default_policy.routing.offer.accept_within_s == 900
    assert default_policy.routing.after_hours.action == "hold"
    assert default_policy.builtin_fields == (
        "is_jumbo", "is_veteran", "language", "loan_program", "loan_purpose")


ROUTES = [
    # (lead fields, rule, pools tried in order, priority, match_lead_language)
    ({"loan_program": "va"}, "va-loans", ["va_specialists", "main"], "high", False),
    ({"is_veteran": "true"}, "va-loans", ["va_specialists", "main"], "high", False),
    ({"loan_program": "va", "zip": "90012", "loan_amount": "1300000", "language": "es"},
     "va-loans", ["va_specialists", "main"], "high", False),  # first matching rule wins
    ({"loan_program": "reverse"}, "reverse-mortgages", ["reverse_specialists", "main"],
     "normal", False),
    ({"loan_purpose": "reverse"}, "reverse-mortgages", ["reverse_specialists", "main"],
     "normal", False),
    ({"zip": "90012", "loan_amount": "1300000", "property_value": "1600000"}, "jumbo-loans",
     ["jumbo_specialists", "main"], "high", False),
    ({"zip": "75201", "loan_amount": "900000", "property_value": "1200000"}, "jumbo-loans",
     ["jumbo_specialists", "main"], "high", False),
    ({"zip": "90012", "loan_amount": "900000", "property_value": "1200000"}, "else",
     ["main"], "normal", False),  # under the Los Angeles limit
    ({"language": "es"}, "preferred-language", ["main", "main"], "normal", True),
    ({"language": "zh", "zip": "90012", "loan_amount": "1300000"}, "jumbo-loans",
     ["jumbo_specialists", "main"], "high", False),
    ({}, "else", ["main"], "normal", False),
]


@pytest.mark.parametrize(("fields", "rule", "pools", "priority", "match_language"), ROUTES)
def test_default_policy_routes_as_documented(default_policy, fields, rule, pools, priority,
                                             match_language):
    """VA and reverse leads go to their specialists, then jumbo, then a non-English speaker to
    an officer who speaks the language, all falling back to main; the rest go to main."""
    facts, _ = read_facts(make_lead(**fields), default_policy.builtin_fields,
                          default_policy.custom_fields)
    action, path = default_policy.match(facts)
    assert path[-1]["rule"] == rule and path[-1]["matched"]
    assert all(not step["matched"] for step in path[:-1])
    assert [s.pool for s in action.steps] == pools
    assert action.priority.value == priority
    assert action.steps[0].match_lead_language is match_language


@pytest.fixture
def roster():
    return make_roster(("VA", {"specialties": "va"}), ("REV", {"specialties": "reverse"}),
                       ("JUMBO", {"specialties": "jumbo"}), ("ES", {"languages": "en;es"}),
                       ("CA_ONLY", {"specialties": "va", "licensed_states": "CA"}))


@pytest.mark.parametrize(("fields", "officer", "pool"), [
    ({"loan_program": "va"}, "VA", "va_specialists"),
    ({"loan_purpose": "reverse"}, "REV", "reverse_specialists"),
    ({"loan_amount": "900000", "property_value": "1200000"}, "JUMBO", "jumbo_specialists"),
    ({"language": "es"}, "ES", "main"),
])
def test_default_policy_assigns_the_specialist(default_policy, roster, fields, officer, pool):
    """With a licensed specialist on shift, the lead is assigned to them in their pool."""
    state = RoutingState.empty(roster.ids_tuple)
    decision = decide(make_lead(**fields), roster, default_policy, state, TUESDAY_15_UTC)
    assert decision.status is Status.ASSIGNED
    assert (decision.officer_id, decision.pool) == (officer, pool)


def test_default_policy_falls_back_to_main_without_a_specialist(default_policy):
    """A VA lead with no eligible VA specialist (only one licensed elsewhere) goes to main."""
    roster = make_roster(("CA_VA", {"specialties": "va", "licensed_states": "CA"}), "G")
    state = RoutingState.empty(roster.ids_tuple)
    decision = decide(make_lead(loan_program="va"), roster, default_policy, state,
                      TUESDAY_15_UTC)
    assert decision.status is Status.ASSIGNED
    assert (decision.officer_id, decision.pool) == ("G", "main")
    steps = decision.explanation.to_dict()["steps"]
    assert [s["pool"] for s in steps] == ["va_specialists", "main"]
    assert steps[0]["excluded"] == {"not_licensed": ["CA_VA"]}


# ---------------------------------------------------------------- JSON Schema


@pytest.fixture(scope="module")
def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema", reason="add jsonschema to the dev extras")
    schema = policy_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_policy_json_schema_is_json_with_a_condition_definition():
    """The schema is plain JSON, 2020-12, and a rule's ``if`` refers to the Condition def."""
    schema = json.loads(json.dumps(policy_json_schema()))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$defs"]["Rule"]["properties"]["if"]["$ref"] == "#/$defs/Condition"
    assert "oneOf" in schema["$defs"]["Condition"]
    assert "x-leadroute-condition" not in json.dumps(schema)


def test_default_policy_validates_against_json_schema(validator):
    """default.yaml is valid under the published JSON Schema."""
    document = yaml.safe_load(DEFAULT_YAML.read_text())
    assert list(validator.iter_errors(document)) == []


@pytest.mark.parametrize("change", [
    lambda d: d.update(bogus=1),
    lambda d: d.pop("pools"),
    lambda d: d["rules"][0].update(unless={"field": "state", "eq": "TX"}),
    lambda d: d["rules"][0]["if"].update(field="state"),  # any plus field
    lambda d: d["rules"][1].update({"if": {"field": "state", "eq": "TX", "ne": "CA"}}),
    lambda d: d["rules"][2].update({"if": {"field": "zip", "starts_with": 900}}),
    lambda d: d["rules"][2]["then"].update(priority="asap"),
    lambda d: d["pools"]["main"].update(specialties=["astrology"]),
    lambda d: d["routing"]["offer"].update(mode="lottery"),
])
def test_json_schema_refuses_what_the_loader_refuses(validator, change):
    """Structural mistakes the loader refuses are also invalid under the schema."""
    document = yaml.safe_load(DEFAULT_YAML.read_text())
    broken = copy.deepcopy(document)
    change(broken)
    assert list(validator.iter_errors(broken)) != []
    with pytest.raises(PolicyError):
        parse_policy(yaml.safe_dump(broken), "broken.yaml")


# ---------------------------------------------------------------- reading the file


def test_load_policy_missing_file_is_policy_error(tmp_path):
    """A missing policy file is a PolicyError naming the file."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}: (file): cannot read policy file")


def test_load_policy_non_utf8_file_is_policy_error(tmp_path):
    """A policy file that is not UTF-8 is a PolicyError naming the file, not a crash."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(DEFAULT_YAML.read_bytes() + "# Jos\xe9\n".encode("latin-1"))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}: (file): not UTF-8 text")


def test_load_policy_names_the_file_in_errors(tmp_path):
    """Errors from a file on disk carry its path before the YAML path."""
    path = tmp_path / "bad.yaml"
    path.write_text(DEFAULT_YAML.read_text().replace("field: is_jumbo", "field: race"))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}: rules[2].if.field: 'race' is a protected")


# ---------------------------------------------------------------- hostile YAML

HEAD = "policy: t\nversion: 1\npools: {main: {everyone: true}}\n"
TAIL = "else: {pool: main}\n"


def _laughs(levels: int) -> str:
    """A rule whose condition nests ``levels`` anchors, each an ``any`` of nine copies of the
    one before: a few hundred bytes that stand for 9**levels conditions."""
    inner = "&l0 {any: [" + ", ".join(["{field: state, eq: TX}"] * 9) + "]}"
    for i in range(1, levels):
        inner = f"&l{i} {{any: [{inner}" + f", *l{i - 1}" * 8 + "]}"
    return f"{HEAD}rules:\n  - name: r\n    if: {inner}\n    then: {{pool: main}}\n{TAIL}"


HOSTILE_YAML = [
    # (text, path or location, message fragment)
    (f"{HEAD}rules:\n  - &r\n    name: a\n    if: {{not: *r}}\n    then: {{pool: main}}\n{TAIL}",
     "line 7 column 15", "the alias *r refers to the node that contains it"),
    (f"{HEAD}rules:\n  - name: a\n    if: &c {{any: [*c]}}\n    then: {{pool: main}}\n{TAIL}",
     "line 6 column 19", "the alias *c refers to the node that contains it"),
    (f"{HEAD}rules:\n  - name: a\n    if: " + "{not: " * 250 + "{field: state, eq: TX}"
     + "}" * 250 + f"\n    then: {{pool: main}}\n{TAIL}", "line 6 column 370",
     "nested more than 64 levels deep"),
    (_laughs(8), "line 6 column 52 (rules[0].if.any[8].any[8].any[8].any)",
     "stands for more than 100,000 values once its aliases are expanded"),
    (HEAD.replace("version: 1", "version: " + "9" * 5000) + TAIL, "line 2 column 10 (version)",
     "an integer of more than 19 digits"),
    (HEAD + "description: 2025-13-45\n" + TAIL, "line 4 column 14",
     "'2025-13-45' is not a date or time"),
    (HEAD + "routing: {offer: {accept_within_s: .inf}}\n" + TAIL,
     "routing.offer.accept_within_s", "expected a finite number, got inf"),
    (HEAD + "routing: {offer: {accept_within_s: 'inf'}}\n" + TAIL,
     "routing.offer.accept_within_s", "Input should be a finite number"),
    (HEAD + "routing: {offer: {accept_within_s: 1.0e+300}}\n" + TAIL,
     "routing.offer.accept_within_s", "expected a number of seconds from 0 to 31,622,400"),
    (HEAD + "routing: {offer: {accept_within_s: '1e300'}}\n" + TAIL,
     "routing.offer.accept_within_s", "less than or equal to 31622400"),
    (HEAD + "routing: {offer: {mode: cascade, step_s: .nan}}\n" + TAIL,
     "routing.offer.step_s", "expected a finite number, got nan"),
    (HEAD + "routing: {method: batch_optimal, params: {window_s: .inf}}\n" + TAIL,
     "routing.params.window_s", "expected a finite number, got inf"),
    (HEAD + "routing: {method: dual_price, params: {horizon_s: -.inf}}\n" + TAIL,
     "routing.params.horizon_s", "expected a finite number, got -inf"),
    (HEAD + "routing: {method: dual_price, params: {reprice_every_s: 1.0e+20}}\n" + TAIL,
     "routing.params.reprice_every_s", "expected a number of seconds from 0"),
    (HEAD + "routing: {seed: 100000000000000000000000000000}\n" + TAIL,
     "line 4 column 17 (routing.seed)", "an integer of more than 19 digits"),
]


@pytest.mark.parametrize(("text", "where", "message"), HOSTILE_YAML)
def test_parse_policy_refuses_hostile_yaml_quickly_naming_the_place(text, where, message):
    """Self-containing aliases, nesting 250 deep, nested aliases standing for billions of
    values, giant integers, impossible dates and numbers that are not finite (or seconds
    beyond a year) are a PolicyError naming line, column or YAML path, within a second."""
    import time

    started = time.perf_counter()
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    assert time.perf_counter() - started < 1.0
    assert info.value.path == where
    assert message in info.value.message


def test_parse_policy_accepts_anchors_merge_keys_and_reuse_within_bounds():
    """Anchors, aliases and merge keys used for reuse still load."""
    policy = parse_policy(
        "policy: t\nversion: 1\n"
        "routing: {offer: &o {mode: cascade, step_s: 60, accept_within_s: 600}}\n"
        "pools: {main: {everyone: true}, va: {specialties: [va]}}\n"
        "rules:\n"
        "  - name: va\n    if: &va {field: loan_program, eq: va}\n"
        "    then: &then {pool: va, fallback: [main], offer: {<<: *o, accept_within_s: 300}}\n"
        "  - name: vets\n    if: {any: [*va, {field: is_veteran, eq: true}]}\n    then: *then\n"
        "else: {pool: main}\n", "p.yaml")
    assert policy.rules[0].then.offer.accept_within_s == 300
    assert policy.rules[1].then.offer.step_s == 60


@pytest.mark.parametrize(("text", "where", "code"), [
    ("\x1f", "character 1", "U+001F"),
    ("policy: x\n\x07", "character 11", "U+0007"),
    ("a: \ud800", "character 4", "U+D800"),
])
def test_control_characters_are_a_policy_error(text, where, code):
    """A character YAML does not allow is a PolicyError naming where it stands, not the
    YAML library's own exception (an API upload answered 500 with it)."""
    from engine.rules import PolicyError, parse_policy

    with pytest.raises(PolicyError, match=re.escape(f"{where}: not valid YAML: character {code}")):
        parse_policy(text, source="<x>")
