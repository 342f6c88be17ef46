"""Proxy-rule simulation: scripted door/room event streams → caught / missed / false flags.

Usage::

    .venv/bin/python bench/proxy_rules.py [--classes 50] [--students 40] [--seed 7] [--json]

Each simulated class has honest students (door recognition, then a track entering through the
door zone a few seconds later and tagged with the handoff; some after another class in another
room, not overlapping) and proxy attempts of three kinds: a photo shown at the door by someone
who never walks in; one body showing two faces at the door (one track tagged twice); one
student recognised in two rooms at once (a photo in the other room's doorway). The room
camera is imperfect: ``--missed-entry`` is the share of honest entries it misses (an occluded
door zone), ``--late-s`` the latest an honest tag lands. Printed: per rule, attacks caught and
missed, and false flags on honest students (all scripted: figures say what the rules do on
these streams, not on real footage).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cloud_functions.core.proxy_rules import (
    DoorRecognition,
    DoorZoneEntry,
    ProxyRules,
    RoomSighting,
    TrackTag,
)

START = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
KINDS = ("not_confirmed", "one_body_two_faces", "two_rooms")


@dataclass
class Streams:
    doors: list[DoorRecognition]
    entries: list[DoorZoneEntry]
    tags: list[TrackTag]
    sightings: list[RoomSighting]
    attacks: dict[str, set[str]]
    """kind -> the usns a correct rule flags for it."""


def simulate_class(rng: random.Random, n: int, k: int, *, missed_entry: float, late_s: float) -> Streams:
    doors: list[DoorRecognition] = []
    entries: list[DoorZoneEntry] = []
    tags: list[TrackTag] = []
    sightings: list[RoomSighting] = []
    attacks: dict[str, set[str]] = {kind: set() for kind in KINDS}
    tracker = iter(range(1, 10_000))
    students = [f"1CS{k:02d}{i:04d}" for i in range(n)]
    rng.shuffle(students)
    photo, bodies, elsewhere = students[:2], students[2:6], students[6:8]
    attacks["not_confirmed"] = set(photo)
    attacks["one_body_two_faces"] = set(bodies)
    attacks["two_rooms"] = set(elsewhere)
    for i, usn in enumerate(students):
        at = START + timedelta(seconds=rng.uniform(-300, 900))
        capture = f"{k}-{i}"
        if usn in bodies[1::2]:
            continue  # the second face, shown by the body of the student before it (below)
        doors.append(DoorRecognition(usn, "R101", capture, at))
        if usn in photo:
            continue  # shown at the door, nobody walks in
        track = next(tracker)
        if rng.random() >= missed_entry:
            entries.append(DoorZoneEntry("R101", track, at + timedelta(seconds=rng.uniform(1, 6))))
        tags.append(TrackTag("R101", track, usn, capture, at + timedelta(seconds=rng.uniform(1, late_s))))
        if usn in bodies[0::2]:
            partner = bodies[bodies.index(usn) + 1]
            swap = at + timedelta(seconds=rng.uniform(2, 8))
            doors.append(DoorRecognition(partner, "R101", f"{capture}b", swap))
            tags.append(TrackTag("R101", track, partner, f"{capture}b", swap + timedelta(seconds=1)))
        end = START + timedelta(minutes=60)
        sightings.append(RoomSighting(usn, "R101", at, end))
        if usn in elsewhere:
            sightings.append(RoomSighting(usn, "R102", at + timedelta(minutes=5), end))
        elif rng.random() < 0.2:
            # Honest: the next class in another room, after this one ends.
            later = end + timedelta(minutes=rng.uniform(5, 20))
            sightings.append(RoomSighting(usn, "R102", later, later + timedelta(minutes=50)))
    return Streams(doors, entries, tags, sightings, attacks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--missed-entry", type=float, default=0.02, help="honest entries cam2 misses")
    parser.add_argument("--late-s", type=float, default=20.0, help="latest an honest tag lands (s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rules = ProxyRules()
    caught, missed, false = Counter[str](), Counter[str](), Counter[str]()
    for k in range(args.classes):
        s = simulate_class(rng, args.students, k, missed_entry=args.missed_entry, late_s=args.late_s)
        now = START + timedelta(hours=2)
        found = {
            "not_confirmed": {f.usn for f in rules.not_confirmed(s.doors, s.entries, s.tags, now)},
            "one_body_two_faces": {f.usn for f in rules.one_body_two_faces(s.tags, s.doors)},
            "two_rooms": {f.usn for f in rules.two_rooms(s.sightings)},
        }
        for kind in KINDS:
            caught[kind] += len(found[kind] & s.attacks[kind])
            missed[kind] += len(s.attacks[kind] - found[kind])
            honest = found[kind] - set().union(*s.attacks.values())
            false[kind] += len(honest)
    honest_students = args.classes * (args.students - 8)
    print(
        f"{args.classes} scripted classes x {args.students} students; cam2 misses "
        f"{args.missed_entry:.0%} of honest entries; tags land up to {args.late_s:g} s late"
    )
    print("| rule               | caught | missed | false flags (honest students) |")
    print("|--------------------|-------:|-------:|------------------------------:|")
    for kind in KINDS:
        flagged = f"{false[kind]:6d} of {honest_students}"
        print(f"| {kind:<18} | {caught[kind]:6d} | {missed[kind]:6d} | {flagged:>29} |")
    if args.json:
        print(
            json.dumps({"caught": caught, "missed": missed, "false_flags": false, "honest": honest_students})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
