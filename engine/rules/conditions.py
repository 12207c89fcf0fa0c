"""The condition language: structured YAML compiled once, at load, into Python closures.

A condition is one of::

    {field: loan_amount, gt: 500000}          # eq ne lt lte gt gte
    {field: state, in: [CA, TX]}              # in, not_in
    {field: credit_score, between: [620, 679]} # inclusive range
    {field: zip, starts_with: ["900", "901"]} # prefix, e.g. zip3
    {field: credit_score, missing: true}      # missing-value test
    {all: [...]}  {any: [...]}  {not: {...}}

User text is never evaluated: it only selects among these operators, and every field and value is
type-checked against the field's declared type when the policy loads. A comparison with a missing
value is false (so ``not`` of it is true); test ``missing`` explicitly where it matters.
docs/policy.md explains why this form was chosen over CEL (benchmarks/bench_conditions.py).
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.fair_lending import protected_refusal
from engine.leads import MAX_NAME_CHARS
from engine.rules.domains import ValueSet, comparison, describe_domain, domain
from engine.rules.fields import FieldSpec

Facts = Mapping[str, Any]
Predicate = Callable[[Facts], bool]

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "lte": operator.le,
    "gt": operator.gt, "gte": operator.ge,
}
FIELD_OPERATORS = (*COMPARISONS, "in", "not_in", "between", "starts_with", "missing")
ORDERED_OPS = frozenset({"lt", "lte", "gt", "gte", "between"})


class PolicyError(ValueError):
    """A policy file problem, located by its YAML path (``rules[2].if.any[0].field``)."""

    def __init__(self, path: str, message: str, source: str = "") -> None:
        self.path, self.message, self.source = path, message, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {message}")


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled condition: the predicate, the fields it reads, and a canonical form used
    to spot duplicates. ``never`` marks a condition that can match no lead. ``values`` holds,
    for fields the condition constrains, the values it can hold for (see engine/rules/domains:
    a superset, exactly the set when ``exact``, which a test of one field is)."""

    predicate: Predicate
    fields: frozenset[str]
    canonical: str
    never: bool = False
    always: bool = False
    values: Mapping[str, ValueSet] = field(default_factory=dict)
    exact: bool = False


# Deeper nesting of all / any / not is no policy anyone can read (and the YAML loader stops
# at 64 levels); it is refused rather than recursed into.
MAX_CONDITION_DEPTH = 32


def _type_ok(value: Any, spec: FieldSpec) -> bool:
    if spec.type == "string":
        return isinstance(value, str)
    if spec.type == "boolean":
        return isinstance(value, bool)
    if spec.type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _describe(spec: FieldSpec) -> str:
    if spec.choices:
        shown = sorted(spec.choices)
        more = ", ..." if len(shown) > 12 else ""
        return f"one of {', '.join(shown[:12])}{more}"
    return {"string": "text (quote numbers-as-text, e.g. '900')", "number": "a number",
            "integer": "a whole number", "boolean": "true or false"}[spec.type]


