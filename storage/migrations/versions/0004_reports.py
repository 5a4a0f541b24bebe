"""reports: activity reports, per-network report settings, nudges

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_nudges',
    sa.Column('network_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('nudged_at', storage.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_report_nudges_network_id_networks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_nudges_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('network_id', 'user_id', name=op.f('pk_report_nudges'))
    )
    op.create_table('report_settings',
    sa.Column('network_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('nudge_enabled', sa.Boolean(), nullable=False),
    sa.Column('nudge_days', sa.Integer(), nullable=False),
    sa.Column('weekend', sa.String(length=16), nullable=True),
    sa.Column('max_age_days', sa.Integer(), nullable=False),
    sa.Column('nudge_run_at', storage.models.UTCDateTime(), nullable=True),
    sa.Column('updated_at', storage.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_report_settings_network_id_networks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('network_id', name=op.f('pk_report_settings'))
    )
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_sector', sa.String(length=32), nullable=False),
    sa.Column('activity_type', sa.String(length=24), nullable=False),
    sa.Column('activity_date', sa.Date(), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('age_group', sa.String(length=16), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('attachment_kind', sa.String(length=16), nullable=True),
    sa.Column('attachment_file_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', storage.models.UTCDateTime(), nullable=True),
    sa.Column('notified_at', storage.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', storage.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_reports_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_reports_network_id_networks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_reports_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_author_created', ['author_id', 'created_at'], unique=False)
        batch_op.create_index('ix_reports_network_created', ['network_id', 'created_at'], unique=False)
        batch_op.create_index('ix_reports_network_date', ['network_id', 'activity_date'], unique=False)
        batch_op.create_index('ix_reports_notified_at', ['notified_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_notified_at')
        batch_op.drop_index('ix_reports_network_date')
        batch_op.drop_index('ix_reports_network_created')
        batch_op.drop_index('ix_reports_author_created')

    op.drop_table('reports')
    op.drop_table('report_settings')
    op.drop_table('report_nudges')
