"""Turn one raw lead record (a CSV row, a decoded webhook body) into a validated ``Lead``.

Every problem in the record is reported at once, each naming the field, the value and where;
contact values (personal data) are shown masked. Columns the engine does not know become
custom fields that rules may use, except protected characteristics, which are dropped.
``LeadParser.parse`` reads one record; ``LeadParser.parse_rows`` reads many column by column,
through the same checks of one field (``check_...``), and gives the same Leads and errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from engine.domain import Contact, Lead, LoanProgram, LoanPurpose
from engine.errors import InputError, Problem
from engine.fair_lending import protected_characteristic
from engine.geo import NON_PROPERTY_STATES, US_STATES, Geography, load_geography

REQUIRED_COLUMNS = (
    "lead_id", "received_at", "source", "first_name", "last_name", "email", "phone", "zip",
    "loan_purpose", "loan_program", "loan_amount", "property_value", "credit_score", "language",
    "is_veteran",
)
OPTIONAL_COLUMNS = ("state", "county_fips", "campaign", "first_time_buyer")
# Consent evidence kept with the lead (TCPA consent text, Jornaya LeadiD, TrustedForm).
CONSENT_COLUMNS = (
    "tcpa_text", "tcpa_consent_at", "jornaya_lead_id", "trusted_form_token", "trustedform_cert_url",
    "consent_ip", "consent_url",
)
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS + CONSENT_COLUMNS)
# The longest name a column (custom field) may have, in a file of leads and in a policy.
MAX_NAME_CHARS = 256
# Line breaks, tabs, NUL and other control characters: refused inside the values of these
# columns (a lead id "L1<line break>L2" is a broken row, not an id); consent text may hold them.
_SINGLE_LINE = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# ISO 639-1 two-letter language codes.
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu""".split()
)

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0", ""})
CREDIT_SCORE_RANGE = (300, 850)
_WHOLE = re.compile(r"\d{1,6}(?:\.0*)?", re.ASCII)  # 720, or 720.0 as spreadsheets write it


def parse_bool(text: str) -> bool | None:
    """``true/yes/y/1`` and ``false/no/n/0/''`` (any case); None for anything else."""
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    return None


# A dollar amount: ASCII digits, commas only between groups of three, optional cents and
# dollar sign (a sign is read so that "-5" is told it must be positive). Not "1e6",
# "1_000_000", "350,0,0,0" or digits of other scripts, all of which float() would take.
_MONEY = re.compile(r"([+-]?)\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?", re.ASCII)
MAX_AMOUNT_USD = 1_000_000_000
MONEY_EXAMPLES = "350000, 350000.00 or $350,000"


@lru_cache(maxsize=65536)
def parse_money(text: str) -> float | None:
    """A dollar amount such as ``350000``, ``350,000.00`` or ``$350,000``; None if it is not
    written so (see ``_MONEY``). Kept per text: loan amounts repeat in a file of leads."""
    match = _MONEY.fullmatch(text.strip())
    if match is None:
        return None
    sign, whole, cents = match.groups()
    value = float(whole.replace(",", "") + (cents or ""))
    return -value if sign == "-" else value


TIMESTAMP_YEARS = (1970, 2200)
_TIMESTAMP_EXPECTED = "expected an ISO 8601 time with a UTC offset, e.g. 2025-03-04T10:15:00-05:00"


def read_timestamp(text: str) -> datetime:
    """ISO 8601 with a UTC offset (``Z`` allowed), in a year from 1970 to 2200; ValueError
    saying what was expected otherwise (far-off years overflow timezone arithmetic)."""
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(t) if t.isascii() else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(_TIMESTAMP_EXPECTED)
    lo, hi = TIMESTAMP_YEARS
    if not lo <= moment.year <= hi:
        raise ValueError(f"year {moment.year} is outside {lo} to {hi}; "
                         f"{_TIMESTAMP_EXPECTED.removeprefix('expected ')}")
    return moment


def parse_timestamp(text: str) -> datetime | None:
    """``read_timestamp``, or None when the text is not such a time."""
    try:
        return read_timestamp(text)
    except ValueError:
        return None


