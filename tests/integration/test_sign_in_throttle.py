"""The sign-in rate limit and sign-out records in the database (SQLite and MariaDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from cloud_functions.core.db import sign_in
from cloud_functions.core.db.schema import sign_in_failures

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
USER = sign_in.throttle_key("user", "tom")
ADDR = sign_in.throttle_key("addr", "10.0.0.7")


def test_the_limit_opens_when_the_oldest_counted_failure_leaves_the_window(engine: Engine) -> None:
    limits = [sign_in.Limit(USER, 3, WINDOW), sign_in.Limit(ADDR, 10, WINDOW)]
    with engine.begin() as connection:
        # GIVEN failures at 0, 1 and 2 minutes
        for minute in range(3):
            sign_in.record_failure(connection, [USER, ADDR], T0 + timedelta(minutes=minute), WINDOW)
        # THEN at 3 minutes the name waits until the first failure is 15 minutes old
        assert sign_in.retry_after(connection, limits, T0 + timedelta(minutes=3)) == timedelta(minutes=12)
        # AND at 15 minutes and a second one failure has left the window: admitted
        assert sign_in.retry_after(connection, limits, T0 + timedelta(minutes=15, seconds=1)) is None
        # AND a correct password forgets the name's failures but not the address's
        sign_in.clear_failures(connection, USER)
        assert sign_in.retry_after(connection, [sign_in.Limit(ADDR, 3, WINDOW)], T0 + timedelta(minutes=3))


def test_old_failures_are_deleted_as_new_ones_come(engine: Engine) -> None:
    with engine.begin() as connection:
        sign_in.record_failure(connection, [USER], T0, WINDOW)
        sign_in.record_failure(connection, [USER], T0 + timedelta(hours=1), WINDOW)
        rows = connection.execute(sign_in_failures.select()).all()
    assert [row.failed_at for row in rows] == [T0 + timedelta(hours=1)]


def test_a_sign_out_record_keeps_the_latest_time(engine: Engine) -> None:
    with engine.begin() as connection:
        assert sign_in.signed_out_at(connection, "tom") is None
        sign_in.record_sign_out(connection, "tom", T0 + timedelta(minutes=5))
        sign_in.record_sign_out(connection, "tom", T0)  # a late, older record changes nothing
        assert sign_in.signed_out_at(connection, "tom") == T0 + timedelta(minutes=5)
        sign_in.record_sign_out(connection, "tom", T0 + timedelta(minutes=9))
        assert sign_in.signed_out_at(connection, "tom") == T0 + timedelta(minutes=9)
