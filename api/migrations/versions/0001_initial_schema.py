"""Initial schema: officers and their routing state, rotations, policies, API keys, leads
with their history, the officers told of each, and the notification outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rate_limit", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_api_keys_key_sha256")),
    )
    op.create_table(
        "officers",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("officer_id", name=op.f("pk_officers")),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_policies_name_version")),
    )
    op.create_table(
        "rotation_pools",
        sa.Column("pool", sa.String(length=128), nullable=False),
        sa.Column("virtual_time", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("pool", name=op.f("pk_rotation_pools")),
    )
    op.create_table(
        "config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("active_policy_id", sa.Integer(), nullable=True),
        sa.Column("candidate_policy_id", sa.Integer(), nullable=True),
        sa.Column("candidate_mode", sa.String(length=16), nullable=False),
        sa.Column("candidate_share", sa.Float(), nullable=False),
        sa.Column("roster_version", sa.BigInteger(), nullable=False),
        sa.Column("prices_set_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["active_policy_id"], ["policies.id"], name=op.f("fk_config_active_policy_id_policies")
        ),
        sa.ForeignKeyConstraint(
            ["candidate_policy_id"],
            ["policies.id"],
            name=op.f("fk_config_candidate_policy_id_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config")),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("duplicate_of", sa.BigInteger(), nullable=True),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("policy_name", sa.String(length=200), nullable=False),
        sa.Column("policy_version", sa.String(length=100), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("arm_share", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("case", sa.JSON(), nullable=False),
        sa.Column("first_status", sa.String(length=16), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=True),
        sa.Column("officer_open_leads", sa.Integer(), nullable=True),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("contacted_at", UTCDateTime(), nullable=True),
        sa.Column("application_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("funded_amount_cents", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_leads_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_leads_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint(
            "api_key_id", "idempotency_key", name=op.f("uq_leads_api_key_id_idempotency_key")
        ),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_leads_source_external_id")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_leads_email", ["email"], unique=False)
        batch_op.create_index("ix_leads_officer_id", ["officer_id"], unique=False)
        batch_op.create_index("ix_leads_phone", ["phone"], unique=False)
        batch_op.create_index("ix_leads_stage", ["stage"], unique=False)

    op.create_table(
        "officer_state",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("open_leads", sa.BigInteger(), nullable=False),
        sa.Column("day_key", sa.BigInteger(), nullable=False),
        sa.Column("day_count", sa.BigInteger(), nullable=False),
        sa.Column("hour_key", sa.BigInteger(), nullable=False),
        sa.Column("hour_count", sa.BigInteger(), nullable=False),
        sa.Column("last_assigned_s", sa.Float(), nullable=True),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.officer_id"],
            name=op.f("fk_officer_state_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("officer_id", name=op.f("pk_officer_state")),
    )
    op.create_table(
        "rotation_passes",
        sa.Column("pool", sa.String(length=128), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("pass_value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool"],
            ["rotation_pools.pool"],
            name=op.f("fk_rotation_passes_pool_rotation_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pool", "officer_id", name=op.f("pk_rotation_passes")),
    )
    op.create_table(
        "lead_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=100), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_events_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_events")),
    )
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_events_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "lead_officers",
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_officers_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lead_id", "officer_id", name=op.f("pk_lead_officers")),
    )
    with op.batch_alter_table("lead_officers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lead_officers_officer_id"), ["officer_id"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_outbox_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(
            "ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_outbox_lead_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("lead_officers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_officers_officer_id"))

    op.drop_table("lead_officers")
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_events_lead_id"))

    op.drop_table("lead_events")
    op.drop_table("rotation_passes")
    op.drop_table("officer_state")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_stage")
        batch_op.drop_index("ix_leads_phone")
        batch_op.drop_index("ix_leads_officer_id")
        batch_op.drop_index("ix_leads_email")
        batch_op.drop_index("ix_leads_due_at")

    op.drop_table("leads")
    op.drop_table("config")
    op.drop_table("rotation_pools")
    op.drop_table("policies")
    op.drop_table("officers")
    op.drop_table("api_keys")
