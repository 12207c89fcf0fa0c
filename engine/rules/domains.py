"""The values of a field a condition lets through, to find conditions that can match no lead.

Each field has a domain: numbers within the field's bounds (``credit_score`` 300 to 850, a
``loan_amount`` above 0), the listed values of an enumeration (``state``, ``loan_program``),
true and false, or any text; and a lead may lack the value (missing). A comparison lets
through part of the domain (``credit_score > 800``: 801 to 850; never a missing value);
``all`` intersects the parts on each field, ``any`` unites them, ``not`` of a test on one field
takes its complement. An empty result is a condition no lead can satisfy: ``credit_score >
900``, ``{all: [{credit_score > 800}, {credit_score < 700}]}``, ``{all: [{state: TX}, {state:
CA}]}``, ``{all: [{missing: true}, {gt: 5}]}`` on one field. The sets over-approximate (an
``any`` over different fields constrains none of them), so an empty set is always a real
contradiction, never a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from engine.rules.fields import FieldSpec

_INF = math.inf
# (low, low included, high, high included)
Interval = tuple[float, bool, float, bool]


def _nonempty(iv: Interval) -> bool:
    lo, lo_in, hi, hi_in = iv
    return lo < hi or (lo == hi and lo_in and hi_in)


def _whole(iv: Interval) -> Interval:
    """An interval of whole numbers as closed whole bounds (``> 5`` is ``>= 6``)."""
    lo, lo_in, hi, hi_in = iv
    if math.isfinite(lo):
        lo, lo_in = (math.ceil(lo) if lo_in else math.floor(lo) + 1), True
    if math.isfinite(hi):
        hi, hi_in = (math.floor(hi) if hi_in else math.ceil(hi) - 1), True
    return lo, lo_in, hi, hi_in


def _intersect(a: Interval, b: Interval) -> Interval:
    lo, lo_in = max((a[0], not a[1]), (b[0], not b[1]))
    hi, hi_in = min((a[2], a[3]), (b[2], b[3]))
    return lo, not lo_in, hi, hi_in


def _subtract(a: Interval, b: Interval) -> list[Interval]:
    """The parts of ``a`` outside ``b``."""
    if not _nonempty(_intersect(a, b)):
        return [a]
    left = (a[0], a[1], b[0], not b[1])
    right = (b[2], not b[3], a[2], a[3])
    return [iv for iv in (left, right) if _nonempty(iv)]


@dataclass(frozen=True, slots=True)
class ValueSet:
    """Values of one field: numbers (``intervals``) or other values (``members``, or all but
    ``members`` when ``cofinite``), and whether a missing value is among them."""

    missing: bool
    numeric: bool = False
    integer: bool = False
    intervals: tuple[Interval, ...] = ()
    members: frozenset[Any] = frozenset()
    cofinite: bool = False

    def _make(self, missing: bool, intervals: list[Interval] | tuple[Interval, ...] = (),
              members: frozenset[Any] = frozenset(), cofinite: bool = False) -> ValueSet:
        if self.integer:
            intervals = [_whole(iv) for iv in intervals]
        return ValueSet(missing, self.numeric, self.integer,
                        tuple(iv for iv in intervals if _nonempty(iv)), members, cofinite)

    @property
    def empty(self) -> bool:
        """No lead's value is in the set, missing or not."""
        if self.missing:
            return False
        if self.numeric:
            return not self.intervals
        return not self.cofinite and not self.members

    def __and__(self, other: ValueSet) -> ValueSet:
        missing = self.missing and other.missing
        if self.numeric:
            return self._make(missing, [_intersect(a, b) for a in self.intervals
                                        for b in other.intervals])
        if self.cofinite and other.cofinite:
            return self._make(missing, members=self.members | other.members, cofinite=True)
        if self.cofinite or other.cofinite:
            finite, co = (other, self) if self.cofinite else (self, other)
            return self._make(missing, members=finite.members - co.members)
        return self._make(missing, members=self.members & other.members)

    def __or__(self, other: ValueSet) -> ValueSet:
        missing = self.missing or other.missing
        if self.numeric:
            return self._make(missing, self.intervals + other.intervals)
        if self.cofinite and other.cofinite:
            return self._make(missing, members=self.members & other.members, cofinite=True)
        if self.cofinite or other.cofinite:
            finite, co = (other, self) if self.cofinite else (self, other)
            return self._make(missing, members=co.members - finite.members, cofinite=True)
        return self._make(missing, members=self.members | other.members)

    def within(self, domain: ValueSet) -> ValueSet:
        """The complement of this set in ``domain``."""
        missing = domain.missing and not self.missing
        if self.numeric:
            pieces = list(domain.intervals)
            for cut in self.intervals:
                pieces = [p for piece in pieces for p in _subtract(piece, cut)]
            return self._make(missing, pieces)
        if domain.cofinite:  # any text: the complement of a finite set is cofinite
            return self._make(missing, members=self.members, cofinite=not self.cofinite)
        kept = domain.members & self.members if self.cofinite else domain.members - self.members
        return self._make(missing, members=kept)


