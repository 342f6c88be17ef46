"""The local end-to-end demo: ClassSight on one machine, no AWS account, real faces.

    python -m infra.demo [--people 8] [--database-url URL] [--port 4566] [--json] [--seed N]
                         [--function-host inline|process] [--kill-function-host-at S] [--serve]

1. starts the local AWS endpoint on 127.0.0.1 and builds the stack from ``template.yaml``;
2. migrates the database and seeds two rooms, two courses, a timetable with CS501 running
   in R101 right now, and students made from the LFW photos (consent recorded); then a realistic
   term around it (``infra.seed.seed_realistic_term``): four courses with rosters of 30-60 (the
   LFW students and named students without photos), a day off, a cancelled class, and six weeks of
   past classes with varied marks, so percentages, shortages and absences show at once;
3. enrolls each student by uploading three photos under ``enrollment/<usn>/`` — the enroll
   function turns them into faceprints (S3 → SQS → handler);
4. runs both cameras of R101 at once (:mod:`infra.demo_room`): cam2 replays a real MOT room
   sequence with a door zone, cam1 a doorway replay timed so that each student's face is stable
   one walk delay before the ground-truth person they are paired with walks in; face_match
   recognises the door captures and publishes handoffs to R101's queue, cam2 tags the entering
   tracks, its presence reports confirm attendance, body crops go to body_match;
5. prints per student the door time, match confidence, cam2 track, tag and confirmation times,
   the strangers in the room, the register, and with ``--json`` the figures as one JSON line;
6. a proxy attempt at the door: a printed photo of an enrolled student (NUAA dev sample, the
   student enrolled from their own live frames) held up to cam1 with liveness enforced: it is
   recorded ``spoof_suspected`` with an open flag, and marks nobody.

Door liveness and the LFW replay: the door replay of step 4 is itself made of still photos (LFW), so
liveness runs in ``record_only`` for it (``CLASSSIGHT_LIVENESS_MODE``): every score is computed
and a suspicion is recorded as a flag, but attendance goes ahead. The proxy attempt runs with
``enforce``, the production default. The printed summary says which mode each part ran in.

With ``--serve`` the HTTP API, the web portal and cam2's annotated MJPEG stream (boxes, track
ids, names) are up while the cameras run, so the portal's live room view shows the room next to
the register filling in; afterwards the class replays in a loop until Ctrl-C. The portal URL, an
admin token for this run and the edge clients' environment are printed.
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import get_engine
from cloud_functions.core.db.schema import (
    attendance,
    enrollments,
    flags,
    recognition_events,
    students,
)
from cloud_functions.core.settings import DEFAULT_MODELS_DIR, function_settings
from infra.demo_room import (
    DOOR_FPS,
    ROOM_SEQUENCE,
    RoomObserver,
    RoomScenario,
    TwoCameraRun,
    build_scenario,
    door_to_tag_ms,
    entry_to_tag_ms,
    percentile,
    room_settings,
    run_both_cameras,
    write_door_replay,
)
from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides
from infra.local_stack.host import FunctionHostProcess
from infra.local_stack.http_api import HttpApiGateway
from infra.local_stack.portal import PortalServer, first_admin_account, session_admin_token
from infra.local_stack.scheduler import ScheduleRunner
from infra.migrations import upgrade
from infra.seed import (
    Person,
    Slot,
    lfw_people,
    seed_campus,
    seed_realistic_term,
    seed_roster,
    seed_students,
)

if TYPE_CHECKING:
    from edge_client.cam1.app import Cam1Runner

logger = logging.getLogger("infra.demo")

LFW = DEFAULT_MODELS_DIR.parent / "data" / "faces" / "lfw_subset"
TRACKING = DEFAULT_MODELS_DIR.parent / "data" / "tracking"
# The demo's class is an hour, its room replay 21 s: a short dwell, so presence confirms within it.
DEMO_MIN_DWELL = "PT3S"
# The two cameras' cross-check judges a door recognition this long after it (30 s in production):
# the room replay is 21 s, so a student who never walks in is flagged within it.
DEMO_PROXY_ENTRY_WINDOW_S = "8"
PRESENCE_INTERVAL_S = 3.0
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


@dataclass
class RoomRun:
    """The scenario both cameras ran and what cam2 saw."""

    scenario: RoomScenario
    run: TwoCameraRun
    door_uploads: int  # door captures cam1 uploaded


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


def _list_keys(stack: LocalStack, prefix: str) -> list[str]:
    s3 = stack.client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket_name, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def door_camera(stack: LocalStack, replay: Path, outbox_path: Path) -> Cam1Runner:
    """R101's door camera on a folder replay at ``DOOR_FPS``, in real time, against the stack."""
    from edge_client.cam1.app import Cam1Runner
    from edge_client.cam1.settings import Cam1Settings
    from edge_client.settings import load_edge_settings

    settings = load_edge_settings(
        Cam1Settings,
        source=str(replay),
        source_fps=DOOR_FPS,
        realtime=True,
        room_id="R101",
        camera_id="R101-door",
        bucket_name=stack.bucket_name,
        aws_endpoint_url=stack.endpoint_url,
        aws_region=stack.region,
        outbox_path=outbox_path,
    )
    return Cam1Runner(settings, drain_on_exit_s=30)


