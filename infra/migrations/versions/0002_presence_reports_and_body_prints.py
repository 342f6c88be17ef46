"""presence reports and body prints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:45:34.154585
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('presence_reports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('object_key', sa.String(length=512), nullable=False),
    sa.Column('room_id', sa.String(length=32), nullable=True),
    sa.Column('camera_id', sa.String(length=64), nullable=True),
    sa.Column('reported_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=True),
    sa.Column('course_code', sa.String(length=32), nullable=True),
    sa.Column('class_date', sa.Date(), nullable=True, comment='room-local date of the class'),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('present_count', sa.Integer(), nullable=False, comment='identified tracks reported'),
    sa.Column('confirmed_count', sa.Integer(), nullable=False, comment='students past the dwell'),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('detail', sa.String(length=255), nullable=True),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_presence_reports')),
    sa.UniqueConstraint('object_key', name=op.f('uq_presence_reports_object_key'))
    )
    with op.batch_alter_table('presence_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_presence_reports_room_id_reported_at'), ['room_id', 'reported_at'], unique=False)

    op.create_table('body_prints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('usn', sa.String(length=32), nullable=False),
    sa.Column('room_id', sa.String(length=32), nullable=False),
    sa.Column('class_date', sa.Date(), nullable=False, comment='room-local date of the crop'),
    sa.Column('model_id', sa.String(length=128), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=False, comment='float32, L2-normalised'),
    sa.Column('capture_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.room_id'], name=op.f('fk_body_prints_room_id_rooms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['usn'], ['students.usn'], name=op.f('fk_body_prints_usn_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_body_prints')),
    sa.UniqueConstraint('capture_id', name=op.f('uq_body_prints_capture_id'))
    )
    with op.batch_alter_table('body_prints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_body_prints_room_id_class_date_model_id'), ['room_id', 'class_date', 'model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_body_prints_usn'), ['usn'], unique=False)



def downgrade() -> None:
    # Dropping a table drops its indexes; dropping them first fails on MySQL for FK-backed ones.
    op.drop_table('body_prints')
    op.drop_table('presence_reports')
