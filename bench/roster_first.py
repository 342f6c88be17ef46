"""False accepts at the door, roster-first vs whole-gallery, as the gallery grows.

    python -m bench.roster_first [--reps 20] [--roster-size 60] [--json]

**Measured** (LFW subset, YuNet + ONNX ArcFace, the face pipeline of face_match): each of the
12 known people enrolls their first 3 photos that pass the enrollment gates; every other photo
of theirs is a door query. A query's score for a student is the best similarity over that
student's 3 prints, exactly as the matcher computes it. That gives, per query, a *genuine*
score (its own person) and *impostor* scores (the other real people). Strangers are the 20
unknown people's photos plus every known query with its own person taken out of the gallery.
The row ``12 (real only)`` uses nothing else: every figure in it is measured.

**Modelled** (the larger galleries): a campus of N identities is the real people plus N - 12
distractor students whose scores for a query are drawn independently from a normal
distribution with that query's mean impostor score (measured over the real people) and the
pooled within-query standard deviation of the measured impostor scores. A query that looks
like everybody (a high mean) therefore stays high against the distractors too. The model check
printed below compares the share of measured impostor scores above a few levels with the
model's; a real campus with twins and siblings has a heavier tail than this model, which is
what the enrollment look-alike flags are for.

Every trial draws a roster of ``--roster-size`` students out of the gallery (the query's own
person on it for a rostered student, off it for a student of another class) and fresh
distractor scores, and runs the matcher's own rule (``decide_for_class``) twice: with the
roster (roster-first) and without (whole gallery, the behaviour of a course with no roster).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bench.faces import DEFAULT_DATA, load_subset
from bench.machine import describe_machine
from cloud_functions.core.faces import FacePipeline, FaceRejectedError
from cloud_functions.core.matching import MatchDecision, MatchResult, decide_for_class
from cloud_functions.core.settings import FaceModelSettings

GALLERY_SIZES = (100, 1_000, 10_000, 50_000)
OFF_ROSTER_SWEEP = (0.365, 0.45, 0.50, 0.55, 0.60)


@dataclass(frozen=True)
class Query:
    identity: str | None
    """The known person the photo shows; None for one of the 20 unknown people."""
    scores: dict[str, float]
    """Measured score for each real enrolled person."""

    def impostor_scores(self, without: str | None = None) -> list[float]:
        return [s for person, s in self.scores.items() if person not in (self.identity, without)]


def measure(data: Path, settings: FaceModelSettings, enroll_per_person: int) -> tuple[list[Query], list[str]]:
    """Real queries with their measured scores for every real enrolled person."""
    pipeline = FacePipeline.from_settings(settings)
    photos = load_subset(data)
    prints: dict[str, list[NDArray[np.float32]]] = {}
    query_photos = []
    for photo in photos:
        body = photo.path.read_bytes()
        if photo.known and len(prints.get(photo.identity, [])) < enroll_per_person:
            try:
                prints.setdefault(photo.identity, []).append(pipeline.analyse(body, "enroll").embedding)
                continue
            except FaceRejectedError:
                pass
        query_photos.append((photo, body))
    people = sorted(prints)
    queries = []
    for photo, body in query_photos:
        try:
            embedding = pipeline.analyse(body, "capture").embedding
        except FaceRejectedError:
            continue
        scores = {person: float(max(np.stack(prints[person]) @ embedding)) for person in people}
        queries.append(Query(photo.identity if photo.known else None, scores))
    return queries, people


@dataclass(frozen=True)
class DistractorModel:
    query_means: dict[int, float]
    sd: float

    @classmethod
    def fit(cls, queries: Sequence[Query]) -> DistractorModel:
        means, residuals = {}, []
        for i, query in enumerate(queries):
            values = np.asarray(query.impostor_scores())
            means[i] = float(values.mean())
            residuals.append(values - values.mean())
        pooled = np.concatenate(residuals)
        dof = len(pooled) - len(queries)
        return cls(means, float(np.sqrt((pooled**2).sum() / dof)))

    def draw(self, query_index: int, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return rng.normal(self.query_means[query_index], self.sd, n)


@dataclass
class Tally:
    trials: int = 0
    marked_wrong: int = 0
    """Attendance for a student the face is not (a false accept)."""
    marked_own: int = 0
    named_off_roster_wrong: int = 0
    named_off_roster_own: int = 0

    def add(self, result: MatchResult, identity: str | None) -> None:
        self.trials += 1
        if result.decision is MatchDecision.MATCH:
            if result.usn == identity:
                self.marked_own += 1
            else:
                self.marked_wrong += 1
        elif result.decision is MatchDecision.NOT_ON_ROSTER:
            if result.best_usn == identity:
                self.named_off_roster_own += 1
            else:
                self.named_off_roster_wrong += 1

    def rate(self, count: int) -> float:
        return count / self.trials if self.trials else 0.0


def simulate(
    queries: Sequence[Query],
    people: Sequence[str],
    model: DistractorModel,
    *,
    gallery_size: int | None,
    roster_size: int,
    reps: int,
    threshold: float,
    margin: float,
    off_roster_threshold: float,
    rng: np.random.Generator,
) -> dict[str, dict[str, Tally]]:
    """Tallies per scenario (stranger, rostered, off_roster) and mode (whole, roster_first).

    ``gallery_size`` None: the real people alone (measured only; half of them on the roster).
    """
    distractors = 0 if gallery_size is None else gallery_size - len(people)
    students = tuple(sorted([f"~{i:06d}" for i in range(distractors)] + list(people)))
    index = {s: i for i, s in enumerate(students)}
    real = np.array([index[p] for p in people])
    fake = np.array([i for i, s in enumerate(students) if s.startswith("~")], dtype=np.intp)
    size = roster_size if gallery_size is not None else len(people) // 2
    tallies = {
        sc: {"whole": Tally(), "roster_first": Tally()} for sc in ("stranger", "rostered", "off_roster")
    }
    scenarios: list[tuple[str, int, Query]] = []
    for qi, query in enumerate(queries):
        scenarios.append(("stranger", qi, query))
        if query.identity is not None:
            scenarios += [("rostered", qi, query), ("off_roster", qi, query)]
    for _ in range(reps if gallery_size is not None else max(reps, 50)):
        for scenario, qi, query in scenarios:
            scores = np.empty(len(students))
            scores[real] = [query.scores[p] for p in people]
            if fake.size:
                scores[fake] = model.draw(qi, fake.size, rng)
            keep = np.ones(len(students), dtype=bool)
            identity = query.identity
            if scenario == "stranger" and identity is not None:
                keep[index[identity]] = False  # their own person is not enrolled: a stranger
            candidates = np.flatnonzero(keep)
            if scenario == "rostered":
                own = index[identity]  # type: ignore[index]
                others = rng.choice(candidates[candidates != own], size - 1, replace=False)
                roster_ids = [own, *others.tolist()]
            else:
                pool = candidates if identity is None else candidates[candidates != index[identity]]
                roster_ids = rng.choice(pool, size, replace=False).tolist()
            roster = frozenset(students[i] for i in roster_ids)
            kept_students = [students[i] for i in candidates] if not keep.all() else students
            kept_scores = scores[candidates] if not keep.all() else scores
            truth = None if scenario == "stranger" else identity
            for mode, with_roster in (("whole", None), ("roster_first", roster)):
                result = decide_for_class(
                    kept_students,
                    kept_scores,
                    threshold=threshold,
                    margin=margin,
                    off_roster_threshold=off_roster_threshold,
                    roster=with_roster,
                )
                tallies[scenario][mode].add(result, truth)
    return tallies


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--reps", type=int, default=20, help="trials per query and gallery size")
    parser.add_argument("--roster-size", type=int, default=60)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of the figures")
    args = parser.parse_args(argv)

    settings = FaceModelSettings()
    threshold, margin = settings.match_threshold, settings.match_margin
    off = settings.off_roster_match_threshold
    print(describe_machine())
    started = time.perf_counter()
    queries, people = measure(args.data, settings, enroll_per_person=3)
    model = DistractorModel.fit(queries)
    genuine = np.array([q.scores[q.identity] for q in queries if q.identity is not None])
    impostor = np.concatenate([q.impostor_scores() for q in queries])
    print(
        f"measured: {len(people)} enrolled people, {len(queries)} door queries "
        f"({len(genuine)} of enrolled people, {len(queries) - len(genuine)} of unknown people); "
        f"{len(genuine)} genuine and {len(impostor)} impostor student scores"
    )
    print(
        f"genuine score p1/p5/median {np.percentile(genuine, 1):.3f}/{np.percentile(genuine, 5):.3f}/"
        f"{np.median(genuine):.3f}; impostor mean {impostor.mean():.3f} sd {impostor.std():.3f} "
        f"max {impostor.max():.3f}; model: per-query mean, pooled sd {model.sd:.3f}"
    )
    rng = np.random.default_rng(args.seed)
    modelled = np.concatenate([model.draw(i, 2000, rng) for i in range(len(queries))])
    print("model check, share of impostor scores above:")
    for level in (0.2, 0.3, threshold):
        measured_share, model_share = (impostor >= level).mean(), (modelled >= level).mean()
        print(f"  {level:.3f}: measured {_pct(measured_share)}, model {_pct(model_share)}")
    print(
        f"threshold {threshold} margin {margin} off_roster_match_threshold {off}; roster {args.roster_size}; "
        f"{args.reps} trials per query and size"
    )

    header = (
        "| gallery (identities) | stranger marked: whole / roster-first | stranger named not_on_roster "
        "| rostered student marked: whole / roster-first | other class's student: marked as himself (whole) "
        "/ credited to a rostered student (roster-first) / named not_on_roster |"
    )
    print(header)
    print("|---|---|---|---|---|")
    figures: dict[str, object] = {"threshold": threshold, "margin": margin, "off_roster_match_threshold": off}
    rows = {}
    for size in (None, *GALLERY_SIZES):
        t = simulate(
            queries,
            people,
            model,
            gallery_size=size,
            roster_size=args.roster_size,
            reps=args.reps,
            threshold=threshold,
            margin=margin,
            off_roster_threshold=off,
            rng=rng,
        )
        s, r, o = t["stranger"], t["rostered"], t["off_roster"]
        label = f"{len(people)} (real only)" if size is None else f"{size:,}"
        row = {
            "stranger_trials": s["whole"].trials,
            "stranger_marked_whole": s["whole"].rate(s["whole"].marked_wrong),
            "stranger_marked_roster_first": s["roster_first"].rate(s["roster_first"].marked_wrong),
            "stranger_named_not_on_roster": s["roster_first"].rate(s["roster_first"].named_off_roster_wrong),
            "rostered_marked_whole": r["whole"].rate(r["whole"].marked_own),
            "rostered_marked_roster_first": r["roster_first"].rate(r["roster_first"].marked_own),
            "rostered_marked_wrong_whole": r["whole"].rate(r["whole"].marked_wrong),
            "rostered_marked_wrong_roster_first": r["roster_first"].rate(r["roster_first"].marked_wrong),
            "off_roster_marked_own_whole": o["whole"].rate(o["whole"].marked_own),
            "off_roster_marked_wrong_whole": o["whole"].rate(o["whole"].marked_wrong),
            "off_roster_marked_roster_first": o["roster_first"].rate(o["roster_first"].marked_wrong),
            "off_roster_named_not_on_roster": o["roster_first"].rate(o["roster_first"].named_off_roster_own),
        }
        rows[label] = row
        print(
            f"| {label} | {_pct(row['stranger_marked_whole'])} / {_pct(row['stranger_marked_roster_first'])} "
            f"({s['whole'].trials} trials) | {_pct(row['stranger_named_not_on_roster'])} "
            f"| {_pct(row['rostered_marked_whole'])} / {_pct(row['rostered_marked_roster_first'])} "
            f"| {_pct(row['off_roster_marked_own_whole'])} / {_pct(row['off_roster_marked_roster_first'])} "
            f"/ {_pct(row['off_roster_named_not_on_roster'])} |"
        )
    figures["rows"] = rows

    print(f"off_roster_match_threshold sweep at {GALLERY_SIZES[-1]:,} identities:")
    print(
        "| off_roster_match_threshold | stranger named not_on_roster | other class's student named "
        "| stranger marked (roster-first) |"
    )
    print("|---|---|---|---|")
    sweep = {}
    for level in OFF_ROSTER_SWEEP:
        t = simulate(
            queries,
            people,
            model,
            gallery_size=GALLERY_SIZES[-1],
            roster_size=args.roster_size,
            reps=max(1, args.reps // 2),
            threshold=threshold,
            margin=margin,
            off_roster_threshold=level,
            rng=rng,
        )
        s, o = t["stranger"]["roster_first"], t["off_roster"]["roster_first"]
        sweep[str(level)] = {
            "stranger_named": s.rate(s.named_off_roster_wrong),
            "off_roster_named": o.rate(o.named_off_roster_own),
            "stranger_marked": s.rate(s.marked_wrong),
        }
        point = sweep[str(level)]
        print(
            f"| {level} | {_pct(point['stranger_named'])} | {_pct(point['off_roster_named'])} "
            f"| {_pct(point['stranger_marked'])} |"
        )
    figures["off_roster_sweep"] = sweep
    print(f"ran {time.perf_counter() - started:.0f} s")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