def run_cameras(
    stack: LocalStack,
    people: list[Person],
    workdir: Path,
    *,
    stream_port: int | None,
    on_start: Callable[[], None] | None = None,
    seed: int | None = None,
    stop: threading.Event | None = None,
) -> RoomRun:
    """cam1 at R101's door and cam2 in R101 at once, on the scenario of :mod:`infra.demo_room`."""
    from edge_client.cam1.app import RunSummary as Cam1RunSummary
    from edge_client.cam2.app import Cam2Runner, outbox_sink

    visitor = sorted((LFW / "unknown").rglob("*.jpg"))[0]
    scenario = build_scenario(people, visitor, TRACKING / ROOM_SEQUENCE, seed=seed)
    print(
        f"cam2 replays {ROOM_SEQUENCE} ({scenario.sequence.length} frames, {scenario.sequence.fps:g} fps) "
        f"with a door zone; cam1 starts {scenario.lead_s:.1f} s earlier. Who walks in as whom "
        "(pairing from the ground truth):"
    )
    for line in scenario.describe():
        print(line)
    frames = write_door_replay(scenario, workdir / "doorway")
    cam1 = door_camera(stack, workdir / "doorway", workdir / "cam1-outbox.sqlite")
    room = room_settings(
        scenario,
        bucket_name=stack.bucket_name,
        endpoint_url=stack.endpoint_url,
        region=stack.region,
        queue_url=stack.room_queue_url("R101"),
        outbox_path=workdir / "cam2-outbox.sqlite",
        presence_interval_s=PRESENCE_INTERVAL_S,
        stream_port=stream_port,
    )
    outbox, uploader = outbox_sink(room)
    observer = RoomObserver(scenario.sequence)
    cam2 = Cam2Runner(room, sink=outbox, uploader=None, on_frame=observer)
    print(
        f"cam1: {frames} frames at {DOOR_FPS:g} fps; "
        f"cam2: R101's queue, presence every {PRESENCE_INTERVAL_S:g} s"
    )
    uploader.start()
    finished = threading.Event()
    if stop is not None:

        def stop_cameras() -> None:
            while not stop.wait(0.5):
                if finished.is_set():
                    return
            cam1.request_stop()
            cam2.request_stop()

        threading.Thread(target=stop_cameras, name="stop-cameras", daemon=True).start()
    try:
        if on_start is not None:
            on_start()
        run = run_both_cameras(scenario, cam1, cam2, observer)
        if not uploader.drain(30):
            logger.warning("cam2 uploads still pending after 30 s")
    finally:
        finished.set()
        uploader.stop()
        outbox.close()
    summary = run.cam1_summary
    assert isinstance(summary, Cam1RunSummary)
    print(
        f"  cam1: {summary.frames} frames, {summary.captures} captures, {summary.uploaded} uploaded, "
        f"{summary.pending} pending; cam2: {run.observation.frames} frames"
    )
    return RoomRun(scenario, run, summary.uploaded)


def set_liveness_mode(mode: str, host: FunctionHostProcess | None = None) -> None:
    """Switch the mode for cam1 and face_match (their settings are read again on next use).

    A function host in a child process reads its environment when it starts: it is restarted.
    """
    from cloud_functions.face_match import handler as face_match

    os.environ["CLASSSIGHT_LIVENESS_MODE"] = mode
    function_settings.cache_clear()
    face_match.doorway_service.cache_clear()
    if host is not None:
        host.stop()
        host.start()


