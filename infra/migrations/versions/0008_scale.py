"""campus scale: faceprint version index, enrollment flags

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-02 18:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('enrollment_flags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('usn', sa.String(length=32), nullable=False),
    sa.Column('other_usn', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False, comment='duplicate | lookalike'),
    sa.Column('similarity', sa.Float(), nullable=False),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.Column('resolved_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['other_usn'], ['students.usn'], name=op.f('fk_enrollment_flags_other_usn_students'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['usn'], ['students.usn'], name=op.f('fk_enrollment_flags_usn_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_flags')),
    sa.UniqueConstraint('usn', 'other_usn', 'kind', name=op.f('uq_enrollment_flags_usn_other_usn_kind'))
    )
    # The warm matcher's version query (count, max id, max created_at per model) and its read of
    # recent faceprints stay on this index instead of reading 50,000 embeddings.
    with op.batch_alter_table('faceprints', schema=None) as batch_op:
        batch_op.create_index('ix_faceprints_model_id_created_at', ['model_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('enrollment_flags')
    with op.batch_alter_table('faceprints', schema=None) as batch_op:
        batch_op.drop_index('ix_faceprints_model_id_created_at')