def domain(spec: FieldSpec) -> ValueSet:
    """Every value ``spec``'s field can take, missing included."""
    if spec.type in ("number", "integer"):
        low, high = spec.bounds or (-_INF, _INF)
        everything = ValueSet(True, True, spec.type == "integer")
        return everything._make(True, [(low, not spec.low_open and math.isfinite(low), high,
                                        math.isfinite(high))])
    if spec.type == "boolean":
        return ValueSet(True, members=frozenset({True, False}))
    if spec.choices is not None:
        return ValueSet(True, members=frozenset(spec.choices))
    return ValueSet(True, cofinite=True)


def describe_domain(spec: FieldSpec) -> str:
    """``credit_score is from 300 to 850``; ``loan_amount is above 0 and at most ...``."""
    if not spec.bounds:
        return f"{spec.name} is {spec.type}"
    low, high = (f"{int(b):,}" if math.isfinite(b) and b == int(b) else f"{b:g}"
                 for b in spec.bounds)
    if spec.low_open and math.isfinite(spec.bounds[1]):
        return f"{spec.name} is above {low} and at most {high}"
    if spec.low_open:
        return f"{spec.name} is above {low}"
    return f"{spec.name} is from {low} to {high}"


def comparison(spec: FieldSpec, op: str, value: Any) -> ValueSet:
    """The values of ``spec``'s field that ``{field: F, op: value}`` lets through (never a
    missing one), within its domain. ``starts_with`` on free text is taken as any text."""
    whole = domain(spec)
    present = replace(whole, missing=False)
    if op == "missing":
        return ValueSet(True, whole.numeric, whole.integer) if value else present
    if whole.numeric:
        v = value
        shape = {"eq": [(v, True, v, True)], "lt": [(-_INF, False, v, False)],
                 "lte": [(-_INF, False, v, True)], "gt": [(v, False, _INF, False)],
                 "gte": [(v, True, _INF, False)]}
        if op in shape:
            return present & ValueSet(False, True, whole.integer, tuple(shape[op]))
        if op == "ne":
            return comparison(spec, "eq", value).within(present)
        if op == "between":
            return present & ValueSet(False, True, whole.integer,
                                      ((value[0], True, value[1], True),))
        if op in ("in", "not_in"):
            got = present & ValueSet(False, True, whole.integer,
                                     tuple((v, True, v, True) for v in value))
            return got if op == "in" else got.within(present)
        return present
    if op == "eq":
        return present & ValueSet(False, members=frozenset({value}))
    if op == "ne":
        return comparison(spec, "eq", value).within(present)
    if op in ("in", "not_in"):
        got = present & ValueSet(False, members=frozenset(value))
        return got if op == "in" else got.within(present)
    if op == "starts_with":
        prefixes = tuple(value) if isinstance(value, list) else (value,)
        if not prefixes:
            return ValueSet(False)
        if not present.cofinite:
            return ValueSet(False, members=frozenset(
                m for m in present.members if isinstance(m, str) and m.startswith(prefixes)))
    return present
