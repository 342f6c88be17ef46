"""The local stack's EventBridge schedules: expressions, the scheduled event, the timer and run-now."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.local_stack.provisioner import LocalFunction, ScheduleEventSource
from infra.local_stack.scheduler import (
    CronSchedule,
    RateSchedule,
    ScheduleExpressionError,
    ScheduleRunner,
    parse_schedule_expression,
    scheduled_event,
)
from infra.local_stack.stack import local_parameter_overrides
from infra.local_stack.template import DEFAULT_TEMPLATE_PATH, prepare_template

T0 = datetime(2026, 12, 2, 10, 7, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "period_s"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 days)", 172800),
        (" rate( 15 minutes ) ", 900),
    ],
)
def test_rate_expressions_become_periods(expression: str, period_s: int) -> None:
    schedule = parse_schedule_expression(expression)
    assert schedule == RateSchedule(period_s)


def test_rate_runs_fall_on_whole_periods_from_the_start() -> None:
    schedule = RateSchedule(300)
    assert schedule.next_after(T0, T0) == datetime(2026, 12, 2, 10, 12, 30, tzinfo=UTC)
    # GIVEN a run that finished late (10:19) WHEN the next is due THEN missed runs are skipped
    late = datetime(2026, 12, 2, 10, 19, 0, tzinfo=UTC)
    assert schedule.next_after(late, T0) == datetime(2026, 12, 2, 10, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 8 * * ? *)", datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
        ("cron(*/15 * * * ? *)", datetime(2026, 12, 2, 10, 15, tzinfo=UTC)),
        ("cron(30 10 ? * WED *)", datetime(2026, 12, 2, 10, 30, tzinfo=UTC)),
        ("cron(0 9 ? * MON-FRI *)", datetime(2026, 12, 3, 9, 0, tzinfo=UTC)),
        ("cron(0 9 ? * 1 *)", datetime(2026, 12, 6, 9, 0, tzinfo=UTC)),  # 1 = Sunday
        ("cron(0 0 1 JAN ? *)", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("cron(0 6,18 * * ? 2027)", datetime(2027, 1, 1, 6, 0, tzinfo=UTC)),
    ],
)
def test_cron_expressions_name_the_next_utc_minute(expression: str, expected: datetime) -> None:
    schedule = parse_schedule_expression(expression)
    assert isinstance(schedule, CronSchedule)
    assert schedule.next_after(T0, T0) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "every 5 minutes",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "cron(0 8 * * ?)",
        "cron(0 25 * * ? *)",
        "cron(0 8 L * ? *)",
        "cron(0 8 ? * 2#1 *)",
    ],
)
def test_bad_or_unsupported_expressions_are_clear_errors(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        parse_schedule_expression(expression)


def _function(*sources: ScheduleEventSource) -> LocalFunction:
    return LocalFunction(
        logical_id="TickFunction",
        function_name="classsight-test-tick",
        handler_path="tests.unit.test_local_stack_schedules._never",
        environment={"TICK_SETTING": "from-template"},
        timeout_s=30,
        memory_mb=128,
        sqs_event_sources=(),
        other_events={},
        image_metadata={},
        schedule_event_sources=sources,
    )


def _source(expression: str = "rate(1 minute)", **kwargs: Any) -> ScheduleEventSource:
    return ScheduleEventSource("TickFunction", "Tick", expression, **kwargs)


def test_the_event_is_eventbridges_scheduled_event() -> None:
    event = scheduled_event(
        _source(), _function(_source()), at=T0, region="us-east-1", account_id="123456789012", stack_name="s"
    )
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-12-02T10:07:30Z"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/s-Tick"]
    assert event["detail"] == {}
    assert datetime.fromisoformat(event["time"]) == T0


def test_an_input_replaces_the_event() -> None:
    source = _source(input='{"job": "sweep"}')
    event = scheduled_event(source, _function(source), at=T0, region="r", account_id="1", stack_name="s")
    assert event == {"job": "sweep"}


def test_run_now_invokes_with_the_functions_environment() -> None:
    # GIVEN a function with one schedule and a handler that records what it saw
    seen: list[tuple[dict[str, Any], str | None, str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        import os

        seen.append((event, os.environ.get("TICK_SETTING"), context.function_name))
        return {"ran": len(seen)}

    function = _function(_source())
    runner = ScheduleRunner(
        [function],
        {"TickFunction": handler},
        region="us-east-1",
        account_id="1",
        stack_name="s",
        environments={"TickFunction": function.environment},
        clock=lambda: T0,
    )
    # WHEN it is run now
    outcomes = runner.run_now("TickFunction")
    # THEN the handler got the scheduled event inside the function's environment
    assert [o.response for o in outcomes] == [{"ran": 1}]
    assert seen[0][0]["time"] == "2026-12-02T10:07:30Z"
    assert seen[0][1:] == ("from-template", "classsight-test-tick")


def test_a_failing_handler_is_an_outcome_not_a_crash() -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("database away")

    runner = ScheduleRunner(
        [_function(_source())], {"TickFunction": handler}, region="r", account_id="1", stack_name="s"
    )
    (outcome,) = runner.run_now()
    assert isinstance(outcome.error, RuntimeError)


def test_disabled_schedules_do_not_run() -> None:
    runner = ScheduleRunner(
        [_function(_source(enabled=False))],
        {"TickFunction": lambda e, c: None},
        region="r",
        account_id="1",
        stack_name="s",
    )
    assert runner.schedules == []


def test_the_timer_runs_at_the_rate_divided_by_the_speedup() -> None:
    # GIVEN rate(1 minute) sped up 120 times (every 0.5 s)
    ran = threading.Event()
    calls: list[float] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append(time.monotonic())
        if len(calls) >= 3:
            ran.set()

    runner = ScheduleRunner(
        [_function(_source("rate(1 minute)"))],
        {"TickFunction": handler},
        region="r",
        account_id="1",
        stack_name="s",
        speedup=120,
    )
    started = time.monotonic()
    runner.start()
    try:
        # WHEN three runs have come
        assert ran.wait(10)
    finally:
        runner.stop()
    # THEN about half a second apart, the first after one period (not at start)
    assert calls[0] - started >= 0.4
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(0.3 < gap < 1.5 for gap in gaps), gaps


def test_every_scheduled_function_of_the_template_has_a_runnable_expression() -> None:
    # Generic over the template: whatever function gains a Schedule event is run locally.
    from infra.local_stack.provisioner import _schedule_source

    template = prepare_template(
        DEFAULT_TEMPLATE_PATH,
        parameter_overrides=local_parameter_overrides("sqlite://"),
        pseudo_parameters={"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"},
    )
    sources = [
        _schedule_source(resource.logical_id, event_id, event, template.resolver)
        for resource in template.of_type("AWS::Serverless::Function")
        for event_id, event in resource.properties.get("Events", {}).items()
        if event.get("Type") in ("Schedule", "ScheduleV2")
    ]
    assert {(s.function_logical_id, s.event_id) for s in sources} >= {
        ("BodyMatchFunction", "BodyPrintRetention"),
        ("SweepFunction", "AbsentSweep"),
        ("NotifyFunction", "DailyTeacherNotifications"),
    }
    for source in sources:
        parse_schedule_expression(source.expression)


def test_provisioned_functions_carry_their_schedules(tmp_path: Path) -> None:
    from infra.local_stack.provisioner import _schedule_source
    from infra.local_stack.template import Resolver

    resolver = Resolver({"Rate": "rate(5 minutes)"}, {"AWS::Region": "us-east-1"})
    event = yaml.safe_load("Type: Schedule\nProperties:\n  Schedule: {Ref: Rate}\n  Enabled: false\n")
    source = _schedule_source("SweepFunction", "Sweep", event, resolver)
    assert source == ScheduleEventSource("SweepFunction", "Sweep", "rate(5 minutes)", enabled=False)
    v2 = yaml.safe_load(
        "Type: ScheduleV2\nProperties:\n  ScheduleExpression: cron(0 8 * * ? *)\n  State: ENABLED\n"
    )
    assert _schedule_source("F", "Daily", v2, resolver).event_type == "ScheduleV2"