def _nanp_pattern() -> re.Pattern[str]:
    """One regex that accepts exactly the national numbers phonenumbers deems valid in the
    North American Numbering Plan (country code 1: the US, Canada, the Caribbean), built from
    phonenumbers' own metadata: a number must fit a region's general pattern and one of its
    number-type patterns. tests/engine/test_leads_phone.py checks it against phonenumbers."""
    parts = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        md = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if md is None or md.general_desc is None:
            continue
        descs = (md.premium_rate, md.toll_free, md.shared_cost, md.voip, md.personal_number,
                 md.pager, md.uan, md.voicemail, md.fixed_line, md.mobile)
        types = [d.national_number_pattern for d in descs if d is not None
                 and d.national_number_pattern]
        parts.append(f"(?=(?:{md.general_desc.national_number_pattern})$)(?:{'|'.join(types)})")
    return re.compile("|".join(f"(?:{p})" for p in parts))


_NANP_VALID = _nanp_pattern()
# The common written forms of a 10-digit North American number, optionally with +1 or 1.
# ASCII digits only: other scripts' digits go to phonenumbers, which normalizes them.
_NANP_TEXT = re.compile(r"\s*(?:\+?1[\s.-]?)?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})\s*",
                        re.ASCII)


@lru_cache(maxsize=65536)
def normalize_phone(text: str) -> str | None:
    """E.164 form of a US (or explicitly international) phone number, None if not valid.

    Plainly written North American numbers are checked against phonenumbers' metadata in one
    regex (about 60 times faster than a full parse); anything else goes to phonenumbers.
    """
    match = _NANP_TEXT.fullmatch(text)
    if match is not None:
        national = match[1] + match[2] + match[3]
        return "+1" + national if _NANP_VALID.fullmatch(national) else None
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# RFC 5321 dot-atom local part in plain ASCII: the common case, which needs no Unicode work.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_LOCAL, _MAX_ADDRESS = 64, 254


@lru_cache(maxsize=4096)
def _normalize_domain(domain: str) -> str | None:
    """email-validator's verdict on a domain, cached: a lead file has few distinct domains and
    domain checks are most of email-validator's cost."""
    try:
        return validate_email("x@" + domain, check_deliverability=False).domain
    except EmailNotValidError:
        return None


@lru_cache(maxsize=65536)
def normalize_email(text: str) -> str | None:
    """Normalized email address (syntax only; no DNS look-up), None if not valid.

    A plain ASCII dot-atom local part is checked here and its domain by email-validator
    (cached per domain); anything else goes to email-validator whole. Both give the same
    verdict and form (tests/engine/test_leads_email.py checks this against email-validator).
    """
    local, at, domain = text.rpartition("@")
    if at and local.isascii() and domain.isascii() and _DOT_ATOM.fullmatch(local):
        normalized = _normalize_domain(domain)
        if normalized is None or len(local) > _MAX_LOCAL:
            return None
        address = f"{local}@{normalized}"
        return address if len(address) <= _MAX_ADDRESS else None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


# ------------------------------------------------------------------ the checks of one field
# Each check takes the cleaned text of its column(s) and a ``Bad`` to report problems to, and
# returns the field's value (None where there is none to give). ``LeadParser.parse`` calls
# them row by row; ``LeadParser.parse_rows`` calls them once per distinct text of a column.
# They are the one definition of what a valid lead is.

Bad = Callable[[str, object, str], None]
"""Where a check reports a problem: the column, the value as received, what is wrong."""


def _has_control(text: str) -> bool:
    """Whether ``text`` has a control character; printable text (the common case, which
    ``str.isprintable`` tells in C) has none."""
    return not text.isprintable() and _CONTROL.search(text) is not None


def check_single_line(column: str, raw: str, bad: Bad) -> None:
    """A value of ``_SINGLE_LINE`` is one line of text: no control character."""
    control = _CONTROL.search(raw)
    if control is not None:
        bad(column, raw, f"has a control character ({control[0]!r}) at position "
                         f"{control.start() + 1}: a value is one line of text")


def check_lead_id(raw: str, bad: Bad) -> str:
    if not raw:
        bad("lead_id", "", "is required")
    return raw


def check_received_at(raw: str, bad: Bad) -> datetime | None:
    try:
        return read_timestamp(raw)
    except ValueError as exc:
        bad("received_at", raw, str(exc))
        return None


