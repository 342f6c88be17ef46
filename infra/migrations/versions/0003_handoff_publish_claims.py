"""handoff publish claims, recognition events by capture id

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=36), nullable=True, comment='the worker publishing it now (uuid4)'))
        batch_op.add_column(sa.Column('claimed_until', cloud_functions.core.db.schema.UtcDateTime(), nullable=True, comment='the claim lapses then (a crashed worker)'))
    with op.batch_alter_table('recognition_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recognition_events_capture_id'), ['capture_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('recognition_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recognition_events_capture_id'))
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claim_token')
