"""terms and class sessions, absent sweep, corrections, teacher notifications, course minimums

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_SOURCES = "source IN ('face', 'body', 'manual')"
_NEW_SOURCES = "source IN ('face', 'body', 'manual', 'sweep')"


def upgrade() -> None:
    op.create_table(
        'terms',
        sa.Column('term_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False, comment='e.g. 2026 Odd Semester'),
        sa.Column('start_date', sa.Date(), nullable=False),
        sa.Column('end_date', sa.Date(), nullable=False),
        sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
        sa.CheckConstraint('start_date <= end_date', name=op.f('ck_terms_dates')),
        sa.PrimaryKeyConstraint('term_id', name=op.f('pk_terms')),
        sa.UniqueConstraint('name', name=op.f('uq_terms_name')),
    )
    op.create_table(
        'term_days_off',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('term_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ['term_id'], ['terms.term_id'], name=op.f('fk_term_days_off_term_id_terms'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_term_days_off')),
        sa.UniqueConstraint('term_id', 'day', name=op.f('uq_term_days_off_term_id_day')),
    )
    op.create_table(
        'class_sessions',
        sa.Column('session_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('term_id', sa.Integer(), nullable=False),
        sa.Column('course_code', sa.String(length=32), nullable=False),
        sa.Column('room_id', sa.String(length=32), nullable=False),
        sa.Column('session_date', sa.Date(), nullable=False, comment='room-local date'),
        sa.Column('start_time', sa.Time(), nullable=False, comment='room-local time'),
        sa.Column('end_time', sa.Time(), nullable=False, comment='room-local time'),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('origin', sa.String(length=16), nullable=False),
        sa.Column('timetable_id', sa.Integer(), nullable=True),
        sa.Column('moved_from_id', sa.Integer(), nullable=True),
        sa.Column('note', sa.String(length=500), nullable=True, comment='why it was cancelled, moved or added'),
        sa.Column(
            'swept_at',
            cloud_functions.core.db.schema.UtcDateTime(),
            nullable=True,
            comment='absent marks written for it then',
        ),
        sa.Column('updated_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
        sa.CheckConstraint('start_time < end_time', name=op.f('ck_class_sessions_times')),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name=op.f('ck_class_sessions_status')),
        sa.CheckConstraint(
            "origin IN ('timetable', 'moved', 'extra')", name=op.f('ck_class_sessions_origin')
        ),
        sa.ForeignKeyConstraint(
            ['course_code'],
            ['courses.course_code'],
            name=op.f('fk_class_sessions_course_code_courses'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['moved_from_id'],
            ['class_sessions.session_id'],
            name=op.f('fk_class_sessions_moved_from_id_class_sessions'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['room_id'], ['rooms.room_id'], name=op.f('fk_class_sessions_room_id_rooms'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['term_id'], ['terms.term_id'], name=op.f('fk_class_sessions_term_id_terms'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['timetable_id'],
            ['timetable.id'],
            name=op.f('fk_class_sessions_timetable_id_timetable'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('session_id', name=op.f('pk_class_sessions')),
        sa.UniqueConstraint(
            'course_code', 'session_date', 'start_time', name=op.f('uq_class_sessions_course_code_session_date_start_time')
        ),
    )
    with op.batch_alter_table('class_sessions', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_class_sessions_term_id_course_code_session_date'),
            ['term_id', 'course_code', 'session_date'],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f('ix_class_sessions_room_id_session_date'), ['room_id', 'session_date'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_class_sessions_session_date_status'), ['session_date', 'status'], unique=False
        )
    op.create_table(
        'attendance_corrections',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('usn', sa.String(length=32), nullable=False),
        sa.Column('course_code', sa.String(length=32), nullable=False),
        sa.Column('class_date', sa.Date(), nullable=False, comment='room-local date of the class'),
        sa.Column('old_status', sa.String(length=16), nullable=True, comment='empty: there was no mark'),
        sa.Column('new_status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('corrected_by', sa.String(length=200), nullable=False),
        sa.Column('corrected_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['course_code'],
            ['courses.course_code'],
            name=op.f('fk_attendance_corrections_course_code_courses'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['usn'], ['students.usn'], name=op.f('fk_attendance_corrections_usn_students'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_corrections')),
    )
    with op.batch_alter_table('attendance_corrections', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_attendance_corrections_course_code_class_date'),
            ['course_code', 'class_date'],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f('ix_attendance_corrections_usn_course_code'), ['usn', 'course_code'], unique=False
        )
    op.create_table(
        'teacher_notifications',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('teacher_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('message_id', sa.String(length=128), nullable=True, comment='SNS message id once published'),
        sa.Column('body', sa.Text(), nullable=False, comment='JSON: the notification as sent'),
        sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['teacher_id'],
            ['teachers.teacher_id'],
            name=op.f('fk_teacher_notifications_teacher_id_teachers'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_teacher_notifications')),
        sa.UniqueConstraint('teacher_id', 'day', name=op.f('uq_teacher_notifications_teacher_id_day')),
    )
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'min_attendance_pct',
                sa.Float(),
                nullable=True,
                comment="the course's minimum attendance; empty: the setting (default 75)",
            )
        )
        batch_op.create_check_constraint(
            op.f('ck_courses_min_attendance_pct'),
            'min_attendance_pct IS NULL OR (min_attendance_pct >= 0 AND min_attendance_pct <= 100)',
        )
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_attendance_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_attendance_source'), _NEW_SOURCES)


def downgrade() -> None:
    op.execute("DELETE FROM attendance WHERE source = 'sweep'")
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_attendance_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_attendance_source'), _OLD_SOURCES)
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_courses_min_attendance_pct'), type_='check')
        batch_op.drop_column('min_attendance_pct')
    # Dropping a table drops its indexes (MariaDB refuses to drop one a foreign key uses).
    op.drop_table('teacher_notifications')
    op.drop_table('attendance_corrections')
    op.drop_table('class_sessions')
    op.drop_table('term_days_off')
    op.drop_table('terms')
