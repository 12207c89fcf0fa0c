"""Errors for bad input: each names what was expected, what was received, and where.

Messages end up in output files, logs and terminals, so contact details never appear in them
whole: a value is masked when its column holds personal data (names, email, phone) and,
whatever its column, when it looks like an email address or a phone number (a shifted row puts
a phone number under another column's name; a lead id may be an email address).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Contact fields hold personal data: error messages show them masked, never whole.
PERSONAL_FIELDS = frozenset({"first_name", "last_name", "email", "phone", "name"})
# A column whose name has one of these words holds contact details too (borrower_name,
# mobilePhone, coborrower_email).
_PERSONAL_WORDS = frozenset({"name", "email", "mail", "phone", "mobile", "cell", "telephone",
                             "tel", "fax", "address", "ssn"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_EMAIL = re.compile(r"[^\s@'\"<>()\[\],;:=]+@[^\s@'\"<>()\[\],;:]+")
_DIGIT = re.compile(r"\d")
_FEWEST_PHONE_DIGITS = 7  # a local number without its area code
# How phone numbers are written (see ``redact``); a digit next to the match means it is part of
# something longer (an id, a timestamp) and not a phone number.
_NANP = re.compile(r"(?<![\d+])(?:\+?1[\s.\-]?)?\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]?\d{4}"
                   r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?(?!\d)")
_LOCAL = re.compile(r"(?<![\d\-.])\d{3}[\-.]\d{4}(?![\d\-.])")
_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d[\d\s().\-]{6,}\d(?!\d)")


def mask(value: object) -> str:
    """Return a personal value with all but its first character hidden."""
    text = str(value)
    if len(text) <= 1:
        return "*"
    return text[0] + "*" * min(len(text) - 1, 8)


def is_personal_field(name: str) -> bool:
    """Whether a column or field named ``name`` holds contact details (names, email, phone)."""
    if name in PERSONAL_FIELDS:
        return True
    words = re.split(r"[^a-z0-9]+", _CAMEL.sub("_", name).lower())
    return any(w in _PERSONAL_WORDS for w in words)


def redact(text: str) -> str:
    """``text`` with every email address and phone number in it masked (``j********``).

    Phone numbers are found in the forms people write them: North American numbers with or
    without ``+1``, parentheses, dots, dashes or spaces (``(312) 555-0134``, ``312.555.0134``,
    ``3125550134``, with an extension), seven-digit local numbers with a separator
    (``555-0134``), and international numbers after ``+`` (8 to 15 digits). Dates, times, ZIP
    codes and amounts do not take these forms and are left alone.
    """
    if "@" in text:
        text = _EMAIL.sub(lambda m: mask(m[0]), text)
    if len(_DIGIT.findall(text)) < _FEWEST_PHONE_DIGITS:
        return text
    text = _INTERNATIONAL.sub(_mask_international, text)
    text = _NANP.sub(lambda m: mask(m[0]), text)
    return _LOCAL.sub(lambda m: mask(m[0]), text)


def _mask_international(match: re.Match[str]) -> str:
    digits = len(_DIGIT.findall(match[0]))
    return mask(match[0]) if 8 <= digits <= 15 else match[0]


def looks_personal(value: object) -> bool:
    """Whether ``value`` contains an email address or a phone number."""
    text = str(value)
    return redact(text) != text


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with one input value.

    ``where`` is the location in the source: ``"leads.csv row 12"`` or a YAML path such as
    ``"rules[3].if.all[0].field"``; ``field`` is the column or key the value came from.
    In the text of a problem, a personal value is masked (see the module docstring).
    """

    field: str
    value: object
    message: str
    where: str = ""

    @property
    def shown_value(self) -> str:
        """The value as a message may show it: masked in a personal field, contact details
        redacted anywhere else."""
        return mask(self.value) if is_personal_field(self.field) else redact(repr(self.value))

    def __str__(self) -> str:
        loc = f"{self.where}: " if self.where else ""
        return f"{loc}{redact(self.field)}={self.shown_value}: {redact(self.message)}"


class InputError(ValueError):
    """Input that cannot be accepted; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem, source: str = "") -> None:
        self.problems: list[Problem] = problems if isinstance(problems, list) else [problems]
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + "; ".join(str(p) for p in self.problems))