def check_source(raw: str, bad: Bad) -> str:
    source = raw.lower()
    if not source:
        bad("source", "", "is required")
    return source


def check_contact(email_raw: str, phone_raw: str, bad: Bad) -> tuple[str, str]:
    """The normalized email and phone ("" when absent); a lead needs one of them."""
    email = ""
    if email_raw:
        email = normalize_email(email_raw) or ""
        if not email:
            bad("email", email_raw, "is not a valid email address")
    phone = ""
    if phone_raw:
        phone = normalize_phone(phone_raw) or ""
        if not phone:
            bad("phone", phone_raw, "is not a valid phone number")
    if not email_raw and not phone_raw:
        bad("phone", "", "a lead needs a phone or an email to be contacted; both are empty")
    return email, phone


def check_loan_purpose(raw: str, bad: Bad) -> LoanPurpose | None:
    return _enum(LoanPurpose, raw, "loan_purpose", bad)


def check_loan_program(raw: str, bad: Bad) -> LoanProgram | None:
    return _enum(LoanProgram, raw, "loan_program", bad)


def check_money(column: str, raw: str, bad: Bad) -> float | None:
    """A positive dollar amount, at most ``MAX_AMOUNT_USD``; None (and a problem) if not."""
    value = parse_money(raw)
    if value is None:
        bad(column, raw, f"expected a dollar amount in ASCII digits, e.g. {MONEY_EXAMPLES} "
                         "(commas between groups of three digits)")
    elif value <= 0:
        bad(column, raw, "must be greater than 0")
        return None
    elif value > MAX_AMOUNT_USD:
        bad(column, raw, f"must be at most {MAX_AMOUNT_USD:,}")
        return None
    return value


def check_loan_amount(raw: str, bad: Bad) -> float | None:
    return check_money("loan_amount", raw, bad)


def check_property_value(raw: str, bad: Bad) -> float | None:
    """Optional: None when empty."""
    return check_money("property_value", raw, bad) if raw else None


def check_credit_score(raw: str, bad: Bad) -> int | None:
    """Optional: a whole number in ``CREDIT_SCORE_RANGE`` (``720.0`` too); None when empty."""
    if not raw:
        return None
    lo, hi = CREDIT_SCORE_RANGE
    if _WHOLE.fullmatch(raw) and lo <= int(float(raw)) <= hi:
        return int(float(raw))
    bad("credit_score", raw, f"expected a whole number from {lo} to {hi}")
    return None


def check_language(raw: str, bad: Bad) -> str:
    """An ISO 639-1 code, lower case; ``en`` when empty."""
    language = raw.lower() or "en"
    if language not in ISO_639_1:
        bad("language", raw, "expected an ISO 639-1 code such as en, es, zh")
    return language


def check_is_veteran(raw: str, bad: Bad) -> bool | None:
    veteran = parse_bool(raw)
    if veteran is None:
        bad("is_veteran", raw, "expected true or false")
    return veteran


def check_first_time_buyer(raw: str, bad: Bad) -> bool | None:
    """Optional: None when empty."""
    if not raw:
        return None
    first_time = parse_bool(raw)
    if first_time is None:
        bad("first_time_buyer", raw, "expected true or false")
    return first_time


def _check_contact_pair(texts: tuple[str, str], bad: Bad) -> tuple[str, str]:
    """``check_contact`` of (email, phone) texts."""
    return check_contact(*texts, bad)


class _Cleaned(dict[str, str]):
    """A row's cleaned values; a column the row does not have reads as empty text."""

    def __missing__(self, column: str) -> str:
        return ""


# What ``_by_text`` gives for a text its check reported a problem with.
_REFUSED: Any = object()


def _by_text(check: Callable[[Any, Bad], Any], texts: list[Any]) -> tuple[list[Any], bool]:
    """``check``'s value for each of ``texts``, ``_REFUSED`` where it reports a problem, the
    check run once per distinct text; and whether any was refused."""
    found: list[tuple[str, object, str]] = []

    def bad(column: str, value: object, message: str) -> None:
        found.append((column, value, message))

    verdicts = dict.fromkeys(texts)
    refused = False
    for text in verdicts:
        value = check(text, bad)
        if found:
            found.clear()
            value, refused = _REFUSED, True
        verdicts[text] = value
    return list(map(verdicts.__getitem__, texts)), refused


