"""A source's payload mapped to the canonical lead: the leads CSV's field names as text.

A ``SourceMap`` (one YAML file per source, under ``LEADROUTE_SOURCES_DIR``) says which field
of the source becomes which lead field, how the source's values read as ours (``"740+"`` as a
credit score of 740, ``"Purchase"`` as ``purchase``), which fields a source never sends but a
lender may fix (``defaults``, also per form), and what a vendor expects as an answer. Mapping
is pure: payload in, fields out, or a ``MappingError`` naming each source field and value that
could not be read. The lead's own checks (``api.intake.read_lead``) run afterwards; their
errors are named by the source's field through ``Mapped.origin``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import Problem, mask
from engine.leads import KNOWN_COLUMNS

# lead fields a map may name besides the leads CSV's columns and custom fields
FULL_NAME = "full_name"  # split into first_name and last_name
IGNORE = "ignore"  # read and dropped on purpose
REQUESTED_OFFICER = "requested_officer_id"  # a referral's or a form's officer, when eligible
MAX_FLAT_FIELDS = 400
MAX_DEPTH = 8
# the 422 problem body's own members, which a vendor's failure fields may not replace
PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "errors", "rejected_id"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CUSTOM = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


def fold(text: str) -> str:
    """A value or name as maps compare them: Unicode NFKC, case-folded, inner blanks as one
    space, outer blanks dropped (``" Excellent  (740+)"`` and ``"excellent (740+)"`` agree)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class MappingError(Exception):
    """The payload cannot be read as a lead; ``problems`` names each source field."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class FormMap(BaseModel):
    """What one form (a Meta or Google form id) adds to its source's map."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)


