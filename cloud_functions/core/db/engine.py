"""Engines that survive Lambda container reuse.

An engine (and its pool) is built once per URL per process and kept at module level, so a
warm container reuses its connections. ``pool_pre_ping`` replaces connections the server
dropped while the container was frozen; ``pool_recycle`` retires them before MySQL's
``wait_timeout`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from cloud_functions.core.errors import DatabaseUnavailableError
from cloud_functions.core.settings import DatabaseSettings

_engines: dict[str, Engine] = {}


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str, *, pool_size: int = 2, pool_recycle_s: int = 280) -> Engine:
    """A new engine for ``url`` with settings fit for short-lived, reused processes."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=pool_recycle_s,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5, "charset": "utf8mb4"},
    )


def get_engine(url: str, *, pool_size: int = 2, pool_recycle_s: int = 280) -> Engine:
    """The process-wide engine for ``url``, created on first use."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = create_engine(url, pool_size=pool_size, pool_recycle_s=pool_recycle_s)
    return engine


def engine_for(settings: DatabaseSettings) -> Engine:
    """The process-wide engine for a deployable's database settings (URL and pool knobs)."""
    return get_engine(
        settings.database_url, pool_size=settings.db_pool_size, pool_recycle_s=settings.db_pool_recycle_s
    )


def dispose_engines() -> None:
    """Close every pooled connection (tests, and processes about to fork)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction; connection failures become ``DatabaseUnavailableError`` (retryable)."""
    try:
        with engine.begin() as connection:
            yield connection
    except OperationalError as e:
        raise DatabaseUnavailableError(f"database unavailable: {e.orig}") from e
    except DBAPIError as e:
        if e.connection_invalidated:
            raise DatabaseUnavailableError(f"database connection lost: {e.orig}") from e
        raise


def insert_ignoring_duplicate(
    connection: Connection, table: sa.Table, values: dict[str, Any], unique_columns: list[str]
) -> bool:
    """Insert one row unless one with the same ``unique_columns`` exists; True when it was new.

    MySQL's ``INSERT IGNORE`` and SQLite's ``ON CONFLICT DO NOTHING``: a redelivered message or a
    race between two workers adds nothing and raises nothing.
    """
    dialect = connection.dialect.name
    if dialect == "mysql":
        from sqlalchemy.dialects import mysql

        statement: sa.Insert = mysql.insert(table).values(**values).prefix_with("IGNORE")
    elif dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        statement = (
            sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=unique_columns)
        )
    else:  # pragma: no cover - only MySQL/MariaDB and SQLite are supported
        raise NotImplementedError(f"no insert-if-absent for dialect {dialect}")
    return bool(connection.execute(statement).rowcount)
