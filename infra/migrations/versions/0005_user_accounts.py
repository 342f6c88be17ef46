"""people's sign-in: failed attempts for the rate limit, sign-outs that end sessions

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sign_in_failures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('throttle_key', sa.String(length=64), nullable=False, comment='sha256 hex of user:<name> or addr:<ip>'),
        sa.Column('failed_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures')),
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_throttle_key_failed_at'), ['throttle_key', 'failed_at'], unique=False)
    op.create_table(
        'people_sign_outs',
        sa.Column('username', sa.String(length=128), nullable=False),
        sa.Column('signed_out_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False, comment='sessions signed in before this are over'),
        sa.PrimaryKeyConstraint('username', name=op.f('pk_people_sign_outs')),
    )


def downgrade() -> None:
    op.drop_table('people_sign_outs')
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_throttle_key_failed_at'))
    op.drop_table('sign_in_failures')
