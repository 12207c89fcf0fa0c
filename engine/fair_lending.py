"""Protected characteristics that may never be a rule input or a model feature.

The Equal Credit Opportunity Act (Regulation B, 12 CFR 1002) and the Fair Housing Act forbid
credit decisions on race, color, religion, national origin, sex, marital status, age, receipt of
public assistance, familial status and disability (ethnicity is collected under HMDA alongside
race). A routing rule or a conversion model that uses any of these, or an obvious stand-in, is
refused, whatever the column is called.

A name is first normalized, so that spelling tricks do not hide it: Unicode compatibility
forms (NFKC: full-width ``ｓｅｘ``, mathematical letters), accents (``género``), invisible
characters (zero-width spaces, soft hyphens), letters of other scripts that look Latin
(Cyrillic ``ѕех``, Greek ``ΑGE``) and digits written inside words for letters (``s3x``).
It is then split into words at separators, camelCase and digits, and every run of adjacent
words is read with the separators taken out (``s_e_x`` and ``applicantsex`` both read
``applicant sex``). A run names a characteristic when it is made of a term of
``PROTECTED_TERMS`` and, around it, only other such terms and the words field names wrap
them in (``PREFIX_WORDS``: applicant, is, date, of...; ``SUFFIX_WORDS``: status, code,
band, s...). So ``dateofbirth``, ``is_female`` and ``age_band`` are caught while
``passage``, ``percentage`` and ``sextant`` (``pass``, ``percent`` and ``tant`` are not
wrapping words) are not. A term is also a whole word on its own: ``loan_age`` is refused.

``VALUE_TERMS`` are words that name a protected group but also ordinary things (``white
label``, ``single family``, ``senior lien``): they count only when the name states them as
a value, at its end: ``is_white``, ``non_white``, ``is_single``.

The borrower's own preferred language is allowed: routing a Spanish speaker to an officer who
speaks Spanish serves the borrower and is documented as such in docs/fair-lending.md. It is not
treated as national origin.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from functools import lru_cache

# characteristic -> terms (English, Spanish, French, Portuguese; written with spaces, matched
# without them, accents ignored). Plurals in -s and -es need no entry.
PROTECTED_TERMS: dict[str, tuple[str, ...]] = {
    "race": (
        "race", "racial", "raza", "raca", "raciale", "caucasian", "african american",
        "native american", "american indian", "alaska native", "native hawaiian",
        "pacific islander",
    ),
    "ethnicity": (
        "ethnicity", "ethnicities", "ethnic", "hispanic", "latino", "latina", "latinx", "latine",
        "hispano", "hispana", "etnia", "etnicidad", "etnico", "etnica", "ethnie", "ethnique",
    ),
    "color": (
        "color", "colour", "skin color", "skin colour", "skin tone", "complexion",
        "color de piel", "cor da pele", "couleur de peau",
    ),
    "religion": (
        "religion", "religious", "religiao", "religioso", "religiosa", "religieux", "faith",
        "church", "mosque", "synagogue", "christian", "muslim", "islam", "islamic", "jewish",
        "judaism", "hindu", "buddhist", "catholic", "protestant", "atheist", "sikh", "mormon",
        "denomination", "iglesia", "igreja", "eglise",
    ),
    "national origin": (
        "national origin", "nationality", "nationalities", "country of birth", "birth country",
        "birthplace", "place of birth", "country of origin", "citizenship", "citizen",
        "immigration status", "immigration", "immigrant", "ancestry", "foreign born",
        "nacionalidad", "nacionalidade", "nationalite", "origen nacional", "origine nationale",
        "pais de nacimiento", "lugar de nacimiento", "pais de origen", "pays de naissance",
        "lieu de naissance", "pais de nascimento", "local de nascimento", "ciudadania",
        "cidadania", "citoyennete", "inmigrante", "imigrante", "extranjero", "estrangeiro",
    ),
    "sex": (
        "sex", "sexual", "sexuality", "sexual orientation", "gender", "pronoun", "female", "male",
        "woman", "women", "feminine", "masculine", "transgender", "nonbinary", "gay", "lesbian",
        "bisexual", "lgbt", "lgbtq", "title prefix", "salutation", "honorific", "sexo", "sexe",
        "genero", "genre", "orientacion sexual", "orientacao sexual", "orientation sexuelle",
        "femenino", "femenina", "masculino", "masculina", "mujer", "hombre", "mulher", "homem",
        "femme", "homme",
    ),
    "marital status": (
        "marital", "marital status", "civil status", "married", "unmarried", "marriage", "spouse",
        "spouse name", "husband", "wife", "wives", "divorced", "divorce", "widowed", "widow",
        "widower", "single parent", "domestic partner", "civil union", "estado civil", "casado",
        "casada", "soltero", "soltera", "solteiro", "solteira", "divorciado", "divorciada",
        "viudo", "viuda", "viuvo", "viuva", "conyuge", "esposo", "esposa", "matrimonio",
        "casamento", "etat civil", "mariee", "celibataire", "epoux", "epouse",
    ),
    "age": (
        "age", "dob", "yob", "birth", "date of birth", "birth date", "birthdate", "birthday",
        "birth year", "year of birth", "years old", "senior citizen", "elderly", "edad", "idade",
        "fecha de nacimiento", "nacimiento", "data de nascimento", "nascimento",
        "date de naissance", "naissance",
    ),
    "familial status": (
        "familial", "familial status", "family status", "family size", "children", "child",
        "kids", "kid", "dependents", "dependent", "dependants", "dependant", "pregnant",
        "pregnancy", "maternity", "paternity", "household size", "custody", "hijos", "hijo",
        "hijas", "hija", "ninos", "nino", "dependientes", "dependentes", "embarazada", "embarazo",
        "enfants", "enfant", "enceinte", "grossesse", "situation familiale", "filhos", "filho",
        "criancas", "crianca", "gravida", "gravidez", "gestante",
    ),
    "disability": (
        "disability", "disabilities", "disabled", "handicap", "handicapped", "impairment",
        "special needs", "wheelchair", "discapacidad", "discapacitado", "discapacitada",
        "deficiencia", "handicape", "invalidite",
    ),
    "public assistance": (
        "public assistance", "welfare", "snap", "food stamps", "food assistance", "ssi", "ssdi",
        "tanf", "medicaid", "section 8", "housing voucher", "wic", "asistencia publica",
        "assistencia publica", "cupones de alimentos", "aide sociale",
    ),
}

# Words that also name ordinary things: a protected characteristic only as a stated value
# at the end of a name (``is_white``, ``has_blind``, ``non_white``), never on their own.
VALUE_TERMS: dict[str, tuple[str, ...]] = {
    "race": ("black", "white", "indian", "native"),
    "national origin": ("foreign", "alien"),
    "sex": ("man", "men", "mr", "mrs", "ms", "miss", "mx", "girl", "boy", "trans"),
    "marital status": ("single", "separated", "partnered"),
    "age": ("senior", "minor", "old", "young", "aged", "elder"),
    "familial status": ("parent", "mother", "father", "mom", "dad"),
    "disability": ("blind", "deaf", "mute", "impaired"),
}
VALUE_PREFIXES = ("is", "has", "was", "are", "non", "not", "isnot")

# Words that surround a protected term in a field name without changing what it names.
PREFIX_WORDS = (
    "applicant", "coapplicant", "borrower", "coborrower", "co", "cb", "primary", "secondary",
    "second", "self", "reported", "selfreported", "declared", "stated", "known", "hmda",
    "client", "customer", "lead", "contact", "person", "user", "buyer", "owner", "member",
    "preferred", "my", "their", "his", "her", "the", "is", "has", "was", "are", "non", "not",
    "date", "dt", "day", "month", "year", "yr", "of", "de", "da", "do", "du", "del", "la", "le",
    "el", "fecha", "data", "ano", "annee", "num", "number", "count", "total",
)
SUFFIX_WORDS = (
    "s", "es", "status", "stat", "code", "cd", "type", "typ", "tp", "flag", "flg", "id", "key",
    "value", "val", "group", "grp", "band", "bracket", "range", "category", "cat", "class",
    "bucket", "bin", "level", "lvl", "known", "unknown", "reported", "declared", "verified",
    "desc", "description", "text", "txt", "other", "ind", "indicator", "yn", "bool", "num",
    "number", "count", "cnt", "date", "dt", "year", "yr", "month", "day", "name", "nm", "info",
    "data", "field", "list", "detail", "details", "answer", "response", "identity", "self",
    "applicant", "borrower", "coapplicant", "coborrower", "primary", "secondary", "co", "hmda",
    "tipo", "codigo", "estado", "actual", "current", "pct", "percent",
)

# Letters of other scripts (Cyrillic, Greek, IPA and a few Latin variants) that look like
# Latin ones; NFKC does not fold them. A small table in the spirit of Unicode's confusables.
_LOOKALIKES = str.maketrans({
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y",
    "Һ": "H", "Ӏ": "I", "Ԁ": "D", "а": "a", "е": "e", "к": "k", "о": "o", "р": "p", "с": "c",
    "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w",
    "ү": "y", "ӏ": "l", "ɡ": "g",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "α": "a", "β": "b", "γ": "y", "ε": "e",
    "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    # Latin variants and ligatures NFKD leaves whole
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʏ": "y", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE",
    "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D",
    # Armenian
    "օ": "o", "ս": "u", "հ": "h",
})
# Digits and symbols written for letters inside a word (``s3x``, ``r@ce``, ``fema1e``); "1"
# is read both as "i" and as "l".
_LEET = ({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
          "@": "a", "$": "s"},
         {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
          "@": "a", "$": "s"})
_LEET_AT = re.compile(r"(?<=[A-Za-z])[0-9@$]+(?=[A-Za-z])|(?<=[A-Za-z]{2})[0-9](?![0-9A-Za-z])")

# camelCase boundaries ("dateOfBirth"), after an acronym ("HMDARace" -> "HMDA Race") and
# between letters and digits ("applicantRace1" -> "applicant Race 1", "section8")
_CAMEL = re.compile(
    r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])"
)
_WORD = re.compile(r"[^\W_]+")


def _squash(term: str) -> str:
    return re.sub(r"[^a-z0-9]", "", term.lower())


# Letters and symbols that print as nothing (Hangul and braille fillers): taken out like
# zero-width characters, which are format characters (category Cf).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _latin(name: str) -> str:
    """``name`` in plain Latin letters: compatibility forms folded (NFKC, then NFKD to take
    accents off), without invisible characters, with look-alike letters of other scripts
    mapped to the Latin letters they imitate."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name))
    text = "".join(c for c in text if c not in _INVISIBLE
                   and unicodedata.category(c) not in ("Cf", "Mn", "Me", "Cc"))
    return text.translate(_LOOKALIKES)


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.casefold() for w in _WORD.findall(_CAMEL.sub(" ", text)))


