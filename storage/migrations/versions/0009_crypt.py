"""crypt: the encrypted columns become TEXT on PostgreSQL (ciphertext is longer)

users.display_name (VARCHAR(64)) and reports.attachment_file_id (VARCHAR(255)) hold
``enc:1:...`` values with DATA_KEY set (storage/crypto.py). SQLite ignores lengths: there
nothing changes. reports.description and reports.review_note are TEXT already.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = (("users", "display_name", 64), ("reports", "attachment_file_id", 255))


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table, column, length in WIDENED:
        op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length))


def downgrade() -> None:
    # Fails on encrypted values longer than the old length: decrypt them first
    # (prevnet rotate-key cannot; run without DATA_KEY only on a plaintext database).
    if op.get_context().dialect.name != "postgresql":
        return
    for table, column, length in WIDENED:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.Text())
