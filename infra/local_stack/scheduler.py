"""EventBridge schedules, run in this process: the template's ``Schedule``/``ScheduleV2`` events.

What AWS does, and so what :class:`ScheduleRunner` does, for every function of the template with
a ``Schedule`` (EventBridge rule) or ``ScheduleV2`` (EventBridge Scheduler) event:

1. At each time the expression names (``rate(5 minutes)``, ``cron(0 8 * * ? *)``, in UTC), call
   the function's handler with the event EventBridge builds (``version``, ``id``,
   ``detail-type: Scheduled Event``, ``source: aws.events``, ``account``, ``time``, ``region``,
   ``resources``, ``detail: {}``), or with the event's ``Input`` JSON when the template gives one.
2. A handler that raises is logged; the next run comes at the next time, as on AWS (an async
   invocation's retries are the handler's concern: scheduled handlers here are idempotent).

Generic over every scheduled function, so a function added to the template with a ``Schedule``
event runs locally with no change here. ``speedup`` divides the waits between runs (a demo or a
test sees an hourly function run every few seconds); each event's ``time`` is still the real
UTC time of the run, because handlers take it as "now". :meth:`ScheduleRunner.run_now` runs a
function's schedules at once, in the caller's thread, for tests and the demo.
"""

from __future__ import annotations

import heapq
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.local_stack.poller import Handler, LambdaContext, function_environment, invocation_event_loop
from infra.local_stack.provisioner import LocalFunction, ScheduleEventSource
from infra.local_stack.template import TemplateError

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
# EventBridge numbers weekdays 1 = Sunday ... 7 = Saturday.
_WEEKDAYS = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_CRON_SEARCH_DAYS = 366 * 5


class ScheduleExpressionError(TemplateError):
    """A schedule expression the local stack cannot run (malformed, or an unsupported cron field)."""


