"""The local end-to-end demo: ClassSight on one machine, no AWS account, real faces.

    python -m infra.demo [--people 8] [--database-url URL] [--port 4566] [--serve]

1. starts the local AWS endpoint on 127.0.0.1 and builds the stack from ``template.yaml``;
2. migrates the database and seeds two rooms, two courses, a timetable with CS501 running
   in R101 right now, and students made from the LFW photos (consent recorded);
3. enrolls each student by uploading three photos under ``enrollment/<usn>/`` — the enroll
   function turns them into faceprints (S3 → SQS → handler);
4. runs the doorway client (cam1) on a replay of a held-out photo of each student, each held
   in front of the "camera" for a few seconds: stable faces are cropped and uploaded through
   the durable outbox, face_match recognises them, writes attendance and publishes handoffs
   to R101's queue;
5. prints what each stage produced: enrollment outcomes, recognition events, handoffs on the
   room queue, and the attendance report;
6. a proxy attempt at the door: a printed photo of an enrolled student (NUAA dev sample, the
   student enrolled from their own live frames) held up to cam1 with liveness enforced: it is
   recorded ``spoof_suspected`` with an open flag, and marks nobody.

Door liveness and the LFW replay: the replay of step 4 is itself made of still photos (LFW), so
liveness runs in ``record_only`` for it (``CLASSSIGHT_LIVENESS_MODE``): every score is computed
and a suspicion is recorded as a flag, but attendance goes ahead. The proxy attempt runs with
``enforce``, the production default. The printed summary says which mode each part ran in.

With ``--serve`` the stack stays up afterwards with the HTTP API and the web portal (Ctrl-C
stops it); the portal URL, an admin token for this run and the edge clients' environment are
printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import get_engine
from cloud_functions.core.db.schema import attendance, enrollments, flags, recognition_events, students
from cloud_functions.core.settings import DEFAULT_MODELS_DIR, function_settings
from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides
from infra.local_stack.portal import PortalServer, session_admin_token
from infra.migrations import upgrade
from infra.seed import Person, Slot, lfw_people, seed_campus, seed_students

logger = logging.getLogger("infra.demo")

LFW = DEFAULT_MODELS_DIR.parent / "data" / "faces" / "lfw_subset"
TIMEZONE = "Asia/Kolkata"
ENROLL_PHOTOS = 3
ANTISPOOF = DEFAULT_MODELS_DIR.parent / "data" / "antispoof" / "nuaa_dev"
PROXY_SUBJECT = "0001"
PROXY_STUDENT = Person(
    "1CS23NU0001",
    "NUAA subject 0001",
    # The first live frames: later ones show a second, smaller face that enrollment refuses.
    tuple(sorted((ANTISPOOF / "real").glob(f"{PROXY_SUBJECT}_*.jpg"))[:ENROLL_PHOTOS]),
)


def _say(message: str) -> None:
    print(f"\n\033[1m== {message}\033[0m", flush=True)


def class_running_now(now: datetime) -> list[Slot]:
    """CS501 in R101 from 5 minutes ago for an hour (room-local), CS502 in R102 after it."""
    local = now.astimezone(ZoneInfo(TIMEZONE))
    start = (local - timedelta(minutes=5)).replace(second=0, microsecond=0)
    if start.date() != local.date():  # just after midnight: start at midnight
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = min(start + timedelta(hours=1), local.replace(hour=23, minute=59, second=0, microsecond=0))
    return [
        Slot("CS501", "R101", local.weekday(), start.time(), end.time()),
        Slot("CS502", "R102", local.weekday(), start.time(), end.time()),
    ]


def wait_until(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def enroll_through_bucket(stack: LocalStack, engine: Engine, people: list[Person]) -> None:
    s3 = stack.client("s3")
    uploaded = 0
    for person in people:
        for index, photo in enumerate(person.photos[:ENROLL_PHOTOS]):
            s3.put_object(
                Bucket=stack.bucket_name,
                Key=f"enrollment/{person.usn}/pose{index + 1}.jpg",
                Body=photo.read_bytes(),
                ContentType="image/jpeg",
            )
            uploaded += 1
    print(f"uploaded {uploaded} enrollment photos; waiting for the enroll function")
    wait_until(lambda: count(engine, enrollments) >= uploaded, 120, "enrollment")
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(enrollments.c.status, enrollments.c.reason, sa.func.count())
            .group_by(enrollments.c.status, enrollments.c.reason)
            .order_by(enrollments.c.status)
        ).all()
    for status, reason, n in rows:
        print(f"  {n:>3} {status:<9} {reason or ''}")


def run_doorway(stack: LocalStack, people: list[Person], workdir: Path) -> int:
    from edge_client.cam1.app import Cam1Runner
    from edge_client.cam1.replay import write_doorway_replay
    from edge_client.cam1.settings import Cam1Settings
    from edge_client.settings import load_edge_settings

    # The last photo of each student (never enrolled), then a visitor who is not a student.
    visitor = sorted((LFW / "unknown").rglob("*.jpg"))[0]
    held_out = [p.photos[-1] for p in people] + [visitor]
    replay = workdir / "doorway"
    segments = write_doorway_replay(replay, held_out, fps=10.0, hold_s=3.0, layout="gap")
    settings = load_edge_settings(
        Cam1Settings,
        source=str(replay),
        source_fps=10.0,
        realtime=True,
        room_id="R101",
        camera_id="R101-door",
        bucket_name=stack.bucket_name,
        aws_endpoint_url=stack.endpoint_url,
        aws_region=stack.region,
        outbox_path=workdir / "cam1-outbox.sqlite",
    )
    print(f"cam1 replays {len(segments)} people at the door of R101 (10 fps, ~3 s each)")
    summary = Cam1Runner(settings, drain_on_exit_s=30).run()
    print(
        f"  {summary.frames} frames at {summary.fps:.1f} fps, {summary.captures} captures, "
        f"{summary.uploaded} uploaded, {summary.pending} pending"
    )
    return summary.uploaded


def set_liveness_mode(mode: str) -> None:
    """Switch the mode for cam1 and face_match (their settings are read again on next use)."""
    from cloud_functions.face_match import handler as face_match

    os.environ["CLASSSIGHT_LIVENESS_MODE"] = mode
    function_settings.cache_clear()
    face_match.doorway_service.cache_clear()


def run_proxy_attempt(stack: LocalStack, engine: Engine, workdir: Path) -> dict[str, int]:
    """A printed photo of an enrolled student held up at the door, liveness enforced."""
    from edge_client.cam1.app import Cam1Runner
    from edge_client.cam1.replay import write_doorway_replay
    from edge_client.cam1.settings import Cam1Settings
    from edge_client.settings import load_edge_settings

    set_liveness_mode("enforce")
    # The second printed photo: the first is too blurry for cam1 to capture at all.
    printed = sorted((ANTISPOOF / "spoof").glob(f"{PROXY_SUBJECT}_*.jpg"))[1]
    replay = workdir / "proxy"
    write_doorway_replay(replay, [printed], fps=10.0, hold_s=3.0, layout="gap")
    before = count(engine, recognition_events)
    settings = load_edge_settings(
        Cam1Settings,
        source=str(replay),
        source_fps=10.0,
        realtime=True,
        room_id="R101",
        camera_id="R101-door",
        bucket_name=stack.bucket_name,
        aws_endpoint_url=stack.endpoint_url,
        aws_region=stack.region,
        outbox_path=workdir / "cam1-proxy-outbox.sqlite",
    )
    print(f"cam1 sees a printed photo of {PROXY_STUDENT.usn} held up at R101's door (liveness enforce)")
    summary = Cam1Runner(settings, drain_on_exit_s=30).run()
    wait_until(lambda: count(engine, recognition_events) >= before + summary.uploaded, 60, "face_match")
    with engine.connect() as connection:
        events = connection.execute(
            sa.select(recognition_events.c.outcome, recognition_events.c.usn, recognition_events.c.detail)
            .order_by(recognition_events.c.id.desc())
            .limit(summary.uploaded)
        ).all()
        open_flags = connection.execute(
            sa.select(flags.c.kind, flags.c.usn, flags.c.course_code, flags.c.evidence).where(
                flags.c.status == "open"
            )
        ).all()
        marked = connection.execute(
            sa.select(sa.func.count()).select_from(attendance).where(attendance.c.usn == PROXY_STUDENT.usn)
        ).scalar_one()
    for e in events:
        print(f"  {e.outcome:<16} {e.usn or '-':<11} {(e.detail or '')[:90]}")
    _say(f"open flags: {len(open_flags)}")
    for f in open_flags:
        evidence = json.loads(f.evidence)
        reasons = ",".join(evidence.get("reasons", []))
        print(f"  {f.kind:<16} {f.usn or '-':<11} {f.course_code}  mode {evidence.get('mode')}  {reasons}")
    print(f"  attendance rows for {PROXY_STUDENT.usn}: {marked}")
    spoofs = sum(e.outcome == "spoof_suspected" for e in events)
    return {"proxy_refused": spoofs, "proxy_marked": int(marked)}


def print_results(stack: LocalStack, engine: Engine, uploaded: int) -> dict[str, int]:
    wait_until(lambda: count(engine, recognition_events) >= uploaded, 60, "face_match")
    with engine.connect() as connection:
        outcomes = Counter(r.outcome for r in connection.execute(sa.select(recognition_events.c.outcome)))
        report = connection.execute(
            sa.select(
                attendance.c.course_code,
                attendance.c.class_date,
                attendance.c.usn,
                students.c.name,
                attendance.c.status,
                attendance.c.first_seen_at,
                attendance.c.similarity,
            )
            .join(students, students.c.usn == attendance.c.usn)
            .order_by(attendance.c.course_code, attendance.c.usn)
        ).all()
    _say("recognition events (face_match)")
    for outcome, n in sorted(outcomes.items()):
        print(f"  {outcome:<22} {n}")

    sqs = stack.client("sqs")
    handoffs = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=stack.room_queue_url("R101"), MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            body = json.loads(message["Body"])
            handoffs.append(json.loads(body["Message"]) if "TopicArn" in body else body)
            sqs.delete_message(QueueUrl=stack.room_queue_url("R101"), ReceiptHandle=message["ReceiptHandle"])
    _say(f"handoffs on R101's queue (SNS → SQS, filtered by room): {len(handoffs)}")
    for h in handoffs:
        print(f"  {h['usn']}  capture {h['capture_id'][:8]}  sim {h['similarity']:.3f}  {h['course_code']}")

    _say("attendance report")
    print(
        f"  {'course':<7} {'date':<10}  {'usn':<11} {'name':<24} {'status':<8} {'first seen (UTC)':<19} sim"
    )
    for r in report:
        print(
            f"  {r.course_code:<7} {r.class_date.isoformat():<10}  {r.usn:<11} {r.name:<24} {r.status:<8} "
            f"{r.first_seen_at:%Y-%m-%d %H:%M:%S}  {r.similarity:.3f}"
        )
    return {"recognised": outcomes.get("recognised", 0), "handoffs": len(handoffs), "attendance": len(report)}


def serve_until_stopped(stack: LocalStack, admin_token: str, api_port: int, portal_port: int) -> None:
    """Keep the stack up with the HTTP API and the portal until SIGINT/SIGTERM."""
    for key, value in stack.env("ApiFunction").items():
        os.environ.setdefault(key, value)  # the API reads its settings when imported
    gateway = stack.http_api(functions=["ApiFunction"], port=api_port).start()
    portal = PortalServer(portal_port).start()
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    _say("the stack stays up; Ctrl-C stops it")
    print(f"  web portal   {portal.url}")
    print(f"  HTTP API     {gateway.url}")
    print(f"  admin token  {admin_token}   (portal → Connection)")
    print("  environment for edge clients:")
    for name, value in stack.env().items():
        print(f"    export {name}={value}")
    for room_id in stack.room_ids:
        print(f"    export CLASSSIGHT_HANDOFF_QUEUE_URL={stack.room_queue_url(room_id)}  # cam2 of {room_id}")
    try:
        stop.wait()
    finally:
        portal.stop()
        gateway.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--people", type=int, default=8, help="students to enroll and replay (1-12, default 8)"
    )
    parser.add_argument("--database-url", help="database (default: a fresh SQLite file under var/demo/)")
    parser.add_argument(
        "--port", type=int, default=4566, help="port of the local AWS endpoint (default 4566)"
    )
    parser.add_argument(
        "--serve", action="store_true", help="afterwards keep the stack, API and portal up until Ctrl-C"
    )
    parser.add_argument("--api-port", type=int, default=3000, help="HTTP API port with --serve (3000)")
    parser.add_argument("--portal-port", type=int, default=8080, help="web portal port with --serve (8080)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    workdir = Path("var/demo")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    database_url = args.database_url or f"sqlite:///{workdir / 'classsight.db'}"
    people = lfw_people(LFW)[: max(1, min(args.people, 12))]

    _say(f"local AWS endpoint on 127.0.0.1:{args.port}, stack from template.yaml")
    with MotoEndpoint(args.port) as endpoint:
        admin_token, api_tokens = session_admin_token()
        stack = LocalStack.provision(
            endpoint.endpoint_url,
            parameter_overrides=local_parameter_overrides(
                database_url,
                stage="demo",
                ApiTokens=api_tokens,
                PortalOrigins=f"http://127.0.0.1:{args.portal_port}",
            ),
            stack_name="classsight-demo",
        )
        print(f"  bucket {stack.bucket_name}, topic {stack.handoff_topic_arn}")

        _say(f"database {database_url}: migrate and seed")
        upgrade(database_url)
        engine = get_engine(database_url)
        now = datetime.now(UTC)
        slots = class_running_now(now)
        seed_campus(engine, slots, timezone=TIMEZONE)
        seed_students(engine, [*people, PROXY_STUDENT])
        window = f"{slots[0].start:%H:%M}-{slots[0].end:%H:%M} {TIMEZONE}"
        print(f"  {len(people)} students; CS501 runs in R101 {window}")
        totals: dict[str, int] = {}

        os.environ.update(stack.env("FaceMatchFunction", CLASSSIGHT_DATABASE_URL=database_url))
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the demo prints its own summary
        # The local endpoint accepts any credentials; the edge client insists on having some.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        function_settings.cache_clear()
        stack.start_pollers(functions=["EnrollFunction", "FaceMatchFunction"], wait_s=1)
        try:
            _say("enrollment through the bucket (enroll function)")
            enroll_through_bucket(stack, engine, [*people, PROXY_STUDENT])
            # The LFW door replay is made of still photos: liveness is recorded, not enforced.
            set_liveness_mode("record_only")
            _say("doorway camera (cam1) → face_match  [liveness record_only: the replay is LFW photos]")
            uploaded = run_doorway(stack, people, workdir)
            totals = print_results(stack, engine, uploaded)
            _say("proxy attempt at the door → face_match  [liveness enforce]")
            totals |= run_proxy_attempt(stack, engine, workdir)
            if args.serve:
                serve_until_stopped(stack, admin_token, args.api_port, args.portal_port)
        finally:
            stack.stop_pollers()
    print("\nstopped; nothing left listening")
    proxy_held = totals.get("proxy_refused", 0) >= 1 and totals.get("proxy_marked", 1) == 0
    return 0 if totals["attendance"] == len(people) and proxy_held else 1


if __name__ == "__main__":
    sys.exit(main())
