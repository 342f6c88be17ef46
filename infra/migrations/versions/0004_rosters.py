"""course rosters and teachers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:02:11.107483
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('teachers',
    sa.Column('teacher_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False, comment='sign-in name'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('teacher_id', name=op.f('pk_teachers')),
    sa.UniqueConstraint('username', name=op.f('uq_teachers_username'))
    )
    op.create_table('course_rosters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('course_code', sa.String(length=32), nullable=False),
    sa.Column('usn', sa.String(length=32), nullable=False),
    sa.Column('section', sa.String(length=32), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True, comment='first day enrolled; empty: from the start'),
    sa.Column('valid_to', sa.Date(), nullable=True, comment='last day enrolled; empty: to the end'),
    sa.Column('updated_at', cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
    sa.CheckConstraint('valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to', name=op.f('ck_course_rosters_dates')),
    sa.ForeignKeyConstraint(['course_code'], ['courses.course_code'], name=op.f('fk_course_rosters_course_code_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['usn'], ['students.usn'], name=op.f('fk_course_rosters_usn_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_rosters')),
    sa.UniqueConstraint('course_code', 'usn', name=op.f('uq_course_rosters_course_code_usn'))
    )
    with op.batch_alter_table('course_rosters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_rosters_usn'), ['usn'], unique=False)

    op.create_table('course_teachers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('course_code', sa.String(length=32), nullable=False),
    sa.Column('teacher_id', sa.Integer(), nullable=False),
    sa.Column('section', sa.String(length=32), nullable=True, comment='empty: every section of the course'),
    sa.ForeignKeyConstraint(['course_code'], ['courses.course_code'], name=op.f('fk_course_teachers_course_code_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['teacher_id'], ['teachers.teacher_id'], name=op.f('fk_course_teachers_teacher_id_teachers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_teachers')),
    sa.UniqueConstraint('course_code', 'teacher_id', 'section', name=op.f('uq_course_teachers_course_code_teacher_id_section'))
    )
    with op.batch_alter_table('course_teachers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_teachers_teacher_id'), ['teacher_id'], unique=False)



def downgrade() -> None:
    # Dropping a table drops its indexes; dropping them first fails on MySQL for FK-backed ones.
    op.drop_table('course_teachers')
    op.drop_table('course_rosters')
    op.drop_table('teachers')
