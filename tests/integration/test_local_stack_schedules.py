"""The template's Schedule events on the real local stack: found, and run with EventBridge's event."""

from __future__ import annotations

import os
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import attendance
from infra.local_stack import LocalStack
from infra.local_stack.poller import function_environment
from infra.seed import Person, Slot, seed_campus, seed_roster, seed_students, seed_term

USNS = ["1MS21CS001", "1MS21CS002", "1MS21CS003"]


def test_the_template_schedules_are_provisioned_as_event_sources(local_stack: LocalStack) -> None:
    # GIVEN the template provisioned on the local endpoint
    schedules = {
        (name, source.event_id): source.expression
        for name, function in local_stack.functions.items()
        for source in function.schedule_event_sources
    }
    # THEN every Schedule event is there with its expression
    assert schedules[("BodyMatchFunction", "BodyPrintRetention")] == "rate(1 hour)"


def test_run_schedule_calls_the_handler_now_in_the_functions_environment(local_stack: LocalStack) -> None:
    seen: list[tuple[dict[str, Any], str | None]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
        seen.append((event, os.environ.get("POWERTOOLS_SERVICE_NAME")))
        return {"ok": context.function_name}

    # WHEN the body print retention is run now
    (outcome,) = local_stack.run_schedule("BodyMatchFunction", handler)
    # THEN the handler got a scheduled event of this stack's account and region, in its environment
    event, service = seen[0]
    assert outcome.error is None
    assert outcome.response == {"ok": local_stack.functions["BodyMatchFunction"].function_name}
    assert event["detail-type"] == "Scheduled Event"
    assert event["account"] == local_stack.account_id
    assert event["region"] == local_stack.region
    assert service == "body_match"


def _yesterdays_class(engine: Engine) -> date:
    """CS501 yesterday 09:00-10:00 (Asia/Kolkata) in a term around it, three students enrolled."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    seed_campus(engine, [Slot("CS501", "R101", yesterday.weekday(), time(9), time(10))])
    seed_students(engine, [Person(usn, usn, ()) for usn in USNS])
    seed_roster(engine, "CS501", USNS)
    seed_term(engine, "Current", yesterday - timedelta(days=3), yesterday + timedelta(days=3))
    return yesterday


def _marks(engine: Engine) -> dict[str, tuple[str, str]]:
    with engine.connect() as connection:
        return {r.usn: (r.status, r.source) for r in connection.execute(sa.select(attendance))}


def test_the_sweep_function_runs_on_its_schedule_with_the_real_handler(
    local_stack: LocalStack, engine: Engine, database_url: str
) -> None:
    # GIVEN yesterday's class, which nobody attended
    _yesterdays_class(engine)
    # WHEN the template's schedule of the sweep function is run now, twice (a redelivery)
    overrides = {"CLASSSIGHT_DATABASE_URL": database_url}
    (first,) = local_stack.run_schedule("SweepFunction", environment_overrides=overrides)
    (second,) = local_stack.run_schedule("SweepFunction", environment_overrides=overrides)
    # THEN the first marks the roster absent, the second adds nothing
    assert first.error is None and second.error is None, (first.error, second.error)
    assert first.response["absences_written"] == len(USNS)
    assert second.response["sessions_swept"] == 0
    assert _marks(engine) == {usn: ("absent", "sweep") for usn in USNS}


def test_the_timer_runs_the_sweep_sped_up(local_stack: LocalStack, engine: Engine, database_url: str) -> None:
    # GIVEN yesterday's class and the process environment of `up` pointing at this database
    _yesterdays_class(engine)
    with function_environment({**local_stack.env("SweepFunction"), "CLASSSIGHT_DATABASE_URL": database_url}):
        # WHEN the schedules run 600 times faster (rate(5 minutes) every half second)
        runner = local_stack.start_schedules(functions=["SweepFunction"], speedup=600)
        try:
            deadline = time_module.monotonic() + 20
            while time_module.monotonic() < deadline and len(_marks(engine)) < len(USNS):
                time_module.sleep(0.2)
        finally:
            local_stack.stop_pollers()
    # THEN the sweep ran by itself and marked the roster absent
    assert _marks(engine) == {usn: ("absent", "sweep") for usn in USNS}
    assert all(o.error is None for o in runner.outcomes)