class Answer(BaseModel):
    """An answer in the vendor's expected shape: a status and a JSON body whose strings may
    hold ``{id}`` (our lead id), ``{external_id}``, ``{status}`` (the lead's) and
    ``{reason}`` (why a post failed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int = Field(ge=200, le=499)
    body: dict[str, Any]


class Answers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    created: Answer
    repeated: Answer | None = None  # the same lead delivered again (default: created, 200)
    failed: dict[str, Any] = Field(default_factory=dict)  # added to the 422 problem body

    @field_validator("failed")
    @classmethod
    def _not_the_problem_members(cls, v: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(set(v) & PROBLEM_MEMBERS)
        if taken:
            raise ValueError(f"{', '.join(taken)}: the problem body's own members; name the "
                             "vendor's fields otherwise")
        return v


class SourceMap(BaseModel):
    """One source's map (a YAML file). ``fields``: source field -> lead field (a leads CSV
    column, ``full_name``, ``requested_officer_id``, ``lead_id`` for the source's own id,
    ``ignore``, or a custom field name); ``values``: lead field -> {source value -> our
    value} (compared case-insensitively); ``defaults``: lead field -> value when the source
    sends none; ``forms``: the same, per form id; ``keep_unmapped``: keep fields the map does
    not name as custom fields (otherwise they are dropped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    description: str = ""
    fields: dict[str, str]
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    forms: dict[str, FormMap] = Field(default_factory=dict)
    keep_unmapped: bool = False
    answers: Answers | None = None

    @field_validator("source")
    @classmethod
    def _source_name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("expected a lower-case name: letters, digits, _ or -, at most 64")
        return v

    @field_validator("fields")
    @classmethod
    def _targets(cls, v: dict[str, str]) -> dict[str, str]:
        for source_field, target in v.items():
            if target in KNOWN_COLUMNS or target in (FULL_NAME, IGNORE, REQUESTED_OFFICER):
                continue
            if not _CUSTOM.fullmatch(target):
                raise ValueError(f"{source_field!r} maps to {target!r}: expected a leads CSV "
                                 "column, full_name, requested_officer_id, ignore or a custom "
                                 "field name (lower-case letters, digits and _)")
        return v


@dataclass(frozen=True, slots=True)
class Mapped:
    """The canonical lead's fields (text) and, for each, the source field it came from."""

    fields: dict[str, str]
    origin: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Plan:
    fields: dict[str, str]  # folded source field -> lead field
    values: dict[str, dict[str, str]]  # lead field -> folded source value -> ours
    defaults: dict[str, str]


def _plan(m: SourceMap, form_id: str | None) -> _Plan:
    fields = {fold(k): v for k, v in m.fields.items()}
    values = {k: {fold(a): b for a, b in vm.items()} for k, vm in m.values.items()}
    defaults = dict(m.defaults)
    form = m.forms.get(form_id) if form_id is not None else None
    if form is not None:
        fields.update({fold(k): v for k, v in form.fields.items()})
        for k, vm in form.values.items():
            values[k] = {**values.get(k, {}), **{fold(a): b for a, b in vm.items()}}
        defaults.update(form.defaults)
    return _Plan(fields, values, defaults)


def shown(source_field: str, value: str) -> str:
    """A value as a message may show it: masked when the field holds contact details."""
    from engine.errors import is_personal_field, redact

    if is_personal_field(source_field):
        return mask(value) if value else ""
    return redact(value[:80])


def apply_map(m: SourceMap, flat: Mapping[str, str], form_id: str | None = None) -> Mapped:
    """Map a flat payload (source field -> text) to the canonical lead. Raises
    ``MappingError`` naming every source field that cannot be read."""
    plan = _plan(m, form_id)
    out: dict[str, str] = {}
    origin: dict[str, str] = {}
    problems: list[Problem] = []

    def put(target: str, value: str, source_field: str) -> None:
        if not value:
            return
        if target in out and out[target] != value:
            problems.append(Problem(source_field, shown(source_field, value),
                                    f"gives {target}, which {origin[target]} gives already "
                                    "with another value"))
            return
        out[target], origin[target] = value, source_field

    for key, raw in flat.items():
        target = plan.fields.get(fold(key))
        if target is None:
            if not m.keep_unmapped:
                continue
            target = key
        if target == IGNORE:
            continue
        value = raw.strip()
        if target == FULL_NAME:
            first, _, last = value.rpartition(" ")
            put("first_name", first.strip() or last, key)
            put("last_name", last if first.strip() else "", key)
            continue
        table = plan.values.get(target)
        if table is not None and value:
            value = table.get(fold(value), value)
        put(target, value, key)
    for target, value in plan.defaults.items():
        if not out.get(target):
            out[target], origin[target] = value, f"defaults.{target}"
    out["source"] = m.source
    origin["source"] = "(the source)"
    if problems:
        raise MappingError(problems)
    return Mapped(out, origin)


# ----------------------------------------------------------------------------- payloads


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(obj: Mapping[str, Any], where: str = "body") -> dict[str, str]:
    """A parsed JSON object as dotted names (``mortgage.loan.amount``) -> text. Lists of
    plain values are joined with ``;``; lists of objects are numbered (``items.0.name``).
    Raises ``MappingError`` for payloads nested too deep or too wide."""
    out: dict[str, str] = {}

    def walk(value: Any, name: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise MappingError([Problem(name, "", f"is nested more than {MAX_DEPTH} deep")])
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{name}.{k}" if name else str(k), depth + 1)
        elif isinstance(value, list):
            if all(not isinstance(v, Mapping | list) for v in value):
                out[name] = ";".join(_text(v) for v in value)
            else:
                for i, v in enumerate(value):
                    walk(v, f"{name}.{i}", depth + 1)
        else:
            out[name] = _text(value)
        if len(out) > MAX_FLAT_FIELDS:
            raise MappingError([Problem(where, "", f"has more than {MAX_FLAT_FIELDS} fields")])

    walk(obj, "", 0)
    return out


def parse_json(raw: bytes, *, exact_ints: bool = False) -> Any:
    """JSON from bytes; numbers with a fraction kept exact (as ``Decimal``), and, with
    ``exact_ints``, every integer kept as its digits (ids above 2**53 stay exact in any
    reader). Raises ``MappingError`` naming the place of a syntax error."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MappingError([Problem("body", "", f"is not UTF-8 (byte {exc.start})")]) from None
    try:
        return json.loads(text, parse_float=Decimal,
                          parse_int=str if exact_ints else int,
                          parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise MappingError([Problem("body", "", f"is not valid JSON: {exc}")]) from None
    except RecursionError:
        raise MappingError([Problem("body", "", "is nested too deep to read")]) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_form(raw: bytes) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` as name -> text; a name given twice is an error
    (which value would be the lead's is not ours to guess)."""
    from urllib.parse import parse_qsl

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MappingError([Problem("body", "", f"is not UTF-8 (byte {exc.start})")]) from None
    out: dict[str, str] = {}
    problems = []
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          errors="strict", max_num_fields=MAX_FLAT_FIELDS)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MappingError([Problem("body", "", f"is not a readable form: {exc}")]) from None
    for k, v in pairs:
        if k in out:
            problems.append(Problem(k, "", "is given more than once"))
        out[k] = v
    if problems:
        raise MappingError(problems)
    return out


def read_payload(raw: bytes, content_type: str) -> dict[str, str]:
    """A JSON object or a form, flattened: the body as a vendor or a web form posts it."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return parse_form(raw)
    if kind in ("application/json", "") or kind.endswith("+json"):
        data = parse_json(raw)
        if not isinstance(data, dict):
            raise MappingError([Problem("body", "", "expected a JSON object")])
        return flatten(data)
    raise MappingError([Problem("Content-Type", kind, "expected application/json or "
                                "application/x-www-form-urlencoded")])


# ----------------------------------------------------------------------------- loading


def load_map(path: Path) -> SourceMap:
    """A map file, validated; ``ValueError`` naming the file and each bad place."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top")
    try:
        return SourceMap.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"]
                          for e in exc.errors())
        raise ValueError(f"{path}: {where}") from None


def valid_name(name: str) -> bool:
    """Whether ``name`` may name a vendor or partner (and so a file under the folder)."""
    return bool(_NAME.fullmatch(name))