def _read_as_letters(text: str, table: dict[str, str]) -> str:
    return _LEET_AT.sub(lambda m: "".join(table.get(c, c) for c in m[0]), text)


def name_words(name: str) -> tuple[tuple[str, ...], ...]:
    """The readings of a field name checked for protected characteristics: its words after
    normalization, and the same with digits and symbols inside words read as letters."""
    latin = _latin(name)
    readings = [_words(latin)]
    if _LEET_AT.search(latin):
        readings += [_words(_read_as_letters(latin, table)) for table in _LEET]
    return tuple(dict.fromkeys(readings))


def _table(terms: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for characteristic, names in terms.items():
        for term in names:
            out.setdefault(_squash(term), characteristic)
    return out


# term as matched (squashed) -> (characteristic, the term as reported)
_STEMS = {stem: (characteristic, stem) for stem, characteristic in _table(PROTECTED_TERMS).items()}
_VALUE_STEMS = {prefix + word: (characteristic, word)
                for word, characteristic in _table(VALUE_TERMS).items()
                for prefix in VALUE_PREFIXES}
_PREFIXES = frozenset(PREFIX_WORDS) | frozenset(_STEMS)
_SUFFIXES = frozenset(SUFFIX_WORDS) | frozenset(_STEMS)
_LONGEST = max(map(len, (*_PREFIXES, *_SUFFIXES)))

_Found = tuple[str, str, str]  # (stem matched, characteristic, term reported)


@lru_cache(maxsize=65536)
def _wraps(text: str, prefix: bool) -> bool:
    """Whether ``text`` is nothing but wrapping words (and protected terms, and digits)."""
    words = _PREFIXES if prefix else _SUFFIXES
    n = len(text)
    ok = [False] * n + [True]  # ok[i]: text[i:] is made of such words
    for i in range(n - 1, -1, -1):
        ok[i] = ok[i + 1] if text[i].isdigit() else any(
            ok[i + k] and text[i:i + k] in words for k in range(1, min(n - i, _LONGEST) + 1))
    return ok[0]


_Trie = dict[str, "_Trie"]  # letter -> the rest; "" marks the end of a term


def _trie(stems: list[str]) -> _Trie:
    root: _Trie = {}
    for stem in stems:
        node = root
        for c in stem:
            node = node.setdefault(c, {})
        node[""] = {}
    return root


_TERMS = _trie([*_STEMS, *_VALUE_STEMS])


def _terms_at(text: str, start: int) -> list[str]:
    """The terms that begin at ``text[start]``, by walking the trie of terms."""
    found: list[str] = []
    node: _Trie | None = _TERMS
    for end in range(start, len(text)):
        node = node.get(text[end]) if node is not None else None
        if node is None:
            break
        if "" in node:
            found.append(text[start:end + 1])
    return found


# A run longer than this many words or characters is not read as one name: a term and the
# words wrapped around it ("coborrower hmda race code 2") are far fewer; it bounds the work on
# a long name (a term alone as a word is still caught, however long the name).
_MAX_RUN_WORDS = 8
_MAX_RUN_CHARS = 96


def _read(words: tuple[str, ...]) -> _Found | None:
    """The longest protected term that some run of adjacent ``words`` (joined without
    separators) is made of, wrapping words around it; value terms only at the end."""
    joined = "".join(words)
    hits = [(start, term) for start in range(len(joined)) for term in _terms_at(joined, start)]
    if not hits:
        return None
    starts = [start for start, _ in hits]
    offsets = [0]
    for w in words:
        offsets.append(offsets[-1] + len(w))
    best: _Found | None = None
    for i in range(len(words)):
        for j in range(i, min(len(words), i + _MAX_RUN_WORDS)):
            lo, hi, at_end = offsets[i], offsets[j + 1], j == len(words) - 1
            if hi - lo > _MAX_RUN_CHARS:
                break
            for start, term in hits[bisect_left(starts, lo):bisect_left(starts, hi)]:
                end = start + len(term)
                if end > hi or (best is not None and len(term) <= len(best[0])):
                    continue
                found = _STEMS.get(term) or (_VALUE_STEMS.get(term) if at_end else None)
                if found is not None and _wraps(joined[lo:start], True) \
                        and _wraps(joined[end:hi], False):
                    best = (term, found[0], found[1])
    return best


@lru_cache(maxsize=16384)
def protected_term(name: str) -> tuple[str, str] | None:
    """The protected characteristic a field or column name refers to and the term it was
    read as (``("sex", "female")`` for ``isFemale``, ``("sex", "sex")`` for ``ѕех``), or
    None."""
    best: _Found | None = None
    for words in name_words(name):
        found = _read(words)
        if found is not None and (best is None or len(found[0]) > len(best[0])):
            best = found
    return None if best is None else (best[1], best[2])


def protected_refusal(name: str) -> str | None:
    """Why ``name`` may never be a routing input, or None when it may: the characteristic, and
    the term it reads as when that is not plain in the name (look-alike letters, digits)."""
    found = protected_term(name)
    if found is None:
        return None
    characteristic, term = found
    read = "" if term in _squash(name) else f" (read as {term!r})"
    return (f"{name!r}{read} is a protected characteristic ({characteristic}) and may never be "
            "a routing input (fair lending)")


def protected_characteristic(name: str) -> str | None:
    """The protected characteristic a field or column name refers to, or None.

    >>> protected_characteristic("applicant_race_1")
    'race'
    >>> protected_characteristic("coBorrowerDateOfBirth")
    'age'
    >>> protected_characteristic("applicantsex")
    'sex'
    >>> protected_characteristic("ѕех")  # Cyrillic letters that look Latin
    'sex'
    >>> protected_characteristic("loan_age")  # "age" as a whole word is refused, to be safe
    'age'
    >>> protected_characteristic("mortgage_type") is None  # "age" inside a word is not
    True
    >>> protected_characteristic("language") is None
    True
    """
    found = protected_term(name)
    return None if found is None else found[0]
