"""who cancelled a class session: a person, or the calendar (which may restore it)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('class_sessions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'cancelled_by',
                sa.String(length=200),
                nullable=True,
                comment="who cancelled it: a person, or 'calendar' (a day off, a slot gone from the timetable)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('class_sessions', schema=None) as batch_op:
        batch_op.drop_column('cancelled_by')
