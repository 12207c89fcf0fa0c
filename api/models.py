"""Database tables (SQLAlchemy 2). The migrations in ``api/migrations`` create the same
schema; ``tests/api/test_migrations.py`` checks that they agree.

Times are stored in UTC (``UTCDateTime``); money in whole cents. A lead's whole life is its
``case`` (``engine.lifecycle.Case.to_record``) plus one ``lead_events`` row per transition;
its next due time is the indexed ``due_at`` column the worker claims.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC (SQLite has no time zones; on PostgreSQL the
    column is ``timestamp without time zone`` holding UTC), read back aware in UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the API stores aware times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect
                             ) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Officer(Base):
    """An officer as the roster CSV gives them (``row``: column -> text), parsed by
    ``engine.roster.parse_officers`` whenever the roster changes."""

    __tablename__ = "officers"

    officer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    row: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OfficerState(Base):
    """An officer's routing counters (``engine.state.RoutingState``), locked per transition."""

    __tablename__ = "officer_state"

    officer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("officers.officer_id", ondelete="CASCADE"), primary_key=True)
    open_leads: Mapped[int] = mapped_column(BigInteger, default=0)
    day_key: Mapped[int] = mapped_column(BigInteger, default=0)
    day_count: Mapped[int] = mapped_column(BigInteger, default=0)
    hour_key: Mapped[int] = mapped_column(BigInteger, default=0)
    hour_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_assigned_s: Mapped[float | None] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float, default=0.0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)


class RotationPool(Base):
    """A pool's rotation clock (stride scheduling's virtual time)."""

    __tablename__ = "rotation_pools"

    pool: Mapped[str] = mapped_column(String(128), primary_key=True)
    virtual_time: Mapped[float] = mapped_column(Float, default=0.0)


class RotationPass(Base):
    """An officer's pass in a pool's rotation."""

    __tablename__ = "rotation_passes"

    pool: Mapped[str] = mapped_column(
        String(128), ForeignKey("rotation_pools.pool", ondelete="CASCADE"), primary_key=True)
    officer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pass_value: Mapped[float] = mapped_column(Float)


class Config(Base):
    """One row (id 1): which policy routes, an A/B or shadow candidate, the roster's version
    (bumped on every officer change) and when capacity prices were last set."""

    __tablename__ = "config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    active_policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    candidate_policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    candidate_mode: Mapped[str] = mapped_column(String(16), default="off")  # off, ab, shadow
    candidate_share: Mapped[float] = mapped_column(Float, default=0.0)
    roster_version: Mapped[int] = mapped_column(BigInteger, default=0)
    prices_set_s: Mapped[float | None] = mapped_column(Float)


class Policy(Base):
    """An uploaded policy file (validated when uploaded)."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """An API key: only its SHA-256 is stored, with a readable prefix to tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(32))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    officer_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    rate_limit: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Lead(Base):
    """A lead and where it is in its life."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        UniqueConstraint("api_key_id", "idempotency_key"),
        Index("ix_leads_due_at", "due_at"),
        Index("ix_leads_stage", "stage"),
        Index("ix_leads_officer_id", "officer_id"),
        Index("ix_leads_phone", "phone"),
        Index("ix_leads_email", "email"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(200))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]]  # the lead's fields as text; protected ones never
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164, for repeat-lead links
    email: Mapped[str | None] = mapped_column(String(320))
    duplicate_of: Mapped[int | None] = mapped_column(BigInteger)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    policy_name: Mapped[str] = mapped_column(String(200), default="")
    policy_version: Mapped[str] = mapped_column(String(100), default="")
    arm: Mapped[str] = mapped_column(String(16), default="active")  # active or candidate
    arm_share: Mapped[float] = mapped_column(Float, default=1.0)  # P(this arm)
    stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    officer_id: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    case: Mapped[dict[str, Any]]
    first_status: Mapped[str] = mapped_column(String(16), default="")
    explanation: Mapped[dict[str, Any]]
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    officer_open_leads: Mapped[int | None] = mapped_column(Integer)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    application_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))  # funded or lost
    funded_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    # a source's test lead (Google Ads "send test data"): stored, never routed or counted
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LeadOfficer(Base):
    """An officer told of a lead (assigned or offered): they may see it."""

    __tablename__ = "lead_officers"

    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"),
                                         primary_key=True)
    officer_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class LeadEvent(Base):
    """One line of a lead's history (``engine.lifecycle.Record``, a notice, a shadow
    decision, an outcome)."""

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"),
                                         index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    officer_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    policy_version: Mapped[str] = mapped_column(String(100), default="")
    propensity: Mapped[float | None] = mapped_column(Float)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Outbox(Base):
    """A notice to deliver (an offer, a withdrawal), written in the transition's transaction.
    ``api.notify.Deliverer`` claims due rows (``pending``, or ``sending`` whose lease ran
    out), delivers them over the officer's channels and marks them ``sent`` or, after the
    last try, ``dead``. ``delivery_key`` names the notice to its receivers (the email's
    Message-ID, the webhook's id, the SMS's idempotency token): a retry after a crash carries
    the same key, so a receiver can drop what it already has."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"),
                                         index=True)
    officer_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # notify, withdraw
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # sending, sent, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivery_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    channels_done: Mapped[list[str] | None] = mapped_column(JSON)  # delivered so far
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class OutboxAttempt(Base):
    """One try of one channel for one outbox row: what was tried, when, how long it took and
    how it ended (the error's kind and a short text; never the message)."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    outbox_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    delivery_key: Mapped[str] = mapped_column(String(96))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ms: Mapped[float] = mapped_column(Float)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)


class RejectedDelivery(Base):
    """A source's delivery that was authentic but could not be read as a lead (422): kept
    with its raw body for an admin to inspect (``GET /v1/sources/rejected``) rather than
    dropped. Forged deliveries are never stored."""

    __tablename__ = "rejected_deliveries"
    __table_args__ = (Index("ix_rejected_deliveries_source", "source"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content_type: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)  # the raw body (UTF-8, undecodable bytes replaced)
    errors: Mapped[list[Any]]
    detail: Mapped[str] = mapped_column(Text, default="")


class SourceFetch(Base):
    """A lead a source announced and we must fetch (a Meta ``leadgen_id``): written when the
    notification is acknowledged, fetched by the worker with retries and backoff. One row per
    source and id, so a repeated notification fetches once."""

    __tablename__ = "source_fetches"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_source_fetches_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # done, rejected, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    notice: Mapped[dict[str, Any]]  # what the notification said (ids, created time)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    lead_id: Mapped[int | None] = mapped_column(BigInteger)
