"""face_match latency on the local stack, with real weights and real LFW captures.

    .venv/bin/python bench/face_match.py [--captures 40] [--database-url URL]

Prints three tables:

1. end to end: object put into the bucket → handoff message visible on the room's queue
   (S3 notification → SQS → poller → handler → SNS → room queue), captures sent one at a time;
2. warm per-record time of ``DoorwayService.process`` by stage (download, detect, embed,
   match, db, publish), models loaded;
3. cold start: a fresh interpreter importing the handler and loading the models, for the
   ONNX embedder and the DeepFace ArcFace embedder (DeepFace's architecture with weights
   generated locally, since its published weights cannot be downloaded here: timing only).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cloud_functions.core.db.engine import get_engine  # noqa: E402
from cloud_functions.core.faces import FacePipeline, FaceprintRepository, FaceRejectedError  # noqa: E402
from cloud_functions.core.settings import DEFAULT_MODELS_DIR, FaceModelSettings, function_settings  # noqa: E402
from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides  # noqa: E402
from infra.migrations import upgrade  # noqa: E402
from infra.seed import Slot, lfw_people, seed_campus, seed_students  # noqa: E402

LFW = DEFAULT_MODELS_DIR.parent / "data" / "faces" / "lfw_subset"
IN_CLASS = datetime(2026, 11, 23, 3, 35, tzinfo=UTC)  # Monday 09:05 in Kolkata


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def row(name: str, values: list[float]) -> str:
    return (
        f"| {name:<28} | {len(values):>4} | {percentile(values, 50):>8.1f} | {percentile(values, 95):>8.1f} "
        f"| {statistics.fmean(values):>8.1f} |"
    )


HEADER = "| stage                        |    n |  p50 ms |  p95 ms |  mean ms |\n|---|---:|---:|---:|---:|"


def enroll(engine: object, pipeline: FacePipeline) -> list[tuple[str, Path]]:
    """Enroll up to 3 photos per person; return held-out (usn, photo) captures."""
    repository = FaceprintRepository(engine)  # type: ignore[arg-type]
    held_out = []
    for person in lfw_people(LFW):
        enrolled = 0
        for index, photo in enumerate(person.photos):
            if enrolled < 3 and index < 6:
                try:
                    analysis = pipeline.analyse(photo.read_bytes(), "enroll")
                except FaceRejectedError:
                    continue
                repository.save(person.usn, f"pose{index}", analysis.model_id, analysis.embedding)
                enrolled += 1
            elif index >= 6:
                held_out.append((person.usn, photo))
    return held_out


def put_capture(stack: LocalStack, photo: Path) -> tuple[str, str]:
    capture_id = str(uuid.uuid4())
    key = f"captures/faces/R101/{IN_CLASS.date().isoformat()}/{capture_id}.jpg"
    stack.client("s3").put_object(
        Bucket=stack.bucket_name,
        Key=key,
        Body=photo.read_bytes(),
        ContentType="image/jpeg",
        Metadata={
            "room_id": "R101",
            "camera_id": "R101-door",
            "captured_at": IN_CLASS.isoformat(),
            "capture_id": capture_id,
        },
    )
    return key, capture_id


def wait_for_handoff(stack: LocalStack, capture_id: str, timeout_s: float = 20.0) -> bool:
    sqs = stack.client("sqs")
    url = stack.room_queue_url("R101")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in response.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            body = json.loads(message["Body"])
            handoff = json.loads(body["Message"]) if "TopicArn" in body else body
            if handoff.get("capture_id") == capture_id:
                return True
    return False


COLD_START = """
import time, json, sys
t0 = time.perf_counter()
from cloud_functions.face_match import handler
t1 = time.perf_counter()
from cloud_functions.core.faces import FacePipeline
from cloud_functions.core.settings import FaceModelSettings
pipeline = FacePipeline.from_settings(FaceModelSettings())
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "load_ms": (t2 - t1) * 1e3, "model_id": pipeline.model_id}))
"""

MAKE_DEEPFACE_WEIGHTS = """
import sys
from cloud_functions.core.faces.embedding import build_deepface_arcface
build_deepface_arcface().save_weights(sys.argv[1])
"""


def cold_start(env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", COLD_START],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--captures", type=int, default=40, help="captures sent end to end (default 40)")
    parser.add_argument("--database-url", help="database (default: a temporary SQLite file)")
    parser.add_argument("--skip-deepface", action="store_true", help="skip the DeepFace cold start")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="classsight-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    engine = get_engine(database_url)
    seed_campus(engine, [Slot("CS501", "R101", 0, dtime(9), dtime(10))])
    people = lfw_people(LFW)
    seed_students(engine, people)
    held_out = enroll(engine, FacePipeline.from_settings(FaceModelSettings()))
    print(f"database {engine.dialect.name}; {len(people)} students enrolled; {len(held_out)} held-out photos")

    with MotoEndpoint() as endpoint:
        stack = LocalStack.provision(
            endpoint.endpoint_url,
            parameter_overrides=local_parameter_overrides(database_url, stage="bench"),
            stack_name="classsight-bench",
        )
        os.environ.update(stack.env("FaceMatchFunction", CLASSSIGHT_DATABASE_URL=database_url))
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one JSON line per capture otherwise
        function_settings.cache_clear()
        from cloud_functions.face_match import handler as face_match

        face_match.doorway_service()  # load models before timing, as a warm container has
        stack.start_pollers(functions=["FaceMatchFunction"], wait_s=1)
        try:
            _, warm_up = put_capture(stack, held_out[0][1])
            wait_for_handoff(stack, warm_up)
            end_to_end, lost = [], 0
            for i in range(args.captures):
                _, photo = held_out[i % len(held_out)]
                start = time.perf_counter()
                _, capture_id = put_capture(stack, photo)
                if wait_for_handoff(stack, capture_id):
                    end_to_end.append((time.perf_counter() - start) * 1e3)
                else:
                    lost += 1
        finally:
            stack.stop_pollers()

        stages: dict[str, list[float]] = {}
        service = face_match.doorway_service()
        for i in range(args.captures):
            key, _ = put_capture(stack, held_out[i % len(held_out)][1])
            start = time.perf_counter()
            result = service.process(key)
            stages.setdefault("total (process)", []).append((time.perf_counter() - start) * 1e3)
            for stage, ms in result.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
        stack.purge()

    print("\nEnd to end: put → handoff on the room queue (one capture at a time)")
    print(HEADER)
    print(row("put → handoff visible", end_to_end))
    if lost:
        print(f"{lost} handoffs did not arrive within 20 s (unknown or rejected captures)")
    print("\nWarm DoorwayService.process by stage")
    print(HEADER)
    for stage in ("download", "detect", "embed", "match", "db", "publish", "total (process)"):
        if stage in stages:
            print(row(stage, stages[stage]))

    print("\nCold start (fresh interpreter: import handler, then load detector + embedder)")
    print("| embedder | import ms | model load ms | model id |\n|---|---:|---:|---|")
    onnx = cold_start({})
    print(f"| onnx | {onnx['import_ms']:.0f} | {onnx['load_ms']:.0f} | {onnx['model_id']} |")
    if not args.skip_deepface:
        weights = workdir / "arcface_weights.h5"
        subprocess.run(
            [sys.executable, "-c", MAKE_DEEPFACE_WEIGHTS, str(weights)],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        deepface = cold_start(
            {"CLASSSIGHT_FACE_EMBEDDER": "deepface", "CLASSSIGHT_FACE_EMBEDDER_PATH": str(weights)}
        )
        print(
            f"| deepface | {deepface['import_ms']:.0f} | {deepface['load_ms']:.0f} | {deepface['model_id']} |"
        )


if __name__ == "__main__":
    main()