def run_proxy_attempt(
    stack: LocalStack, engine: Engine, workdir: Path, host: FunctionHostProcess | None = None
) -> dict[str, int]:
    """A printed photo of an enrolled student held up at the door, liveness enforced."""
    from edge_client.cam1.replay import write_doorway_replay

    set_liveness_mode("enforce", host)
    # The second printed photo: the first is too blurry for cam1 to capture at all.
    printed = sorted((ANTISPOOF / "spoof").glob(f"{PROXY_SUBJECT}_*.jpg"))[1]
    replay = workdir / "proxy"
    write_doorway_replay(replay, [printed], fps=10.0, hold_s=3.0, layout="gap")
    before = count(engine, recognition_events)
    cam1 = door_camera(stack, replay, workdir / "cam1-proxy-outbox.sqlite")
    print(f"cam1 sees a printed photo of {PROXY_STUDENT.usn} held up at R101's door (liveness enforce)")
    summary = cam1.run()
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


def function_queues_idle(stack: LocalStack) -> bool:
    """No message waiting or in flight on any function's queue."""
    sqs = stack.client("sqs")
    for function in stack.functions.values():
        for source in function.sqs_event_sources:
            attributes = sqs.get_queue_attributes(
                QueueUrl=stack.queue_url(source.queue_logical_id),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if any(int(v) for v in attributes.values()):
                return False
    return True


def wait_for_functions(stack: LocalStack, engine: Engine, face_captures: int) -> None:
    """Until every door capture has its recorded outcome and the functions' queues stay empty."""
    faces = sa.select(sa.func.count()).where(recognition_events.c.object_key.startswith("captures/faces/"))

    def recorded() -> int:
        with engine.connect() as connection:
            return int(connection.execute(faces).scalar_one())

    wait_until(lambda: recorded() >= face_captures, 120, "face_match on every door capture")
    idle_checks = [0]

    def settled() -> bool:
        idle_checks[0] = idle_checks[0] + 1 if function_queues_idle(stack) else 0
        return idle_checks[0] >= 3

    wait_until(settled, 120, "body_match and presence")


def print_results(stack: LocalStack, engine: Engine, room: RoomRun) -> dict[str, object]:
    """The story of the run and its figures (the ``--json`` payload); the register is today's."""
    wait_for_functions(stack, engine, room.door_uploads)
    scenario, observed = room.scenario, room.run.observation
    with engine.connect() as connection:
        events = connection.execute(
            sa.select(
                recognition_events.c.object_key,
                recognition_events.c.outcome,
                recognition_events.c.usn,
                recognition_events.c.similarity,
                recognition_events.c.captured_at,
            ).order_by(recognition_events.c.id)
        ).all()
        register = connection.execute(
            sa.select(
                attendance.c.course_code,
                attendance.c.class_date,
                attendance.c.usn,
                students.c.name,
                attendance.c.status,
                attendance.c.first_seen_at,
                attendance.c.confirmed_at,
                attendance.c.similarity,
            )
            .join(students, students.c.usn == attendance.c.usn)
            .where(attendance.c.class_date == datetime.now(UTC).astimezone(ZoneInfo(TIMEZONE)).date())
            .order_by(attendance.c.course_code, attendance.c.usn)
        ).all()
        duplicate_rows = connection.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(attendance.c.usn)
                .group_by(attendance.c.usn, attendance.c.course_code, attendance.c.class_date)
                .having(sa.func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    zone = ZoneInfo(TIMEZONE)
    face_events = [e for e in events if e.object_key.startswith("captures/faces/")]
    outcomes = Counter(e.outcome for e in face_events)
    _say("recognition events at the door (face_match)")
    for outcome, n in sorted(outcomes.items()):
        print(f"  {outcome:<22} {n}")
    body_outcomes = Counter(e.outcome for e in events if not e.object_key.startswith("captures/faces/"))
    if body_outcomes:
        _say("body crops from the room (body_match)")
        for outcome, n in sorted(body_outcomes.items()):
            print(f"  {outcome:<22} {n}")

    by_usn = {w.usn: w for w in scenario.walkers if w.usn}
    door = {e.usn: e for e in face_events if e.outcome == "recognised" and e.usn}
    tags = {t.usn: t for t in observed.tags if t.tracker_id is not None and not t.expired}
    expired = {t.usn for t in observed.tags if t.expired}
    confirmed = {r.usn: r for r in register}
    correct = 0
    rows = []
    for usn, walker in sorted(by_usn.items()):
        tag = tags.get(usn)
        right = tag is not None and observed.gt_of_track(tag.tracker_id) == walker.gt_identity  # type: ignore[arg-type]
        correct += int(right and walker.gt_identity is not None)
        seen = door.get(usn)
        row = confirmed.get(usn)
        rows.append(
            (
                usn,
                walker.name,
                f"{seen.captured_at.astimezone(zone):%H:%M:%S}" if seen and seen.captured_at else "-",
                confidence_words(seen.similarity if seen else None),
                f"#{tag.tracker_id}" + ("" if right else " (wrong person)")
                if tag
                else ("never tagged (handoff expired)" if usn in expired else "-"),
                f"{tag.applied_at.astimezone(zone):%H:%M:%S}" if tag else "-",
                f"{row.confirmed_at.astimezone(zone):%H:%M:%S}"
                if row and row.confirmed_at
                else "not confirmed",
                "walks in" if walker.gt_identity is not None else "stays out",
            )
        )
    _say(f"students: door → room (times {TIMEZONE})")
    header = ("usn", "name", "at door", "match", "cam2 track", "tagged", "confirmed in room", "scenario")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))

    unknown = sorted(t for t in observed.tracks if t not in observed.tagged_tracks)
    _say("unknown people in the room")
    print(f"  {len(unknown)} of {len(observed.tracks)} tracks never carried a name")
    named_strangers = []
    for walker in (w for w in scenario.walkers if w.usn is None):
        tracks = [t for t in sorted(observed.tracks) if observed.gt_of_track(t) == walker.gt_identity]
        named = [observed.tagged_tracks[t] for t in tracks if t in observed.tagged_tracks]
        named_strangers += named
        who = "someone who slipped in behind" if walker.photo is None else f"the visitor ({walker.name})"
        print(
            f"  {who} walked in as track(s) {', '.join(f'#{t}' for t in tracks) or '-'}: "
            + (f"WRONGLY named {', '.join(named)}" if named else "stayed unknown")
        )

    _say("attendance register")
    print(f"  {'course':<7} {'date':<10}  {'usn':<11} {'name':<24} {'status':<9} {'at door':<8}  confirmed")
    for r in register:
        confirmed_at = f"{r.confirmed_at.astimezone(zone):%H:%M:%S}" if r.confirmed_at else "-"
        at_door = f"{r.first_seen_at.astimezone(zone):%H:%M:%S}" if r.first_seen_at else "-"
        print(
            f"  {r.course_code:<7} {r.class_date.isoformat():<10}  {r.usn:<11} {r.name:<24} {r.status:<9} "
            f"{at_door:<8}  {confirmed_at}"
        )
    right_frames = sum(
        observed.usn_frames[u].get(by_usn[u].gt_identity, 0) for u in observed.usn_frames if u in by_usn
    )
    all_frames = sum(sum(v.values()) for v in observed.usn_frames.values())
    latencies = door_to_tag_ms(observed.tags)
    return {
        "students": len(by_usn),
        "walk_in": sum(1 for w in scenario.walkers if w.usn and w.gt_identity is not None),
        "door_captures_uploaded": room.door_uploads,
        "door_events": len(face_events),
        "recognised_at_door": outcomes.get("recognised", 0),
        "unknown_at_door": outcomes.get("unknown_person", 0),
        "handoffs_applied": len(tags),
        "handoffs_expired": len(expired),
        "handoffs_correct": correct,
        "confirmed_in_room": sum(1 for r in register if r.confirmed_at is not None),
        "attendance_rows": len(register),
        "duplicate_rows": int(duplicate_rows),
        "unknown_tracks": len(unknown),
        "strangers_named": len(named_strangers),
        "identity_kept_share": round(right_frames / all_frames, 3) if all_frames else None,
        "cam2_fps": round(observed.capacity_fps, 1),
        "cam2_realtime_fps": round(observed.realtime_fps, 1),
        "cam2_dropped_frames": scenario.sequence.length - observed.frames,
        "entry_to_tag_ms_p50": percentile(entry_to_tag_ms(scenario, observed), 50),
        "entry_to_tag_ms_p95": percentile(entry_to_tag_ms(scenario, observed), 95),
        "door_to_tag_ms_p50": percentile(latencies, 50),
        "door_to_tag_ms_p95": percentile(latencies, 95),
        "body_outcomes": dict(body_outcomes),
        "other_room_messages": other_room_messages(stack),
        "proxy_flags": print_cross_check(engine),
    }


