"""Terms, days off and class sessions from the command line: the API's calendar operations.

    python -m infra.calendar terms add "Odd 2026" 2026-08-03 2026-11-27 --day-off "2026-10-02=Gandhi Jayanti"
    python -m infra.calendar terms list
    python -m infra.calendar terms update 1 --end 2026-12-04
    python -m infra.calendar days-off add 1 2026-11-13 "Diwali"
    python -m infra.calendar days-off remove 1 2026-11-13
    python -m infra.calendar generate 1                      # after timetable changes made elsewhere
    python -m infra.calendar sessions list --course CS501 --from 2026-11-01 --to 2026-11-30
    python -m infra.calendar sessions cancel 42 "teacher unwell"
    python -m infra.calendar sessions move 42 2026-11-26 14:00 15:00 --room R102 "lab booked"
    python -m infra.calendar sessions extra CS501 R101 2026-11-28 10:00 12:00 "revision class"
    python -m infra.calendar sessions mark-remaining 42 present "roll call on paper"
    python -m infra.calendar sweep                           # the absent sweep, now

Every command runs the same code and checks as the API (as an admin named ``cli:<user>`` in the
audit log), in one transaction: a refused command writes nothing. Creating or changing a term or
its days off regenerates its sessions. Exit status: 0 done, 1 refused (bad input, unknown term or
session, a clash), 2 invalid settings or no database.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.engine import Connection

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import calendar as crud
from cloud_functions.api.schemas import (
    ClassSessionCancel,
    ClassSessionExtra,
    ClassSessionMove,
    DayOffIn,
    IsoDate,
    MarkRemaining,
    TermCreate,
    TermUpdate,
)
from cloud_functions.core.db.engine import get_engine, transaction
from cloud_functions.core.errors import ClassSightError, ConfigurationError, DatabaseUnavailableError
from cloud_functions.core.settings import DatabaseSettings, SweepSettings, load_settings
from cloud_functions.core.sweep import sweep_absences


def _day_off(text: str) -> dict[str, str]:
    day, separator, reason = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD=reason, got {text!r}")
    return {"day": day.strip(), "reason": reason.strip()}


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m infra.calendar", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="overrides CLASSSIGHT_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)

    terms = commands.add_parser("terms", help="list, add, show, update or delete terms").add_subparsers(
        dest="action", required=True
    )
    terms.add_parser("list")
    add = terms.add_parser("add")
    add.add_argument("name")
    add.add_argument("start_date", metavar="START")
    add.add_argument("end_date", metavar="END")
    add.add_argument("--day-off", type=_day_off, action="append", default=[], metavar="DATE=REASON")
    show = terms.add_parser("show")
    show.add_argument("term_id", type=int)
    update = terms.add_parser("update")
    update.add_argument("term_id", type=int)
    update.add_argument("--name")
    update.add_argument("--start", dest="start_date")
    update.add_argument("--end", dest="end_date")
    delete = terms.add_parser("delete")
    delete.add_argument("term_id", type=int)

    days_off = commands.add_parser("days-off", help="add or remove a term's day off").add_subparsers(
        dest="action", required=True
    )
    day_add = days_off.add_parser("add")
    day_add.add_argument("term_id", type=int)
    day_add.add_argument("day")
    day_add.add_argument("reason")
    day_remove = days_off.add_parser("remove")
    day_remove.add_argument("term_id", type=int)
    day_remove.add_argument("day")

    generate = commands.add_parser("generate", help="regenerate a term's sessions from the timetable")
    generate.add_argument("term_id", type=int)

    sessions = commands.add_parser("sessions", help="list, cancel, move, add or mark class sessions")
    session_actions = sessions.add_subparsers(dest="action", required=True)
    listing = session_actions.add_parser("list")
    listing.add_argument("--term", dest="term_id", type=int)
    listing.add_argument("--course", dest="course_code")
    listing.add_argument("--room", dest="room_id")
    listing.add_argument("--from", dest="date_from")
    listing.add_argument("--to", dest="date_to")
    listing.add_argument("--status", choices=("scheduled", "cancelled"))
    cancel = session_actions.add_parser("cancel")
    cancel.add_argument("session_id", type=int)
    cancel.add_argument("reason")
    move = session_actions.add_parser("move")
    move.add_argument("session_id", type=int)
    move.add_argument("session_date", metavar="DATE")
    move.add_argument("start_time", metavar="START")
    move.add_argument("end_time", metavar="END")
    move.add_argument("reason")
    move.add_argument("--room", dest="room_id")
    extra = session_actions.add_parser("extra")
    for name in ("course_code", "room_id", "session_date", "start_time", "end_time", "reason"):
        extra.add_argument(name)
    mark = session_actions.add_parser("mark-remaining")
    mark.add_argument("session_id", type=int)
    mark.add_argument("status", choices=("present", "absent", "excused"))
    mark.add_argument("reason")

    sweep = commands.add_parser("sweep", help="run the absent sweep now (as the schedule does)")
    sweep.add_argument("--grace-min", type=float, default=None, help="default: CLASSSIGHT_SWEEP_GRACE (15)")
    return parser


_ISO_DATE: TypeAdapter[date] = TypeAdapter(IsoDate)


def _date(text: str | None) -> date | None:
    """A YYYY-MM-DD argument parsed as the API parses dates (ValidationError otherwise)."""
    return None if text is None else _ISO_DATE.validate_python(text)


Command = Callable[[Connection, Principal, datetime], Any]


def _command(args: argparse.Namespace) -> Command:
    """The operation the arguments name, validated as the API validates its bodies."""
    key = (args.command, getattr(args, "action", None))
    if key == ("terms", "list"):
        return lambda c, p, now: crud.list_terms(c)
    if key == ("terms", "add"):
        body = TermCreate(
            name=args.name,
            start_date=args.start_date,
            end_date=args.end_date,
            days_off=[DayOffIn.model_validate(d) for d in args.day_off],
        )
        return lambda c, p, now: crud.create_term(c, body, p, now)
    if key == ("terms", "show"):
        return lambda c, p, now: crud.get_term(c, args.term_id)
    if key == ("terms", "update"):
        fields = {
            k: getattr(args, k) for k in ("name", "start_date", "end_date") if getattr(args, k) is not None
        }
        update = TermUpdate.model_validate(fields)
        return lambda c, p, now: crud.update_term(c, args.term_id, update, p, now)
    if key == ("terms", "delete"):
        return lambda c, p, now: crud.delete_term(c, args.term_id, p)
    if key == ("days-off", "add"):
        day_off = DayOffIn(day=args.day, reason=args.reason)
        return lambda c, p, now: crud.put_day_off(c, args.term_id, day_off.day, day_off.reason, p, now)
    if key == ("days-off", "remove"):
        day = _ISO_DATE.validate_python(args.day)
        return lambda c, p, now: crud.delete_day_off(c, args.term_id, day, p, now)
    if args.command == "generate":
        return lambda c, p, now: crud.generate(c, args.term_id, p, now)
    if key == ("sessions", "list"):
        date_from, date_to = _date(args.date_from), _date(args.date_to)
        return lambda c, p, now: crud.list_sessions(
            c,
            p,
            term_id=args.term_id,
            course_code=args.course_code,
            room_id=args.room_id,
            date_from=date_from,
            date_to=date_to,
            status=args.status,
            limit=100_000,
        )
    if key == ("sessions", "cancel"):
        cancel = ClassSessionCancel(reason=args.reason)
        return lambda c, p, now: crud.cancel_session(c, args.session_id, cancel, p, now)
    if key == ("sessions", "move"):
        move = ClassSessionMove.model_validate(
            {k: getattr(args, k) for k in ("session_date", "start_time", "end_time", "room_id", "reason")}
        )
        return lambda c, p, now: crud.move_session(c, args.session_id, move, p, now)
    if key == ("sessions", "extra"):
        extra = ClassSessionExtra.model_validate(
            {
                k: getattr(args, k)
                for k in ("course_code", "room_id", "session_date", "start_time", "end_time", "reason")
            }
        )
        return lambda c, p, now: crud.add_extra_session(c, extra, p, now)
    if key == ("sessions", "mark-remaining"):
        mark = MarkRemaining(status=args.status, reason=args.reason)
        return lambda c, p, now: crud.mark_remaining(c, args.session_id, mark, p, now)
    raise ConfigurationError(f"unknown command {key}")  # pragma: no cover - argparse refuses first


def _print(result: Any) -> None:
    if result is None:
        print("done")
        return
    items: Sequence[Any] = result if isinstance(result, list) else [result]
    for item in items:
        data = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
        print(json.dumps(data, ensure_ascii=False))


def _database_url(args: argparse.Namespace) -> str:
    try:
        if args.database_url is not None:
            return DatabaseSettings(database_url=args.database_url).database_url
        return load_settings(DatabaseSettings).database_url
    except ValidationError as e:
        raise ConfigurationError(f"invalid settings: {e}") from None


def _sweep(args: argparse.Namespace, now: datetime) -> int:
    try:
        settings = SweepSettings(database_url=_database_url(args))
    except ValidationError as e:
        raise ConfigurationError(f"invalid settings: {e}") from None
    grace = settings.sweep_grace if args.grace_min is None else timedelta(minutes=args.grace_min)
    report = sweep_absences(get_engine(settings.database_url), now, grace)
    print(json.dumps(report.log_fields()))
    return 0


def main(argv: list[str] | None = None, *, now: datetime | None = None) -> int:
    """CLI entry point; returns the exit status. ``now`` stands in for the clock (tests)."""
    args = build_parser().parse_args(argv)
    now = now or datetime.now(UTC)
    actor = Principal(name=f"cli:{getpass.getuser()}", role="admin")
    try:
        if args.command == "sweep":
            return _sweep(args, now)
        try:
            command = _command(args)
        except ValidationError as e:
            for error in e.errors():
                where = ".".join(str(part) for part in error["loc"]) or "input"
                print(f"refused: {where}: {error['msg']}", file=sys.stderr)
            return 1
        engine = get_engine(_database_url(args))
        with transaction(engine) as connection:
            result = command(connection, actor, now)
    except (ConfigurationError, DatabaseUnavailableError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ClassSightError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
