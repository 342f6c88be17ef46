"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 10:05:24.024234
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True, comment='JSON: before/after values'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_entity_entity_id'), ['entity', 'entity_id'], unique=False)

    op.create_table('courses',
    sa.Column('course_code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('teacher_email', sa.String(length=254), nullable=True),
    sa.PrimaryKeyConstraint('course_code', name=op.f('pk_courses'))
    )
    op.create_table('rooms',
    sa.Column('room_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('cam1_id', sa.String(length=64), nullable=True),
    sa.Column('cam2_id', sa.String(length=64), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('room_id', name=op.f('pk_rooms')),
    sa.UniqueConstraint('cam1_id', name=op.f('uq_rooms_cam1_id')),
    sa.UniqueConstraint('cam2_id', name=op.f('uq_rooms_cam2_id'))
    )
    op.create_table('students',
    sa.Column('usn', sa.String(length=32), nullable=False, comment='University seat number'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('section', sa.String(length=32), nullable=True),
    sa.Column('consent_given_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=True),
    sa.Column('consent_given_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('usn', name=op.f('pk_students'))
    )
    op.create_table('attendance',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('usn', sa.String(length=32), nullable=False),
    sa.Column('course_code', sa.String(length=32), nullable=False),
    sa.Column('class_date', sa.Date(), nullable=False, comment='room-local date of the class'),
    sa.Column('room_id', sa.String(length=32), nullable=False),
    sa.Column('first_seen_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=True, comment='first door sighting'),
    sa.Column('confirmed_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=True, comment='presence confirmed in the room'),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('similarity', sa.Float(), nullable=True),
    sa.Column('capture_id', sa.String(length=64), nullable=True),
    sa.Column('updated_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.CheckConstraint("source IN ('face', 'body', 'manual')", name=op.f('ck_attendance_source')),
    sa.CheckConstraint("status IN ('entered', 'late', 'present', 'absent', 'excused')", name=op.f('ck_attendance_status')),
    sa.ForeignKeyConstraint(['course_code'], ['courses.course_code'], name=op.f('fk_attendance_course_code_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.room_id'], name=op.f('fk_attendance_room_id_rooms')),
    sa.ForeignKeyConstraint(['usn'], ['students.usn'], name=op.f('fk_attendance_usn_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance')),
    sa.UniqueConstraint('usn', 'course_code', 'class_date', name=op.f('uq_attendance_usn_course_code_class_date'))
    )
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_course_code_class_date'), ['course_code', 'class_date'], unique=False)

    op.create_table('enrollments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('usn', sa.String(length=32), nullable=False),
    sa.Column('pose', sa.String(length=32), nullable=False),
    sa.Column('source_url', sa.String(length=2048), nullable=True),
    sa.Column('object_key', sa.String(length=512), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.Column('updated_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name=op.f('ck_enrollments_status')),
    sa.ForeignKeyConstraint(['usn'], ['students.usn'], name=op.f('fk_enrollments_usn_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('usn', 'pose', name=op.f('uq_enrollments_usn_pose'))
    )
    op.create_table('faceprints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('usn', sa.String(length=32), nullable=False),
    sa.Column('pose', sa.String(length=32), nullable=False),
    sa.Column('model_id', sa.String(length=128), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=False, comment='float32, L2-normalised'),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['usn'], ['students.usn'], name=op.f('fk_faceprints_usn_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faceprints')),
    sa.UniqueConstraint('usn', 'pose', 'model_id', name=op.f('uq_faceprints_usn_pose_model_id'))
    )
    with op.batch_alter_table('faceprints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_faceprints_model_id'), ['model_id'], unique=False)

    op.create_table('handoffs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('capture_id', sa.String(length=64), nullable=False),
    sa.Column('usn', sa.String(length=32), nullable=False),
    sa.Column('room_id', sa.String(length=32), nullable=False),
    sa.Column('course_code', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('captured_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.Column('similarity', sa.Float(), nullable=True),
    sa.Column('message_id', sa.String(length=128), nullable=True, comment='SNS message id once published'),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.room_id'], name=op.f('fk_handoffs_room_id_rooms')),
    sa.ForeignKeyConstraint(['usn'], ['students.usn'], name=op.f('fk_handoffs_usn_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoffs')),
    sa.UniqueConstraint('capture_id', name=op.f('uq_handoffs_capture_id'))
    )
    op.create_table('recognition_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('object_key', sa.String(length=512), nullable=False),
    sa.Column('capture_id', sa.String(length=64), nullable=True),
    sa.Column('camera_id', sa.String(length=64), nullable=True),
    sa.Column('room_id', sa.String(length=32), nullable=True),
    sa.Column('captured_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('usn', sa.String(length=32), nullable=True),
    sa.Column('similarity', sa.Float(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('detail', sa.String(length=255), nullable=True),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['usn'], ['students.usn'], name=op.f('fk_recognition_events_usn_students'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recognition_events')),
    sa.UniqueConstraint('object_key', name=op.f('uq_recognition_events_object_key'))
    )
    with op.batch_alter_table('recognition_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recognition_events_room_id_captured_at'), ['room_id', 'captured_at'], unique=False)

    op.create_table('timetable',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('course_code', sa.String(length=32), nullable=False),
    sa.Column('room_id', sa.String(length=32), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False, comment='0 = Monday … 6 = Sunday'),
    sa.Column('start_time', sa.Time(), nullable=False, comment='room-local time'),
    sa.Column('end_time', sa.Time(), nullable=False, comment='room-local time'),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint('start_time < end_time', name=op.f('ck_timetable_times')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_timetable_weekday')),
    sa.ForeignKeyConstraint(['course_code'], ['courses.course_code'], name=op.f('fk_timetable_course_code_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.room_id'], name=op.f('fk_timetable_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timetable'))
    )
    with op.batch_alter_table('timetable', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timetable_room_id_weekday'), ['room_id', 'weekday'], unique=False)



def downgrade() -> None:
    # Dropping a table drops its indexes; dropping them first fails on MySQL for FK-backed ones.
    op.drop_table('timetable')
    op.drop_table('recognition_events')
    op.drop_table('handoffs')
    op.drop_table('faceprints')
    op.drop_table('enrollments')
    op.drop_table('attendance')
    op.drop_table('students')
    op.drop_table('rooms')
    op.drop_table('courses')
    op.drop_table('audit_log')