def print_cross_check(engine: Engine) -> dict[str, int]:
    """The flags the two cameras' cross-check raised (presence function), by kind."""
    kinds = ("not_confirmed", "one_body_two_faces", "two_rooms")
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(flags.c.kind, flags.c.usn, students.c.name, flags.c.evidence)
            .join(students, students.c.usn == flags.c.usn)
            .where(flags.c.kind.in_(kinds))
            .order_by(flags.c.id)
        ).all()
    _say(
        f"the two cameras' cross-check (door recognitions against room tracks, {DEMO_PROXY_ENTRY_WINDOW_S} s)"
    )
    if not found:
        print("  no flags")
    for f in found:
        evidence = json.loads(f.evidence)
        why = {
            "not_confirmed": "recognised at the door, never walked in on a track named by that capture",
            "one_body_two_faces": f"one room track (#{evidence.get('tracker_id')}) given two door identities",
            "two_rooms": f"seen in two rooms at once ({', '.join(evidence.get('rooms', []))})",
        }[f.kind]
        print(f"  {f.kind:<19} {f.usn:<11} {f.name:<24} {why}")
    counted = Counter(f.kind for f in found)
    return {kind: counted.get(kind, 0) for kind in kinds}


def other_room_messages(stack: LocalStack) -> int:
    """Messages waiting on the queues of rooms other than R101 (handoffs must reach only their room)."""
    sqs = stack.client("sqs")
    waiting = 0
    for room_id in stack.room_ids:
        if room_id != "R101":
            attributes = sqs.get_queue_attributes(
                QueueUrl=stack.room_queue_url(room_id),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            waiting += sum(int(v) for v in attributes.values())
    return waiting


def confidence_words(similarity: float | None) -> str:
    """A match similarity as a teacher reads it: how far above the match threshold it is."""
    if similarity is None:
        return "-"
    threshold = function_settings().match_threshold
    label = (
        "high" if similarity >= threshold + 0.15 else "medium" if similarity >= threshold + 0.05 else "low"
    )
    return f"{label} ({similarity:.2f})"


def restart_host(host: FunctionHostProcess) -> None:
    """Kill the function host mid-run (SIGKILL: its messages in flight are not acknowledged), restart it."""
    print(
        f"  !! function host killed (SIGKILL) at {datetime.now(ZoneInfo(TIMEZONE)):%H:%M:%S}; restarting it"
    )
    host.kill()
    host.start()


@dataclass
class Serving:
    """The HTTP API and the portal, up while the cameras run (``--serve``)."""

    gateway: HttpApiGateway
    portal: PortalServer
    stop: threading.Event
    schedules: ScheduleRunner  # the template's scheduled functions (the absent sweep among them)

    def close(self) -> None:
        self.portal.stop()
        self.gateway.stop()


def start_serving(stack: LocalStack, api_port: int, portal_port: int, stream_port: int) -> Serving:
    """The HTTP API and the web portal on loopback; SIGINT/SIGTERM set ``stop`` from now on.

    The portal's config names the API and R101's room-camera stream, which its live view shows.
    """
    for key, value in stack.env("ApiFunction").items():
        os.environ.setdefault(key, value)  # the API reads its settings when imported
    gateway = stack.http_api(functions=["ApiFunction"], port=api_port).start()
    config: dict[str, object] = {
        "apiBaseUrl": gateway.url,
        "roomStreams": {"R101": f"http://127.0.0.1:{stream_port}/stream"},
    }
    portal = PortalServer(portal_port, config=config).start()
    # Every scheduled function of the template (the absent sweep among them) on its timer, as
    # EventBridge would run it: a class that ends while the demo serves is swept after the grace.
    for name, function in stack.functions.items():
        if function.schedule_event_sources:
            for key, value in stack.env(name).items():
                os.environ.setdefault(key, value)
    schedules = stack.start_schedules(
        functions=[name for name, f in stack.functions.items() if f.schedule_event_sources]
    )
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    return Serving(gateway, portal, stop, schedules)


def print_serving(stack: LocalStack, serving: Serving, admin_token: str, stream_port: int) -> None:
    """Where to look while the demo serves: the portal, the API, cam2's stream, the edge clients' setup."""
    print(f"  web portal   {serving.portal.url}   (live room: {serving.portal.url}#/live?room=R101)")
    print(f"  HTTP API     {serving.gateway.url}")
    print(f"  cam2 stream  http://127.0.0.1:{stream_port}/stream   (R101, boxes, track ids, names)")
    account = first_admin_account(stack)
    if account is not None:
        print(f"  sign in      {account[0]} / {account[1]}   (an admin account for this run)")
    print(f"  admin token  {admin_token}   (for scripts: Authorization: Bearer …)")
    for function_id, event_id, expression in serving.schedules.schedules:
        print(f"  schedule     {function_id}.{event_id}: {expression}")
    print("  environment for edge clients:")
    for name, value in stack.env().items():
        print(f"    export {name}={value}")
    for room_id in stack.room_ids:
        print(f"    export CLASSSIGHT_HANDOFF_QUEUE_URL={stack.room_queue_url(room_id)}  # cam2 of {room_id}")


def serve_in_a_loop(
    stack: LocalStack,
    people: list[Person],
    workdir: Path,
    serving: Serving,
    *,
    stream_port: int,
    seed: int | None,
) -> None:
    """Replay the class again and again until Ctrl-C, so the live view always has something to show.

    Every pass uploads new door captures, so face_match recognises and hands off again and cam2 tags
    again; attendance stays one row per student and class (the upserts), which the register shows.
    """
    passes = 1
    _say("the stack stays up and the class replays in a loop; Ctrl-C stops it")
    while not serving.stop.is_set():
        passes += 1
        print(f"  replay {passes}")
        run_cameras(stack, people, workdir, stream_port=stream_port, seed=seed, stop=serving.stop)


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
        "--serve",
        action="store_true",
        help="serve the API, the portal and cam2's annotated stream while the cameras run, then replay "
        "the class in a loop until Ctrl-C",
    )
    parser.add_argument(
        "--stream-port", type=int, default=8082, help="cam2's annotated MJPEG stream with --serve (8082)"
    )
    parser.add_argument("--api-port", type=int, default=3000, help="HTTP API port with --serve (3000)")
    parser.add_argument("--portal-port", type=int, default=8080, help="web portal port with --serve (8080)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    parser.add_argument(
        "--seed", type=int, help="jitter each student's time at the door by up to 0.5 s (repeatable)"
    )
    parser.add_argument(
        "--function-host",
        choices=["inline", "process"],
        default="inline",
        help="run the functions in this process (default) or in a child process, as Lambda would",
    )
    parser.add_argument(
        "--kill-function-host-at",
        type=float,
        metavar="S",
        help="with --function-host process: SIGKILL it S seconds after the cameras start, then restart it",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    workdir = Path("var/demo")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir)).resolve()
    database_url = args.database_url or f"sqlite:///{workdir / 'classsight.db'}"
    people = lfw_people(LFW)[: max(1, min(args.people, 12))]

    _say(f"local AWS endpoint on 127.0.0.1:{args.port}, stack from template.yaml")
    with MotoEndpoint(args.port) as endpoint:
        admin_token, api_tokens = session_admin_token()
        parameters = local_parameter_overrides(
            database_url,
            stage="demo",
            ApiTokens=api_tokens,
            PortalOrigins=f"http://127.0.0.1:{args.portal_port}",
            PresenceMinDwell=DEMO_MIN_DWELL,
            # A message a killed function host had taken comes back this soon (default 6 minutes).
            QueueVisibilityTimeout="5",
            # ... and finds a handoff the killed host had claimed free to publish.
            HandoffPublishLeaseSeconds="4",
        )
        stack = LocalStack.provision(
            endpoint.endpoint_url, parameter_overrides=parameters, stack_name="classsight-demo"
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
        term = seed_realistic_term(
            engine,
            today=now.astimezone(ZoneInfo(TIMEZONE)).date(),
            timezone=TIMEZONE,
            live=slots,
            photographed=people,
        )
        # The student whose printed photo is held up at the door (step 6) takes CS501 too.
        seed_roster(engine, "CS501", [PROXY_STUDENT.usn])
        term.rosters["CS501"] = [*term.rosters["CS501"], PROXY_STUDENT.usn]
        sizes = ", ".join(f"{code} {len(usns)}" for code, usns in sorted(term.rosters.items()))
        marks = ", ".join(f"{n} {status}" for status, n in sorted(term.marks.items()))
        print(f"  a term with {term.sessions_held} classes held so far; rosters {sizes}; past marks: {marks}")
        totals: dict[str, object] = {}

        os.environ.update(stack.env("FaceMatchFunction", CLASSSIGHT_DATABASE_URL=database_url))
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the demo prints its own summary
        # The local endpoint accepts any credentials; the edge client insists on having some.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        for function in ("EnrollFunction", "BodyMatchFunction", "PresenceFunction"):
            for key, value in stack.env(function).items():
                os.environ.setdefault(key, value)  # in one process: the first function's value wins
        # The door replay is made of still photos (LFW): liveness is recorded there, not enforced.
        os.environ["CLASSSIGHT_LIVENESS_MODE"] = "record_only"
        os.environ["CLASSSIGHT_PROXY_ENTRY_WINDOW_S"] = DEMO_PROXY_ENTRY_WINDOW_S
        function_settings.cache_clear()
        host = None
        if args.function_host == "process":
            host = FunctionHostProcess(
                stack.endpoint_url,
                database_url,
                workdir / "function-host.log",
                stage="demo",
                parameters=parameters,
                log_level="WARNING",
            )
            host.start()
        else:
            stack.start_pollers(
                functions=["EnrollFunction", "FaceMatchFunction", "BodyMatchFunction", "PresenceFunction"],
                wait_s=1,
            )
        killer: threading.Timer | None = None
        serving: Serving | None = None
        try:
            if args.serve:
                _say("HTTP API, web portal and cam2's stream, up while the cameras run")
                serving = start_serving(stack, args.api_port, args.portal_port, args.stream_port)
                print_serving(stack, serving, admin_token, args.stream_port)
            _say("enrollment through the bucket (enroll function)")
            enroll_through_bucket(stack, engine, [*people, PROXY_STUDENT])
            _say(
                "door camera (cam1) and room camera (cam2) of R101, at once  "
                "[liveness record_only: the door replay is LFW photos]"
            )
            print(f"  presence confirms after {DEMO_MIN_DWELL[2:-1]} s in the room (the demo's short dwell)")
            on_start = None
            if host is not None and args.kill_function_host_at is not None:

                def on_start() -> None:
                    nonlocal killer
                    killer = threading.Timer(args.kill_function_host_at, restart_host, args=(host,))
                    killer.daemon = True
                    killer.start()

            stream_port = args.stream_port if serving is not None else None
            room = run_cameras(
                stack, people, workdir, stream_port=stream_port, on_start=on_start, seed=args.seed
            )
            totals = print_results(stack, engine, room)
            _say("proxy attempt at the door → face_match  [liveness enforce]")
            totals |= run_proxy_attempt(stack, engine, workdir, host)
            if host is not None:
                totals["function_host_kills"] = host.kills
            if args.json:
                print(json.dumps(totals, sort_keys=True))
            if serving is not None:
                serve_in_a_loop(stack, people, workdir, serving, stream_port=args.stream_port, seed=args.seed)
        finally:
            if serving is not None:
                serving.close()
            if killer is not None:
                killer.cancel()
            if host is not None:
                host.stop()
            stack.stop_pollers()
    print("\nstopped; nothing left listening")
    ok = (
        totals.get("handoffs_correct") == totals.get("walk_in")
        and totals.get("confirmed_in_room") == totals.get("walk_in")
        and totals.get("duplicate_rows") == 0
        and totals.get("strangers_named") == 0
        and int(totals.get("proxy_refused", 0)) >= 1  # type: ignore[call-overload]
        and totals.get("proxy_marked", 1) == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
