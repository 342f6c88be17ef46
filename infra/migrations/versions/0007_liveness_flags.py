"""flags: suspected spoofs at the door and two-camera proxy rules, resolved by a teacher or admin

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0007'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'flags',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('dedupe_key', sa.String(length=191), nullable=False),
        sa.Column('usn', sa.String(length=32), nullable=True),
        sa.Column('room_id', sa.String(length=32), nullable=True),
        sa.Column('course_code', sa.String(length=32), nullable=True),
        sa.Column('class_date', sa.Date(), nullable=True, comment='room-local date of the class'),
        sa.Column('capture_id', sa.String(length=64), nullable=True),
        sa.Column('evidence', sa.Text(), nullable=False, comment='JSON: scores, times, tracks'),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('resolution', sa.String(length=16), nullable=True),
        sa.Column('resolved_by', sa.String(length=200), nullable=True),
        sa.Column('resolved_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=True),
        sa.Column('resolved_reason', sa.String(length=500), nullable=True),
        sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('spoof_suspected', 'not_confirmed', 'one_body_two_faces', 'two_rooms')",
            name=op.f('ck_flags_kind'),
        ),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f('ck_flags_status')),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('genuine', 'proxy')", name=op.f('ck_flags_resolution')
        ),
        sa.ForeignKeyConstraint(
            ['usn'], ['students.usn'], name=op.f('fk_flags_usn_students'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_flags')),
        sa.UniqueConstraint('dedupe_key', name=op.f('uq_flags_dedupe_key')),
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_course_code_class_date'), ['course_code', 'class_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_status_created_at'), ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_status_created_at'))
        batch_op.drop_index(batch_op.f('ix_flags_course_code_class_date'))
    op.drop_table('flags')
