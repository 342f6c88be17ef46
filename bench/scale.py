"""Class-start burst on the local stack: thousands of door captures, a campus gallery, MariaDB.

    python -m bench.scale                                   # 10,000 students, 100 rooms, 300 captures
    python -m bench.scale --captures 3000 --minutes 10      # the full burst
    python -m bench.scale --students 50 --rooms 3 --captures 20 --json

What it does:

1. drops and creates the bench database (``--database-url``, default ``classsight_bench_scale`` on
   the local MariaDB), migrates it and seeds ``--rooms`` rooms, each with a course running now
   (weekly timetable) and a roster of its share of ``--students`` students; every student has
   consent and five faceprints (random unit vectors: 50,000 for 10,000 students);
2. makes the door captures real JPEGs: every LFW-subset photo, and its mirror image, whose face
   the pipeline accepts and that is not too close (cosine > ``DISTINCT_BELOW``) to one already
   taken becomes the ``front`` faceprint of one student (replacing a random one), spread over the
   rooms; the captures are drawn from these students with repeats, so attendance must dedupe;
3. starts the local endpoint, provisions ``template.yaml`` and a function host (the pollers in a
   child process, as Lambda would run them), then uploads the captures to the bucket with their
   metadata, ``captured_at`` spread over the last ``--minutes`` minutes; uploads go as fast as
   the endpoint takes them, or ``--speedup`` times faster than real time;
4. waits until every capture has its recognition event and prints: throughput, per-capture
   handler time (``recognition_events.latency_ms``) and upload-to-event time p50/p95, the
   outcomes, whether the attendance rows are exact (one per student and class that appeared, no
   other, no duplicate), the messages left in every dead-letter queue, the machine and its load.

Recognition itself is certain here (a capture is the very photo enrolled): the figures are the
stack's throughput and exactness under a burst, not accuracy (``bench/faces.py``,
``bench/roster_first.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bench.machine import describe_machine
from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.faceprints import embedding_to_bytes
from cloud_functions.core.db.schema import (
    attendance,
    course_rosters,
    courses,
    faceprints,
    recognition_events,
    rooms,
    students,
    timetable,
)
from cloud_functions.core.faces import FacePipeline, FaceRejectedError
from cloud_functions.core.settings import FaceModelSettings
from contracts.captures import FaceCaptureMetadata
from contracts.keys import face_capture_key
from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides
from infra.local_stack.host import FunctionHostProcess
from infra.migrations import upgrade

REPO_ROOT = Path(__file__).resolve().parents[1]
LFW = REPO_ROOT.parent / "shared" / "data" / "faces" / "lfw_subset"
DEFAULT_DATABASE_URL = "mysql+pymysql://root@127.0.0.1:3306/classsight_bench_scale"
POSES = ("front", "left", "right", "up", "down")
DISTINCT_BELOW = 0.8
"""Two capture photos enrolled as two students are at most this similar, so each capture leads
every other student by far more than the margin (LFW photos of one person reach 0.7)."""
STAGE = "scale"
# Zones tried in turn for the rooms, so the simulated class never crosses a local midnight.
_ZONES = ("Asia/Kolkata", "UTC", "America/New_York", "Pacific/Auckland")


@dataclass(frozen=True)
class Face:
    """One capture photo: the JPEG uploaded at the door and the embedding enrolled for it."""

    name: str
    jpeg: bytes
    embedding: np.ndarray


@dataclass(frozen=True)
class Capture:
    key: str
    usn: str
    room_id: str
    offset_s: float
    body: bytes
    metadata: dict[str, str]


def _unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fresh_database(url: str) -> None:
    """Drop and create the database ``url`` names (MariaDB/MySQL), or remove the SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).unlink(missing_ok=True)
        return
    name = parsed.database
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"--database-url must name a plain database to drop and create, not {name!r}")
    server = sa.create_engine(parsed.set(database=""))
    with server.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    server.dispose()