@dataclass(frozen=True, slots=True)
class LeadParser:
    """Parses raw records against the reference data. Reusable and thread-safe."""

    geography: Geography

    @classmethod
    def default(cls) -> LeadParser:
        return cls(load_geography())

    def parse(self, row: Mapping[str, Any], where: str = "") -> Lead:
        """Validate ``row`` (column -> text) and build a Lead; raise InputError listing every
        problem. ``where`` locates the record in messages, e.g. ``"leads.csv row 12"``."""
        problems: list[Problem] = []
        # one pass to clean every value; the checks below read the cleaned copy
        clean = _Cleaned({k: ("" if v is None else str(v).strip()) for k, v in row.items()})
        text = clean.__getitem__  # a column not in the row reads as ""

        def bad(column: str, value: object, message: str) -> None:
            problems.append(Problem(column, value, message, where))

        # one scan of all the values (joined by a space, which is no control character);
        # the values one by one only when it finds something, to say where
        for column in _SINGLE_LINE if _has_control(" ".join([clean[c] for c in _SINGLE_LINE])
                                             ) else ():
            check_single_line(column, text(column), bad)
        lead_id = check_lead_id(text("lead_id"), bad)
        received_at = check_received_at(text("received_at"), bad)
        source = check_source(text("source"), bad)
        email, phone = check_contact(text("email"), text("phone"), bad)
        place = self._known_place(text("zip"), text("state"), text("county_fips"), bad)
        purpose = check_loan_purpose(text("loan_purpose"), bad)
        program = check_loan_program(text("loan_program"), bad)
        amount = check_loan_amount(text("loan_amount"), bad)
        property_value = check_property_value(text("property_value"), bad)
        credit_score = check_credit_score(text("credit_score"), bad)
        language = check_language(text("language"), bad)
        veteran = check_is_veteran(text("is_veteran"), bad)
        first_time = check_first_time_buyer(text("first_time_buyer"), bad)
        if problems:
            raise InputError(problems)
        assert received_at is not None and place is not None and amount is not None
        assert purpose is not None and program is not None and veteran is not None
        return _lead(
            lead_id=lead_id, received_at=received_at, source=source, zip_text=text("zip"),
            place=place, purpose=purpose, program=program, amount=amount,
            property_value=property_value, credit_score=credit_score, language=language,
            veteran=veteran, first_time=first_time, campaign=text("campaign"),
            contact=Contact(text("first_name"), text("last_name"), email, phone),
            consent={c: v for c in CONSENT_COLUMNS if (v := text(c))},
            limit=self.geography.conforming_limit_usd(received_at.year, place[0], place[1]),
            custom={k: v for k, v in row.items() if _is_custom(k)},
        )

    def parse_rows(self, rows: Sequence[Mapping[str, Any]], wheres: Sequence[str]
                   ) -> list[Lead | InputError]:
        """``parse`` of each row (``wheres[i]`` locating ``rows[i]``), its Lead or its
        InputError, read column by column.

        Each column's distinct texts are checked once, by the checks ``parse`` calls (places,
        loan kinds, amounts, times, sources, languages, contacts, ...); the Leads of rows that
        pass are built from the columns. A row where any check reports a problem, or that is
        not like the first row (other columns, or in another order), is given to ``parse``
        itself, so its InputError is the one ``parse`` raises. Rows of text, as ``read_csv``
        gives them; with any value that is not text, every row goes to ``parse``.
        """
        if len(rows) != len(wheres):
            raise ValueError(f"{len(rows)} rows but {len(wheres)} places to name them by")
        if not rows:
            return []
        columns = tuple(rows[0])
        numbers = [i for i, row in enumerate(rows) if tuple(row) == columns]
        alike = [rows[i] for i in numbers]
        empty = [""] * len(alike)
        leads: list[Lead | None]
        try:
            text = {c: [row[c].strip() for row in alike] if c in columns else empty
                    for c in KNOWN_COLUMNS}
        except AttributeError:  # a value that is not text (no .strip())
            leads = [None] * len(alike)
        else:
            leads = self._parse_alike(alike, columns, text)
        out: list[Lead | InputError | None] = [None] * len(rows)
        for i, lead in zip(numbers, leads, strict=True):
            out[i] = lead
        return [lead if lead is not None else self._parse_or_error(row, where)
                for lead, row, where in zip(out, rows, wheres, strict=True)]

    def _parse_or_error(self, row: Mapping[str, Any], where: str) -> Lead | InputError:
        try:
            return self.parse(row, where)
        except InputError as exc:
            return exc

    def _parse_alike(self, rows: list[Mapping[str, Any]], columns: tuple[str, ...],
                     text: dict[str, list[str]]) -> list[Lead | None]:
        """The Leads of ``rows`` (all with ``columns``, in that order; ``text`` their cleaned
        values by column, "" for a column they lack), None for a row where a check reports a
        problem."""
        refused = [False] * len(rows)

        def checked(check: Callable[[Any, Bad], Any], texts: list[Any]) -> list[Any]:
            values, any_refused = _by_text(check, texts)
            if any_refused:
                for i, value in enumerate(values):
                    if value is _REFUSED:
                        refused[i] = True
            return values

        for column in _SINGLE_LINE:  # one scan per column, as parse scans a row
            if _has_control(" ".join(text[column])):
                checked(partial(check_single_line, column), text[column])
        lead_ids = checked(check_lead_id, text["lead_id"])
        times = checked(check_received_at, text["received_at"])
        sources = checked(check_source, text["source"])
        contacts = checked(_check_contact_pair, list(zip(text["email"], text["phone"],
                                                         strict=True)))
        places = checked(self._check_place, list(zip(text["zip"], text["state"],
                                                     text["county_fips"], strict=True)))
        purposes = checked(check_loan_purpose, text["loan_purpose"])
        programs = checked(check_loan_program, text["loan_program"])
        amounts = checked(check_loan_amount, text["loan_amount"])
        values = checked(check_property_value, text["property_value"])
        scores = checked(check_credit_score, text["credit_score"])
        languages = checked(check_language, text["language"])
        veterans = checked(check_is_veteran, text["is_veteran"])
        first_times = checked(check_first_time_buyer, text["first_time_buyer"])

        custom = [k for k in columns if _is_custom(k)]
        consent = [(c, text[c]) for c in CONSENT_COLUMNS if c in columns]
        limits: dict[tuple[int, str, str], int | None] = {}
        limit_usd = self.geography.conforming_limit_usd
        leads: list[Lead | None] = []
        for i, (row, lead_id, received_at, source, contact, place, purpose, program,
                amount, value, score, language, veteran, first_time, zip_text, campaign,
                first_name, last_name) in enumerate(zip(
                    rows, lead_ids, times, sources, contacts, places, purposes, programs,
                    amounts, values, scores, languages, veterans, first_times, text["zip"],
                    text["campaign"], text["first_name"], text["last_name"], strict=True)):
            if refused[i]:
                leads.append(None)
                continue
            email, phone = contact
            key = (received_at.year, place[0], place[1])
            if key not in limits:
                limits[key] = limit_usd(*key)
            leads.append(_lead(
                lead_id=lead_id, received_at=received_at, source=source, zip_text=zip_text,
                place=place, purpose=purpose, program=program, amount=amount,
                property_value=value, credit_score=score, language=language, veteran=veteran,
                first_time=first_time, campaign=campaign,
                contact=Contact(first_name, last_name, email, phone),
                consent={c: v for c, texts in consent if (v := texts[i])} if consent else {},
                limit=limits[key], custom={k: row[k] for k in custom} if custom else {},
            ))
        return leads

    def _check_place(self, key: tuple[str, str, str], bad: Bad) -> tuple[str, str, str] | None:
        """``_known_place`` of (zip, state, county_fips) texts."""
        return self._known_place(*key, bad)

    def _known_place(self, zip_raw: str, state_raw: str, county_raw: str, bad: Any
                     ) -> tuple[str, str, str] | None:
        """``_place``, its answer for values that pass kept (a file of leads names the same
        ZIP codes again and again); values with a problem go through ``_place`` each time,
        so that it reports them."""
        key = (id(self.geography), zip_raw, state_raw, county_raw)
        found = _PLACES.get(key)
        if found is not None and found[0] is self.geography:
            return found[1]
        problems: list[tuple[str, str, str]] = []
        place = self._place(zip_raw, state_raw, county_raw,
                            lambda *problem: problems.append(problem))
        for problem in problems:
            bad(*problem)
        if place is not None and not problems:
            if len(_PLACES) > 65536:
                _PLACES.clear()
            _PLACES[key] = (self.geography, place)
        return place

    def _place(self, zip_raw: str, state_raw: str, county_raw: str, bad: Any
               ) -> tuple[str, str, str] | None:
        """State, county FIPS and timezone of the property, checked against the ZIP table."""
        zip5 = zip_raw[:5] if len(zip_raw) == 10 and zip_raw[5] == "-" else zip_raw
        if not (len(zip5) == 5 and zip5.isascii() and zip5.isdigit()):
            bad("zip", zip_raw, "expected a 5-digit US ZIP code (leading zeros kept), e.g. 02134")
            return None
        info = self.geography.zip_info(zip5)
        if info is None:
            bad("zip", zip_raw, "is not a known US ZIP code")
            return None
        if info.state in NON_PROPERTY_STATES:
            bad("zip", zip_raw, f"is {NON_PROPERTY_STATES[info.state]}, not a property location")
            return None
        state = info.state
        if state_raw:
            given = state_raw.upper()
            if given not in US_STATES:
                bad("state", state_raw, "is not a US state, DC or territory code")
                return None
            if given != state:
                bad("state", state_raw, f"does not match zip {zip5}, which is in {state}")
                return None
        county = info.county_fips
        if county_raw:
            if not (len(county_raw) == 5 and county_raw.isascii() and county_raw.isdigit()):
                bad("county_fips", county_raw, "expected a 5-digit county FIPS code")
                return None
            # checked against the county table, not the ZIP's county: a ZIP may have none
            county_state = self.geography.county_state(county_raw)
            if county_state is None:
                bad("county_fips", county_raw, "is not a known county FIPS code")
                return None
            if county_state != state:
                bad("county_fips", county_raw,
                    f"is not a county of {state} (zip {zip5}); it is in {county_state}")
                return None
            county = county_raw
        return state, county, info.timezone


