"""Shared fixtures: real databases (SQLite and MariaDB/MySQL), paths to shared weights and data."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import metadata
from infra.migrations import upgrade

pytest_plugins = ["tests.local_stack_fixtures"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("CLASSSIGHT_SHARED_DIR", REPO_ROOT.parent / "shared"))
MODELS_DIR = SHARED_DIR / "models"
DATA_DIR = SHARED_DIR / "data"
EVENTS_DIR = Path(__file__).resolve().parent / "events"

# The test command starts MariaDB on 127.0.0.1:3306 when it is not running.
MYSQL_SERVER_URL = os.environ.get("CLASSSIGHT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")


# The tests replay captures of fixed class days (Monday 2026-11-23 ...) into a bucket that stamps
# every object with today's date, as if an outbox had held them since. The bound on that delay is
# widened for the whole session (functions read it from the environment); the tests of the
# bound itself set it back.
# One test process loads both TensorFlow (the DeepFace embedder's tests) and torch (cam2's
# detector through ultralytics). torch probes for triton (GPU kernels, unused on CPU), and
# importing triton after TensorFlow crashes the process (both bundle LLVM). The functions and the
# edge clients never load both; here triton is marked absent so torch skips it.
sys.modules.setdefault("triton", None)  # type: ignore[arg-type]

REPLAYED_CALENDAR_MAX_AGE = "P3650D"
os.environ.setdefault("CLASSSIGHT_CAPTURE_MAX_AGE", REPLAYED_CALENDAR_MAX_AGE)


def _fresh_mysql_database() -> Iterator[str]:
    """Create a uniquely named database on the test server, yield its URL, then drop it."""
    name = f"classsight_test_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(MYSQL_SERVER_URL)
    with server.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield make_url(MYSQL_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of an empty SQLite database file."""
    return f"sqlite:///{tmp_path / 'classsight.db'}"


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """URL of an empty, uniquely named database on the MariaDB/MySQL test server."""
    yield from _fresh_mysql_database()


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mariadb)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each supported kind: the test runs once on SQLite, once on MariaDB."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'classsight.db'}"
    else:
        yield from _fresh_mysql_database()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated (head) database of each supported kind."""
    upgrade(database_url)
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def clear_tables(engine: Engine) -> None:
    """Delete every row, children first."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
