"""Whatever a lead row, a roster row or a policy holds, the engine answers with an InputError or
a PolicyError naming the place, never another exception (property tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.leads import CONSENT_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, LeadParser
from engine.roster import OFFICER_COLUMNS, OPTIONAL_OFFICER_COLUMNS, Roster, parse_officer
from engine.rules import PolicyError, parse_policy
from engine.rules.fields import BUILTIN_FIELDS, read_facts
from tests.conftest import LEAD_DEFAULTS, OFFICER_DEFAULTS

# Values that broke or nearly broke parsing before: far-off years, numbers float() takes but
# dollars are not, other scripts' digits, contact details in the wrong column, formulas.
TRICKY = [
    "", " ", "0", "-0", "1e308", "1e-320", "inf", "-inf", "nan", "1_000", "350,0,0,0",
    "$350,000", "\u0663\u0665\u0660", "\uff13\uff15\uff10", "9" * 30, "-" + "9" * 25,
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "0025-03-04T15:00:00Z",
    "2200-12-31T23:59:59+14:00", "1970-01-01T00:00:00-12:00", "2025-02-30T10:00:00Z",
    "(312) 555-0134", "+44 20 7946 0958", "pat@example.com", "=HYPERLINK(\"x\")", "@SUM(A1)",
    "localtime", "Factory", "posix/UTC", "../../etc/passwd", "America", "Mon-Fri 08:00-18:00",
    "Fri 22:00-02:00", "Mon 25:00-26:00", "0001-01-01/9999-12-31", "2026-12-01/2026-12-05",
    "TX;CA:2026-12-31", "TX:0001-01-01", "TX:9999-12-31", "va;fha", "en;es", "x" * 300,
    "\x00", "\ud7ff", "\u200b", "ѕех",
]
values = st.one_of(st.sampled_from(TRICKY), st.text(max_size=24))


def _row(defaults: dict[str, str], columns: tuple[str, ...], draw: Any) -> dict[str, str]:
    row = dict(defaults)
    for column in draw(st.lists(st.sampled_from(columns), max_size=5, unique=True)):
        row[column] = draw(values)
    return row


@st.composite
def lead_rows(draw: Any) -> dict[str, str]:
    columns = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *CONSENT_COLUMNS, "broker_tier", "dob")
    return _row({**LEAD_DEFAULTS, "lead_id": "L1"}, columns, draw)


@st.composite
def officer_rows(draw: Any) -> dict[str, str]:
    return _row({**OFFICER_DEFAULTS, "officer_id": "A"},
                (*OFFICER_COLUMNS, *OPTIONAL_OFFICER_COLUMNS), draw)


PARSER = LeadParser.default()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lead_rows())
def test_lead_parser_answers_any_row_with_a_lead_or_an_input_error(row):
    """Any row gives a Lead, whose facts every built-in field can read, or an InputError."""
    try:
        lead = PARSER.parse(row, "leads.csv row 2")
    except InputError as exc:
        assert all(p.where == "leads.csv row 2" for p in exc.problems)
        return
    read_facts(lead, tuple(BUILTIN_FIELDS), {"broker_tier": "number"})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(officer_rows())
def test_officer_parser_answers_any_row_with_an_officer_or_an_input_error(row):
    """Any roster row gives an Officer that a Roster can be built from and asked for its
    clock, or an InputError."""
    try:
        officer = parse_officer(row, "officers.csv row 2")
    except InputError:
        return
    roster = Roster([officer])
    for moment in (datetime(1970, 1, 2, tzinfo=UTC), datetime(2200, 12, 30, tzinfo=UTC)):
        roster.local_clock(moment)
        roster.off_shift(moment)


FIELD_NAMES = st.sampled_from([*BUILTIN_FIELDS, "tier", "race", "ѕех", "nope"])
SCALARS = st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.booleans(), st.text(max_size=8), st.sampled_from(["TX", "va", "Mon"]))
OPERATORS = st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "between",
                             "starts_with", "missing", "bogus"])


def _test(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, op: value}


conditions = st.recursive(
    st.builds(_test, FIELD_NAMES, OPERATORS,
              st.one_of(SCALARS, st.lists(SCALARS, max_size=3))),
    lambda inner: st.one_of(
        st.builds(lambda c: {"not": c}, inner),
        st.builds(lambda cs: {"all": cs}, st.lists(inner, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, max_size=3))),
    max_leaves=8)


@st.composite
def policies(draw: Any) -> str:
    rules = [{"name": f"r{i}", "if": draw(conditions), "then": {"pool": "main"}}
             for i in range(draw(st.integers(0, 3)))]
    tree = {
        "policy": "p", "version": draw(st.one_of(st.integers(-10**25, 10**25), st.text())),
        "routing": {"offer": {"accept_within_s": draw(st.one_of(SCALARS, st.just(900)))},
                    "seed": draw(st.integers(-10**25, 10**25))},
        "custom_fields": {"tier": draw(st.sampled_from(["string", "number", "integer", "x"]))},
        "pools": {"main": {"everyone": True}}, "rules": rules, "else": {"pool": "main"},
    }
    return yaml.safe_dump(tree, allow_unicode=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_policy_loader_answers_any_policy_with_a_policy_or_a_policy_error(text):
    """Any policy tree (random fields, operators, values, nesting, numbers) loads or is a
    PolicyError, and a loaded policy matches a lead's facts without error."""
    try:
        policy = parse_policy(text, "p.yaml")
    except PolicyError:
        return
    lead = PARSER.parse({**LEAD_DEFAULTS, "lead_id": "L1"})
    facts, _ = read_facts(lead, policy.builtin_fields, policy.custom_fields)
    policy.match(facts)
