"""Body re-id benchmark on PETS09-S2L1 ground-truth crops: rank-1, open-set answers, latency.

Usage::

    .venv/bin/python bench/body_match.py
    .venv/bin/python bench/body_match.py --gallery-crops 3 --query-step 5 --threshold 0.6 --margin 0.05

Mirrors body_match: each ground-truth person is a "student" whose gallery is a few crops from
the start of their track (cam2 sends gallery crops right after a face handoff tags the track);
queries are crops from the second half of the same track (a long-unknown track, later). Prints:

1. closed set: rank-1 of every query against the gallery of all people;
2. open set: each person in turn is left out of the gallery ("not tagged at the door today")
   and their queries are matched against the others; with the configured threshold and margin,
   the share of queries of gallery people tagged right / wrong / unknown, and of left-out
   people answered unknown (a wrong tag here is a stranger given someone's USN);
3. a threshold sweep of the same two figures;
4. milliseconds per crop for the OSNet embedder (one crop per call, as the function embeds);
5. milliseconds per crop for the whole ``BodyMatchService.process`` (metadata, room, timetable,
   download, decode, embed, gallery load and match, event and handoff rows) on a SQLite file,
   with an in-memory bucket and topic: the function's own cost, without network round trips.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from cloud_functions.core.bodies import BodyMatchRules, BodyMatchService  # noqa: E402
from cloud_functions.core.db import handoffs as handoffs_db  # noqa: E402
from cloud_functions.core.db.engine import create_engine  # noqa: E402
from cloud_functions.core.errors import ObjectNotFoundError  # noqa: E402
from cloud_functions.core.matching import Gallery, decide  # noqa: E402
from cloud_functions.core.settings import DEFAULT_MODELS_DIR, FunctionSettings  # noqa: E402
from cloud_functions.core.storage import StoredObject  # noqa: E402
from cloud_functions.core.timetable import CaptureTimeBounds  # noqa: E402
from contracts.handoff import Handoff  # noqa: E402
from edge_client.cam2.evaluation import GroundTruthBox, MotSequence, load_mot_sequence  # noqa: E402
from infra.migrations import upgrade  # noqa: E402
from infra.seed import Person, Slot, seed_campus, seed_students  # noqa: E402
from vision.reid import OsnetEmbedder  # noqa: E402

SEQUENCE = REPO_ROOT.parent / "shared" / "data" / "tracking" / "PETS09-S2L1"
WEIGHTS = DEFAULT_MODELS_DIR / "reid" / "osnet_x0_25_msmt17.onnx"


def crop(sequence: MotSequence, box: GroundTruthBox) -> NDArray[np.uint8]:
    """The ground-truth box of one frame, clipped to the image."""
    image = cv2.imread(str(sequence.root / "img1" / f"{box.frame:06d}.jpg"))
    assert image is not None
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (round(v) for v in box.xyxy)
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(width, x2), min(height, y2)
    return np.ascontiguousarray(image[y1:y2, x1:x2])


def split(
    sequence: MotSequence, gallery_crops: int, gallery_step: int, query_step: int, min_track: int
) -> tuple[dict[int, list[GroundTruthBox]], dict[int, list[GroundTruthBox]]]:
    """Per identity: gallery boxes from the start of its track, query boxes from its second half."""
    gallery, queries = {}, {}
    for identity, boxes in sequence.identity_frames().items():
        if len(boxes) < min_track:
            continue
        gallery[identity] = boxes[: gallery_crops * gallery_step : gallery_step]
        queries[identity] = boxes[len(boxes) // 2 :: query_step]
    return gallery, queries


class MemoryStore:
    """The bucket as a dict (``ObjectStore``)."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}

    def head(self, key: str) -> StoredObject:
        stored = self.get(key)
        return StoredObject(stored.metadata, stored.size_bytes)

    def get(self, key: str) -> StoredObject:
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return self.objects[key]

    def put(self, key: str, body: bytes, metadata: Mapping[str, str], content_type: str) -> None:
        self.objects[key] = StoredObject(dict(metadata), len(body), body, content_type)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


