"""Protected characteristics that may never be a rule input or a model feature.

The Equal Credit Opportunity Act (Regulation B, 12 CFR 1002) and the Fair Housing Act forbid
credit decisions on race, color, religion, national origin, sex, marital status, age, receipt of
public assistance, familial status and disability (ethnicity is collected under HMDA alongside
race). A routing rule or a conversion model that uses any of these, or an obvious stand-in, is
refused, whatever the column is called.

The borrower's own preferred language is allowed: routing a Spanish speaker to an officer who
speaks Spanish serves the borrower and is documented as such in docs/fair-lending.md. It is not
treated as national origin.
"""

from __future__ import annotations

import re

# characteristic -> the names and synonyms that identify it in a column or field name. A name
# matches when one of these appears as a whole word (after splitting on separators and camelCase).
PROTECTED_TERMS: dict[str, tuple[str, ...]] = {
    "race": ("race", "racial"),
    "ethnicity": ("ethnicity", "ethnic", "hispanic", "latino", "latina", "latinx"),
    "color": ("color", "colour", "skin color", "skin tone"),
    "religion": ("religion", "religious", "faith", "church", "mosque", "synagogue"),
    "national origin": (
        "national origin", "nationality", "country of birth", "birth country", "birthplace",
        "place of birth", "citizenship", "immigration status", "ancestry",
    ),
    "sex": ("sex", "gender", "pronoun", "pronouns", "sexual orientation", "title prefix"),
    "marital status": (
        "marital", "marital status", "married", "spouse", "spouse name", "divorced", "widowed",
        "single parent",
    ),
    "age": (
        "age", "dob", "date of birth", "birth date", "birthdate", "birthday", "birth year",
        "year of birth", "age group", "age bracket", "age band", "senior", "is senior", "elderly",
    ),
    "familial status": (
        "familial", "familial status", "children", "child", "kids", "dependents",
        "number of dependents", "pregnant", "pregnancy", "household size",
    ),
    "disability": ("disability", "disabled", "handicap", "handicapped", "impairment"),
    "public assistance": (
        "public assistance", "welfare", "snap", "food stamps", "ssi", "tanf", "medicaid",
        "section 8", "housing voucher", "wic",
    ),
}

# camelCase boundaries ("dateOfBirth"), after an acronym ("HMDARace" -> "HMDA Race") and
# between letters and digits ("applicantRace1" -> "applicant Race 1", "section8")
_CAMEL = re.compile(
    r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])"
)
_SEP = re.compile(r"[^a-z0-9]+")


def _words(name: str) -> list[str]:
    return [w for w in _SEP.split(_CAMEL.sub(" ", name).lower()) if w]


_PHRASES: list[tuple[tuple[str, ...], str]] = sorted(
    ((tuple(_words(term)), characteristic)
     for characteristic, terms in PROTECTED_TERMS.items() for term in terms),
    key=lambda item: -len(item[0]),
)
_VOCABULARY = frozenset(w for phrase, _ in _PHRASES for w in phrase)


def _singular(word: str) -> str:
    """``races`` -> ``race``, ``churches`` -> ``church``, ``disabilities`` -> ``disability``:
    plurals of the words of protected terms only."""
    if word in _VOCABULARY:
        return word
    for suffix, replacement in (("s", ""), ("es", ""), ("ies", "y")):
        stem = word[: -len(suffix)] + replacement
        if word.endswith(suffix) and stem in _VOCABULARY:
            return stem
    return word


def protected_characteristic(name: str) -> str | None:
    """The protected characteristic a field or column name refers to, or None.

    >>> protected_characteristic("applicant_race_1")
    'race'
    >>> protected_characteristic("coBorrowerDateOfBirth")
    'age'
    >>> protected_characteristic("loan_age")  # "age" as a whole word is refused, to be safe
    'age'
    >>> protected_characteristic("mortgage_type") is None  # "age" inside a word is not
    True
    >>> protected_characteristic("language") is None
    True
    """
    words = [_singular(w) for w in _words(name)]
    for phrase, characteristic in _PHRASES:
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == phrase:
                return characteristic
    return None
