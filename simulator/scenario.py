"""Scenario files: YAML, validated with pydantic at the edge, converted to ``params`` types.

A scenario may ``extends:`` another file (a path relative to it): the parent is loaded first
and the child's keys override it, mappings merged key by key, lists and values replaced.
A mapping with another ``kind`` replaces the parent's (a replay stream over a synthetic one).
Paths in a file (``roster``, ``stream.path``) are relative to the file that names them.
Errors name the YAML path and the file: ``reference.yaml: world.response.median_s: must be >
0 seconds, got -5``. The full format is in docs/simulator.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictFloat, ValidationError

from engine.errors import InputError
from engine.invariant import present
from engine.io import load_roster
from engine.roster import zone
from engine.rules.yamlfile import YamlError, load_yaml
from simulator.decay import RESEARCH_KNOTS, Competitor, ResponseDecay
from simulator.errors import ParamError, ScenarioError
from simulator.params import (
    Campaign,
    ClosingParams,
    ConversionParams,
    CreditBand,
    Departure,
    OfficerOverride,
    OperationsParams,
    ReplayStreamParams,
    ResponseParams,
    Scenario,
    SkillParams,
    SyntheticStreamParams,
    WorldParams,
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompetitorIn(_In):
    mean_first_contact_s: float | None = None
    steal_probability: float | None = None


class DecayIn(_In):
    flatten: float | None = None
    competitor: CompetitorIn | None = None
    knots: list[tuple[float, float]] | None = None


class CreditBandIn(_In):
    min_score: int
    multiplier: float


class ConversionIn(_In):
    contact_rate_by_source: dict[str, float] | None = None
    default_contact_rate: float | None = None
    application_rate_by_purpose: dict[str, float] | None = None
    credit_bands: list[CreditBandIn] | None = None
    missing_credit_multiplier: float | None = None
    funding_rate_by_program: dict[str, float] | None = None
    language_match_multiplier: float | None = None
    language_mismatch_multiplier: float | None = None
    max_application_probability: float | None = None


class OverrideIn(_In):
    skill: float | None = None
    programs: dict[str, float] | None = None
    sources: dict[str, float] | None = None
    median_response_s: float | None = None


class SkillsIn(_In):
    sigma: float | None = None
    source_sigma: float | None = None
    specialty_multiplier: float | None = None
    overrides: dict[str, OverrideIn] | None = None


class ResponseIn(_In):
    median_s: float | None = None
    officer_sigma: float | None = None
    within_sigma: float | None = None
    load_slope: float | None = None
    busy_probability: float | None = None
    busy_mean_s: float | None = None
    hour_multipliers: list[float] | None = None
    notification_latency_s: dict[str, float] | None = None


class ClosingIn(_In):
    kind: Literal["uniform", "exponential"] | None = None
    lost_days: tuple[float, float] | None = None
    funded_days: tuple[float, float] | None = None
    mean_s: float | None = None


class WorldIn(_In):
    kind: Literal["truth", "fitted"] = "truth"
    application_model: str | None = None  # kind: fitted
    seed: int = 0
    conversion: ConversionIn = ConversionIn()
    decay: DecayIn = DecayIn()
    skills: SkillsIn = SkillsIn()
    response: ResponseIn = ResponseIn()
    closing: ClosingIn = ClosingIn()


class CampaignIn(_In):
    name: str
    program: str
    states: list[str]
    multiplier: float
    source: str = ""
    start_day: int = 0
    end_day: int | None = None


class StreamIn(_In):
    kind: Literal["synthetic", "replay"] = "synthetic"
    path: str | None = None  # replay
    leads_per_day: float | None = None
    volume_multiplier: float | None = None
    hour_weights: list[float] | None = None
    weekday_weights: list[float] | None = None
    source_mix: dict[str, float] | None = None
    program_mix: dict[str, float] | None = None
    extra_programs: dict[str, float] | None = None
    hmda_year: int | None = None
    states: list[str] | None = None
    cash_out_share_of_refinance: float | None = None
    amount_scale: float | None = None
    amount_sigma: float | None = None
    credit_mean: float | None = None
    credit_sd: float | None = None
    credit_min: int | None = None
    credit_max: int | None = None
    missing_credit_share: float | None = None
    ltv_range: tuple[float, float] | None = None
    language_mix: dict[str, float] | None = None
    veteran_share: float | None = None
    first_time_buyer_share: float | None = None
    campaigns: list[CampaignIn] | None = None


class OperationsIn(_In):
    """``drain_days``, and overrides of the policies' ``routing.lifecycle`` settings."""

    drain_days: float | None = None
    hold_retry_s: float | None = None
    unassigned_retry_s: float | None = None
    max_rounds: int | None = None
    timed_out: Literal["take_back", "keep_counted"] | None = None
    offers_hold_slots: bool | None = None
    held_order: Literal["freshest_first", "oldest_first", "highest_value"] | None = None
    stale_after_s: float | None = None
    when_stale: Literal["give_up", "pool"] | None = None
    stale_pool: str | None = None


