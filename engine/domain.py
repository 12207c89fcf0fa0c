"""Domain types: leads, loan officers, schedules. Frozen, slotted, free of I/O.

Parsing and validation of raw input live in ``engine.leads`` and ``engine.roster``; the types
here assume their values are already valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from engine.frozen import quick_init


class LoanPurpose(StrEnum):
    PURCHASE = "purchase"
    REFINANCE = "refinance"
    CASH_OUT_REFINANCE = "cash_out_refinance"
    HOME_EQUITY = "home_equity"
    REVERSE = "reverse"


class LoanProgram(StrEnum):
    CONVENTIONAL = "conventional"
    FHA = "fha"
    VA = "va"
    USDA = "usda"
    NON_QM = "non_qm"
    REVERSE = "reverse"


class Specialty(StrEnum):
    VA = "va"
    FHA = "fha"
    USDA = "usda"
    JUMBO = "jumbo"
    REVERSE = "reverse"
    FIRST_TIME_BUYER = "first_time_buyer"
    NON_QM = "non_qm"
    CONSTRUCTION = "construction"


class OfficerStatus(StrEnum):
    ACTIVE = "active"
    AWAY = "away"


class Channel(StrEnum):
    """Notification channels an officer can be reached on."""

    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    PUSH = "push"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_WEEK = 7 * 24 * 60


@quick_init
@dataclass(frozen=True, slots=True)
class Contact:
    """Borrower contact details: personal data, never logged."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""  # normalized by email-validator, "" when absent
    phone: str = ""  # E.164, "" when absent


@quick_init
@dataclass(frozen=True, slots=True)
class Lead:
    """A borrower's request, with the facts derived from reference data.

    Money is in US dollars. ``received_at`` is timezone-aware. ``state``, ``county_fips``,
    ``timezone`` come from the ZIP code (or the lead's own columns where given and consistent).
    ``is_jumbo`` is None when the county's loan limit is unknown; ``ltv`` is None without a
    property value.
    """

    lead_id: str
    received_at: datetime
    source: str
    zip: str
    state: str
    county_fips: str
    timezone: str
    loan_purpose: LoanPurpose
    loan_program: LoanProgram
    loan_amount_usd: float
    property_value_usd: float | None = None
    credit_score: int | None = None
    language: str = "en"
    is_veteran: bool = False
    first_time_buyer: bool | None = None
    campaign: str = ""
    contact: Contact = field(default_factory=Contact)
    consent: dict[str, str] = field(default_factory=dict)
    is_jumbo: bool | None = None
    conforming_limit_usd: int | None = None
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def ltv(self) -> float | None:
        """Loan-to-value ratio (0.8 means 80%), None without a property value."""
        if not self.property_value_usd:
            return None
        return self.loan_amount_usd / self.property_value_usd


@dataclass(frozen=True, slots=True)
class License:
    """An NMLS state license; ``expires_on`` None means no known expiry."""

    state: str
    expires_on: date | None = None

    def active_on(self, day: date) -> bool:
        return self.expires_on is None or day <= self.expires_on


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """Working hours as minute-of-week intervals ``[start, end)`` in the officer's timezone.

    Monday 00:00 is minute 0. An empty schedule with ``always=True`` means always available.
    """

    intervals: tuple[tuple[int, int], ...] = ()
    always: bool = True

    def is_open(self, minute_of_week: int) -> bool:
        if self.always:
            return True
        return any(start <= minute_of_week < end for start, end in self.intervals)

    def minutes_until_open(self, minute_of_week: int) -> int | None:
        """Minutes from ``minute_of_week`` until the next opening (0 if open), None if never."""
        if self.always:
            return 0
        best: int | None = None
        for start, end in self.intervals:
            if start <= minute_of_week < end:
                return 0
            wait = (start - minute_of_week) % MINUTES_PER_WEEK
            best = wait if best is None else min(best, wait)
        return best


@dataclass(frozen=True, slots=True)
class AwayPeriod:
    """Time off, ``[start, end)``, timezone-aware."""

    start: datetime
    end: datetime

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class Caps:
    """Limits on an officer's load; None means no limit.

    ``daily`` and ``hourly`` count leads assigned in the current calendar day and clock hour
    of the officer's own timezone; ``max_open`` counts leads assigned and not yet closed.
    """

    max_open: int | None = None
    daily: int | None = None
    hourly: int | None = None


@dataclass(frozen=True, slots=True)
class Officer:
    """A loan officer as the roster describes them (no routing state here)."""

    officer_id: str
    name: str
    nmls_id: str
    licenses: tuple[License, ...]
    languages: frozenset[str] = frozenset({"en"})
    specialties: frozenset[Specialty] = frozenset()
    team: str = ""
    weight: float = 1.0
    caps: Caps = field(default_factory=Caps)
    schedule: WeeklySchedule = field(default_factory=WeeklySchedule)
    timezone: str = "America/New_York"
    status: OfficerStatus = OfficerStatus.ACTIVE
    away: tuple[AwayPeriod, ...] = ()
    backup_officer_id: str = ""
    email: str = ""
    phone: str = ""
    notify: tuple[Channel, ...] = (Channel.EMAIL,)

    def license_for(self, state: str) -> License | None:
        for lic in self.licenses:
            if lic.state == state:
                return lic
        return None
