"""Outbox delivery: a delivery key per notice, the channels that have it, when it was sent and
the last error; one ``outbox_attempts`` row per channel tried; ``leads.is_test`` (a source's
test lead, never notified) unless a revision before this one added it (0002_sources does).

Revision ID: 0003
Revises: 0002_sources
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.models import UTCDateTime

revision = "0003"
down_revision = "0002_sources"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _has_column(table: str, column: str) -> bool:
    return any(c["name"] == column for c in sa.inspect(op.get_bind()).get_columns(table))


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("channels_done", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_delivery_key"),
                                          ["delivery_key"])
    op.execute("UPDATE outbox SET delivery_key = 'lr-' || CAST(id AS VARCHAR(20)) "
               "WHERE delivery_key IS NULL")
    op.create_table(
        "outbox_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("outbox_id", _ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("delivery_key", sa.String(length=96), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ms", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"],
                                name=op.f("fk_outbox_attempts_outbox_id_outbox"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attempts")),
    )
    with op.batch_alter_table("outbox_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_attempts_outbox_id"), ["outbox_id"],
                              unique=False)
    if not _has_column("leads", "is_test"):  # the lead sources may have added it first
        with op.batch_alter_table("leads", schema=None) as batch_op:
            batch_op.add_column(sa.Column("is_test", sa.Boolean(), nullable=False,
                                          server_default="0"))


def downgrade() -> None:
    op.drop_table("outbox_attempts")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_delivery_key"), type_="unique")
        batch_op.drop_column("last_error")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("channels_done")
        batch_op.drop_column("delivery_key")
    # leads.is_test stays: a revision before this one may own it
