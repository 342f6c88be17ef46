"""Term reports at college scale on MariaDB: registers, shortage lists, student history.

    python -m bench.reports                                   # 10,000 students x 5 courses x 60 sessions
    python -m bench.reports --students 2000 --runs 20 --json  # smaller, and a JSON line at the end

It creates a database (``--database``, default ``classsight_bench``) on the server of
``--server-url``, migrates it to head and loads one term: students in cohorts of
``--class-size`` (60), each cohort taking ``--courses`` courses of its own, each course meeting
``--sessions`` times, every student marked at every session (10,000 x 5 x 60 = 3,000,000
attendance rows), about 1% of the marks corrected. Rows are bulk loaded with ``LOAD DATA LOCAL
INFILE`` (foreign and unique checks off for the load; the migration's indexes are in place).

Then, through the HTTP API as the portal calls it (FastAPI's test client, an admin's token),
``--runs`` requests each on random courses and students:

* **register**: ``GET /reports/terms/{t}/courses/{c}/register`` (students x sessions, totals),
* **shortage list**: ``GET /reports/terms/{t}/courses/{c}/shortage``,
* **student history**: ``GET /reports/terms/{t}/students/{usn}`` (every course's percentage),
* and the register as XLSX, for the export's cost.

It prints p50/p95/max per request, the rows and SQL statements each reads, ``EXPLAIN`` of every
statement the register and the student history run (the indexes used), the CPU and the load,
and drops the database (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bench.machine import describe_machine
from cloud_functions.api.app import create_app
from cloud_functions.api.auth import token_digest
from cloud_functions.core.settings import ApiSettings
from infra.migrations import upgrade

TERM_START = date(2026, 7, 6)  # a Monday
TOKEN = "bench-admin-token"  # noqa: S105 - a local benchmark's token
STATUSES = ("entered", "present", "late", "absent", "excused")


@dataclass(frozen=True)
class Shape:
    students: int
    courses: int
    sessions: int
    class_size: int

    @property
    def cohorts(self) -> int:
        return math.ceil(self.students / self.class_size)

    @property
    def course_count(self) -> int:
        return self.cohorts * self.courses


def course_code(cohort: int, index: int) -> str:
    return f"C{cohort:04d}{index}"


def usn_of(number: int) -> str:
    return f"1BM26CS{number:05d}"


def session_date(index: int, course_index: int) -> date:
    # Each course meets three times a week; courses of a cohort on alternating days.
    week, slot = divmod(index, 3)
    return TERM_START + timedelta(days=7 * week + 2 * slot + course_index % 2)


def _load(connection: Any, table: str, columns: list[str], rows: Iterator[list[object]], folder: Path) -> int:
    """``LOAD DATA LOCAL INFILE`` of ``rows`` into ``table`` (through a CSV file); the row count."""
    path = folder / f"{table}.csv"
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for row in rows:
            writer.writerow(["\\N" if value is None else value for value in row])
            count += 1
    with connection.cursor() as cursor:
        cursor.execute(
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' "
            f"LINES TERMINATED BY '\\n' ({', '.join(columns)})"
        )
    path.unlink()
    return count


def fill(engine: Engine, shape: Shape, now: datetime, seed: int = 7) -> dict[str, int]:
    """One term of ``shape`` loaded in bulk; the row count of each table."""
    rng = np.random.default_rng(seed)
    stamp = now.replace(tzinfo=None).isoformat(sep=" ")
    # Each student's own attendance habit: most come to 80-98% of classes, some far less.
    habit = np.clip(rng.beta(8, 1.6, size=shape.students), 0.3, 0.995)
    counts: dict[str, int] = {}
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        assert dbapi is not None
        with dbapi.cursor() as cursor:
            cursor.execute("SET foreign_key_checks = 0")
            cursor.execute("SET unique_checks = 0")
        with tempfile.TemporaryDirectory(prefix="bench_reports_") as folder_name:
            folder = Path(folder_name)
            counts["rooms"] = _load(
                dbapi,
                "rooms",
                ["room_id", "name", "timezone"],
                ([f"R{k:04d}", f"Room {k}", "Asia/Kolkata"] for k in range(shape.cohorts)),
                folder,
            )
            counts["courses"] = _load(
                dbapi,
                "courses",
                ["course_code", "title"],
                (
                    [course_code(k, j), f"Course {j} of cohort {k}"]
                    for k in range(shape.cohorts)
                    for j in range(shape.courses)
                ),
                folder,
            )
            counts["students"] = _load(
                dbapi,
                "students",
                ["usn", "name", "section", "created_at"],
                (
                    [usn_of(n), f"Student {n}", f"S{n // shape.class_size}", stamp]
                    for n in range(shape.students)
                ),
                folder,
            )
            last_day = max(session_date(shape.sessions - 1, j) for j in range(shape.courses))
            with dbapi.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO terms (term_id, name, start_date, end_date, created_at) "
                    "VALUES (1, %s, %s, %s, %s)",
                    ("Bench term", TERM_START, last_day + timedelta(days=3), stamp),
                )
            counts["terms"] = 1

            def members(cohort: int) -> range:
                return range(cohort * shape.class_size, min(shape.students, (cohort + 1) * shape.class_size))

            counts["course_rosters"] = _load(
                dbapi,
                "course_rosters",
                ["course_code", "usn", "section", "updated_at"],
                (
                    [course_code(k, j), usn_of(n), f"S{k}", stamp]
                    for k in range(shape.cohorts)
                    for j in range(shape.courses)
                    for n in members(k)
                ),
                folder,
            )
            counts["class_sessions"] = _load(
                dbapi,
                "class_sessions",
                [
                    "term_id",
                    "course_code",
                    "room_id",
                    "session_date",
                    "start_time",
                    "end_time",
                    "status",
                    "origin",
                    "updated_at",
                ],
                (
                    [
                        1,
                        course_code(k, j),
                        f"R{k:04d}",
                        session_date(i, j),
                        clock_time(8 + j).isoformat(),
                        clock_time(9 + j).isoformat(),
                        "scheduled",
                        "timetable",
                        stamp,
                    ]
                    for k in range(shape.cohorts)
                    for j in range(shape.courses)
                    for i in range(shape.sessions)
                ),
                folder,
            )
            corrections: list[list[object]] = []

            def attendance_rows() -> Iterator[list[object]]:
                for k in range(shape.cohorts):
                    for j in range(shape.courses):
                        code = course_code(k, j)
                        for n in members(k):
                            draws = rng.random(shape.sessions)
                            second_looks = rng.random(shape.sessions)
                            for i in range(shape.sessions):
                                day = session_date(i, j)
                                u = draws[i]
                                status = (
                                    "entered"
                                    if u < habit[n] * 0.9
                                    else "late"
                                    if u < habit[n]
                                    else "excused"
                                    if u > 0.985
                                    else "absent"
                                )
                                seen = (
                                    datetime.combine(day, clock_time(2 + j, 32, 7)).isoformat(sep=" ")
                                    if status in ("entered", "late")
                                    else None
                                )
                                source = (
                                    "sweep"
                                    if status == "absent"
                                    else "manual"
                                    if status == "excused"
                                    else "face"
                                )
                                if status == "absent" and second_looks[i] < 0.1:
                                    corrections.append(
                                        [
                                            usn_of(n),
                                            code,
                                            day,
                                            "entered",
                                            "absent",
                                            "left after ten minutes",
                                            "Bench Teacher",
                                            stamp,
                                        ]
                                    )
                                yield [usn_of(n), code, day, f"R{k:04d}", seen, status, source, stamp]

            counts["attendance"] = _load(
                dbapi,
                "attendance",
                [
                    "usn",
                    "course_code",
                    "class_date",
                    "room_id",
                    "first_seen_at",
                    "status",
                    "source",
                    "updated_at",
                ],
                attendance_rows(),
                folder,
            )
            counts["attendance_corrections"] = _load(
                dbapi,
                "attendance_corrections",
                [
                    "usn",
                    "course_code",
                    "class_date",
                    "old_status",
                    "new_status",
                    "reason",
                    "corrected_by",
                    "corrected_at",
                ],
                iter(corrections),
                folder,
            )
        dbapi.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(
            sa.text("ANALYZE TABLE attendance, course_rosters, class_sessions, attendance_corrections")
        )
    return counts


def _counts(engine: Engine) -> dict[str, int]:
    tables = ("rooms", "courses", "students", "terms", "course_rosters", "class_sessions", "attendance")
    with engine.connect() as connection:
        counts = {
            t: int(connection.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one())  # noqa: S608 - fixed names
            for t in tables
        }
        counts["attendance_corrections"] = int(
            connection.execute(sa.text("SELECT COUNT(*) FROM attendance_corrections")).scalar_one()
        )
    return counts


@contextmanager
def captured_statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement ``engine`` runs inside the block, with its parameters."""
    statements: list[tuple[str, Any]] = []

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """EXPLAIN of each SELECT in ``statements``: per table, the access type, the index and the rows."""
    plans = []
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN " + statement, parameters)
                names = [d[0] for d in cursor.description]
                for row in cursor.fetchall():
                    plan = dict(zip(names, row, strict=True))
                    plans.append(
                        {
                            "statement": " ".join(statement.split())[:90],
                            "table": plan.get("table"),
                            "type": plan.get("type"),
                            "key": plan.get("key"),
                            "rows": plan.get("rows"),
                            "extra": plan.get("Extra"),
                        }
                    )
    finally:
        raw.close()
    return plans


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--courses", type=int, default=5, help="courses per student")
    parser.add_argument("--sessions", type=int, default=60, help="sessions per course in the term")
    parser.add_argument("--class-size", type=int, default=60, help="students per course")
    parser.add_argument("--runs", type=int, default=30, help="requests of each kind")
    parser.add_argument("--server-url", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--database", default="classsight_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database kept by an earlier --keep run (no load)"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args(argv)
    shape = Shape(args.students, args.courses, args.sessions, args.class_size)
    server = sa.create_engine(args.server_url)
    url = make_url(args.server_url).set(database=args.database).render_as_string(hide_password=False)
    if not args.reuse:
        with server.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{args.database}`"))
            connection.execute(sa.text(f"CREATE DATABASE `{args.database}` CHARACTER SET utf8mb4"))
    try:
        return _run(args, shape, url)
    finally:
        if not args.keep:
            with server.begin() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{args.database}`"))
        server.dispose()


def _run(args: argparse.Namespace, shape: Shape, url: str) -> int:
    started = time.perf_counter()
    upgrade(url)
    migrated_s = time.perf_counter() - started
    loader = sa.create_engine(url, connect_args={"local_infile": True, "charset": "utf8mb4"})
    last_day = max(session_date(shape.sessions - 1, j) for j in range(shape.courses))
    now = datetime.combine(last_day + timedelta(days=1), clock_time(12), tzinfo=UTC)
    started = time.perf_counter()
    counts = _counts(loader) if args.reuse else fill(loader, shape, now)
    load_s = time.perf_counter() - started
    loader.dispose()
    print(describe_machine())
    print(
        f"loaded {counts['attendance']:,} attendance rows ({shape.students:,} students x "
        f"{shape.courses} courses x {shape.sessions} sessions; {shape.course_count} courses of "
        f"{shape.class_size}) in {load_s:.1f} s{' (reused: counted only)' if args.reuse else ''} "
        f"(migrations {migrated_s:.1f} s); {counts['attendance_corrections']:,} corrections"
    )
    settings = ApiSettings(
        database_url=url,
        bucket_name="classsight-bench",
        api_tokens={token_digest(TOKEN): {"name": "Bench Admin", "role": "admin"}},
    )
    app = create_app(settings, clock=lambda: now)
    engine: Engine = app.state.engine
    headers = {"Authorization": f"Bearer {TOKEN}"}
    rng = random.Random(11)

    def any_course() -> str:
        code = course_code(rng.randrange(shape.cohorts), rng.randrange(shape.courses))
        return f"/reports/terms/1/courses/{code}"

    requests = {
        "register": lambda: f"{any_course()}/register",
        "shortage list": lambda: f"{any_course()}/shortage",
        "student history": lambda: f"/reports/terms/1/students/{usn_of(rng.randrange(shape.students))}",
        "register.xlsx": lambda: f"{any_course()}/register.xlsx",
    }
    results: dict[str, dict[str, Any]] = {}
    plans: dict[str, list[dict[str, Any]]] = {}
    with TestClient(app) as client:
        for name, path_of in requests.items():
            client.get(path_of(), headers=headers)  # warm the pool and the route
            timings = []
            for _ in range(args.runs):
                path = path_of()
                with captured_statements(engine) as statements:
                    begun = time.perf_counter()
                    response = client.get(path, headers=headers)
                    timings.append((time.perf_counter() - begun) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")
            body = response.content
            if name in ("register", "student history"):
                plans[name] = explain(engine, statements)
            items = 0
            if name != "register.xlsx":
                document = json.loads(body)
                items = len(
                    document.get("lines") or document.get("students") or document.get("courses") or []
                )
            results[name] = {
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(percentile(timings, 0.95), 1),
                "max_ms": round(max(timings), 1),
                "statements": len(statements),
                "response_items": items,
                "response_bytes": len(body),
            }
    app.state.engine.dispose()
    print(
        f"\n{'request':<18}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'SQL':>6}{'items':>7}{'bytes':>10}"
        f"   ({args.runs} runs each)"
    )
    for name, figures in results.items():
        print(
            f"{name:<18}{figures['p50_ms']:>9}{figures['p95_ms']:>9}{figures['max_ms']:>9}"
            f"{figures['statements']:>6}{figures['response_items']:>7}{figures['response_bytes']:>10}"
        )
    print("\nrows loaded: " + ", ".join(f"{table} {count:,}" for table, count in counts.items()))
    for name, plan in plans.items():
        print(f"\nEXPLAIN, {name} (every statement of one request):")
        print(f"  {'table':<24}{'type':<8}{'key':<48}{'rows':>7}  statement")
        for step in plan:
            print(
                f"  {step['table']!s:<24}{step['type']!s:<8}{step['key']!s:<48}{step['rows']!s:>7}  "
                f"{step['statement'][:60]}"
            )
    print("\n" + describe_machine())
    if args.json:
        print(
            json.dumps(
                {
                    "shape": shape.__dict__,
                    "load_s": round(load_s, 1),
                    "rows": counts,
                    "requests": results,
                    "explain": plans,
                    "machine": describe_machine(),
                },
                default=str,
            )
        )
    worst = max(figures["p95_ms"] for name, figures in results.items() if name != "register.xlsx")
    return 0 if worst <= 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
