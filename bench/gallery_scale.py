"""1:N speed at campus scale: 50,000 faceprints (10,000 students x 5 poses) in a real database.

    python -m bench.gallery_scale                                  # SQLite in a temporary folder
    python -m bench.gallery_scale --database-url mysql+pymysql://root@127.0.0.1:3306/bench_gallery

What it measures, exact search in numpy (every faceprint scored, no approximation):

* **cold load**: ``FaceprintRepository.load_gallery`` of every faceprint (query, one-buffer decode,
  numpy sort; MariaDB packs 1,024 faceprints per result row), what a cold face_match container
  pays once;
* **warm search**: per-student best similarity + threshold/margin decision per query, p50/p95/max
  over ``--queries`` queries; and ``Matcher.match`` as face_match calls it, which adds the
  gallery version query to the database;
* **incremental enrollment**: a new student's pose saved by another writer, then the first
  ``Matcher.match`` that sees it (the rows since the version are read and merged in memory);
* **memory**: the embedding matrix, and the process's resident size before and after the load.

The vectors are random unit vectors: search time does not depend on their content. Accuracy at
this scale is another question (see the README's roster-first matching).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from bench.machine import describe_machine
from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.faceprints import FaceprintRepository, embedding_to_bytes
from cloud_functions.core.db.schema import faceprints, students
from cloud_functions.core.faces import Matcher
from cloud_functions.core.matching import decide
from infra.migrations import upgrade

MODEL = "onnx:bench@0"
POSES = ("front", "left", "right", "up", "down")


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fill(engine: sa.Engine, n_students: int, dim: int) -> None:
    """``n_students`` students with five faceprints each, inserted in batches."""
    now = datetime.now(UTC)
    vectors = _unit_vectors(n_students * len(POSES), dim, seed=0)
    with engine.begin() as connection:
        connection.execute(faceprints.delete())
        connection.execute(students.delete())
        connection.execute(
            students.insert(),
            [
                {"usn": f"B{i:06d}", "name": f"Student {i}", "consent_given_at": now}
                for i in range(n_students)
            ],
        )
        batch = []
        for row, vector in enumerate(vectors):
            batch.append(
                {
                    "usn": f"B{row // len(POSES):06d}",
                    "pose": POSES[row % len(POSES)],
                    "model_id": MODEL,
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


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"p50 {statistics.median(ordered) * 1e3:.2f} / p95 {p95 * 1e3:.2f} / max {ordered[-1] * 1e3:.2f} ms"
    )


def run(url: str, n_students: int, dim: int, queries: int) -> tuple[list[tuple[str, str]], dict[str, float]]:
    upgrade(url)
    engine = create_engine(url)
    fill(engine, n_students, dim)
    repository = FaceprintRepository(engine)
    rows = [("machine", describe_machine()), ("database", engine.url.get_backend_name())]
    figures: dict[str, float] = {}

    rss_before = _rss_mib()
    loads, loads_cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        gallery = repository.load_gallery(MODEL)
        loads.append(time.perf_counter() - start)
        loads_cpu.append(time.process_time() - start_cpu)
    rss_after = _rss_mib()
    figures["cold_load_s"] = min(loads)
    figures["cold_load_max_s"] = max(loads)
    figures["cold_load_cpu_s"] = min(loads_cpu)
    rows += [
        ("faceprints / students", f"{len(gallery.usns)} / {len(gallery.students)} ({dim}-d float32)"),
        ("cold load (load_gallery), best / worst of 3", f"{min(loads):.3f} s / {max(loads):.3f} s"),
        ("  same, CPU time of this process, best of 3", f"{min(loads_cpu):.3f} s"),
        ("embedding matrix", f"{gallery.nbytes / 2**20:.1f} MiB"),
        ("process resident size before / after loads", f"{rss_before:.0f} / {rss_after:.0f} MiB"),
    ]

    probes = _unit_vectors(queries, dim, seed=1)
    # Half the queries are a stored faceprint plus noise, so some decisions are matches.
    probes[::2] = gallery.embeddings[:: max(1, len(gallery.usns) // (queries // 2 + 1))][: len(probes[::2])]
    gallery.prepare()  # per-student index, built once per gallery (Matcher does it at load)
    search, search_cpu = [], []
    for probe in probes:
        start, start_cpu = time.perf_counter(), time.process_time()
        names, scores = gallery.student_scores(probe)
        decide(names, scores, threshold=0.365, margin=0.05)
        search.append(time.perf_counter() - start)
        search_cpu.append(time.process_time() - start_cpu)
    matcher = Matcher(repository, MODEL, threshold=0.365, margin=0.05)
    matcher.gallery()
    matched = []
    for probe in probes[: max(50, queries // 4)]:
        start = time.perf_counter()
        matcher.match(probe)
        matched.append(time.perf_counter() - start)
    rows += [
        ("warm search + decision (exact numpy), wall clock", _ms(search)),
        ("  same, CPU time of this process", _ms(search_cpu)),
        ("warm Matcher.match (adds the version query)", _ms(matched)),
    ]
    figures["search_p95_ms"] = sorted(search)[int(0.95 * len(search))] * 1e3
    figures["search_cpu_p95_ms"] = sorted(search_cpu)[int(0.95 * len(search_cpu))] * 1e3
    figures["match_p95_ms"] = sorted(matched)[int(0.95 * len(matched))] * 1e3

    newcomer = _unit_vectors(1, dim, seed=2)[0]
    with engine.begin() as connection:
        connection.execute(
            students.insert().values(usn="NEW000001", name="New student", consent_given_at=datetime.now(UTC))
        )
    repository.save("NEW000001", "front", MODEL, newcomer)
    start, start_cpu = time.perf_counter(), time.process_time()
    result = matcher.match(newcomer)
    incremental = time.perf_counter() - start
    figures["incremental_cpu_ms"] = (time.process_time() - start_cpu) * 1e3
    start = time.perf_counter()
    Matcher(repository, MODEL, threshold=0.365, margin=0.05).gallery()
    figures["cold_matcher_s"] = time.perf_counter() - start
    rows.append(("cold Matcher: version query + load + index", f"{figures['cold_matcher_s']:.3f} s"))
    if result.usn != "NEW000001":
        raise RuntimeError("the warm matcher did not see the new enrollment")
    rows.append(
        (
            "first match after a new enrollment (merge, no reload)",
            f"{incremental * 1e3:.1f} ms (CPU {figures['incremental_cpu_ms']:.1f} ms)",
        )
    )
    figures["incremental_ms"] = incremental * 1e3
    engine.dispose()
    return rows, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    parser.add_argument("--students", type=int, default=10_000, help="five faceprints each")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of the figures")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'gallery.db'}"
        rows, figures = run(url, args.students, args.dim, args.queries)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