# (geography id, zip, state, county) -> (the geography, its place) for values that passed
_PLACES: dict[tuple[int, str, str, str], tuple[Geography, tuple[str, str, str]]] = {}
_ENUMS: dict[tuple[Any, str], Any] = {}  # (enum, text) -> member, for texts that name one


def _enum(kind: Any, raw: str, column: str, bad: Any) -> Any:
    found = _ENUMS.get((kind, raw))
    if found is not None:
        return found
    key = raw.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        member = kind(key)
        if len(_ENUMS) < 4096:
            _ENUMS[(kind, raw)] = member
        return member
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        bad(column, raw, f"expected one of {allowed}")
        return None


def _is_custom(column: str) -> bool:
    """Whether a column is a custom field: not one the engine knows, named, and no protected
    characteristic (those are dropped)."""
    return column not in KNOWN_COLUMNS and bool(column) \
        and protected_characteristic(column) is None


def _lead(*, lead_id: str, received_at: datetime, source: str, zip_text: str,
          place: tuple[str, str, str], purpose: LoanPurpose, program: LoanProgram,
          amount: float, property_value: float | None, credit_score: int | None,
          language: str, veteran: bool, first_time: bool | None, campaign: str,
          contact: Contact, consent: dict[str, str], limit: int | None,
          custom: dict[str, Any]) -> Lead:
    """The Lead of checked values (both ``parse`` and ``parse_rows`` build it here)."""
    state, county, tz = place
    return Lead(
        lead_id=lead_id,
        received_at=received_at,
        source=source,
        zip=zip_text[:5],
        state=state,
        county_fips=county,
        timezone=tz,
        loan_purpose=purpose,
        loan_program=program,
        loan_amount_usd=amount,
        property_value_usd=property_value,
        credit_score=credit_score,
        language=language,
        is_veteran=veteran,
        first_time_buyer=first_time,
        campaign=campaign,
        contact=contact,
        consent=consent,
        is_jumbo=None if limit is None else amount > limit,
        conforming_limit_usd=limit,
        custom=custom,
    )
