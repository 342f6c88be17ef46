"""reports: the daily teacher notification's publish claim; new absences by status and time

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('teacher_notifications', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'claimed_until',
                cloud_functions.core.db.schema.UtcDateTime(),
                nullable=True,
                comment='a run publishing it holds it until then (a crashed run lets go)',
            )
        )
    # The daily notification reads the absences written since the last one, across all courses.
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_status_updated_at', ['status', 'updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_status_updated_at')
    with op.batch_alter_table('teacher_notifications', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
