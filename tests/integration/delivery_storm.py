"""Deliver the same S3 objects many times, overlapping, as at-least-once queues and retries do.

``deliver_storm`` runs in a worker thread or a spawned process (it is importable by name): it
builds its own doorway service on the real database, bucket and topic, as one warm function
container would, and processes its share of the deliveries at their scheduled times. A delivery
that raises is retried, as SQS does after the visibility timeout. The publisher sleeps a little
before each publish, as a slow broker call does, which widens the window between a worker's
commit and its marking the handoff sent: the window a late duplicate used to publish in.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.doorway import DoorwayService
from cloud_functions.core.faces import FacePipeline, FaceprintRepository, Matcher
from cloud_functions.core.handoff import SnsHandoffPublisher
from cloud_functions.core.settings import FaceModelSettings
from cloud_functions.core.storage import S3ObjectStore
from cloud_functions.core.timetable import CaptureTimeBounds
from contracts.handoff import Handoff

MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class StormJob:
    """One worker's share: ``(object_key, seconds after start)`` deliveries, and where to send them."""

    database_url: str
    endpoint_url: str
    region: str
    bucket: str
    topic_arn: str
    deliveries: list[tuple[str, float]]
    rendezvous: Path
    """Each worker writes ``ready-<seed>`` here once warm, then waits for ``start`` (a UNIX time)."""
    publish_delay_s: tuple[float, float] = (0.0, 0.2)
    seed: int = 0


@dataclass
class StormReport:
    """What one worker did."""

    processed: int = 0
    retried: int = 0
    outcomes: list[str] = field(default_factory=list)


class _SlowPublisher:
    def __init__(self, inner: SnsHandoffPublisher, delay_s: tuple[float, float], rng: random.Random) -> None:
        self._inner, self._delay_s, self._rng = inner, delay_s, rng

    def publish(self, handoff: Handoff) -> str:
        time.sleep(self._rng.uniform(*self._delay_s))
        return self._inner.publish(handoff)


def start_storm(rendezvous: Path, workers: int, timeout_s: float = 120.0) -> None:
    """Wait until ``workers`` workers are warm, then let them all start together."""
    deadline = time.monotonic() + timeout_s
    while len(list(rendezvous.glob("ready-*"))) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(rendezvous.glob('ready-*')))} of {workers} workers started")
        time.sleep(0.05)
    partial = rendezvous / "start.partial"
    partial.write_text(str(time.time() + 0.2))
    partial.rename(rendezvous / "start")


def deliver_storm(job: StormJob) -> StormReport:
    """Process ``job.deliveries`` at their times, counted from the moment ``start_storm`` gives."""
    rng = random.Random(job.seed)
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=job.region)
    s3 = session.client("s3", endpoint_url=job.endpoint_url)
    sns = session.client("sns", endpoint_url=job.endpoint_url)
    engine = create_engine(job.database_url)
    pipeline = FacePipeline.from_settings(FaceModelSettings())
    service = DoorwayService(
        engine,
        S3ObjectStore(s3, job.bucket),
        pipeline,
        Matcher.from_settings(FaceModelSettings(), FaceprintRepository(engine), pipeline.model_id),
        _SlowPublisher(SnsHandoffPublisher(sns, job.topic_arn), job.publish_delay_s, rng),
        # the captures are of a fixed class day, stored today
        capture_times=CaptureTimeBounds(max_age=CaptureTimeBounds().max_age * 3650),
    )
    report = StormReport()
    (job.rendezvous / f"ready-{job.seed}").touch()
    start = job.rendezvous / "start"
    while not start.exists():
        time.sleep(0.01)
    start_at = float(start.read_text())
    try:
        for key, offset_s in sorted(job.deliveries, key=lambda d: d[1]):
            time.sleep(max(0.0, start_at + offset_s - time.time()))
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    result = service.process(key)
                except Exception:  # a transient failure: the queue delivers it again
                    if attempt == MAX_ATTEMPTS:
                        raise
                    report.retried += 1
                    time.sleep(rng.uniform(0.05, 0.2))
                    continue
                report.processed += 1
                report.outcomes.append(result.outcome.value)
                break
    finally:
        engine.dispose()
    return report
