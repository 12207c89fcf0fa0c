"""The wire format: request and response bodies (pydantic), separate from the engine's
types. Times are RFC 3339 with an offset (UTC); money is a decimal string or whole cents."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.leads import CONSENT_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS

Scalar = str | int | float | bool | None

# the leads CSV's fields; the API needs these five (the others may be empty or absent)
LEAD_REQUIRED = ("source", "zip", "loan_purpose", "loan_program", "loan_amount")
LEAD_FIELDS = tuple(dict.fromkeys((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *CONSENT_COLUMNS)))


def lead_body_schema() -> dict[str, Any]:
    """JSON Schema of ``POST /v1/leads``: the leads CSV's field names; any other field is a
    custom field. Values are text, numbers or booleans."""
    scalar = {"type": ["string", "number", "integer", "boolean", "null"]}
    props: dict[str, Any] = {name: dict(scalar) for name in LEAD_FIELDS}
    props["lead_id"] = {"type": ["string", "integer", "null"],
                        "description": "the source's own id (optional): with `source`, a "
                                       "retry returns the stored lead"}
    props["received_at"] = {"type": ["string", "null"], "format": "date-time",
                            "description": "RFC 3339 with an offset; default: now"}
    props["source"] = {"type": "string", "description": "lead source, e.g. zillow"}
    props["loan_purpose"] = {"type": "string", "enum": [
        "purchase", "refinance", "cash_out_refinance", "home_equity", "reverse"]}
    props["loan_program"] = {"type": "string", "enum": [
        "conventional", "fha", "va", "usda", "non_qm", "reverse"]}
    props["loan_amount"] = {"type": ["number", "string"], "description": "US dollars"}
    props["zip"] = {"type": "string", "description": "5-digit ZIP code"}
    return {"type": "object", "required": list(LEAD_REQUIRED), "properties": props,
            "additionalProperties": scalar,
            "example": {"lead_id": "ZL-88213", "source": "zillow", "first_name": "Pat",
                        "last_name": "Doe", "email": "pat@example.com",
                        "phone": "+13125550134", "zip": "75201",
                        "loan_purpose": "purchase", "loan_program": "conventional",
                        "loan_amount": 300000, "property_value": 400000,
                        "credit_score": 720, "language": "en", "is_veteran": False}}


class Assignment(BaseModel):
    officer_id: str | None = Field(description="who has the lead (assigned or accepted)")
    status: str = Field(description="new, assigned, offered, held, waiting, accepted, closed "
                                    "or given_up")
    accept_by: datetime | None = Field(description="when the open offer lapses")
    offered_to: list[str] = Field(description="officers the open offer was made to so far")
    due_at: datetime | None = Field(description="when the lead next moves on its own")
    reason: str


class HistoryLine(BaseModel):
    at: datetime
    kind: str
    officer_id: str | None
    detail: str
    policy_version: str
    propensity: float | None
    data: dict[str, Any] | None = None


class LeadOut(BaseModel):
    id: int
    external_id: str | None
    source: str
    received_at: datetime
    created_at: datetime
    assignment: Assignment
    explanation: dict[str, Any]
    policy: dict[str, Any] = Field(description="name, version, arm and the arm's share")
    duplicate_of: int | None
    outcome: dict[str, Any]
    lead: dict[str, Any] | None = Field(None, description="the lead's fields (contact details "
                                                          "masked for analysts)")
    history: list[HistoryLine] | None = None
    is_test: bool = Field(False, description="a source's test lead: stored closed, never "
                                             "routed, kept out of figures")


class LeadPage(BaseModel):
    items: list[LeadOut]
    next: str | None = Field(description="cursor of the next page; null on the last")


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_id: str | None = Field(None, max_length=64,
                                   description="admin keys only: who accepts")


class DeclineIn(AcceptIn):
    reason: str = Field("declined", max_length=500)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["contacted", "application", "funded", "lost"]
    amount: str | int | None = Field(
        None, description="funded only: the loan amount in dollars as a decimal string "
                          "(\"350000.00\") or whole dollars")


class OfficerIn(BaseModel):
    """An officer in the roster CSV's terms; lists as arrays or ``;``-separated text."""

    model_config = ConfigDict(extra="forbid")
    officer_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field("", max_length=200)
    nmls_id: str = Field("", max_length=32)
    licensed_states: list[str] | str = Field(description="CA;TX or [\"CA\", \"TX:2026-12-31\"]")
    languages: list[str] | str = "en"
    specialties: list[str] | str = ""
    max_open: int | None = Field(None, ge=0, le=1_000_000)
    daily_cap: int | None = Field(None, ge=0, le=1_000_000)
    hourly_cap: int | None = Field(None, ge=0, le=1_000_000)
    timezone: str = Field(max_length=64)
    work_hours: str = Field("", max_length=500)
    weight: float = 1.0
    team: str = Field("", max_length=100)
    status: Literal["active", "away"] = "active"
    email: str = Field("", max_length=320)
    phone: str = Field("", max_length=32)
    notify: list[str] | str = "email"
    backup_officer_id: str = Field("", max_length=64)
    away: list[str] | str = ""


class OfficerPatch(BaseModel):
    """Fields to change (the others keep their values)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    nmls_id: str | None = Field(None, max_length=32)
    licensed_states: list[str] | str | None = None
    languages: list[str] | str | None = None
    specialties: list[str] | str | None = None
    max_open: int | None = Field(None, ge=0, le=1_000_000)
    daily_cap: int | None = Field(None, ge=0, le=1_000_000)
    hourly_cap: int | None = Field(None, ge=0, le=1_000_000)
    timezone: str | None = Field(None, max_length=64)
    work_hours: str | None = Field(None, max_length=500)
    weight: float | None = None
    team: str | None = Field(None, max_length=100)
    status: Literal["active", "away"] | None = None
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=32)
    notify: list[str] | str | None = None
    backup_officer_id: str | None = Field(None, max_length=64)
    away: list[str] | str | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "away"]


class TimeOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime = Field(description="RFC 3339 with an offset")
    end: datetime


class OfficerOut(BaseModel):
    officer_id: str
    fields: dict[str, str] = Field(description="the officer in the roster CSV's columns")
    state: dict[str, Any] = Field(description="routing counters: open leads, today, this hour")
    moved_on: list[int] = Field(default_factory=list,
                                description="leads whose open offer moved on (went away)")


class OfficerPage(BaseModel):
    items: list[OfficerOut]
    next: str | None


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    yaml: str = Field(min_length=1, max_length=1_000_000, description="the policy file")


class PolicyOut(BaseModel):
    id: int
    name: str
    version: str
    sha256: str
    created_at: datetime
    active: bool
    candidate: str | None = Field(description="ab or shadow when this is the candidate")
    yaml: str | None = None


class PolicyList(BaseModel):
    items: list[PolicyOut]
    default_policy: str = Field(description="the file used while no policy is activated")


class CandidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy_id: int | None = Field(ge=1, le=2**63 - 1, description="null ends the experiment")
    mode: Literal["ab", "shadow", "off"] = "ab"
    share: float = Field(0.1, ge=0, le=1, description="ab: the candidate's share of leads")


class CandidateOut(BaseModel):
    active_policy_id: int | None
    candidate_policy_id: int | None
    mode: str
    share: float


class DryRunLead(BaseModel):
    id: int
    stored: dict[str, Any]
    current: dict[str, Any]
    candidate: dict[str, Any]
    changed: bool


class DryRunOut(BaseModel):
    policy_id: int
    compared_with: str
    leads: list[DryRunLead]
    counts: dict[str, Any]


class Health(BaseModel):
    status: str
    database: str
