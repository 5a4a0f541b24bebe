"""plans: a network's action plan (actions, the members responsible, milestones) and
the report's optional action. Titles, aims and milestone texts are EncryptedText (TEXT
on PostgreSQL, as migration 0009 made the other encrypted columns).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _encrypted(length: int) -> sa.types.TypeEngine:
    """The column of an EncryptedText: TEXT on PostgreSQL (ciphertext is longer), the
    declared length elsewhere (as storage/crypto.py's EncryptedText)."""
    if op.get_context().dialect.name == "postgresql":
        return sa.Text()
    return sa.String(length=length)


def upgrade() -> None:
    op.create_table('plan_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('title', _encrypted(80), nullable=False),
    sa.Column('aim', _encrypted(300), nullable=True),
    sa.Column('start_month', sa.Date(), nullable=False),
    sa.Column('end_month', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', storage.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_plan_actions_network_id_networks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_actions'))
    )
    with op.batch_alter_table('plan_actions', schema=None) as batch_op:
        batch_op.create_index('ix_plan_actions_network_status', ['network_id', 'status'], unique=False)
    op.create_table('plan_responsibles',
    sa.Column('action_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['plan_actions.id'], name=op.f('fk_plan_responsibles_action_id_plan_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_plan_responsibles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_id', 'user_id', name=op.f('pk_plan_responsibles'))
    )
    with op.batch_alter_table('plan_responsibles', schema=None) as batch_op:
        batch_op.create_index('ix_plan_responsibles_user', ['user_id'], unique=False)
    op.create_table('plan_milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('text', _encrypted(200), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('reminded_on', sa.Date(), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['plan_actions.id'], name=op.f('fk_plan_milestones_action_id_plan_actions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_milestones'))
    )
    with op.batch_alter_table('plan_milestones', schema=None) as batch_op:
        batch_op.create_index('ix_plan_milestones_action', ['action_id'], unique=False)
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_reports_action', ['action_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_reports_action_id_plan_actions'), 'plan_actions', ['action_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reports_action_id_plan_actions'), type_='foreignkey')
        batch_op.drop_index('ix_reports_action')
        batch_op.drop_column('action_id')
    with op.batch_alter_table('plan_milestones', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_milestones_action')
    op.drop_table('plan_milestones')
    with op.batch_alter_table('plan_responsibles', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_responsibles_user')
    op.drop_table('plan_responsibles')
    with op.batch_alter_table('plan_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_actions_network_status')
    op.drop_table('plan_actions')
