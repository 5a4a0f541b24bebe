"""event_feedback: what members said after a training or workshop (bot/services/feedback/)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("asked_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("reminded_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("answered_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("usefulness", sa.Integer(), nullable=True),
        sa.Column("apply_text", sa.Text(), nullable=True),
        sa.Column("missing_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_feedback_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_event_feedback_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_feedback")),
        sa.UniqueConstraint("event_id", "user_id", name="uq_event_feedback_event_user"),
    )
    with op.batch_alter_table("event_feedback", schema=None) as batch_op:
        batch_op.create_index("ix_event_feedback_asked_at", ["asked_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_event_feedback_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("event_feedback")
