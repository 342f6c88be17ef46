"""Migrations run up and down on every supported database and produce the declared schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import metadata
from infra.migrations import downgrade, upgrade

EXPECTED_TABLES = {
    "students",
    "enrollments",
    "faceprints",
    "courses",
    "rooms",
    "timetable",
    "attendance",
    "recognition_events",
    "handoffs",
    "audit_log",
    "face_negatives",
}


def test_upgrade_creates_the_declared_schema_and_downgrade_removes_it(database_url: str) -> None:
    # GIVEN an empty database
    engine = create_engine(database_url)
    try:
        # WHEN it is migrated to head
        upgrade(database_url)
        # THEN every table exists and the database matches the SQLAlchemy metadata exactly
        tables = set(sa.inspect(engine).get_table_names())
        assert tables >= EXPECTED_TABLES
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
        assert diff == []

        # WHEN it is migrated back to base
        downgrade(database_url, "base")
        # THEN only Alembic's bookkeeping table is left
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}

        # AND it can be migrated up again (the downgrade left nothing behind that blocks it)
        upgrade(database_url)
        assert set(sa.inspect(engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        engine.dispose()