class DepartureIn(_In):
    officer_id: str = ""
    skill_rank: int | None = None
    at: datetime | None = None
    day: StrictFloat | None = None  # not a bool


class ScenarioIn(_In):
    scenario: str
    description: str = ""
    extends: str | None = None
    start: datetime
    days: StrictFloat  # not a bool
    timezone: str = "America/New_York"
    roster: str
    world: WorldIn = WorldIn()
    stream: StreamIn = StreamIn()
    operations: OperationsIn = OperationsIn()
    departures: list[DepartureIn] = []


def departure_moment(start: datetime, day: float, timezone: str) -> datetime:
    """The moment of a departure given as ``day: N``: local midnight of the N-th calendar day
    after the start's local date in the scenario's ``timezone`` (so day 15 of a run that
    starts on a Monday at midnight is the Monday-after-next at midnight on the wall clock,
    across a change of clocks too); a fraction of a day is that share of 24 wall-clock hours
    after it (day 15.5: noon)."""
    tz = zone(timezone)
    whole = math.floor(day)
    local_date = start.astimezone(tz).date() + timedelta(days=whole)
    wall = datetime.combine(local_date, time(0), tzinfo=tz) + timedelta(days=day - whole)
    # through UTC: a wall time that does not exist (clocks forward) lands after the gap
    return wall.astimezone(UTC).astimezone(tz)


# ---------------------------------------------------------------------------- YAML


def _yaml_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _problem(err: Any) -> tuple[str, str]:
    """(YAML path, message) of one pydantic error."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and
                                              (p.startswith("function-") or "[" in p)))
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    elif err["type"] == "missing":
        message = f"{loc[-1]!r} is required"
    elif "input" in err:
        message = f"{message} (got {err['input']!r})"
    return _yaml_path(loc), message


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError("(file)", f"cannot read scenario file: {exc.strerror}",
                            str(path)) from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"line {line}", "is not UTF-8 text; save the file as UTF-8",
                            str(path)) from None
    try:  # safe, duplicate keys refused, aliases and nesting bounded (engine.rules.yamlfile)
        raw = load_yaml(text)
    except YamlError as exc:
        raise ScenarioError(exc.where, exc.message, str(path)) from None
    if not isinstance(raw, dict):
        raise ScenarioError("(top)", "expected a mapping with scenario, start, days, roster, "
                                     "world, stream", str(path))
    # paths are relative to the file that names them
    if isinstance(raw.get("roster"), str):
        raw["roster"] = str((path.parent / raw["roster"]).resolve())
    world = raw.get("world")
    if isinstance(world, dict) and isinstance(world.get("application_model"), str):
        world["application_model"] = str((path.parent / world["application_model"]).resolve())
    stream = raw.get("stream")
    if isinstance(stream, dict) and isinstance(stream.get("path"), str):
        stream["path"] = str((path.parent / stream["path"]).resolve())
    return raw


def _merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """The child over the parent: mappings merged key by key, except that a mapping of
    another ``kind`` (a replay stream over a synthetic one) replaces the parent's."""
    out = dict(parent)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping) and \
                value.get("kind", old.get("kind")) == old.get("kind"):
            out[key] = _merge(old, value)
        else:
            out[key] = value
    return out