class RecordingPublisher:
    """The topic, keeping the USN of each handoff by capture id (``HandoffPublisher``)."""

    def __init__(self) -> None:
        self.usns: dict[str, str] = {}

    def publish(self, handoff: Handoff) -> str:
        self.usns[handoff.capture_id] = handoff.usn
        return uuid.uuid4().hex


def service_latency(
    sequence: MotSequence,
    embedder: OsnetEmbedder,
    gallery_boxes: dict[int, list[GroundTruthBox]],
    query_boxes: dict[int, list[GroundTruthBox]],
) -> tuple[list[float], int, int]:
    """Milliseconds per body crop through ``BodyMatchService.process``; handoffs right and wrong."""
    # Monday 2026-11-23, 09:25 in Kolkata, during CS501 in R101.
    at = datetime(2026, 11, 23, 3, 55, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        engine = create_engine(url)
        seed_campus(engine, [Slot("CS501", "R101", 0, clock_time(9), clock_time(10))])
        seed_students(engine, [Person(f"PETS{i:03d}", f"Person {i}", ()) for i in gallery_boxes])
        store, publisher = MemoryStore(), RecordingPublisher()
        # The crops are of a fixed day (2026-11-23), stored in a bucket that stamps them now.
        replay = CaptureTimeBounds(max_age=timedelta(days=3650))
        service = BodyMatchService(
            engine, store, embedder, publisher, rules=BodyMatchRules(), capture_times=replay
        )

        def put(key: str, box: GroundTruthBox, extra: dict[str, str]) -> None:
            ok, jpeg = cv2.imencode(".jpg", crop(sequence, box))
            assert ok
            capture_id = key.rsplit("/", 1)[-1].removesuffix(".jpg")
            metadata = {"room_id": "R101", "camera_id": "R101-room", "captured_at": at.isoformat()}
            store.put(key, jpeg.tobytes(), {**metadata, "capture_id": capture_id, **extra}, "image/jpeg")

        for identity, boxes in gallery_boxes.items():
            usn = f"PETS{identity:03d}"
            with engine.begin() as connection:
                handoffs_db.insert_handoff(
                    connection,
                    Handoff(
                        usn=usn,
                        capture_id=uuid.uuid4().hex,
                        captured_at=at - timedelta(seconds=5),
                        similarity=0.7,
                        room_id="R101",
                        source="face",
                    ),
                )
            for box in boxes:
                key = f"captures/gallery/R101/2026-11-23/{usn}/{uuid.uuid4().hex}.jpg"
                put(key, box, {"usn": usn})
                service.process(key)
        timings_ms = []
        truth: dict[str, str] = {}
        for identity, boxes in query_boxes.items():
            for box in boxes:
                capture_id = uuid.uuid4().hex
                truth[capture_id] = f"PETS{identity:03d}"
                key = f"captures/bodies/R101/2026-11-23/{capture_id}.jpg"
                put(key, box, {"tracker_id": "1"})
                start = time.perf_counter()
                service.process(key)
                timings_ms.append((time.perf_counter() - start) * 1e3)
        engine.dispose()
    right = sum(usn == truth[capture_id] for capture_id, usn in publisher.usns.items())
    return timings_ms, right, len(publisher.usns) - right


def main() -> None:
    defaults = FunctionSettings.model_fields
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gallery-crops", type=int, default=3, help="gallery crops per person")
    parser.add_argument("--gallery-step", type=int, default=10, help="frames between gallery crops")
    parser.add_argument("--query-step", type=int, default=5, help="frames between query crops")
    parser.add_argument("--min-track", type=int, default=30, help="people with fewer boxes are skipped")
    parser.add_argument("--threshold", type=float, default=defaults["body_match_threshold"].default)
    parser.add_argument("--margin", type=float, default=defaults["body_match_margin"].default)
    args = parser.parse_args()

    sequence = load_mot_sequence(SEQUENCE)
    embedder = OsnetEmbedder(WEIGHTS)
    gallery_boxes, query_boxes = split(
        sequence, args.gallery_crops, args.gallery_step, args.query_step, args.min_track
    )

    timings_ms: list[float] = []

    def embed(box: GroundTruthBox) -> NDArray[np.float32]:
        image = crop(sequence, box)
        start = time.perf_counter()
        vector = embedder.embed([image])[0]
        timings_ms.append((time.perf_counter() - start) * 1e3)
        return vector

    gallery = {i: [embed(b) for b in boxes] for i, boxes in gallery_boxes.items()}
    queries = {i: [embed(b) for b in boxes] for i, boxes in query_boxes.items()}
    people = sorted(gallery)
    print(
        f"PETS09-S2L1: {len(people)} people, {sum(map(len, gallery.values()))} gallery crops, "
        f"{sum(map(len, queries.values()))} queries, {embedder.model_id}"
    )

    def build(members: list[int]) -> Gallery:
        usns = [str(i) for i in members for _ in gallery[i]]
        return Gallery.from_rows(embedder.model_id, usns, [v for i in members for v in gallery[i]])

    full = build(people)
    hits = total = 0
    for identity, vectors in queries.items():
        for vector in vectors:
            students, scores = full.student_scores(vector)
            hits += students[int(np.argmax(scores))] == str(identity)
            total += 1
    print(f"\n1. closed-set rank-1: {hits}/{total} = {hits / total:.3f}")

    # (true identity, in gallery?, students, scores) for every query and every leave-one-out gallery
    trials: list[tuple[str, bool, tuple[str, ...], NDArray[np.float32]]] = []
    for identity, vectors in queries.items():
        for vector in vectors:
            students, scores = full.student_scores(vector)
            trials.append((str(identity), True, students, scores))
            others = build([p for p in people if p != identity])
            students, scores = others.student_scores(vector)
            trials.append((str(identity), False, students, scores))

    def rates(threshold: float, margin: float) -> tuple[float, float, float, float]:
        right = wrong = unknown = stranger_unknown = known = strangers = 0
        for truth, in_gallery, students, scores in trials:
            result = decide(students, scores, threshold=threshold, margin=margin)
            if in_gallery:
                known += 1
                right += result.usn == truth
                wrong += result.usn is not None and result.usn != truth
                unknown += result.usn is None
            else:
                strangers += 1
                stranger_unknown += result.usn is None
        return right / known, wrong / known, unknown / known, stranger_unknown / strangers

    right, wrong, unknown, stranger = rates(args.threshold, args.margin)
    print(f"\n2. open set at threshold {args.threshold:.2f}, margin {args.margin:.2f}:")
    print(f"   gallery people: tagged right {right:.3f}, tagged wrong {wrong:.3f}, unknown {unknown:.3f}")
    print(f"   people not in the gallery answered unknown: {stranger:.3f}")

    print("\n3. threshold sweep (margin as above)")
    print("   threshold | right  | wrong  | stranger unknown")
    for threshold in np.arange(0.40, 0.86, 0.05):
        r, w, _, s = rates(float(threshold), args.margin)
        print(f"   {threshold:9.2f} | {r:.3f}  | {w:.3f}  | {s:.3f}")

    steady = timings_ms[5:] or timings_ms
    print(
        f"\n4. OSNet per crop (1 thread, one crop per call): median {statistics.median(steady):.1f} ms, "
        f"p95 {float(np.percentile(steady, 95)):.1f} ms over {len(steady)} crops"
    )

    service_ms, right, wrong = service_latency(sequence, embedder, gallery_boxes, query_boxes)
    print(
        f"\n5. BodyMatchService.process per body crop (SQLite, in-memory bucket and topic): "
        f"median {statistics.median(service_ms):.1f} ms, p95 {float(np.percentile(service_ms, 95)):.1f} ms "
        f"over {len(service_ms)} crops; handoffs: {right} right, {wrong} wrong "
        "(crops through JPEG, as cam2 sends)"
    )


if __name__ == "__main__":
    main()
