"""campus scale: faceprint version index

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-02 18:25:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0008'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The warm matcher's version query (count, max id, max created_at per model) and its read of
    # recent faceprints stay on this index instead of reading 50,000 embeddings.
    with op.batch_alter_table('faceprints', schema=None) as batch_op:
        batch_op.create_index('ix_faceprints_model_id_created_at', ['model_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('faceprints', schema=None) as batch_op:
        batch_op.drop_index('ix_faceprints_model_id_created_at')