def _resolve(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError("extends", f"scenarios extend each other in a cycle: {cycle}",
                            str(chain[0]))
    raw = _read(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError("extends", f"expected a path to a scenario file, got {parent!r}",
                            str(path))
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError("extends", f"no such scenario file: {parent}", str(path))
    return _merge(_resolve(parent_path, (*chain, path)), raw)


# ---------------------------------------------------------------------------- conversion


def _given(model: BaseModel, *skip: str) -> dict[str, Any]:
    """The fields set to a value (None means: keep the dataclass default)."""
    return {k: v for k, v in model if v is not None and k not in skip}


def _build(cls: Any, at: str, kwargs: dict[str, Any], source: str) -> Any:
    try:
        return cls(**kwargs)
    except ParamError as exc:
        raise ScenarioError(f"{at}.{exc.field}" if at else exc.field, exc.message,
                            source) from None


def _world(w: WorldIn, source: str) -> WorldParams:
    c = w.conversion
    conv_args = _given(c, "credit_bands")
    if c.contact_rate_by_source is not None:  # the sources given; the others keep defaults
        conv_args["contact_rate_by_source"] = {**ConversionParams().contact_rate_by_source,
                                               **c.contact_rate_by_source}
    if c.credit_bands is not None:
        conv_args["credit_bands"] = tuple(
            _build(CreditBand, f"world.conversion.credit_bands[{k}]", dict(b), source)
            for k, b in enumerate(c.credit_bands))
    conversion = _build(ConversionParams, "world.conversion", conv_args, source)
    d = w.decay
    competitor = None
    if d.competitor is not None:
        competitor = _build(Competitor, "world.decay.competitor", _given(d.competitor), source)
    decay = _build(ResponseDecay, "world.decay", {
        "knots": tuple(tuple(k) for k in d.knots) if d.knots is not None else RESEARCH_KNOTS,
        "flatten": d.flatten if d.flatten is not None else 0.0, "competitor": competitor},
        source)
    s = w.skills
    overrides = {oid: _build(OfficerOverride, f"world.skills.overrides.{oid}", _given(o), source)
                 for oid, o in (s.overrides or {}).items()}
    skills = _build(SkillParams, "world.skills", {**_given(s, "overrides"),
                                                  "overrides": overrides}, source)
    r = w.response
    resp_args = _given(r)
    if r.hour_multipliers is not None:
        resp_args["hour_multipliers"] = tuple(r.hour_multipliers)
    response = _build(ResponseParams, "world.response", resp_args, source)
    closing = _build(ClosingParams, "world.closing", _given(w.closing), source)
    model = Path(w.application_model) if w.application_model is not None else None
    return _build(WorldParams, "world", {"seed": w.seed, "conversion": conversion,
                                         "decay": decay, "skills": skills,
                                         "response": response, "closing": closing,
                                         "kind": w.kind, "application_model": model}, source)


def _stream(s: StreamIn, source: str) -> SyntheticStreamParams | ReplayStreamParams:
    if s.kind == "replay":
        extra = sorted(_given(s, "kind", "path"))
        if s.path is None:
            raise ScenarioError("stream.path", "a replay stream needs path: LEADS.csv", source)
        if extra:
            raise ScenarioError(f"stream.{extra[0]}", "applies to synthetic streams only",
                                source)
        return _build(ReplayStreamParams, "stream", {"path": Path(s.path)}, source)
    if s.path is not None:
        raise ScenarioError("stream.path", "applies to replay streams (kind: replay)", source)
    args = _given(s, "kind", "path", "campaigns")
    for key in ("hour_weights", "weekday_weights"):
        if key in args:
            args[key] = tuple(args[key])
    if "states" in args:
        args["states"] = tuple(state.upper() for state in args["states"])
    campaigns = tuple(
        _build(Campaign, f"stream.campaigns[{k}]",
               {**_given(c), "states": tuple(state.upper() for state in c.states)}, source)
        for k, c in enumerate(s.campaigns or ()))
    return _build(SyntheticStreamParams, "stream", {**args, "campaigns": campaigns}, source)


def parse_scenario(raw: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a scenario mapping (``extends`` already resolved) into a ``Scenario``."""
    try:
        spec = ScenarioIn.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(err) for err in exc.errors()]
        path, message = problems[0]
        if len(problems) > 1:  # every problem of the file at once, the first in front
            message += "; also " + "; ".join(f"{p}: {m}" for p, m in problems[1:])
        raise ScenarioError(path, message, source) from None
    try:
        zone(spec.timezone)
    except Exception:  # zoneinfo raises several kinds of error for a bad name
        raise ScenarioError("timezone", f"{spec.timezone!r} is not an IANA timezone such as "
                                        "America/New_York", source) from None
    roster_path = Path(spec.roster)
    if not roster_path.is_file():
        raise ScenarioError("roster", f"no such roster file: {spec.roster}", source)
    departures: list[Departure] = []
    for k, dep in enumerate(spec.departures):
        if (dep.at is None) == (dep.day is None):
            raise ScenarioError(f"departures[{k}]", "give exactly one of at (a time) or day "
                                                    "(days after start)", source)
        if dep.day is not None:
            if not 0 <= dep.day <= spec.days:  # NaN fails too
                raise ScenarioError(f"departures[{k}].day", f"{dep.day!r} is outside the window "
                                    f"of the run: give a number of days from 0 to "
                                    f"{spec.days:g}", source)
            at = departure_moment(spec.start, dep.day, spec.timezone)
        else:
            at = present(dep.at, "a departure gives at or day")
        if at.tzinfo is None:
            raise ScenarioError(f"departures[{k}].at", "needs a UTC offset, e.g. "
                                "2025-03-17T12:00:00-05:00", source)
        if not spec.start <= at < spec.start + timedelta(days=spec.days):
            raise ScenarioError(f"departures[{k}]", f"leaves at {at.isoformat()}, outside the "
                                f"window of {spec.days:g} days from {spec.start.isoformat()}",
                                source)
        departures.append(_build(Departure, f"departures[{k}]",
                                 {"at": at, "officer_id": dep.officer_id,
                                  "skill_rank": dep.skill_rank}, source))
    given_ops = _given(spec.operations)
    drain = {"drain_days": given_ops.pop("drain_days")} if "drain_days" in given_ops else {}
    operations = _build(OperationsParams, "operations", {**drain, "lifecycle": given_ops},
                        source)
    stream = _stream(spec.stream, source)
    if isinstance(stream, SyntheticStreamParams):  # a rate for a source that never comes
        for key in spec.world.conversion.contact_rate_by_source or {}:
            if key not in stream.source_mix:
                raise ScenarioError(f"world.conversion.contact_rate_by_source.{key}",
                                    f"is not a source of the stream (stream.source_mix: "
                                    f"{', '.join(stream.source_mix)})", source)
    return _build(Scenario, "", {
        "name": spec.scenario, "start": spec.start, "days": spec.days,
        "timezone": spec.timezone, "roster_path": roster_path,
        "world": _world(spec.world, source), "stream": stream,
        "operations": operations, "departures": tuple(departures),
        "description": spec.description, "source": source}, source)


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge (``extends``) and validate a scenario file; ScenarioError names the YAML
    path and file of the first problem. The roster is checked to parse as well."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError("(file)", "no such scenario file", str(path))
    scenario = parse_scenario(_resolve(path), str(path))
    try:
        officers = load_roster(scenario.roster_path)
    except InputError as exc:
        raise ScenarioError("roster", f"the roster does not load: {exc}", str(path)) from None
    return replace(scenario, officers=tuple(officers))
