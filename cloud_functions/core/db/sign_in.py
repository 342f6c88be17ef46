"""Failed sign-ins (a sliding-window rate limit) and sign-outs that end people's sessions.

The limit lives in the database, not in a process: the API runs as many Lambda containers at
once, and a guesser is spread over all of them. A failure is one inserted row (no read-modify-
write, so concurrent failures are all counted); a check counts the rows of the window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import people_sign_outs, sign_in_failures


def throttle_key(kind: str, value: str) -> str:
    """The stored key of a username (``user``) or client address (``addr``): a sha256 digest."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


@dataclass(frozen=True)
class Limit:
    """At most ``max_failures`` failures of one key within ``window``."""

    key: str
    max_failures: int
    window: timedelta


def retry_after(connection: Connection, limits: list[Limit], now: datetime) -> timedelta | None:
    """How long until every limit admits another attempt; None if they all do now."""
    longest: timedelta | None = None
    for limit in limits:
        since = now - limit.window
        rows = connection.execute(
            sa.select(sign_in_failures.c.failed_at)
            .where(sign_in_failures.c.throttle_key == limit.key, sign_in_failures.c.failed_at > since)
            .order_by(sign_in_failures.c.failed_at.desc())
            .limit(limit.max_failures)
        ).all()
        if len(rows) < limit.max_failures:
            continue
        # The window admits another attempt once the oldest of the last max_failures leaves it.
        wait = rows[-1].failed_at + limit.window - now
        if longest is None or wait > longest:
            longest = wait
    return longest


def record_failure(connection: Connection, keys: list[str], now: datetime, window: timedelta) -> None:
    """Count one failed sign-in against each key, and forget this key's failures older than ``window``."""
    for key in keys:
        connection.execute(sign_in_failures.insert().values(throttle_key=key, failed_at=now))
        connection.execute(
            sign_in_failures.delete().where(
                sign_in_failures.c.throttle_key == key, sign_in_failures.c.failed_at <= now - window
            )
        )


def clear_failures(connection: Connection, key: str) -> None:
    """Forget the failures of ``key`` (a username after its correct password)."""
    connection.execute(sign_in_failures.delete().where(sign_in_failures.c.throttle_key == key))


def record_sign_out(connection: Connection, username: str, at: datetime) -> None:
    """Sessions of ``username`` that began before ``at`` are over (idempotent; the later time wins)."""
    values = {"username": username, "signed_out_at": at}
    dialect = connection.dialect.name
    if dialect == "mysql":
        mysql_stmt = mysql.insert(people_sign_outs).values(**values)
        new = mysql_stmt.inserted.signed_out_at
        connection.execute(
            mysql_stmt.on_duplicate_key_update(
                signed_out_at=sa.func.greatest(people_sign_outs.c.signed_out_at, new)
            )
        )
    elif dialect == "sqlite":
        sqlite_stmt = sqlite.insert(people_sign_outs).values(**values)
        connection.execute(
            sqlite_stmt.on_conflict_do_update(
                index_elements=["username"],
                set_={
                    "signed_out_at": sa.func.max(
                        people_sign_outs.c.signed_out_at, sqlite_stmt.excluded.signed_out_at
                    )
                },
            )
        )
    else:  # pragma: no cover - only MySQL/MariaDB and SQLite are supported
        raise NotImplementedError(f"no sign-out upsert for dialect {dialect}")


def signed_out_at(connection: Connection, username: str) -> datetime | None:
    """When ``username`` last signed out or was disabled, if ever."""
    value: datetime | None = connection.execute(
        sa.select(people_sign_outs.c.signed_out_at).where(people_sign_outs.c.username == username)
    ).scalar_one_or_none()
    return value
