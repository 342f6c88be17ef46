"""Enroll students from a folder of photos laid out as ``<folder>/<usn>/<pose>.<ext>``.

The same layout ``python -m infra.download_photos --dest DIR`` writes, so its folder can be
enrolled as it is. Every photo goes through the enroll function's rules (recorded consent,
quality gates, one faceprint per pose, re-enrolling a pose replaces it) and gets a line in the
report: accepted, or rejected with its reason. The exit status is 1 when any photo was rejected,
2 when the settings are invalid or the database cannot be reached.

    CLASSSIGHT_DATABASE_URL=sqlite:///var/classsight.db python -m infra.enroll --folder var/enrollment_photos
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from tqdm import tqdm

from cloud_functions.core.db.engine import get_engine, transaction
from cloud_functions.core.db.schema import students
from cloud_functions.core.errors import ConfigurationError, DatabaseUnavailableError, InvalidEventError
from cloud_functions.core.faces import EnrollmentService
from cloud_functions.core.faces.enrollment import (
    EnrollmentOutcome,
    EnrollmentPhoto,
    enrollment_service,
    validate_usn_pose,
)
from cloud_functions.core.settings import DatabaseSettings, FaceModelSettings, load_settings
from contracts.keys import ENROLLMENT_PHOTO_SUFFIXES

log = logging.getLogger(__name__)

# Photos read, gated and stored per round; one progress-bar step each.
CHUNK_PHOTOS = 8


class EnrollCliSettings(DatabaseSettings, FaceModelSettings):
    """What the enrollment CLI needs: the database and the face models."""


def cli_settings(database_url: str | None) -> EnrollCliSettings:
    """Settings from the environment, with ``--database-url`` winning when given."""
    if database_url is None:
        return load_settings(EnrollCliSettings)
    try:
        return EnrollCliSettings(database_url=database_url)
    except ValidationError as e:
        raise ConfigurationError(f"invalid settings: {e}") from None


@dataclass(frozen=True)
class FolderPhoto:
    """One photo file and the student and pose its path names."""

    usn: str
    pose: str
    path: Path


def folder_photos(folder: Path) -> tuple[list[FolderPhoto], list[EnrollmentOutcome]]:
    """The photos under ``folder/<usn>/<pose>.<ext>``, sorted, and a rejection for each badly named one."""
    photos: list[FolderPhoto] = []
    invalid: list[EnrollmentOutcome] = []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(p for p in student_dir.iterdir() if p.is_file()):
            if path.suffix.lower() not in ENROLLMENT_PHOTO_SUFFIXES:
                continue
            try:
                usn, pose = validate_usn_pose(student_dir.name, path.stem)
            except InvalidEventError as e:
                invalid.append(
                    EnrollmentOutcome(student_dir.name, path.stem, "rejected", f"invalid_name: {e}")
                )
                continue
            photos.append(FolderPhoto(usn, pose, path))
    return photos, invalid


def record_consent(engine: Engine, usns: Sequence[str], recorded_by: str) -> int:
    """Create missing students (named by their USN) and record consent now where none is recorded.

    For operators who collected consent outside the system (signed forms). Returns how many
    students were created or updated.
    """
    now = datetime.now(UTC)
    changed = 0
    with transaction(engine) as connection:
        existing = {
            row.usn: row.consent_given_at
            for row in connection.execute(
                sa.select(students.c.usn, students.c.consent_given_at).where(students.c.usn.in_(list(usns)))
            )
        }
        for usn in usns:
            if usn not in existing:
                connection.execute(
                    students.insert().values(
                        usn=usn, name=usn, consent_given_at=now, consent_given_by=recorded_by
                    )
                )
                changed += 1
            elif existing[usn] is None:
                connection.execute(
                    students.update()
                    .where(students.c.usn == usn)
                    .values(consent_given_at=now, consent_given_by=recorded_by)
                )
                changed += 1
    return changed


def enroll_folder(
    photos: Sequence[FolderPhoto], service: EnrollmentService, *, progress: bool = True
) -> list[EnrollmentOutcome]:
    """Enroll every photo; one outcome per photo, in order."""
    outcomes: list[EnrollmentOutcome] = []
    with tqdm(total=len(photos), unit="photo", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(photos), CHUNK_PHOTOS):
            chunk = photos[start : start + CHUNK_PHOTOS]
            batch = [EnrollmentPhoto(p.usn, p.pose, p.path.read_bytes()) for p in chunk]
            outcomes += service.enroll_batch(batch)
            bar.update(len(chunk))
    return outcomes


def print_report(outcomes: Sequence[EnrollmentOutcome]) -> None:
    """One line per photo, then the totals."""
    width_usn = max([len(o.usn) for o in outcomes] + [3])
    width_pose = max([len(o.pose) for o in outcomes] + [4])
    print(f"{'usn'.ljust(width_usn)}  {'pose'.ljust(width_pose)}  {'status':8}  reason")
    for o in outcomes:
        print(f"{o.usn.ljust(width_usn)}  {o.pose.ljust(width_pose)}  {o.status:8}  {o.reason or ''}")
    accepted = sum(o.accepted for o in outcomes)
    print(f"{len(outcomes)} photos: {accepted} accepted, {len(outcomes) - accepted} rejected")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.enroll",
        description=(
            "Enroll FOLDER/<usn>/<pose>.<ext> photos (e.g. the download_photos folder). Database "
            "and face-model settings come from CLASSSIGHT_* variables."
        ),
    )
    parser.add_argument("--folder", type=Path, required=True, help="folder of <usn>/<pose>.<ext> photos")
    parser.add_argument("--database-url", default=None, help="overrides CLASSSIGHT_DATABASE_URL")
    parser.add_argument(
        "--consent-recorded-by",
        default=None,
        metavar="WHO",
        help=(
            "consent was collected outside the system (e.g. signed forms): create missing students "
            "and record consent by WHO for those without it, before enrolling"
        ),
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    try:
        settings = cli_settings(args.database_url)
        engine = get_engine(settings.database_url)
        photos, invalid = folder_photos(args.folder)
        if args.consent_recorded_by:
            changed = record_consent(engine, sorted({p.usn for p in photos}), args.consent_recorded_by)
            print(f"consent recorded by {args.consent_recorded_by} for {changed} students")
        service = enrollment_service(settings, engine)
        outcomes = invalid + enroll_folder(photos, service, progress=not args.no_progress)
    except (ConfigurationError, DatabaseUnavailableError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_report(outcomes)
    return 0 if all(o.accepted for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
