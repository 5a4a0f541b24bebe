"""processes: each running process's heartbeat, for `prevnet status`

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("last_seen", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processes")),
    )
    op.create_index("ix_processes_last_seen", "processes", ["last_seen"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_processes_last_seen", table_name="processes")
    op.drop_table("processes")