@dataclass(frozen=True)
class RateSchedule:
    """``rate(N unit)``: every ``period_s`` seconds from the moment the schedule starts."""

    period_s: int

    def next_after(self, moment: datetime, started: datetime) -> datetime:
        """The first run strictly after ``moment`` (runs fall at ``started`` + k periods, k >= 1)."""
        elapsed = (moment - started).total_seconds()
        periods = max(1, int(elapsed // self.period_s) + 1)
        return started + timedelta(seconds=periods * self.period_s)


@dataclass(frozen=True)
class CronSchedule:
    """``cron(minutes hours day-of-month month day-of-week year)`` in UTC, as EventBridge reads it.

    Fields take ``*``, ``?``, lists, ranges and ``/`` steps, month and weekday names (weekday
    1 = Sunday); ``L``, ``W`` and ``#`` are refused.
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    years: frozenset[int] | None

    def next_after(self, moment: datetime, started: datetime) -> datetime:
        """The first matching minute strictly after ``moment``."""
        del started
        first = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = first.date()
        for _ in range(_CRON_SEARCH_DAYS):
            weekday = (day.isoweekday() % 7) + 1  # Monday (1) -> 2 ... Sunday (7) -> 1
            if (
                day.month in self.months
                and day.day in self.days_of_month
                and weekday in self.weekdays
                and (self.years is None or day.year in self.years)
            ):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                        if candidate >= first:
                            return candidate
            day += timedelta(days=1)
        raise ScheduleExpressionError("the cron expression matches no time in the next five years")


Schedule = RateSchedule | CronSchedule


def parse_schedule_expression(expression: str) -> Schedule:
    """``rate(...)`` or ``cron(...)`` as a schedule; a clear error for anything else."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate is not None:
        value = int(rate.group(1))
        if value < 1:
            raise ScheduleExpressionError(f"{expression!r}: a rate must be at least 1")
        return RateSchedule(value * _UNIT_S[rate.group(2).rstrip("s")])
    cron = _CRON.match(text)
    if cron is None:
        raise ScheduleExpressionError(f"{expression!r} is neither rate(...) nor cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleExpressionError(f"{expression!r}: cron takes six fields, got {len(fields)}")
    minutes, hours, days, months, weekdays, years = fields
    return CronSchedule(
        minutes=_cron_field(minutes, 0, 59, {}),
        hours=_cron_field(hours, 0, 23, {}),
        days_of_month=_cron_field(days, 1, 31, {}),
        months=_cron_field(months, 1, 12, _MONTHS),
        weekdays=_cron_field(weekdays, 1, 7, _WEEKDAYS),
        years=None if years in ("*", "?") else _cron_field(years, 1970, 2199, {}),
    )


def _cron_field(text: str, low: int, high: int, names: Mapping[str, int]) -> frozenset[int]:
    if text in ("*", "?"):
        return frozenset(range(low, high + 1))
    if any(mark in text.upper() for mark in ("L", "W", "#")) and not names:
        raise ScheduleExpressionError(f"cron field {text!r}: L, W and # are not supported locally")
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = _cron_number(step_text, names) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            start_text, end_text = base.split("-", 1)
            start, end = _cron_number(start_text, names), _cron_number(end_text, names)
        else:
            start = _cron_number(base, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end or step < 1:
            raise ScheduleExpressionError(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _cron_number(text: str, names: Mapping[str, int]) -> int:
    upper = text.strip().upper()
    if upper in names:
        return names[upper]
    if not upper.isdigit():
        raise ScheduleExpressionError(f"cron value {text!r} is not a number (L, W and # are not supported)")
    return int(upper)


def scheduled_event(
    source: ScheduleEventSource,
    function: LocalFunction,
    *,
    at: datetime,
    region: str,
    account_id: str,
    stack_name: str,
) -> dict[str, Any]:
    """The event the handler gets: the template's ``Input``, else EventBridge's scheduled event."""
    if source.input is not None:
        try:
            payload = json.loads(source.input)
        except ValueError as e:
            raise TemplateError(f"{function.logical_id}.{source.event_id}: Input is not JSON: {e}") from e
        if not isinstance(payload, dict):
            raise TemplateError(f"{function.logical_id}.{source.event_id}: Input must be a JSON object")
        return payload
    if source.event_type == "ScheduleV2":
        resource = f"arn:aws:scheduler:{region}:{account_id}:schedule/default/{stack_name}-{source.event_id}"
    else:
        resource = f"arn:aws:events:{region}:{account_id}:rule/{stack_name}-{source.event_id}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [resource],
        "detail": {},
    }


@dataclass(frozen=True)
class ScheduleOutcome:
    """One scheduled invocation: the event, what the handler returned or raised."""

    function_logical_id: str
    event_id: str
    event: dict[str, Any]
    response: Any
    error: BaseException | None


@dataclass
class _Entry:
    source: ScheduleEventSource
    function: LocalFunction
    handler: Handler
    schedule: Schedule
    environment: dict[str, str]


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ScheduleRunner:
    """Runs the enabled schedules of ``functions`` on a timer thread, or at once with :meth:`run_now`.

    ``speedup`` divides every wait between runs (1 = real time; 60 makes ``rate(1 hour)`` run each
    minute). The event ``time`` is the real time of the run, whatever the speed-up.
    ``environments`` (by logical id) is set in ``os.environ`` around each invocation when
    ``apply_environment`` is true; background runs in the ``up`` command share the process
    environment instead, as the pollers do.
    """

    def __init__(
        self,
        functions: Sequence[LocalFunction],
        handlers: Mapping[str, Handler],
        *,
        region: str,
        account_id: str,
        stack_name: str,
        speedup: float = 1.0,
        environments: Mapping[str, Mapping[str, str]] | None = None,
        apply_environment: bool = True,
        clock: Clock = _utc_now,
    ) -> None:
        if not speedup > 0:
            raise ValueError("speedup must be positive")
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.speedup = speedup
        self.apply_environment = apply_environment
        self._clock = clock
        self._entries: list[_Entry] = []
        for function in functions:
            handler = handlers.get(function.logical_id)
            if handler is None:
                continue
            for source in function.schedule_event_sources:
                if not source.enabled:
                    continue
                self._entries.append(
                    _Entry(
                        source,
                        function,
                        handler,
                        parse_schedule_expression(source.expression),
                        dict((environments or {}).get(function.logical_id, {})),
                    )
                )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.outcomes: list[ScheduleOutcome] = []

    @property
    def schedules(self) -> list[tuple[str, str, str]]:
        """``(function, event id, expression)`` of every schedule this runner runs."""
        return [(e.function.logical_id, e.source.event_id, e.source.expression) for e in self._entries]

    def run_now(
        self, function_logical_id: str | None = None, event_id: str | None = None
    ) -> list[ScheduleOutcome]:
        """Run the matching schedules once, now, in this thread (every schedule when no filter)."""
        chosen = [
            e
            for e in self._entries
            if (function_logical_id is None or e.function.logical_id == function_logical_id)
            and (event_id is None or e.source.event_id == event_id)
        ]
        if function_logical_id is not None and not chosen:
            raise TemplateError(f"{function_logical_id} has no enabled schedule matching {event_id!r} here")
        return [self._invoke(entry) for entry in chosen]

    def _invoke(self, entry: _Entry) -> ScheduleOutcome:
        event = scheduled_event(
            entry.source,
            entry.function,
            at=self._clock(),
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
        )
        context = LambdaContext(
            function_name=entry.function.function_name,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{self.account_id}:{entry.function.arn_suffix}",
            memory_limit_in_mb=entry.function.memory_mb,
            timeout_s=entry.function.timeout_s,
        )
        environment = function_environment(entry.environment) if self.apply_environment else nullcontext()
        response: Any = None
        error: BaseException | None = None
        try:
            with environment, invocation_event_loop():
                response = entry.handler(event, context)
        except Exception as e:  # the handler's failure is data for the caller, as on Lambda
            error = e
            logger.warning(
                "%s (%s) failed: %s: %s",
                entry.function.logical_id,
                entry.source.event_id,
                type(e).__name__,
                e,
            )
        outcome = ScheduleOutcome(entry.function.logical_id, entry.source.event_id, event, response, error)
        with self._lock:
            self.outcomes.append(outcome)
            del self.outcomes[:-100]  # a long-running stack keeps only recent outcomes
        return outcome

    # --- background mode ---------------------------------------------------------------------------

    def start(self) -> ScheduleRunner:
        """Run the schedules on a daemon thread until :meth:`stop`."""
        if self._thread is None and self._entries:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        # Schedule time runs ``speedup`` times faster than the wall clock from the start.
        started_wall = self._clock()
        started_mono = time.monotonic()

        def schedule_now() -> datetime:
            return started_wall + timedelta(seconds=(time.monotonic() - started_mono) * self.speedup)

        due: list[tuple[datetime, int]] = [
            (entry.schedule.next_after(started_wall, started_wall), index)
            for index, entry in enumerate(self._entries)
        ]
        heapq.heapify(due)
        while due and not self._stop.is_set():
            at, index = due[0]
            wait_s = (at - schedule_now()).total_seconds() / self.speedup
            if wait_s > 0:
                self._stop.wait(min(wait_s, 1.0))
                continue
            heapq.heappop(due)
            entry = self._entries[index]
            try:
                self._invoke(entry)
            except Exception:  # a bad Input must not end the timer for the other schedules
                logger.exception(
                    "schedule %s.%s could not run", entry.function.logical_id, entry.source.event_id
                )
            heapq.heappush(due, (entry.schedule.next_after(max(at, schedule_now()), started_wall), index))

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the timer thread, waiting for an invocation in flight."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
