"""room_tags: which room track each door capture named, for the two cameras' proxy rules

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema


revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("tracker_id", sa.Integer(), nullable=False),
        sa.Column("usn", sa.String(length=32), nullable=False),
        sa.Column(
            "capture_id", sa.String(length=64), nullable=False, comment="the door capture or body crop behind it"
        ),
        sa.Column("entered_through_door", sa.Boolean(), nullable=False),
        sa.Column(
            "entered_at",
            cloud_functions.core.db.schema.UtcDateTime(),
            nullable=False,
            comment="the track's first sighting",
        ),
        sa.Column(
            "tagged_at",
            cloud_functions.core.db.schema.UtcDateTime(),
            nullable=False,
            comment="capture time of the evidence",
        ),
        sa.Column("created_at", cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.room_id"], name=op.f("fk_room_tags_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["usn"], ["students.usn"], name=op.f("fk_room_tags_usn_students"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_tags")),
        sa.UniqueConstraint(
            "camera_id", "tracker_id", "capture_id", name=op.f("uq_room_tags_camera_id_tracker_id_capture_id")
        ),
    )
    with op.batch_alter_table("room_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_tags_room_id_tagged_at"), ["room_id", "tagged_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_room_tags_capture_id"), ["capture_id"], unique=False)


def downgrade() -> None:
    op.drop_table("room_tags")
