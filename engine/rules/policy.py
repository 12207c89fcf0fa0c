"""The policy file: YAML, versioned, validated with YAML paths, compiled once.

Structure (full reference in docs/policy.md; JSON Schema from ``leadroute policy schema``)::

    policy: default            # name
    version: 3
    routing: {method: weighted_round_robin, offer: {mode: assign, accept_within_s: 900},
              after_hours: {action: hold}}
    custom_fields: {broker_tier: string}
    pools: {main: {everyone: true}, va: {specialties: [va]}}
    rules:
      - name: va
        if: {field: loan_program, eq: va}
        then: {pool: va, fallback: [main]}
    else: {pool: main}

Rules are tried in order; the first whose ``if`` holds applies its ``then`` (or its own
``else``, which makes every later rule unreachable). The top-level ``else`` catches the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, model_validator

from engine.domain import Specialty
from engine.fair_lending import protected_refusal
from engine.geo import US_STATES
from engine.invariant import present
from engine.leads import ISO_639_1, KNOWN_COLUMNS, MAX_NAME_CHARS
from engine.rules.conditions import (
    CONDITION_JSON_SCHEMA,
    Compiled,
    PolicyError,
    compile_condition,
)
from engine.rules.fields import BUILTIN_FIELDS, FieldSpec
from engine.rules.yamlfile import YamlError, load_yaml

if TYPE_CHECKING:
    from engine.policies.base import SelectionPolicy

# A number of seconds (a key ending in _s: accept_within_s, step_s, window_s, horizon_s...)
# longer than a year is a typing mistake, and far larger ones overflow date arithmetic.
MAX_SECONDS = 366 * 86400

# pydantic cannot emit a "$ref" to a definition it does not know, so the condition's schema is a
# marker here, replaced with {"$ref": "#/$defs/Condition"} by policy_json_schema.
_CONDITION_MARKER = "x-leadroute-condition"
ConditionNode = Annotated[dict[str, Any], WithJsonSchema({_CONDITION_MARKER: True})]


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class _Strict(BaseModel):
    # allow_inf_nan: "inf" or "nan" given as text would otherwise become a float
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class OfferSpec(_Strict):
    """How the chosen officers are offered the lead.

    ``assign``: one officer gets it. ``broadcast``: the top ``max_officers`` are offered it at
    once and the first to accept wins. ``cascade``: offered to one officer at a time, in rank
    order, ``step_s`` seconds each. ``escalate``: offered to the first officer, then every
    ``step_s`` seconds to the next as well, while those already offered may still accept;
    the first to accept wins (the best officer gets the lead when they answer promptly, and
    a slow or busy answer does not hold it up for the whole SLA). ``accept_within_s`` is the
    SLA: not accepted by then, the lead is re-routed (backup officer, then the fallback
    chain).
    """

    mode: Literal["assign", "broadcast", "cascade", "escalate"] = "assign"
    max_officers: int = Field(1, ge=1, le=50)
    step_s: float | None = Field(None, gt=0, le=MAX_SECONDS)
    accept_within_s: float = Field(900.0, gt=0, le=MAX_SECONDS)

    @model_validator(mode="after")
    def _consistent(self) -> OfferSpec:
        if self.mode == "cascade" and self.step_s is None:
            raise ValueError("a cascade needs step_s, the seconds each officer has to accept")
        if self.mode == "escalate" and self.step_s is None:
            raise ValueError("escalate needs step_s, the seconds before the next officer is "
                             "offered the lead too")
        if self.mode == "assign" and self.max_officers != 1:
            raise ValueError("mode assign offers one officer; use broadcast, cascade or "
                             "escalate for more")
        return self


class AfterHours(_Strict):
    """What happens when the only officers who could take a lead are off shift:
    ``hold`` until the next opening, or send to an on-call ``pool`` (working hours ignored)."""

    action: Literal["hold", "pool"] = "hold"
    pool: str | None = None

    @model_validator(mode="after")
    def _pool_given(self) -> AfterHours:
        if (self.action == "pool") != (self.pool is not None):
            raise ValueError("action pool needs pool: NAME; action hold takes no pool")
        return self


class LifecycleSpec(_Strict):
    """What happens to a lead after its first decision (``engine.lifecycle``).

    ``hold_retry_s``: a held lead with no known time someone frees up is tried again this
    often. ``unassigned_retry_s``: once every officer was tried and none accepted, wait this
    long and start a new round. ``max_rounds``: rounds before the lead is given up.
    ``timed_out``: an assignment not accepted within the SLA is ``take_back`` (no longer
    open and no longer counted against the officer's daily and hourly caps) or
    ``keep_counted`` (no longer open, still counted). ``offers_hold_slots``: an open offer
    (broadcast, cascade, escalate) holds a slot of each officer told until it is claimed or
    withdrawn, so concurrent offers do not pile onto the same officers. ``held_order``: which
    held lead an officer who frees up gets, within the same rule priority: ``freshest_first``
    (a fresh lead is worth more), ``oldest_first``, or ``highest_value`` (the largest
    conversion estimate now; needs a method that scores). ``stale_after_s``: a held lead
    this old (since it arrived) stops competing with fresh ones: ``when_stale: give_up``
    ends its routing with the reason, ``when_stale: pool`` sends it to ``stale_pool`` (a
    nurture team) instead of its rule's chain.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    hold_retry_s: float = Field(900.0, gt=0, le=365 * 86400)
    unassigned_retry_s: float = Field(900.0, gt=0, le=365 * 86400)
    max_rounds: int = Field(3, ge=1, le=100)
    timed_out: Literal["take_back", "keep_counted"] = "take_back"
    offers_hold_slots: bool = True
    held_order: Literal["freshest_first", "oldest_first", "highest_value"] = "freshest_first"
    stale_after_s: float | None = Field(None, gt=0, le=365 * 86400)
    when_stale: Literal["give_up", "pool"] = "give_up"
    stale_pool: str | None = None

    @model_validator(mode="after")
    def _stale_pool_given(self) -> LifecycleSpec:
        if (self.when_stale == "pool") != (self.stale_pool is not None):
            raise ValueError("when_stale: pool needs stale_pool: NAME; give_up takes none")
        if self.when_stale == "pool" and self.stale_after_s is None:
            raise ValueError("when_stale: pool needs stale_after_s")
        return self


class DuplicatesSpec(_Strict):
    """A lead with the same phone or email as a lead received within ``window_s`` seconds
    before it is linked to that lead and goes to its officer when that officer is eligible
    (the API does this; a file of leads routed in one run is not linked). ``window_s: 0``
    turns linking off."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    window_s: float = Field(7 * 86400.0, ge=0, le=365 * 86400)


class Routing(_Strict):
    method: str = "weighted_round_robin"
    params: dict[str, Any] = Field(default_factory=dict)
    offer: OfferSpec = Field(default_factory=lambda: OfferSpec())
    after_hours: AfterHours = Field(default_factory=AfterHours)
    lifecycle: LifecycleSpec = Field(default_factory=lambda: LifecycleSpec())
    duplicates: DuplicatesSpec = Field(default_factory=lambda: DuplicatesSpec())
    seed: int = Field(0, description="seed of the deterministic tie-break order")


class PoolSpec(_Strict):
    """A named set of officers: everyone, or those matching any listed id, team, specialty,
    language or licensed state."""

    everyone: bool = False
    ids: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    specialties: list[Specialty] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _selects(self) -> PoolSpec:
        if not (self.everyone or self.ids or self.teams or self.specialties or self.languages
                or self.states):
            raise ValueError("a pool needs everyone: true or at least one of ids, teams, "
                             "specialties, languages, states")
        return self


class Step(_Strict):
    """One place to look for an officer: a pool, optionally narrowed by requirements."""

    pool: str
    require_specialties: list[Specialty] = Field(default_factory=list)
    require_languages: list[str] = Field(default_factory=list)
    match_lead_language: bool = Field(
        False, description="only officers who speak the borrower's preferred language")


class Action(Step):
    priority: Priority = Priority.NORMAL
    fallback: list[str | Step] = Field(
        default_factory=list, description="pools (or steps) tried in order when none fits")
    offer: OfferSpec | None = None


class Rule(_Strict):
    name: str = Field(min_length=1)
    if_: ConditionNode = Field(alias="if")
    then: Action
    else_: Action | None = Field(None, alias="else")


class PolicyFile(_Strict):
    policy: str = Field(min_length=1, description="policy name")
    version: int | str
    description: str = ""
    routing: Routing = Field(default_factory=lambda: Routing())
    custom_fields: dict[str, Literal["string", "number", "integer", "boolean"]] = Field(
        default_factory=dict)
    pools: dict[str, PoolSpec]
    rules: list[Rule] = Field(default_factory=list)
    else_: Action | None = Field(
        None, alias="else", description="where a lead that matches no rule goes; required "
        "unless the last rule has its own else")


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema of the policy file, for editors (YAML language servers read it)."""
    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: resolve(v) for k, v in node.items() if k != _CONDITION_MARKER}
            if _CONDITION_MARKER in node:
                out["$ref"] = "#/$defs/Condition"
            return out
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    schema = resolve(PolicyFile.model_json_schema(by_alias=True))
    schema.setdefault("$defs", {})["Condition"] = {
        k: v for k, v in CONDITION_JSON_SCHEMA.items() if k != "$id"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "leadroute policy file"
    return schema


# ---------------------------------------------------------------- compiled form


@dataclass(frozen=True, slots=True)
class CompiledStep:
    pool: str
    require_specialties: frozenset[Specialty]
    require_languages: frozenset[str]
    match_lead_language: bool
    path: str

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pool": self.pool}
        if self.require_specialties:
            out["require_specialties"] = sorted(self.require_specialties)
        if self.require_languages:
            out["require_languages"] = sorted(self.require_languages)
        if self.match_lead_language:
            out["match_lead_language"] = True
        return out


@dataclass(frozen=True, slots=True)
class CompiledAction:
    steps: tuple[CompiledStep, ...]  # the primary step, then the fallbacks
    priority: Priority
    offer: OfferSpec


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    condition: Compiled
    then: CompiledAction
    otherwise: CompiledAction | None


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, validated policy: what ``engine.decide`` runs."""

    name: str
    version: str
    spec: PolicyFile
    rules: tuple[CompiledRule, ...]
    default: CompiledAction | None  # None when the last rule has its own else
    builtin_fields: tuple[str, ...]  # built-in fields the rules read
    custom_fields: Mapping[str, str]  # declared custom fields and their types
    source: str = ""
    selector: SelectionPolicy = None  # type: ignore[assignment]  # built at load

    @property
    def routing(self) -> Routing:
        return self.spec.routing

    @property
    def lifecycle(self) -> LifecycleSpec:
        return self.spec.routing.lifecycle

    @property
    def pools(self) -> Mapping[str, PoolSpec]:
        return self.spec.pools

    def match(self, facts: Mapping[str, Any]) -> tuple[CompiledAction, list[dict[str, Any]]]:
        """The action for a lead's facts and the rule path that led to it."""
        path: list[dict[str, Any]] = []
        for rule in self.rules:
            if rule.condition.predicate(facts):
                path.append({"rule": rule.name, "matched": True, "branch": "then"})
                return rule.then, path
            if rule.otherwise is not None:
                path.append({"rule": rule.name, "matched": False, "branch": "else"})
                return rule.otherwise, path
            path.append({"rule": rule.name, "matched": False})
        path.append({"rule": "else", "matched": True, "branch": "else"})
        return present(self.default, "compile_policy guarantees a catch-all"), path


def _yaml_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = {"if_": "if", "else_": "else"}.get(part, part)
            out += f".{name}" if out else name
    return out or "(top)"


def _strip_tags(raw: Any, loc: tuple[int | str, ...], kind: str
                ) -> tuple[tuple[int | str, ...], bool]:
    """``loc`` of a pydantic error without the parts that are not in the file: union-member
    tags such as ``str`` in ``fallback[0].str`` or ``int`` in ``version.int``, and validator
    names. Returns the location and whether anything was dropped."""
    out: list[int | str] = []
    node, dropped = raw, False
    for i, part in enumerate(loc):
        in_mapping = isinstance(node, Mapping) and part in node
        in_list = isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
            out.append(part)
        elif i == len(loc) - 1 and kind == "missing":  # the key that is not there
            out.append(part)
        else:
            dropped = True
    return tuple(out), dropped


def _first_error(raw: Any, errors: list[Any]) -> tuple[Any, tuple[int | str, ...]]:
    """The first validation error and its YAML location. Where the first error comes from a
    union member the value is not even a kind of (a mapping given where ``str | Step`` is
    expected fails as a string first), an error from another member at the same place is
    more telling: ``fallback[0].bogus: unknown key`` rather than ``not a valid string``."""
    located = [(err, *_strip_tags(raw, tuple(err["loc"]), err["type"])) for err in errors]
    first, loc, dropped = located[0]

    def wrong_kind(err: Any, tagged: bool) -> bool:
        return tagged and err["type"].endswith("_type")  # string_type, model_type, ...

    if wrong_kind(first, dropped):
        for err, other_loc, other_dropped in located[1:]:
            if other_loc[: len(loc)] == loc and not wrong_kind(err, other_dropped):
                return err, other_loc
    return first, loc


def load_policy(path: str | Path) -> Policy:
    """Read, validate and compile a policy file; raise PolicyError with the YAML path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError("(file)", f"cannot read policy file: {exc.strerror}", str(path)) from None
    except UnicodeDecodeError as exc:
        raise PolicyError("(file)", f"not UTF-8 text (byte {exc.start}): save the policy as UTF-8",
                          str(path)) from None
    return parse_policy(text, source=str(path))


def _check_numbers(raw: Any, source: str) -> None:
    """Refuse, at its YAML path, a number that is not finite anywhere in the policy (``.inf``
    would be written out as ``Infinity``, which is not JSON, and ``.nan`` compares false with
    everything) and a number of seconds (``*_s``) outside 0 to a year."""
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(raw, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, (*loc, k if isinstance(k, int | str) else str(k)))
                         for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise PolicyError(_yaml_path(loc), f"expected a finite number, got {node!r}", source)
        elif isinstance(node, int | float) and not isinstance(node, bool) and loc \
                and str(loc[-1]).endswith("_s") and not 0 <= node <= MAX_SECONDS:
            raise PolicyError(_yaml_path(loc), f"expected a number of seconds from 0 to "
                              f"{MAX_SECONDS:,} (a year), got {node!r}", source)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate and compile policy YAML text (see ``load_policy``)."""
    try:
        raw = load_yaml(text)
    except YamlError as exc:
        raise PolicyError(exc.where, exc.message, source) from None
    if not isinstance(raw, dict):
        raise PolicyError("(top)", "expected a mapping with policy, version, pools, rules, else",
                          source)
    _check_numbers(raw, source)
    try:
        spec = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        err, loc = _first_error(raw, exc.errors())
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif err["type"] == "missing":
            message = f"{loc[-1]!r} is required"
        elif "input" in err and err["type"] not in ("model_type",):
            message = f"{message} (got {err['input']!r})"
        raise PolicyError(_yaml_path(loc), message, source) from None
    return compile_policy(spec, source)


def compile_policy(spec: PolicyFile, source: str = "") -> Policy:
    """Check references, types, reachability and fair-lending limits; compile conditions."""
    def fail(path: str, message: str) -> PolicyError:
        return PolicyError(path, message, source)

    from engine.policies import METHODS  # the registry imports nothing from rules at load

    if spec.routing.method not in METHODS:
        raise fail("routing.method", f"unknown method {spec.routing.method!r}; "
                                     f"known: {', '.join(sorted(METHODS))}")
    try:
        METHODS[spec.routing.method].validate_params(spec.routing.params)
    except ValueError as exc:
        raise fail("routing.params", str(exc)) from None
    model = spec.routing.params.get("model")
    if model is not None:
        model_path = Path(str(model))
        if not model_path.is_absolute() and source and not source.startswith("<"):
            model_path = Path(source).parent / model_path
        if not model_path.is_file():
            raise fail("routing.params.model", f"model file {str(model)!r} not found "
                                               f"(looked for {model_path})")

    fields: dict[str, FieldSpec] = dict(BUILTIN_FIELDS)
    for name, type_ in spec.custom_fields.items():
        at = f"custom_fields.{name:.80}"
        if len(name) > MAX_NAME_CHARS:
            raise fail(at, f"a custom field name has at most {MAX_NAME_CHARS} characters")
        refusal = protected_refusal(name)
        if refusal is not None:
            raise fail(at, refusal)
        if name in BUILTIN_FIELDS or name in KNOWN_COLUMNS:
            raise fail(at, f"{name!r} is a built-in lead field; do not redeclare it")
        fields[name] = FieldSpec(name, type_, "custom field")  # the schema allows FIELD_TYPES

    for pool_name, pool in spec.pools.items():
        for i, lang in enumerate(pool.languages):
            if lang not in ISO_639_1:
                raise fail(f"pools.{pool_name}.languages[{i}]",
                           f"{lang!r} is not an ISO 639-1 code")
        for i, state in enumerate(pool.states):
            if state not in US_STATES:  # "tx" or "XX" would select nobody, silently
                raise fail(f"pools.{pool_name}.states[{i}]",
                           f"{state!r} is not a US state, DC or territory code (upper case)")

    def step(node: Step, at: str) -> CompiledStep:
        if node.pool not in spec.pools:
            raise fail(f"{at}.pool", f"unknown pool {node.pool!r}; pools: "
                                     f"{', '.join(sorted(spec.pools))}")
        for i, lang in enumerate(node.require_languages):
            if lang not in ISO_639_1:
                raise fail(f"{at}.require_languages[{i}]", f"{lang!r} is not an ISO 639-1 code")
        return CompiledStep(node.pool, frozenset(node.require_specialties),
                            frozenset(node.require_languages), node.match_lead_language, at)

    def action(node: Action, at: str) -> CompiledAction:
        steps = [step(node, at)]
        for i, fb in enumerate(node.fallback):
            fb_at = f"{at}.fallback[{i}]"
            steps.append(step(Step.model_validate({"pool": fb}) if isinstance(fb, str) else fb,
                              fb_at))
        return CompiledAction(tuple(steps), node.priority, node.offer or spec.routing.offer)

    if spec.routing.after_hours.pool is not None and \
            spec.routing.after_hours.pool not in spec.pools:
        raise fail("routing.after_hours.pool", f"unknown pool {spec.routing.after_hours.pool!r}")
    life = spec.routing.lifecycle
    if life.stale_pool is not None and life.stale_pool not in spec.pools:
        raise fail("routing.lifecycle.stale_pool", f"unknown pool {life.stale_pool!r}; pools: "
                                                   f"{', '.join(sorted(spec.pools))}")

    rules: list[CompiledRule] = []
    seen_names: dict[str, int] = {}
    seen_conditions: dict[str, int] = {}
    catch_all: int | None = None
    for i, rule in enumerate(spec.rules):
        at = f"rules[{i}]"
        if catch_all is not None:
            raise fail(at, f"unreachable: rules[{catch_all}] ({spec.rules[catch_all].name!r}) "
                           "catches every lead before it")
        if rule.name in seen_names:
            raise fail(f"{at}.name", f"duplicate rule name {rule.name!r} "
                                     f"(also rules[{seen_names[rule.name]}])")
        seen_names[rule.name] = i
        try:
            cond = compile_condition(rule.if_, fields, f"{at}.if")
        except PolicyError as exc:  # raised without the file name: add it
            raise fail(exc.path, exc.message) from None
        if cond.never:
            raise fail(f"{at}.if", "unreachable: this condition can match no lead")
        if cond.canonical in seen_conditions:
            j = seen_conditions[cond.canonical]
            raise fail(f"{at}.if", f"unreachable: same condition as rules[{j}] "
                                   f"({spec.rules[j].name!r}), which matches first")
        seen_conditions[cond.canonical] = i
        if rule.else_ is not None or cond.always:
            catch_all = i
        rules.append(CompiledRule(
            rule.name, cond, action(rule.then, f"{at}.then"),
            action(rule.else_, f"{at}.else") if rule.else_ is not None else None))
    if catch_all is not None and spec.else_ is not None:
        raise fail("else", f"unreachable: rules[{catch_all}] ({spec.rules[catch_all].name!r}) "
                           "already catches every lead; remove one of the two")
    if catch_all is None and spec.else_ is None:
        raise fail("else", "'else' is required: a lead that matches no rule needs a pool")
    default = action(spec.else_, "else") if spec.else_ is not None else None
    used = frozenset().union(*(r.condition.fields for r in rules)) if rules else frozenset()
    builtin = tuple(sorted(f for f in used if f in BUILTIN_FIELDS))
    custom = {f: spec.custom_fields[f] for f in sorted(used) if f in spec.custom_fields}
    selector = METHODS[spec.routing.method].build(spec.routing.params)
    if life.held_order == "highest_value" and not selector.needs_scorer:
        raise fail("routing.lifecycle.held_order",
                   f"highest_value orders held leads by conversion estimates; method "
                   f"{spec.routing.method} has none (use freshest_first or oldest_first, or a "
                   f"method that scores)")
    return Policy(spec.policy, str(spec.version), spec, tuple(rules), default, builtin, custom,
                  source, selector)
