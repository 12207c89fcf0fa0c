"""Parameters of a simulated world, its lead stream and the simulation's own mechanics.

Frozen dataclasses validated in ``__post_init__`` (a ``ParamError`` names the field); the
scenario loader (``simulator.scenario``) builds them from YAML and prefixes the YAML path.
Every default is documented with its source in docs/simulator.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from engine.domain import LoanProgram, LoanPurpose, Officer, Specialty
from simulator.decay import ResponseDecay
from simulator.errors import ParamError

PROGRAMS: tuple[str, ...] = tuple(p.value for p in LoanProgram)
PURPOSES: tuple[str, ...] = tuple(p.value for p in LoanPurpose)
SPECIALTIES: tuple[str, ...] = tuple(s.value for s in Specialty)
CHANNELS = ("email", "sms", "webhook", "push")


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


def _probability(field_name: str, value: float, *, open_low: bool = False) -> None:
    low_ok = value > 0 if open_low else value >= 0
    if not (low_ok and value <= 1 and math.isfinite(value)):
        bracket = "(" if open_low else "["
        raise ParamError(field_name, f"must be a probability in {bracket}0, 1], got {value!r}")


def _positive(field_name: str, value: float, unit: str = "") -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ParamError(field_name, f"must be > 0{(' ' + unit) if unit else ''}, got {value!r}")


def _non_negative(field_name: str, value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ParamError(field_name, f"must be >= 0, got {value!r}")


def _keys(field_name: str, mapping: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    for key in mapping:
        if key not in allowed:
            raise ParamError(f"{field_name}.{key}",
                             f"unknown; expected one of {', '.join(allowed)}")


def _mix(field_name: str, mapping: Mapping[str, float], allowed: tuple[str, ...] | None = None
         ) -> None:
    """A mix of shares: non-negative weights with a positive total (normalized by users)."""
    if allowed is not None:
        _keys(field_name, mapping, allowed)
    for key, value in mapping.items():
        _non_negative(f"{field_name}.{key}", value)
    if not mapping or sum(mapping.values()) <= 0:
        raise ParamError(field_name, "needs at least one positive share")


# ---------------------------------------------------------------------------- the world


@dataclass(frozen=True, slots=True)
class CreditBand:
    """Borrowers with a credit score of at least ``min_score`` (up to the next band) apply at
    ``multiplier`` times the base rate."""

    min_score: int
    multiplier: float

    def __post_init__(self) -> None:
        if not 300 <= self.min_score <= 850:
            raise ParamError("min_score", f"must be a credit score 300-850, got {self.min_score}")
        _non_negative("multiplier", self.multiplier)


@dataclass(frozen=True, slots=True)
class ConversionParams:
    """The ground-truth funnel (probabilities; docs/simulator.md gives the sources).

    p(funded | lead, officer, delay) = contact(source, delay) x application(purpose, credit,
    officer, match) x funding(program). Only the first stage depends on the delay
    (``simulator.decay``); only the second on the officer.

    contact_rate_by_source: best-case (within 5 minutes) probability of contact-and-qualify.
    default_contact_rate: for sources not listed.
    application_rate_by_purpose: probability a qualified borrower applies, for an average
        officer and an unbanded credit score.
    credit_bands: multipliers of the application rate by credit score (ascending min_score).
    missing_credit_multiplier: for leads without a credit score.
    funding_rate_by_program: probability an application funds.
    language_match_multiplier: the borrower's preferred language is not English and the
        officer speaks it.
    language_mismatch_multiplier: it is not English and the officer does not speak it.
    max_application_probability: cap of the application stage after multipliers.
    """

    contact_rate_by_source: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "facebook": 0.25, "google_ads": 0.35, "zillow": 0.40, "bankrate": 0.35,
        "web_form": 0.45, "referral": 0.75}))
    default_contact_rate: float = 0.35
    application_rate_by_purpose: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "purchase": 0.22, "refinance": 0.25, "cash_out_refinance": 0.22, "home_equity": 0.18,
        "reverse": 0.15}))
    credit_bands: tuple[CreditBand, ...] = (
        CreditBand(300, 0.45), CreditBand(620, 0.8), CreditBand(680, 1.0),
        CreditBand(740, 1.15))
    missing_credit_multiplier: float = 0.8
    funding_rate_by_program: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "conventional": 0.70, "fha": 0.65, "va": 0.68, "usda": 0.62, "non_qm": 0.55,
        "reverse": 0.50}))
    language_match_multiplier: float = 1.25
    language_mismatch_multiplier: float = 0.70
    max_application_probability: float = 0.95

    def __post_init__(self) -> None:
        object.__setattr__(self, "contact_rate_by_source", _frozen(self.contact_rate_by_source))
        object.__setattr__(self, "application_rate_by_purpose",
                           _frozen(self.application_rate_by_purpose))
        object.__setattr__(self, "funding_rate_by_program", _frozen(self.funding_rate_by_program))
        for key, value in self.contact_rate_by_source.items():
            _probability(f"contact_rate_by_source.{key}", value)
        _probability("default_contact_rate", self.default_contact_rate)
        _keys("application_rate_by_purpose", self.application_rate_by_purpose, PURPOSES)
        for key in PURPOSES:
            if key not in self.application_rate_by_purpose:
                raise ParamError(f"application_rate_by_purpose.{key}", "is required")
            _probability(f"application_rate_by_purpose.{key}",
                         self.application_rate_by_purpose[key])
        _keys("funding_rate_by_program", self.funding_rate_by_program, PROGRAMS)
        for key in PROGRAMS:
            if key not in self.funding_rate_by_program:
                raise ParamError(f"funding_rate_by_program.{key}", "is required")
            _probability(f"funding_rate_by_program.{key}", self.funding_rate_by_program[key])
        mins = [b.min_score for b in self.credit_bands]
        if not mins or mins != sorted(set(mins)):
            raise ParamError("credit_bands", f"need ascending, distinct min_score; got {mins}")
        _non_negative("missing_credit_multiplier", self.missing_credit_multiplier)
        _positive("language_match_multiplier", self.language_match_multiplier)
        _positive("language_mismatch_multiplier", self.language_mismatch_multiplier)
        _probability("max_application_probability", self.max_application_probability,
                     open_low=True)

    def credit_multiplier(self, score: int | None) -> float:
        if score is None:
            return self.missing_credit_multiplier
        found = 1.0
        for band in self.credit_bands:
            if score >= band.min_score:
                found = band.multiplier
        return found


@dataclass(frozen=True, slots=True)
class OfficerOverride:
    """Hidden truth set by hand for one officer (anything None keeps the generated value).

    skill: overall multiplier of the application rate.
    programs: multiplier by loan program (replaces the specialty multiplier for it).
    sources: multiplier by lead source.
    median_response_s: the officer's median response delay, s.
    """

    skill: float | None = None
    programs: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    sources: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    median_response_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "programs", _frozen(self.programs))
        object.__setattr__(self, "sources", _frozen(self.sources))
        if self.skill is not None:
            _positive("skill", self.skill)
        _keys("programs", self.programs, PROGRAMS)
        for key, value in self.programs.items():
            _positive(f"programs.{key}", value)
        for key, value in self.sources.items():
            _positive(f"sources.{key}", value)
        if self.median_response_s is not None:
            _positive("median_response_s", self.median_response_s, "seconds")


@dataclass(frozen=True, slots=True)
class SkillParams:
    """Hidden officer skills (conversion multipliers of the application stage).

    sigma: spread of overall skill: officers get log-normal skills at evenly spaced quantiles
        (``exp(sigma * z)``), shuffled by the world seed, so the spread is the same in every
        world. sigma 0.3 puts the top decile at about 2.8x the bottom decile.
    source_sigma: log-normal spread of per-(officer, source) multipliers.
    specialty_multiplier: on loans of an officer's specialty (va, fha, usda, non_qm, reverse;
        jumbo for loans above the county limit; first_time_buyer for first-time buyers).
    overrides: by officer id.
    """

    sigma: float = 0.3
    source_sigma: float = 0.1
    specialty_multiplier: float = 1.5
    overrides: Mapping[str, OfficerOverride] = field(
        default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))
        _non_negative("sigma", self.sigma)
        _non_negative("source_sigma", self.source_sigma)
        _positive("specialty_multiplier", self.specialty_multiplier)


DEFAULT_HOUR_MULTIPLIERS: tuple[float, ...] = (
    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,  # 00-07 (off shift for most officers)
    1.2, 1.1, 1.0, 1.0, 1.2, 1.2, 1.0, 1.0,  # 08 inbox catch-up; 12-13 lunch
    1.1, 1.1, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2,  # end of day
)


@dataclass(frozen=True, slots=True)
class ResponseParams:
    """How long officers take to respond (accept and make the first contact attempt).

    A response delay is log-normal: the officer's median x the hour-of-day multiplier (at the
    officer's local hour when the response starts) x (1 + load_slope x open leads) x
    ``exp(within_sigma * z)``, ``z`` standard normal drawn per (lead, officer); and with
    ``busy_probability`` (per lead and officer) the officer is tied up (on a call, in a
    meeting) for an extra exponential time of mean ``busy_mean_s``: the heavy tail that an
    SLA is there to cut.

    median_s: median over officers of their median response, s.
    officer_sigma: log-normal spread of officer medians (evenly spaced quantiles, shuffled).
    within_sigma: spread of one officer's responses.
    load_slope: relative slowdown per open lead.
    busy_probability: chance the officer is tied up when a lead reaches them.
    busy_mean_s: mean extra delay when tied up, s.
    hour_multipliers: 24 multipliers by local hour.
    notification_latency_s: delivery delay by channel, s; an officer gets the fastest of
        their channels.
    """

    median_s: float = 180.0
    officer_sigma: float = 0.5
    within_sigma: float = 0.6
    load_slope: float = 0.01
    busy_probability: float = 0.1
    busy_mean_s: float = 2700.0
    hour_multipliers: tuple[float, ...] = DEFAULT_HOUR_MULTIPLIERS
    notification_latency_s: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "email": 60.0, "sms": 10.0, "webhook": 5.0, "push": 5.0}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "notification_latency_s", _frozen(self.notification_latency_s))
        _positive("median_s", self.median_s, "seconds")
        _non_negative("officer_sigma", self.officer_sigma)
        _non_negative("within_sigma", self.within_sigma)
        _non_negative("load_slope", self.load_slope)
        _probability("busy_probability", self.busy_probability)
        _positive("busy_mean_s", self.busy_mean_s, "seconds")
        if len(self.hour_multipliers) != 24:
            raise ParamError("hour_multipliers", f"needs 24 values (one per local hour), got "
                                                 f"{len(self.hour_multipliers)}")
        for h, value in enumerate(self.hour_multipliers):
            _positive(f"hour_multipliers[{h}]", value)
        _keys("notification_latency_s", self.notification_latency_s, CHANNELS)
        for key, value in self.notification_latency_s.items():
            _non_negative(f"notification_latency_s.{key}", value)


@dataclass(frozen=True, slots=True)
class ClosingParams:
    """When a worked lead closes and its officer's capacity is released.

    kind ``uniform``: a lost lead closes ``lost_days`` (a [low, high] range) after first
    contact, a funded one ``funded_days`` after. kind ``exponential``: every lead closes an
    exponential time of mean ``mean_s`` after first contact (queueing checks).
    """

    kind: Literal["uniform", "exponential"] = "uniform"
    lost_days: tuple[float, float] = (2.0, 5.0)
    funded_days: tuple[float, float] = (25.0, 40.0)
    mean_s: float = 86400.0

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "exponential"):
            raise ParamError("kind", f"expected uniform or exponential, got {self.kind!r}")
        for name in ("lost_days", "funded_days"):
            low, high = getattr(self, name)
            if not (0 <= low <= high and math.isfinite(high)):
                raise ParamError(name, f"expected [low, high] with 0 <= low <= high, got "
                                       f"{[low, high]}")
        _positive("mean_s", self.mean_s, "seconds")


@dataclass(frozen=True, slots=True)
class WorldParams:
    """Ground truth of a scenario. ``seed`` fixes the hidden officer traits (the same world in
    every replication); replications vary the leads and every random outcome.

    kind ``truth``: the application stage comes from hidden officer traits drawn from the
    seed. kind ``fitted``: it comes from the fitted model in ``application_model`` (a file
    written by ``leadroute scenario fit``; ``simulator.outcome``), one bootstrap member per
    replication; the other stages are the parameters given, as for ``truth``.
    """

    seed: int = 0
    conversion: ConversionParams = field(default_factory=ConversionParams)
    decay: ResponseDecay = field(default_factory=ResponseDecay)
    skills: SkillParams = field(default_factory=SkillParams)
    response: ResponseParams = field(default_factory=ResponseParams)
    closing: ClosingParams = field(default_factory=ClosingParams)
    kind: Literal["truth", "fitted"] = "truth"
    application_model: Path | None = None

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ParamError("seed", f"must be >= 0, got {self.seed}")
        if self.kind not in ("truth", "fitted"):
            raise ParamError("kind", f"must be truth or fitted, got {self.kind!r}")
        if (self.kind == "fitted") != (self.application_model is not None):
            raise ParamError("application_model", "is required with kind: fitted (a file "
                             "written by leadroute scenario fit) and applies to it only")
        if self.application_model is not None and not self.application_model.is_file():
            raise ParamError("application_model", f"no such file: {self.application_model}")


# ---------------------------------------------------------------------------- lead streams


@dataclass(frozen=True, slots=True)
class Campaign:
    """Extra demand for one loan program in some states: the program's share of those
    states' leads is multiplied by ``multiplier`` (the other leads are unchanged) from day
    ``start_day`` (inclusive) to ``end_day`` (exclusive) of the scenario."""

    name: str
    program: str
    states: tuple[str, ...]
    multiplier: float
    source: str = ""
    start_day: int = 0
    end_day: int | None = None

    def __post_init__(self) -> None:
        if self.program not in PROGRAMS:
            raise ParamError("program", f"expected one of {', '.join(PROGRAMS)}, got "
                                        f"{self.program!r}")
        if not self.states:
            raise ParamError("states", "needs at least one state")
        _positive("multiplier", self.multiplier)
        if self.start_day < 0 or (self.end_day is not None and self.end_day <= self.start_day):
            raise ParamError("end_day", f"must be after start_day ({self.start_day}), got "
                                        f"{self.end_day}")


DEFAULT_HOUR_WEIGHTS: tuple[float, ...] = (
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 4.0, 6.0, 7.0, 7.0,
    8.0, 7.0, 7.0, 6.0, 6.0, 6.0, 7.0, 8.0, 7.0, 5.0, 3.0, 2.0)
DEFAULT_WEEKDAY_WEIGHTS: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.9, 0.5, 0.5)


@dataclass(frozen=True, slots=True)
class SyntheticStreamParams:
    """A synthetic lead stream (docs/simulator.md gives every default's source).

    leads_per_day: mean leads per day over a week (before ``volume_multiplier`` and campaigns).
    volume_multiplier: scales the whole volume (1.5 = a 50% surge).
    hour_weights: 24 relative arrival rates by hour of the scenario's timezone.
    weekday_weights: 7 relative rates, Monday first.
    source_mix: shares of lead sources.
    program_mix: shares of loan programs; empty means the national HMDA mix of ``hmda_year``
        plus ``extra_programs``.
    extra_programs: shares of programs HMDA does not tell apart (non_qm, reverse), taken out
        of conventional.
    hmda_year: year of the HMDA aggregates for state, purpose and amount mixes (2007-2017).
    states: property states; empty means every state an officer is licensed in. Weighted by
        HMDA applications.
    cash_out_share_of_refinance: HMDA before 2018 has no cash-out code.
    amount_scale: multiplies HMDA average amounts (house prices have risen since).
    amount_sigma: log-normal spread of amounts around the HMDA average.
    credit_mean, credit_sd, credit_min, credit_max: normal credit scores, clipped.
    missing_credit_share: leads without a credit score.
    ltv_range: loan-to-value drawn uniformly in this range.
    language_mix: shares of non-English preferred languages (the rest is English).
    veteran_share: of non-VA leads; VA leads are veterans.
    first_time_buyer_share: of purchase leads.
    campaigns: extra demand (see ``Campaign``).
    """

    leads_per_day: float = 300.0
    volume_multiplier: float = 1.0
    hour_weights: tuple[float, ...] = DEFAULT_HOUR_WEIGHTS
    weekday_weights: tuple[float, ...] = DEFAULT_WEEKDAY_WEIGHTS
    source_mix: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "facebook": 0.25, "google_ads": 0.25, "zillow": 0.15, "bankrate": 0.10,
        "web_form": 0.15, "referral": 0.10}))
    program_mix: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    extra_programs: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "non_qm": 0.03, "reverse": 0.01}))
    hmda_year: int = 2017
    states: tuple[str, ...] = ()
    cash_out_share_of_refinance: float = 0.35
    amount_scale: float = 1.0
    amount_sigma: float = 0.45
    credit_mean: float = 715.0
    credit_sd: float = 55.0
    credit_min: int = 500
    credit_max: int = 850
    missing_credit_share: float = 0.05
    ltv_range: tuple[float, float] = (0.55, 0.97)
    language_mix: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "es": 0.07, "zh": 0.01, "vi": 0.01, "ko": 0.005, "tl": 0.005}))
    veteran_share: float = 0.03
    first_time_buyer_share: float = 0.30
    campaigns: tuple[Campaign, ...] = ()

    def __post_init__(self) -> None:
        for name in ("source_mix", "program_mix", "extra_programs", "language_mix"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        _positive("leads_per_day", self.leads_per_day, "leads")
        _positive("volume_multiplier", self.volume_multiplier)
        for name, n in (("hour_weights", 24), ("weekday_weights", 7)):
            values = getattr(self, name)
            if len(values) != n:
                raise ParamError(name, f"needs {n} values, got {len(values)}")
            for k, value in enumerate(values):
                _non_negative(f"{name}[{k}]", value)
            if sum(values) <= 0:
                raise ParamError(name, "needs at least one positive weight")
        _mix("source_mix", self.source_mix)
        if self.program_mix:
            _mix("program_mix", self.program_mix, PROGRAMS)
        _keys("extra_programs", self.extra_programs, ("non_qm", "reverse"))
        for key, value in self.extra_programs.items():
            _probability(f"extra_programs.{key}", value)
        if sum(self.extra_programs.values()) >= 1:
            raise ParamError("extra_programs", "shares must add up to less than 1")
        if not 2007 <= self.hmda_year <= 2017:
            raise ParamError("hmda_year", f"HMDA aggregates cover 2007-2017, got {self.hmda_year}")
        _probability("cash_out_share_of_refinance", self.cash_out_share_of_refinance)
        _positive("amount_scale", self.amount_scale)
        _non_negative("amount_sigma", self.amount_sigma)
        if not 300 <= self.credit_min <= self.credit_max <= 850:
            raise ParamError("credit_max", f"need 300 <= credit_min <= credit_max <= 850, got "
                                           f"{self.credit_min}, {self.credit_max}")
        _non_negative("credit_sd", self.credit_sd)
        _probability("missing_credit_share", self.missing_credit_share)
        low, high = self.ltv_range
        if not 0 < low <= high < 2:
            raise ParamError("ltv_range", f"expected [low, high] with 0 < low <= high < 2, got "
                                          f"{[low, high]}")
        for key, value in self.language_mix.items():
            _probability(f"language_mix.{key}", value)
        if sum(self.language_mix.values()) > 1:
            raise ParamError("language_mix", "non-English shares add up to more than 1")
        _probability("veteran_share", self.veteran_share)
        _probability("first_time_buyer_share", self.first_time_buyer_share)


@dataclass(frozen=True, slots=True)
class ReplayStreamParams:
    """Replay of a historical leads CSV (the ``leadroute route`` columns) at its timestamps."""

    path: Path

    def __post_init__(self) -> None:
        if not self.path.is_file():
            raise ParamError("path", f"no such leads file: {self.path}")


StreamParams = SyntheticStreamParams | ReplayStreamParams


# ---------------------------------------------------------------------------- the mechanics


@dataclass(frozen=True, slots=True)
class OperationsParams:
    """How long the simulated operation runs on, and the experiment's overrides of the
    policies' own lead life settings.

    drain_days: simulated days after the last arrival, so late leads can be worked.
    lifecycle: overrides of every policy's ``routing.lifecycle`` (docs/policy.md) for an
        experiment: ``hold_retry_s``, ``unassigned_retry_s``, ``max_rounds``, ``timed_out``,
        ``offers_hold_slots``, ``held_order``, ``stale_after_s``, ``when_stale``,
        ``stale_pool``. A policy's own settings apply where none is given (production
        reads only the policy file).
    """

    drain_days: float = 3.0
    lifecycle: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        _non_negative("drain_days", self.drain_days)
        object.__setattr__(self, "lifecycle", MappingProxyType(dict(self.lifecycle)))
        if self.lifecycle:
            from pydantic import ValidationError

            from engine.rules.policy import LifecycleSpec

            try:  # checked as the policy file's are, over the defaults
                LifecycleSpec.model_validate({**LifecycleSpec().model_dump(),
                                              **self.lifecycle})
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(x) for x in err["loc"]) or next(iter(self.lifecycle))
                msg = err["msg"].removeprefix("Value error, ")
                got = f" (got {err['input']!r})" if "input" in err and err["loc"] else ""
                raise ParamError(loc, f"{msg}{got}") from None


@dataclass(frozen=True, slots=True)
class Departure:
    """An officer who leaves at ``at`` (given by id, or by hidden-skill rank: 1 = best)."""

    at: datetime
    officer_id: str = ""
    skill_rank: int | None = None

    def __post_init__(self) -> None:
        if (not self.officer_id) == (self.skill_rank is None):
            raise ParamError("officer_id", "give exactly one of officer_id or skill_rank")
        if self.skill_rank is not None and self.skill_rank < 1:
            raise ParamError("skill_rank", f"must be 1 (the best) or more, got {self.skill_rank}")
        if self.at.tzinfo is None:
            raise ParamError("at", "needs a UTC offset, e.g. 2025-03-17T00:00:00-04:00")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario: when, who, the truth, the leads and the mechanics.

    start: tz-aware start of the simulated clock (SimPy time 0).
    days: length of the arrival window, days.
    timezone: IANA zone of the arrival seasonality (hour and weekday weights).
    roster_path: officers CSV in the ``leadroute route`` format.
    officers: the roster as loaded and checked by ``load_scenario`` (empty: read
        ``roster_path`` when needed).
    """

    name: str
    start: datetime
    days: float
    timezone: str
    roster_path: Path
    world: WorldParams = field(default_factory=WorldParams)
    stream: StreamParams = field(default_factory=SyntheticStreamParams)
    operations: OperationsParams = field(default_factory=OperationsParams)
    departures: tuple[Departure, ...] = ()
    description: str = ""
    source: str = ""
    officers: tuple[Officer, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ParamError("scenario", "a scenario needs a name")
        if self.start.tzinfo is None:
            raise ParamError("start", "needs a UTC offset, e.g. 2025-03-03T00:00:00-05:00")
        _positive("days", self.days, "days")

    @property
    def horizon_s(self) -> float:
        """End of the arrival window, s after ``start``."""
        return self.days * 86400.0

    @property
    def end_s(self) -> float:
        """End of the simulation (arrivals plus drain), s after ``start``."""
        return self.horizon_s + self.operations.drain_days * 86400.0