def _check_value(value: Any, spec: FieldSpec, path: str, point: bool = False) -> None:
    """``value`` fits ``spec``'s type and listed values; a ``point`` value (eq, ne, in,
    not_in) also its bounds: ``credit_score eq 900`` could never hold (and ``ne 900`` always)."""
    if not _type_ok(value, spec):
        raise PolicyError(
            path, f"{spec.name} is {spec.type}; expected {_describe(spec)}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # .nan compares false to all
        raise PolicyError(path, f"expected a finite number, got {value!r}")
    if spec.choices is not None and value not in spec.choices:
        raise PolicyError(path, f"{value!r} is not a value of {spec.name}; "
                                f"expected {_describe(spec)}")
    if point and spec.bounds is not None and comparison(spec, "eq", value).empty:
        raise PolicyError(path, f"{value!r} is not a value {spec.name} can have: "
                                f"{describe_domain(spec)}")
    if point and spec.pattern is not None and not re.fullmatch(spec.pattern[0], value):
        raise PolicyError(path, f"{value!r} is not a value {spec.name} can have: "
                                f"{spec.name} is {spec.pattern[2]}")


def _never(path: str, why: str) -> PolicyError:
    return PolicyError(path, f"unreachable: this condition can match no lead ({why})")


def compile_condition(node: Any, fields: Mapping[str, FieldSpec], path: str) -> Compiled:
    """Validate and compile one condition; raise PolicyError at the first problem, which
    includes a part that can match no lead (``credit_score > 900``, ``in: []``, an ``all``
    whose tests on one field leave no value)."""
    return _compile(node, fields, path, 0)


def _compile(node: Any, fields: Mapping[str, FieldSpec], path: str, depth: int) -> Compiled:
    if not isinstance(node, Mapping):
        raise PolicyError(path, f"expected a condition mapping, got {node!r}")
    if depth >= MAX_CONDITION_DEPTH:
        raise PolicyError(path, f"conditions nested more than {MAX_CONDITION_DEPTH} deep")
    logical = [k for k in ("all", "any", "not") if k in node]
    if logical:
        if len(node) != 1:
            raise PolicyError(path, f"'{logical[0]}' must stand alone, found keys {sorted(node)}")
        key = logical[0]
        if key == "not":
            inner = _compile(node["not"], fields, f"{path}.not", depth + 1)
            pred = inner.predicate
            if inner.always:
                raise _never(path, "not of a condition every lead satisfies")
            values: dict[str, ValueSet] = {}
            if inner.exact:
                (name, kept), = inner.values.items()
                values[name] = kept.within(domain(fields[name]))
                if values[name].empty:
                    raise _never(path, f"every value of {name} is excluded")
            return Compiled(lambda f: not pred(f), inner.fields, f"not({inner.canonical})",
                            never=inner.always, always=inner.never, values=values,
                            exact=inner.exact)
        items = node[key]
        if not isinstance(items, list):
            raise PolicyError(f"{path}.{key}", f"expected a list of conditions, got {items!r}")
        parts = [_compile(x, fields, f"{path}.{key}[{i}]", depth + 1)
                 for i, x in enumerate(items)]
        preds = tuple(p.predicate for p in parts)
        used = frozenset().union(*(p.fields for p in parts)) if parts else frozenset()
        canon = f"{key}({','.join(sorted(p.canonical for p in parts))})"
        single = len(used) == 1 and all(p.exact for p in parts)
        if key == "all":
            values = {}
            where: dict[str, list[str]] = {}
            for i, part in enumerate(parts):
                for name, allowed in part.values.items():
                    values[name] = values[name] & allowed if name in values else allowed
                    where.setdefault(name, []).append(f"{key}[{i}]")
                    if values[name].empty:
                        raise _never(path, f"no value of {name} satisfies "
                                           f"{' and '.join(where[name])} together")
            return Compiled(_all_of(preds), used, canon,
                            never=any(p.never for p in parts), always=all(p.always for p in parts),
                            values=values, exact=single and bool(parts))
        if not parts:
            raise _never(path, "any of no conditions")
        shared = set(parts[0].values).intersection(*(p.values for p in parts[1:]))
        values = {}
        for name in shared:
            union = parts[0].values[name]
            for part in parts[1:]:
                union = union | part.values[name]
            values[name] = union
        return Compiled(_any_of(preds), used, canon,
                        never=all(p.never for p in parts), always=any(p.always for p in parts),
                        values=values, exact=single)

    if "field" not in node:
        raise PolicyError(path, "expected 'field' with an operator, or all / any / not; "
                                f"found keys {sorted(node)}")
    name = node["field"]
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
        raise PolicyError(f"{path}.field", f"expected a field name of at most {MAX_NAME_CHARS} "
                                           f"characters, got {name!r:.80}")
    refusal = protected_refusal(name)
    if refusal is not None:
        raise PolicyError(f"{path}.field", refusal)
    spec = fields.get(name)
    if spec is None:
        known = ", ".join(sorted(fields))
        raise PolicyError(f"{path}.field", f"unknown field {name!r}; known fields: {known} "
                          "(declare extra lead columns under custom_fields)")
    ops = [k for k in node if k != "field"]
    if len(ops) != 1 or ops[0] not in FIELD_OPERATORS:
        raise PolicyError(path, f"expected exactly one operator of {', '.join(FIELD_OPERATORS)}"
                                f"; found {ops}")
    op = ops[0]
    value = node[op]
    at = f"{path}.{op}"
    if op in ORDERED_OPS and (spec.type in ("string", "boolean")):
        raise PolicyError(at, f"{op} needs a number field; {name} is {spec.type}")
    canon = json.dumps([name, op, value], sort_keys=True, default=str)
    fields_used = frozenset({name})
    predicate = _predicate(name, op, value, spec, at)
    allowed = comparison(spec, op, value)
    if allowed.empty:
        what = "lists no value" if op in ("in", "starts_with") else describe_domain(spec)
        raise _never(path, f"{name} {op} {value!r}: {what}")
    exact = not (op == "starts_with" and spec.choices is None)
    return Compiled(predicate, fields_used, canon, values={name: allowed}, exact=exact)


def _all_of(preds: tuple[Predicate, ...]) -> Predicate:
    """True when every one of ``preds`` holds, tested in order up to the first that fails
    (``all`` over a generator, without building one on every lead)."""
    def holds(f: Facts) -> bool:
        for p in preds:  # noqa: SIM110 - a loop: no generator per call (0.5 us a lead)
            if not p(f):
                return False
        return True

    return holds


def _any_of(preds: tuple[Predicate, ...]) -> Predicate:
    """True when one of ``preds`` holds, tested in order up to the first that does."""
    def holds(f: Facts) -> bool:
        for p in preds:  # noqa: SIM110 - a loop: no generator per call
            if p(f):
                return True
        return False

    return holds


def _predicate(name: str, op: str, value: Any, spec: FieldSpec, at: str) -> Predicate:
    """The test of one field, its value checked against the field's type."""
    if op == "missing":
        if not isinstance(value, bool):
            raise PolicyError(at, f"expected true or false, got {value!r}")
        want = value
        return lambda f: (f.get(name) is None) == want
    if op in COMPARISONS:
        _check_value(value, spec, at, point=op in ("eq", "ne"))
        cmp = COMPARISONS[op]

        def compare(f: Facts) -> bool:
            v = f.get(name)
            return v is not None and cmp(v, value)

        return compare
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise PolicyError(at, f"expected a list of values, got {value!r}")
        for i, v in enumerate(value):
            _check_value(v, spec, f"{at}[{i}]", point=True)
        members = frozenset(value)
        if op == "in":
            return lambda f: f.get(name) in members
        return lambda f: (v := f.get(name)) is not None and v not in members
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2):
            raise PolicyError(at, f"expected [low, high], got {value!r}")
        for i, v in enumerate(value):
            _check_value(v, spec, f"{at}[{i}]")
        lo, hi = value
        if lo > hi:
            raise PolicyError(at, f"low {lo!r} is above high {hi!r}: matches no lead")
        return lambda f: (v := f.get(name)) is not None and lo <= v <= hi
    # starts_with
    prefixes = value if isinstance(value, list) else [value]
    if spec.type != "string" or not all(isinstance(p, str) and p for p in prefixes):
        raise PolicyError(at, f"starts_with needs a text field and text prefixes "
                              f"(quote digits: '900'); got {name} ({spec.type}) and {value!r}")
    for i, p in enumerate(prefixes):
        if spec.pattern is not None and not re.fullmatch(spec.pattern[1], p):
            raise PolicyError(f"{at}[{i}]" if isinstance(value, list) else at,
                              f"{p!r} begins no value {name} can have: {name} is "
                              f"{spec.pattern[2]}")
    tup = tuple(prefixes)
    return lambda f: (v := f.get(name)) is not None and v.startswith(tup)


CONDITION_JSON_SCHEMA: dict[str, Any] = {
    "$id": "#condition",
    "description": "A condition: a field test, or all / any / not of conditions.",
    "oneOf": [
        {"type": "object", "required": ["all"], "additionalProperties": False,
         "properties": {"all": {"type": "array", "items": {"$ref": "#/$defs/Condition"}}}},
        {"type": "object", "required": ["any"], "additionalProperties": False,
         "properties": {"any": {"type": "array", "items": {"$ref": "#/$defs/Condition"}}}},
        {"type": "object", "required": ["not"], "additionalProperties": False,
         "properties": {"not": {"$ref": "#/$defs/Condition"}}},
        {"type": "object", "required": ["field"], "minProperties": 2, "maxProperties": 2,
         "additionalProperties": False,
         "properties": {
             "field": {"type": "string", "description": "a lead field or declared custom field"},
             **{op: {} for op in COMPARISONS},
             "in": {"type": "array"}, "not_in": {"type": "array"},
             "between": {"type": "array", "minItems": 2, "maxItems": 2},
             "starts_with": {"anyOf": [{"type": "string"},
                                       {"type": "array", "items": {"type": "string"}}]},
             "missing": {"type": "boolean"},
         }},
    ],
}
