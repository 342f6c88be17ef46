"""Builders shared by the API tests: settings with test tokens, a running app, seeded rows.

No tests here; the ``test_api_*`` modules import these and declare their own small fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cloud_functions.api.app import Clock, create_app
from cloud_functions.api.auth import token_digest
from cloud_functions.core.db.schema import audit_log
from cloud_functions.core.settings import ApiSettings
from infra.seed import Person, Slot, seed_campus, seed_students, seed_teachers

ADMIN_TOKEN = "admin-token-used-only-in-tests"
TEACHER_TOKEN = "teacher-token-used-only-in-tests"
CS502_TEACHER_TOKEN = "cs502-teacher-token-used-only-in-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Tom teaches CS501 (seed() links him), Cleo teaches CS502.
TEACHER = {"Authorization": f"Bearer {TEACHER_TOKEN}"}
CS502_TEACHER = {"Authorization": f"Bearer {CS502_TEACHER_TOKEN}"}
TOKENS = {
    token_digest(ADMIN_TOKEN): {"name": "Ada Admin", "role": "admin"},
    token_digest(TEACHER_TOKEN): {"name": "Tom Teacher", "role": "teacher"},
    token_digest(CS502_TEACHER_TOKEN): {"name": "Cleo Teacher", "role": "teacher"},
}
TEACHERS = (("Tom Teacher", "CS501"), ("Cleo Teacher", "CS502"))

# Tuesday 2026-11-24, 10:00 in Asia/Kolkata (seed rooms' zone).
TUESDAY = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)
SLOTS = (
    Slot("CS501", "R101", 1, time(9, 0), time(11, 0)),
    Slot("CS502", "R101", 1, time(11, 0), time(12, 0)),
    Slot("CS502", "R102", 3, time(14, 0), time(15, 0)),
)
PEOPLE = (
    Person("1MS21CS000", "Ada Lovelace", ()),
    Person("1MS21CS001", "Alan Turing", ()),
    Person("1MS21CS002", "Grace Hopper", ()),
)


def api_settings(database_url: str, **overrides: Any) -> ApiSettings:
    """Settings with the test tokens; ``overrides`` win (endpoint, bucket, limits)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "bucket_name": "classsight-api-tests",
        "api_tokens": TOKENS,
        **overrides,
    }
    return ApiSettings(**values)


@dataclass
class Api:
    """A running app on a migrated database."""

    client: TestClient
    engine: Engine
    settings: ApiSettings


@contextmanager
def running_api(
    engine: Engine, database_url: str, *, clock: Clock | None = None, **overrides: Any
) -> Iterator[Api]:
    """The app on ``database_url`` (already migrated), its pool closed afterwards."""
    settings = api_settings(database_url, **overrides)
    app = create_app(settings, clock=clock or (lambda: TUESDAY))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client=client, engine=engine, settings=settings)
    finally:
        app.state.engine.dispose()


def seed(engine: Engine, *, people: tuple[Person, ...] = PEOPLE) -> None:
    """The seed's rooms R101/R102 (Asia/Kolkata), courses CS501/CS502, ``SLOTS``, ``people``, ``TEACHERS``."""
    seed_campus(engine, SLOTS)
    seed_students(engine, people)
    seed_teachers(engine, TEACHERS)


def audit_entries(engine: Engine, action: str) -> list[sa.RowMapping]:
    """Audit rows of one action, oldest first."""
    with engine.connect() as connection:
        query = sa.select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
        return list(connection.execute(query).mappings())
