"""Learning from corrections: wrong accepts before and after a teacher's "this was not X".

    python -m bench.corrections [--thresholds 0.365,0.30,0.25] [--negative-margin 0.0] [--json]

**Measured** on the LFW subset with the face pipeline of face_match (YuNet + ONNX ArcFace).
Each of the 12 known people enrolls their first 3 photos that pass the enrollment gates; their
other photos are held out. Leave one person out at a time: that person P is an impostor (not
enrolled) and the other 11 are the gallery. P's photos are split in two halves by file order.

1. *Corrected captures*: each photo of the first half that the matcher's rule
   (``decide_for_class`` over the whole gallery, then ``enforce_negatives``) accepts as some
   enrolled X is a wrong accept; the teacher corrects it, and its embedding becomes a negative
   for X (corrections are applied in order, so a later photo already meets the earlier ones).
2. *Replay*: the second half of P's photos (other photos of the impostor) is matched without
   negatives (before) and with them (after); so are the 20 unknown people's photos against the
   gallery with every negative learned (strangers the corrections never saw).
3. *Genuine*: every held-out photo of each X that has negatives is matched before and after;
   an accept lost is an honest student refused because they resemble the impostor.

Then the halves swap roles, so each impostor photo is replayed once. At the configured
threshold (0.365) the subset holds few wrong accepts, so lower thresholds are run as stress
rows: they show what negatives do when look-alikes get through, not what the door does today.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bench.faces import DEFAULT_DATA, load_subset
from bench.machine import describe_machine
from cloud_functions.core.faces import FacePipeline, FaceRejectedError
from cloud_functions.core.matching import Gallery, MatchResult, decide_for_class, enforce_negatives
from cloud_functions.core.settings import FaceModelSettings


@dataclass(frozen=True)
class Embedded:
    identity: str
    known: bool
    number: int
    embedding: NDArray[np.float32]


def embed(data: Path, settings: FaceModelSettings, enroll_per_person: int) -> tuple[dict[str, list], list]:
    """Enrollment prints per known person, and every other photo (capture mode) that passes the gates."""
    pipeline = FacePipeline.from_settings(settings)
    prints: dict[str, list[NDArray[np.float32]]] = {}
    queries: list[Embedded] = []
    for number, photo in enumerate(load_subset(data)):
        body = photo.path.read_bytes()
        if photo.known and len(prints.get(photo.identity, [])) < enroll_per_person:
            try:
                prints.setdefault(photo.identity, []).append(pipeline.analyse(body, "enroll").embedding)
                continue
            except FaceRejectedError:
                pass
        try:
            queries.append(
                Embedded(photo.identity, photo.known, number, pipeline.analyse(body, "capture").embedding)
            )
        except FaceRejectedError:
            continue
    return prints, queries


@dataclass
class Row:
    threshold: float
    corrections: int = 0
    corrected_replayed_wrong_after: int = 0
    """The corrected captures themselves replayed with every negative of their half (a re-sent crop)."""
    impostor_replays: int = 0
    impostor_wrong_before: int = 0
    impostor_wrong_after: int = 0
    stranger_replays: int = 0
    stranger_wrong_before: int = 0
    stranger_wrong_after: int = 0
    genuine: int = 0
    genuine_accepted_before: int = 0
    genuine_accepted_after: int = 0
    pairs: set[tuple[str, str]] = field(default_factory=set)


def _decide(
    gallery: Gallery,
    query: NDArray[np.float32],
    negatives: dict[str, list[NDArray[np.float32]]],
    settings: FaceModelSettings,
    threshold: float,
    negative_margin: float,
) -> MatchResult:
    students, scores = gallery.student_scores(query)
    result = decide_for_class(
        students,
        scores,
        threshold=threshold,
        margin=settings.match_margin,
        off_roster_threshold=max(threshold, settings.off_roster_match_threshold),
    )
    named = result.best_usn if result.is_match else None
    rows = negatives.get(named or "")
    nearest = float(max(np.stack(rows) @ query)) if rows else None
    return enforce_negatives(result, nearest, negative_margin=negative_margin)


def replay(
    prints: dict[str, list[NDArray[np.float32]]],
    queries: list[Embedded],
    settings: FaceModelSettings,
    threshold: float,
    negative_margin: float,
) -> Row:
    row = Row(threshold)
    people = sorted(prints)
    strangers = [q for q in queries if not q.known]
    for impostor in people:
        enrolled = [p for p in people if p != impostor]
        gallery = Gallery.from_rows(
            "bench", [p for p in enrolled for _ in prints[p]], [e for p in enrolled for e in prints[p]]
        ).prepare()
        own = sorted((q for q in queries if q.identity == impostor), key=lambda q: q.number)
        half = len(own) // 2
        for corrected, replayed in ((own[:half], own[half:]), (own[half:], own[:half])):
            negatives: dict[str, list[NDArray[np.float32]]] = {}
            for query in corrected:
                result = _decide(gallery, query.embedding, negatives, settings, threshold, negative_margin)
                if result.is_match:
                    assert result.usn is not None
                    negatives.setdefault(result.usn, []).append(query.embedding)
                    row.corrections += 1
                    row.pairs.add((impostor, result.usn))
            if not negatives:
                continue
            for query in corrected:
                row.corrected_replayed_wrong_after += _decide(
                    gallery, query.embedding, negatives, settings, threshold, negative_margin
                ).is_match
            for query in replayed:
                row.impostor_replays += 1
                row.impostor_wrong_before += _decide(
                    gallery, query.embedding, {}, settings, threshold, 0
                ).is_match
                row.impostor_wrong_after += _decide(
                    gallery, query.embedding, negatives, settings, threshold, negative_margin
                ).is_match
            for query in strangers:
                row.stranger_replays += 1
                row.stranger_wrong_before += _decide(
                    gallery, query.embedding, {}, settings, threshold, 0
                ).is_match
                row.stranger_wrong_after += _decide(
                    gallery, query.embedding, negatives, settings, threshold, negative_margin
                ).is_match
            for query in queries:
                if query.identity not in negatives:
                    continue
                row.genuine += 1
                before = _decide(gallery, query.embedding, {}, settings, threshold, 0)
                after = _decide(gallery, query.embedding, negatives, settings, threshold, negative_margin)
                row.genuine_accepted_before += before.usn == query.identity
                row.genuine_accepted_after += after.usn == query.identity
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--thresholds", default="0.365,0.30,0.25,0.20")
    parser.add_argument("--negative-margin", type=float, default=None)
    parser.add_argument("--enroll-per-person", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = FaceModelSettings()
    negative_margin = settings.negative_margin if args.negative_margin is None else args.negative_margin
    started = time.perf_counter()
    prints, queries = embed(args.data, settings, args.enroll_per_person)
    embed_s = time.perf_counter() - started
    rows = [
        replay(prints, queries, settings, float(t), negative_margin)
        for t in args.thresholds.split(",")
        if t.strip()
    ]
    print(describe_machine())
    print(
        f"{len(prints)} enrolled people x {args.enroll_per_person} prints, {len(queries)} query photos "
        f"embedded in {embed_s:.1f} s; margin {settings.match_margin}, negative_margin {negative_margin}"
    )
    print(
        "| threshold | corrections (pairs) | corrected captures replayed: wrong accepts after "
        "| impostor replays: wrong accepts before -> after "
        "| strangers: wrong accepts before -> after | genuine of corrected X: accepted before -> after |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        label = f"{r.threshold:.3f}" + (
            " (configured)" if abs(r.threshold - settings.match_threshold) < 1e-9 else ""
        )
        print(
            f"| {label} | {r.corrections} ({len(r.pairs)}) "
            f"| {r.corrected_replayed_wrong_after} of {r.corrections} "
            f"| {r.impostor_wrong_before} -> {r.impostor_wrong_after} of {r.impostor_replays} "
            f"| {r.stranger_wrong_before} -> {r.stranger_wrong_after} of {r.stranger_replays} "
            f"| {r.genuine_accepted_before} -> {r.genuine_accepted_after} of {r.genuine} |"
        )
    for r in rows:
        if r.pairs:
            pairs = ", ".join(f"{a}->{b}" for a, b in sorted(r.pairs))
            print(f"wrongly accepted pairs at {r.threshold:.3f}: {pairs}")
    if args.json:
        print(
            json.dumps(
                [
                    {k: v for k, v in vars(r).items() if k != "pairs"} | {"pairs": sorted(r.pairs)}
                    for r in rows
                ]
            )
        )


if __name__ == "__main__":
    main()