def capture_faces(pipeline: FacePipeline, limit: int) -> list[Face]:
    """Distinct capture photos: LFW-subset photos and their mirror images the pipeline accepts."""
    photos = sorted(LFW.glob("*/*/*.jpg"))
    if not photos:
        raise SystemExit(f"no LFW photos under {LFW}")
    candidates: list[tuple[str, bytes]] = []
    for photo in photos:
        data = photo.read_bytes()
        candidates.append((photo.stem, data))
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        ok, mirrored = cv2.imencode(".jpg", cv2.flip(image, 1), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if ok:
            candidates.append((f"{photo.stem}-mirrored", mirrored.tobytes()))
    faces: list[Face] = []
    for name, data in candidates:
        if len(faces) >= limit:
            break
        try:
            analysis = pipeline.analyse(data, "capture")
        except FaceRejectedError:
            continue
        vector = np.asarray(analysis.embedding, dtype=np.float32)
        if faces and float(np.max(np.stack([f.embedding for f in faces]) @ vector)) > DISTINCT_BELOW:
            continue
        faces.append(Face(name, data, vector))
    return faces


def _zone_for(window_start: datetime, window_end: datetime) -> tuple[str, clock_time, clock_time]:
    """A zone where the class (window plus margins) falls on one local day, and its local times."""
    for zone_name in _ZONES:
        zone = ZoneInfo(zone_name)
        start = (window_start - timedelta(minutes=5)).astimezone(zone)
        end = (window_end + timedelta(hours=1)).astimezone(zone)
        if start.date() == end.date():
            return zone_name, start.time().replace(microsecond=0), end.time().replace(microsecond=0)
    raise SystemExit("no zone keeps the class on one local day")


def seed(
    engine: Engine,
    *,
    n_students: int,
    n_rooms: int,
    faces: list[Face],
    window_start: datetime,
    window_end: datetime,
    model_id: str,
) -> dict[str, list[str]]:
    """Rooms with a class running now and rosters; students with faceprints. Returns each room's
    students who have a capture photo (the ``front`` faceprint of student ``i`` is face ``i``)."""
    zone_name, start, end = _zone_for(window_start, window_end)
    now = datetime.now(UTC)
    room_ids = [f"R{i:03d}" for i in range(1, n_rooms + 1)]
    usns = [f"S{i:05d}" for i in range(n_students)]
    room_of = {usn: room_ids[i % n_rooms] for i, usn in enumerate(usns)}
    dim = int(faces[0].embedding.shape[0])
    vectors = _unit_vectors(n_students * len(POSES), dim, seed=0)
    with engine.begin() as connection:
        connection.execute(
            rooms.insert(),
            [
                {
                    "room_id": r,
                    "name": f"Room {r}",
                    "cam1_id": f"{r}-door",
                    "cam2_id": f"{r}-room",
                    "timezone": zone_name,
                }
                for r in room_ids
            ],
        )
        connection.execute(
            courses.insert(), [{"course_code": f"C{r}", "title": f"Course of {r}"} for r in room_ids]
        )
        connection.execute(
            timetable.insert(),
            [
                {
                    "course_code": f"C{r}",
                    "room_id": r,
                    "weekday": window_start.astimezone(ZoneInfo(zone_name)).weekday(),
                    "start_time": start,
                    "end_time": end,
                }
                for r in room_ids
            ],
        )
        connection.execute(
            students.insert(),
            [{"usn": u, "name": f"Student {u}", "consent_given_at": now, "created_at": now} for u in usns],
        )
        connection.execute(
            course_rosters.insert(),
            [{"course_code": f"C{room_of[u]}", "usn": u, "section": "A", "updated_at": now} for u in usns],
        )
        batch: list[dict[str, Any]] = []
        for row, vector in enumerate(vectors):
            student, pose = divmod(row, len(POSES))
            if pose == 0 and student < len(faces):
                vector = faces[student].embedding
            batch.append(
                {
                    "usn": usns[student],
                    "pose": POSES[pose],
                    "model_id": model_id,
                    "dim": dim,
                    "embedding": embedding_to_bytes(vector),
                    "created_at": now,
                }
            )
            if len(batch) == 5_000:
                connection.execute(faceprints.insert(), batch)
                batch = []
        if batch:
            connection.execute(faceprints.insert(), batch)
    photographed: dict[str, list[str]] = {}
    for usn in usns[: len(faces)]:
        photographed.setdefault(room_of[usn], []).append(usn)
    return photographed


def plan_captures(
    faces: list[Face], n_rooms: int, n_captures: int, minutes: float, window_start: datetime, seed_value: int
) -> list[Capture]:
    """``n_captures`` door captures of the photographed students, with repeats, over the window.

    Student ``i`` (face ``i``) sits in room ``i % n_rooms``, as ``seed`` puts them on rosters.
    """
    rng = np.random.default_rng(seed_value)
    offsets = np.sort(rng.uniform(0, minutes * 60, n_captures))
    # Every photographed student appears once before anyone repeats (when there are captures enough).
    who = np.concatenate([rng.permutation(len(faces)), rng.integers(0, len(faces), n_captures)])
    captures = []
    for offset, student in zip(offsets, who[:n_captures].tolist(), strict=True):
        room_id = f"R{student % n_rooms + 1:03d}"
        captured_at = window_start + timedelta(seconds=float(offset))
        capture_id = uuid.uuid4().hex
        metadata = FaceCaptureMetadata(
            room_id=room_id, camera_id=f"{room_id}-door", captured_at=captured_at, capture_id=capture_id
        )
        captures.append(
            Capture(
                key=face_capture_key(room_id, captured_at, capture_id),
                usn=f"S{student:05d}",
                room_id=room_id,
                offset_s=float(offset),
                body=faces[student].jpeg,
                metadata=metadata.to_s3(),
            )
        )
    return captures


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def dlq_messages(stack: LocalStack) -> dict[str, int]:
    """Messages (visible and in flight) in every dead-letter queue of the stack."""
    sqs = stack.client("sqs")
    counts = {}
    for logical_id, resource in stack.resources.items():
        if resource.type == "AWS::SQS::Queue" and "DLQ" in logical_id:
            attributes = sqs.get_queue_attributes(
                QueueUrl=resource.physical_id,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            counts[logical_id] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
    return counts


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    url = args.database_url or DEFAULT_DATABASE_URL
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    # The captures are still photos: liveness is scored and recorded, not enforced.
    os.environ["CLASSSIGHT_LIVENESS_MODE"] = "record_only"
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    started = time.perf_counter()
    fresh_database(url)
    upgrade(url)
    engine = create_engine(url)
    with MotoEndpoint() as endpoint:
        parameters = local_parameter_overrides(url, stage=STAGE)
        stack = LocalStack.provision(
            endpoint.endpoint_url, parameter_overrides=parameters, stack_name=f"classsight-{STAGE}"
        )
        os.environ.update(stack.env("FaceMatchFunction", CLASSSIGHT_DATABASE_URL=url))
        pipeline = FacePipeline.from_settings(FaceModelSettings())
        # About two captures in three are a student's first: the rest are repeats to dedupe.
        faces = capture_faces(pipeline, min(args.students, max(1, 2 * args.captures // 3)))
        if not faces:
            raise SystemExit("the pipeline accepted no LFW photo")
        window_end = datetime.now(UTC)
        window_start = window_end - timedelta(minutes=args.minutes)
        photographed = seed(
            engine,
            n_students=args.students,
            n_rooms=args.rooms,
            faces=faces,
            window_start=window_start,
            window_end=window_end + timedelta(minutes=30),
            model_id=pipeline.model_id,
        )
        captures = plan_captures(faces, args.rooms, args.captures, args.minutes, window_start, args.seed)
        expected = {(c.usn, f"C{c.room_id}") for c in captures}
        seed_s = time.perf_counter() - started

        hosts = [
            FunctionHostProcess(
                stack.endpoint_url,
                url,
                workdir / f"function-host-{i}.log",
                stage=STAGE,
                parameters=parameters,
                log_level="WARNING",
            )
            for i in range(args.hosts)
        ]
        for host in hosts:
            host.start()
        put_wall: dict[str, datetime] = {}
        lock = threading.Lock()
        try:
            local = threading.local()

            def put(capture: Capture, begin: float) -> None:
                if args.speedup > 0:
                    delay = begin + capture.offset_s / args.speedup - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                if not hasattr(local, "s3"):
                    local.s3 = stack.client("s3")
                sent = datetime.now(UTC)
                local.s3.put_object(
                    Bucket=stack.bucket_name,
                    Key=capture.key,
                    Body=capture.body,
                    Metadata=capture.metadata,
                    ContentType="image/jpeg",
                )
                with lock:
                    put_wall[capture.key] = sent

            begin = time.perf_counter()
            with ThreadPoolExecutor(max_workers=4) as pool:
                for future in [pool.submit(put, c, begin) for c in captures]:
                    future.result()
            upload_s = time.perf_counter() - begin
            deadline = time.monotonic() + args.timeout_s
            while (done := _count(engine, recognition_events)) < len(captures):
                if time.monotonic() > deadline:
                    raise SystemExit(f"timed out: {done} of {len(captures)} captures processed")
                time.sleep(0.5)
            total_s = time.perf_counter() - begin
            time.sleep(2)  # a redelivery or a late retry would show in the counts below
            dlq = dlq_messages(stack)
            sqs = stack.client("sqs")
            left = sqs.get_queue_attributes(
                QueueUrl=stack.queue_url("FaceMatchFunction"),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        finally:
            for host in hosts:
                host.stop()

    with engine.connect() as connection:
        events = connection.execute(
            sa.select(
                recognition_events.c.object_key,
                recognition_events.c.outcome,
                recognition_events.c.usn,
                recognition_events.c.latency_ms,
                recognition_events.c.created_at,
            )
        ).all()
        marks = connection.execute(
            sa.select(
                attendance.c.usn, attendance.c.course_code, attendance.c.class_date, attendance.c.source
            )
        ).all()
    engine.dispose()

    by_key = {c.key: c for c in captures}
    outcomes = Counter(e.outcome for e in events)
    wrong = sum(1 for e in events if e.usn != by_key[e.object_key].usn)
    handler_ms = [float(e.latency_ms) for e in events if e.latency_ms is not None]
    end_to_end_ms = [(_utc(e.created_at) - put_wall[e.object_key]).total_seconds() * 1e3 for e in events]
    keys = [(m.usn, m.course_code, m.class_date) for m in marks]
    duplicates = len(keys) - len(set(keys))
    marked = {(m.usn, m.course_code) for m in marks}
    rows_exact = marked == expected and duplicates == 0 and len(keys) == len(expected)
    throughput = len(events) / total_s
    figures: dict[str, Any] = {
        "students": args.students,
        "rooms": args.rooms,
        "captures": len(captures),
        "photographed_students": len(faces),
        "faceprints": args.students * len(POSES),
        "minutes": args.minutes,
        "speedup": args.speedup,
        "hosts": args.hosts,
        "seed_s": round(seed_s, 1),
        "upload_s": round(upload_s, 2),
        "total_s": round(total_s, 2),
        "throughput_per_s": round(throughput, 2),
        "handler_p50_ms": round(statistics.median(handler_ms), 1),
        "handler_p95_ms": round(_percentile(handler_ms, 0.95), 1),
        "end_to_end_p50_ms": round(statistics.median(end_to_end_ms), 1),
        "end_to_end_p95_ms": round(_percentile(end_to_end_ms, 0.95), 1),
        "outcomes": dict(outcomes),
        "wrong_student": wrong,
        "attendance_rows": len(keys),
        "expected_rows": len(expected),
        "duplicate_rows": duplicates,
        "rows_exact": rows_exact,
        "dlq_messages": sum(dlq.values()),
        "queue_left": int(left["ApproximateNumberOfMessages"])
        + int(left["ApproximateNumberOfMessagesNotVisible"]),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    per_room = [len(v) for v in photographed.values()]
    rows = [
        ("machine", describe_machine()),
        ("database", make_url(url).get_backend_name()),
        (
            "campus",
            f"{args.students} students ({figures['faceprints']} faceprints), {args.rooms} rooms with a class "
            f"running, {len(faces)} students with a capture photo ({min(per_room)}-{max(per_room)} a room)",
        ),
        (
            "captures",
            f"{len(captures)} over {args.minutes:g} simulated minutes, "
            + (
                f"uploaded at {args.speedup:g}x real time"
                if args.speedup > 0
                else "uploaded as fast as taken"
            )
            + f" ({upload_s:.1f} s, 4 threads); {args.hosts} function host(s)",
        ),
        ("seed + provision", f"{seed_s:.1f} s"),
        ("all processed after", f"{total_s:.1f} s from the first upload"),
        ("throughput", f"{throughput:.2f} captures/s"),
        (
            "handler time per capture (latency_ms), p50 / p95",
            f"{figures['handler_p50_ms']} / {figures['handler_p95_ms']} ms",
        ),
        (
            "upload -> recognition event, p50 / p95",
            f"{figures['end_to_end_p50_ms']} / {figures['end_to_end_p95_ms']} ms",
        ),
        ("outcomes", ", ".join(f"{name} {n}" for name, n in outcomes.most_common())),
        ("events naming another student", str(wrong)),
        (
            "attendance rows / expected (student, class) / duplicates",
            f"{len(keys)} / {len(expected)} / {duplicates} -> {'exact' if rows_exact else 'NOT exact'}",
        ),
        (
            "dead-letter queue messages",
            f"{sum(dlq.values())} ({', '.join(f'{k} {v}' for k, v in dlq.items())})",
        ),
        ("face capture queue left", str(figures["queue_left"])),
        ("load average at the end", ", ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]
    return rows, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--students", type=int, default=10_000, help="five faceprints each")
    parser.add_argument("--rooms", type=int, default=100, help="each with a class running and a roster")
    parser.add_argument("--captures", type=int, default=300, help="door captures (the full burst: 3000)")
    parser.add_argument("--minutes", type=float, default=10.0, help="simulated time the captures span")
    parser.add_argument(
        "--speedup",
        type=float,
        default=0.0,
        help="upload at this many times real time (0: as fast as possible)",
    )
    parser.add_argument("--hosts", type=int, default=1, help="function host processes polling the queues")
    parser.add_argument(
        "--database-url", default=None, help=f"dropped and created (default {DEFAULT_DATABASE_URL})"
    )
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="give up waiting after this long")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of the figures")
    args = parser.parse_args(argv)
    if args.rooms < 1 or args.students < args.rooms or args.captures < 1:
        parser.error("need at least one room, a student per room and one capture")
    environment = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            rows, figures = run(args, Path(tmp))
    finally:  # run() sets the stack's environment for the function host it starts
        os.environ.clear()
        os.environ.update(environment)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    if args.json:
        print(json.dumps(figures))
    return 0 if figures["rows_exact"] and figures["dlq_messages"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
