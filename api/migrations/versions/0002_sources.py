"""Lead sources: the test-lead flag on leads, rejected deliveries kept for inspection, and the
fetches a source announced (Meta leadgen ids) for the worker.

Revision ID: 0002_sources
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.models import UTCDateTime

revision = "0002_sources"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("is_test", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
    op.create_table(
        "rejected_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_deliveries")),
    )
    op.create_index("ix_rejected_deliveries_source", "rejected_deliveries", ["source"])
    op.create_table(
        "source_fetches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("notice", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_fetches")),
        sa.UniqueConstraint("source", "external_id",
                            name=op.f("uq_source_fetches_source_external_id")),
    )
    op.create_index("ix_source_fetches_status_next_attempt_at", "source_fetches",
                    ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_source_fetches_status_next_attempt_at", table_name="source_fetches")
    op.drop_table("source_fetches")
    op.drop_index("ix_rejected_deliveries_source", table_name="rejected_deliveries")
    op.drop_table("rejected_deliveries")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("is_test")
