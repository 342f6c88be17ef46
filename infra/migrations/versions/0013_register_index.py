"""registers: attendance index (course, date, usn, status) in place of (course, date)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 22:30:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A course's register reads its marks of a term from the index alone (usn and status in it):
    # a few index pages instead of one table page per mark, wherever the rows lie. Queries by
    # course and date use its first two columns as they used the old index.
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.create_index(
            'ix_attendance_course_code_class_date_usn_status',
            ['course_code', 'class_date', 'usn', 'status'],
            unique=False,
        )
        batch_op.drop_index('ix_attendance_course_code_class_date')


def downgrade() -> None:
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_course_code_class_date', ['course_code', 'class_date'], unique=False)
        batch_op.drop_index('ix_attendance_course_code_class_date_usn_status')
