"""face_negatives: door captures corrected as "not this student", as negatives for the matcher

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud_functions.core.db.schema

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "face_negatives",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("usn", sa.String(length=32), nullable=False),
        sa.Column("capture_id", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.String(length=512), nullable=False, comment="the corrected door crop"),
        sa.Column("status", sa.String(length=16), nullable=False, comment="pending | stored | unavailable"),
        sa.Column("detail", sa.String(length=255), nullable=True, comment="why a negative is unavailable"),
        sa.Column("model_id", sa.String(length=128), nullable=True),
        sa.Column("dim", sa.Integer(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True, comment="float32, L2-normalised"),
        sa.Column("corrected_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", cloud_functions.core.db.schema.UtcDateTime(), nullable=False),
        sa.Column("embedded_at", cloud_functions.core.db.schema.UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'stored', 'unavailable')", name=op.f("ck_face_negatives_status")
        ),
        sa.ForeignKeyConstraint(
            ["usn"], ["students.usn"], name=op.f("fk_face_negatives_usn_students"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_negatives")),
        sa.UniqueConstraint("capture_id", name=op.f("uq_face_negatives_capture_id")),
    )
    with op.batch_alter_table("face_negatives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_negatives_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_face_negatives_model_id_usn"), ["model_id", "usn"], unique=False)


def downgrade() -> None:
    op.drop_table("face_negatives")
