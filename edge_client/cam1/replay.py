"""Doorway replays built from portrait photos, for tests, benchmarks and demos without a camera.

Each photo stands for one person who steps in front of the doorway camera and holds still for
``hold_s`` seconds: the photo is scaled and placed into a 640x480 frame on a plain background.
``layout`` says where the next person stands:

- ``alternate``: left and right in turn, straight after each other (no empty frames);
- ``gap``: all at the centre, with ``gap_s`` seconds of empty doorway between people.

The replay is written as numbered JPEG files, so it runs through the real folder source.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge_client.cam1.errors import ReplayError

FRAME_SIZE = (640, 480)
BACKGROUND_BGR = (90, 90, 90)


@dataclass(frozen=True, slots=True)
class ReplaySegment:
    """Ground truth of one person in the replay: who, and which frames show them."""

    person: str
    first_frame: int
    last_frame: int


def _blank() -> np.ndarray:
    return np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), BACKGROUND_BGR, np.uint8)


def doorway_frames(
    photos: Sequence[Path],
    *,
    fps: float = 10.0,
    hold_s: float = 3.0,
    layout: Literal["alternate", "gap"] = "alternate",
    gap_s: float = 1.5,
    photo_px: int = 312,
) -> Iterator[tuple[np.ndarray, str | None]]:
    """Yield ``(frame, person or None)`` for each frame of the replay."""
    hold_frames = round(hold_s * fps)
    gap_frames = round(gap_s * fps) if layout == "gap" else 0
    width, height = FRAME_SIZE
    for number, path in enumerate(photos):
        photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if photo is None:
            raise ReplayError(f"cannot read photo {path}")
        photo = cv2.resize(photo, (photo_px, photo_px), interpolation=cv2.INTER_CUBIC)
        if layout == "alternate":
            x = 20 if number % 2 == 0 else width - photo_px - 20
        else:
            x = (width - photo_px) // 2
        y = (height - photo_px) // 2
        frame = _blank()
        frame[y : y + photo_px, x : x + photo_px] = photo
        person = path.parent.name
        for _ in range(hold_frames):
            yield frame, person
        for _ in range(gap_frames):
            yield _blank(), None


def write_doorway_replay(folder: Path, photos: Sequence[Path], **options: object) -> list[ReplaySegment]:
    """Write the replay as ``folder/000000.jpg ...`` and return who is shown in which frames.

    ``options`` are those of :func:`doorway_frames`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    segments: list[ReplaySegment] = []
    for index, (frame, person) in enumerate(doorway_frames(photos, **options)):  # type: ignore[arg-type]
        cv2.imwrite(str(folder / f"{index:06d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if person is None:
            continue
        if segments and segments[-1].person == person and segments[-1].last_frame == index - 1:
            segments[-1] = ReplaySegment(person, segments[-1].first_frame, index)
        else:
            segments.append(ReplaySegment(person, index, index))
    return segments


def one_photo_per_person(people_dir: Path) -> list[Path]:
    """The first photo (name order) of each person folder under ``people_dir``."""
    photos = []
    for person in sorted(p for p in people_dir.iterdir() if p.is_dir()):
        first = sorted(person.glob("*.jpg"))
        if first:
            photos.append(first[0])
    return photos


@dataclass(frozen=True, slots=True)
class DoorVisit:
    """One person at the door: the photo that stands for them and when they step up (seconds)."""

    photo: Path
    at_s: float


def timed_doorway_frames(
    visits: Sequence[DoorVisit],
    *,
    fps: float = 10.0,
    hold_s: float = 3.0,
    gap_s: float = 0.5,
    tail_s: float = 1.0,
    photo_px: int = 312,
) -> Iterator[tuple[np.ndarray, str | None]]:
    """Yield ``(frame, person or None)`` for a doorway where people arrive at given times.

    The door is single file: each visitor stands still at the centre for ``hold_s`` from
    ``at_s``, or, when someone is still there, ``gap_s`` after that person has gone.
    """
    if fps <= 0 or hold_s <= 0:
        raise ReplayError("fps and hold_s must be positive")
    width, height = FRAME_SIZE
    x, y = (width - photo_px) // 2, (height - photo_px) // 2
    hold_frames = max(1, round(hold_s * fps))
    placed: list[tuple[int, np.ndarray, str]] = []  # first frame, photo, person
    free_from = 0
    for visit in sorted(visits, key=lambda v: v.at_s):
        photo = cv2.imread(str(visit.photo), cv2.IMREAD_COLOR)
        if photo is None:
            raise ReplayError(f"cannot read photo {visit.photo}")
        first = max(free_from, round(visit.at_s * fps))
        placed.append(
            (
                first,
                cv2.resize(photo, (photo_px, photo_px), interpolation=cv2.INTER_CUBIC),
                visit.photo.parent.name,
            )
        )
        free_from = first + hold_frames + round(gap_s * fps)
    last = (placed[-1][0] + hold_frames if placed else 0) + round(tail_s * fps)
    shown = iter(placed)
    current = next(shown, None)
    for index in range(last):
        while current is not None and index >= current[0] + hold_frames:
            current = next(shown, None)
        if current is not None and index >= current[0]:
            frame = _blank()
            frame[y : y + photo_px, x : x + photo_px] = current[1]
            yield frame, current[2]
        else:
            yield _blank(), None


def door_visit_starts(
    visits: Sequence[DoorVisit], *, fps: float = 10.0, hold_s: float = 3.0, gap_s: float = 0.5
) -> list[float]:
    """When each visitor of :func:`timed_doorway_frames` actually steps up (seconds, visit order)."""
    hold_frames = max(1, round(hold_s * fps))
    free_from, starts = 0, []
    for visit in visits:
        first = max(free_from, round(visit.at_s * fps))
        starts.append(first / fps)
        free_from = first + hold_frames + round(gap_s * fps)
    return starts


def write_timed_doorway_replay(folder: Path, visits: Sequence[DoorVisit], **options: object) -> int:
    """Write :func:`timed_doorway_frames` as ``folder/000000.jpg ...``; returns the frame count."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for index, (frame, _) in enumerate(timed_doorway_frames(visits, **options)):  # type: ignore[arg-type]
        cv2.imwrite(str(folder / f"{index:06d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        count += 1
    return count
