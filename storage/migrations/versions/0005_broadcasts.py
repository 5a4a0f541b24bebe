"""broadcasts: coordinators' updates and the networks they went to

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("preview", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_broadcasts_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["send_jobs.id"], name=op.f("fk_broadcasts_job_id_send_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index("ix_broadcasts_created_at", "broadcasts", ["created_at"], unique=False)
    op.create_table(
        "broadcast_networks",
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"], ["broadcasts.id"],
            name=op.f("fk_broadcast_networks_broadcast_id_broadcasts"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"],
            name=op.f("fk_broadcast_networks_network_id_networks"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("broadcast_id", "network_id", name=op.f("pk_broadcast_networks")),
    )
    op.create_index(
        op.f("ix_broadcast_networks_network_id"), "broadcast_networks", ["network_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_broadcast_networks_network_id"), table_name="broadcast_networks")
    op.drop_table("broadcast_networks")
    op.drop_index("ix_broadcasts_created_at", table_name="broadcasts")
    op.drop_table("broadcasts")
