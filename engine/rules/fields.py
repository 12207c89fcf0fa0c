"""The lead fields a rule may test, their types, and how a lead's facts are read.

Every rule input is listed here (or declared as a custom field in the policy file), so a policy
that names an unknown field, or compares a field with a value of the wrong type, is refused
when it loads rather than when a lead arrives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.domain import WEEKDAYS, Lead, LoanProgram, LoanPurpose
from engine.errors import redact
from engine.geo import US_STATES
from engine.leads import CREDIT_SCORE_RANGE, ISO_639_1, MAX_AMOUNT_USD, parse_bool
from engine.roster import iana_timezones, zone

FIELD_TYPES = ("string", "number", "integer", "boolean")
# a custom number: optional sign, ASCII digits, optional decimals and exponent
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A rule input: its type, allowed values for enumerations, and what it means."""

    name: str
    type: str  # one of FIELD_TYPES
    description: str
    choices: frozenset[str] | None = None
    # numbers: the lowest and highest value a lead can have (low excluded when low_open)
    bounds: tuple[float, float] | None = None
    low_open: bool = False
    # text: the form every value has (regex, matched whole) and the form of its prefixes, with
    # what they mean in words; a value of another form could never match
    pattern: tuple[str, str, str] | None = None  # (value regex, prefix regex, description)


def _local(lead: Lead) -> Any:
    return lead.received_at.astimezone(zone(lead.timezone)) if lead.timezone else lead.received_at


_READERS: dict[str, tuple[FieldSpec, Callable[[Lead], Any]]] = {
    f.name: (f, reader)
    for f, reader in [
        (FieldSpec("source", "string", "lead source, lower case (facebook, google_ads, zillow...)",
                   pattern=(r"[^A-Z]*", r"[^A-Z]*", "lower case: sources are read so")),
         lambda x: x.source),
        (FieldSpec("campaign", "string", "campaign name or id as received"),
         lambda x: x.campaign or None),
        (FieldSpec("zip", "string", "5-digit ZIP of the property; use starts_with for zip3",
                   pattern=(r"[0-9]{5}", r"[0-9]{1,5}", "5 digits")),
         lambda x: x.zip),
        (FieldSpec("state", "string", "property state code", frozenset(US_STATES)),
         lambda x: x.state),
        (FieldSpec("county_fips", "string", "5-digit county FIPS of the property",
                   pattern=(r"[0-9]{5}", r"[0-9]{1,5}", "5 digits")),
         lambda x: x.county_fips or None),
        (FieldSpec("timezone", "string", "IANA timezone of the property",
                   frozenset(iana_timezones())),
         lambda x: x.timezone or None),
        (FieldSpec("loan_purpose", "string", "loan purpose",
                   frozenset(p.value for p in LoanPurpose)),
         lambda x: x.loan_purpose.value),
        (FieldSpec("loan_program", "string", "loan program",
                   frozenset(p.value for p in LoanProgram)),
         lambda x: x.loan_program.value),
        (FieldSpec("loan_amount", "number", "loan amount in USD", None, (0, MAX_AMOUNT_USD),
                   True), lambda x: x.loan_amount_usd),
        (FieldSpec("property_value", "number", "property value in USD", None,
                   (0, MAX_AMOUNT_USD), True), lambda x: x.property_value_usd),
        (FieldSpec("ltv", "number", "loan-to-value ratio, 0.8 = 80%", None, (0, math.inf), True),
         lambda x: x.ltv),
        (FieldSpec("credit_score", "integer", "credit score, 300-850", None, CREDIT_SCORE_RANGE),
         lambda x: x.credit_score),
        (FieldSpec("is_jumbo", "boolean",
                   "loan amount above the county's one-unit conforming limit (FHFA)"),
         lambda x: x.is_jumbo),
        (FieldSpec("conforming_limit", "number", "the county's one-unit conforming limit, USD",
                   None, (0, math.inf), True), lambda x: x.conforming_limit_usd),
        (FieldSpec("language", "string",
                   "the borrower's own preferred language, ISO 639-1 (allowed: see fair lending)",
                   ISO_639_1),
         lambda x: x.language),
        (FieldSpec("is_veteran", "boolean", "borrower reports military service"),
         lambda x: x.is_veteran),
        (FieldSpec("first_time_buyer", "boolean", "borrower is a first-time buyer"),
         lambda x: x.first_time_buyer),
        (FieldSpec("has_phone", "boolean", "a valid phone number was given"),
         lambda x: bool(x.contact.phone)),
        (FieldSpec("has_email", "boolean", "a valid email was given"),
         lambda x: bool(x.contact.email)),
        (FieldSpec("has_consent", "boolean", "consent evidence (TCPA text, LeadiD, TrustedForm)"),
         lambda x: bool(x.consent)),
        (FieldSpec("local_hour", "integer", "hour of day at the property when received, 0-23",
                   None, (0, 23)), lambda x: _local(x).hour),
        (FieldSpec("local_weekday", "string", "weekday at the property when received",
                   frozenset(WEEKDAYS)),
         lambda x: WEEKDAYS[_local(x).weekday()]),
    ]
}

BUILTIN_FIELDS: dict[str, FieldSpec] = {name: spec for name, (spec, _) in _READERS.items()}


def convert_custom(raw: Any, type_: str) -> Any:
    """A custom column's text as the declared type; None when empty; ValueError if invalid."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if type_ == "string":
        return str(raw).strip()
    if type_ == "boolean":
        if isinstance(raw, bool):
            return raw
        value = parse_bool(str(raw))
        if value is None:
            raise ValueError("expected true or false")
        return value
    if isinstance(raw, int | float):
        number = float(raw)
    elif _NUMBER.fullmatch(str(raw).strip()):
        number = float(str(raw).strip())
    else:  # float() would also take "1_000", "nan" and digits of other scripts
        raise ValueError("expected a number written with ASCII digits, e.g. 12.5")
    if not math.isfinite(number):  # "1e999": no comparison could mean anything
        raise ValueError("expected a finite number")
    if type_ == "integer":
        if number != int(number):
            raise ValueError("expected a whole number")
        return int(number)
    return number


def read_facts(lead: Lead, builtin: tuple[str, ...], custom: Mapping[str, str]
               ) -> tuple[dict[str, Any], list[str]]:
    """The facts a policy needs about ``lead``: ``builtin`` fields and declared custom fields
    (name -> type). Returns the facts and notes on custom values that could not be read
    (those count as missing)."""
    facts = {name: _READERS[name][1](lead) for name in builtin}
    notes: list[str] = []
    for name, type_ in custom.items():
        raw = lead.custom.get(name)
        try:
            facts[name] = convert_custom(raw, type_)
        except (TypeError, ValueError) as exc:
            facts[name] = None
            notes.append(redact(f"custom field {name}={raw!r} treated as missing: {exc}"))
    return facts, notes
