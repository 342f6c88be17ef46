"""The HTTP API under concurrent clients: latency at 1, 10 and 50 clients.

    .venv/bin/python bench/api_load.py [--database-url URL] [--clients 1,10,50] [--requests 20]

The API runs as the local stack serves it: the template's HTTP API (uvicorn, one worker thread
per request, as concurrent Lambda invocations) in front of the real handler (Mangum + FastAPI),
on a database seeded with a course of ``--students`` students over ``--days`` class days. Each
client is a thread with its own keep-alive connection asking, in turn, for a class report, a
student's history and today's classes. Prints the machine and one table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import httpx
from mangum import Mangum

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from machine import describe_machine  # noqa: E402

from cloud_functions.api.app import create_app  # noqa: E402
from cloud_functions.api.tokens import new_token_entry  # noqa: E402
from cloud_functions.core.db.engine import create_engine  # noqa: E402
from cloud_functions.core.db.schema import attendance, students  # noqa: E402
from cloud_functions.core.settings import ApiSettings  # noqa: E402
from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides  # noqa: E402
from infra.migrations import upgrade  # noqa: E402
from infra.seed import Slot, seed_campus  # noqa: E402

FIRST_DAY = date(2026, 8, 3)  # a Monday


def seed(database_url: str, n_students: int, n_days: int) -> tuple[list[str], list[date]]:
    """CS501 on Mondays in R101, ``n_students`` students and a mark for each on ``n_days`` Mondays."""
    upgrade(database_url)
    engine = create_engine(database_url)
    seed_campus(engine, [Slot("CS501", "R101", 0, clock_time(9), clock_time(10))])
    usns = [f"1BM24CS{i:03d}" for i in range(n_students)]
    days = [FIRST_DAY + timedelta(weeks=i) for i in range(n_days)]
    rng = random.Random(1)
    with engine.begin() as connection:
        connection.execute(
            students.insert(),
            [{"usn": u, "name": f"Student {u}", "created_at": datetime.now(UTC)} for u in usns],
        )
        rows = []
        for day in days:
            for usn in usns:
                status = rng.choices(["entered", "late", "present", "absent"], [70, 10, 10, 10])[0]
                seen = datetime.combine(day, clock_time(3, 32), UTC)
                rows.append(
                    {
                        "usn": usn,
                        "course_code": "CS501",
                        "class_date": day,
                        "room_id": "R101",
                        "first_seen_at": None if status == "absent" else seen,
                        "status": status,
                        "source": "manual" if status == "absent" else "face",
                        "updated_at": seen,
                    }
                )
        connection.execute(attendance.insert(), rows)
    engine.dispose()
    return usns, days


def run_clients(
    url: str, token: str, clients: int, requests: int, usns: list[str], days: list[date]
) -> list[float]:
    """Latencies (s) of ``clients`` x ``requests`` requests, all clients starting together."""
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)
    failures: list[str] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        paths = []
        for i in range(requests):
            kind = i % 3
            if kind == 0:
                paths.append(f"/attendance/CS501/{rng.choice(days).isoformat()}")
            elif kind == 1:
                paths.append(f"/students/{rng.choice(usns)}/attendance")
            else:
                paths.append("/classes/today")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            http.get("/health")
            barrier.wait()
            for path in paths:
                started = time.perf_counter()
                response = http.get(path)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    failures.append(f"{path}: {response.status_code}")
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[:3]}")
    return latencies


def main() -> None:
    """Seed, serve, load, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--clients", default="1,10,50", help="comma-separated client counts (1,10,50)")
    parser.add_argument("--requests", type=int, default=20, help="requests per client (20)")
    parser.add_argument("--students", type=int, default=60, help="students in the course (60)")
    parser.add_argument("--days", type=int, default=15, help="class days with marks (15)")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=ApiSettings.model_fields["db_pool_size"].default,
        help="connections per engine (CLASSSIGHT_DB_POOL_SIZE); the one process serves every client",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        database_url = args.database_url or f"sqlite:///{Path(scratch) / 'api_load.db'}"
        usns, days = seed(database_url, args.students, args.days)
        token, entry = new_token_entry("load", "teacher")
        with MotoEndpoint() as endpoint:
            stack = LocalStack.provision(
                endpoint.endpoint_url,
                parameter_overrides=local_parameter_overrides(database_url, stage="apiload"),
                stack_name="classsight-apiload",
            )
            settings = ApiSettings(
                database_url=database_url,
                bucket_name=stack.bucket_name,
                aws_endpoint_url=endpoint.endpoint_url,
                api_tokens=entry,
                db_pool_size=args.pool_size,
            )
            handler = Mangum(create_app(settings), lifespan="off")
            gateway = stack.http_api({"ApiFunction": handler}).start()
            try:
                print(describe_machine())
                print(
                    f"database: {database_url.split(':', 1)[0]}, {args.students} students x {args.days} "
                    f"class days, "
                    f"{args.requests} requests per client (report / history / today in turn)\n"
                )
                print(
                    f"{'clients':>7} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'req/s':>7}"
                )
                for clients in [int(c) for c in args.clients.split(",")]:
                    started = time.perf_counter()
                    latencies = run_clients(gateway.url, token, clients, args.requests, usns, days)
                    wall = time.perf_counter() - started
                    ordered = sorted(latencies)
                    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
                    cells = (
                        f"{clients}",
                        f"{len(latencies)}",
                        f"{statistics.median(ordered) * 1e3:.1f}",
                        f"{p95 * 1e3:.1f}",
                        f"{statistics.fmean(ordered) * 1e3:.1f}",
                        f"{len(latencies) / wall:.1f}",
                    )
                    print(" ".join(f"{c:>8}" for c in cells))
            finally:
                gateway.stop()


if __name__ == "__main__":
    main()
