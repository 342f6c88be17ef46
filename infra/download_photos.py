"""Download each student's enrollment photos from the image URLs in the ``enrollments`` table.

The seed's data-preparation step: rows of ``enrollments`` that carry a ``source_url`` are
fetched into ``<dest>/<usn>/<pose><ext>``, the layout the folder enrollment reads. Re-runs skip
files already there, so an interrupted run resumes where it stopped. Every URL that fails is
reported with its reason; the exit status is 1 when any did.

    python -m infra.download_photos --dest var/enrollment_photos
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tqdm import tqdm

from cloud_functions.core.db.engine import get_engine
from cloud_functions.core.db.schema import enrollments
from cloud_functions.core.settings import DatabaseSettings, load_settings

log = logging.getLogger(__name__)

# Magic numbers of the image formats enrollment accepts, and the suffix each is saved under.
_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"RIFF", ".webp"),  # checked further below: RIFF....WEBP
    (b"BM", ".bmp"),
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class PhotoSource:
    """One enrollment photo to fetch."""

    usn: str
    pose: str
    url: str


@dataclass(frozen=True)
class DownloadOutcome:
    """What happened to one photo: ``downloaded``, ``skipped`` (already there) or ``failed``."""

    source: PhotoSource
    status: str
    path: Path | None = None
    reason: str | None = None


class DownloadRejectedError(Exception):
    """The URL answered, but not with a usable image."""


def image_suffix(content: bytes) -> str:
    """The file suffix for ``content``, or raise ``DownloadRejectedError`` if it is no image."""
    for signature, suffix in _IMAGE_SIGNATURES:
        if content.startswith(signature):
            if suffix == ".webp" and content[8:12] != b"WEBP":
                continue
            return suffix
    raise DownloadRejectedError("not an image (unknown file signature)")


def photo_sources(engine: Engine) -> list[PhotoSource]:
    """Every enrollment row with an image URL, in a stable order."""
    query = (
        sa.select(enrollments.c.usn, enrollments.c.pose, enrollments.c.source_url)
        .where(enrollments.c.source_url.is_not(None))
        .order_by(enrollments.c.usn, enrollments.c.pose)
    )
    with engine.connect() as connection:
        return [PhotoSource(row.usn, row.pose, row.source_url) for row in connection.execute(query)]


def _existing(folder: Path, pose: str) -> Path | None:
    return next((p for p in sorted(folder.glob(f"{pose}.*")) if p.is_file()), None)


def download_one(client: httpx.Client, source: PhotoSource, dest: Path, *, max_bytes: int) -> DownloadOutcome:
    """Fetch one photo into ``dest/<usn>/<pose><ext>`` unless it is already there."""
    if not (_SAFE_NAME.match(source.usn) and _SAFE_NAME.match(source.pose)):
        # USNs and poses become path parts; anything else could escape the destination folder.
        return DownloadOutcome(source, "failed", reason="usn or pose is not a safe file name")
    folder = dest / source.usn
    existing = _existing(folder, source.pose)
    if existing is not None:
        return DownloadOutcome(source, "skipped", path=existing)
    try:
        with client.stream("GET", source.url) as response:
            response.raise_for_status()
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadRejectedError(f"larger than {max_bytes} bytes")
                chunks.append(chunk)
        content = b"".join(chunks)
        if not content:
            raise DownloadRejectedError("empty response")
        suffix = image_suffix(content)
    except httpx.HTTPStatusError as e:
        return DownloadOutcome(source, "failed", reason=f"HTTP {e.response.status_code}")
    except httpx.HTTPError as e:
        return DownloadOutcome(source, "failed", reason=f"{type(e).__name__}: {e}")
    except DownloadRejectedError as e:
        return DownloadOutcome(source, "failed", reason=str(e))

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source.pose}{suffix}"
    # Write then rename, so an interrupted run never leaves a half file that a re-run would skip.
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(content)
    partial.replace(path)
    return DownloadOutcome(source, "downloaded", path=path)


def download_photos(
    sources: Sequence[PhotoSource],
    dest: Path,
    *,
    timeout_s: float = 20.0,
    max_bytes: int = 10_000_000,
    progress: bool = True,
) -> list[DownloadOutcome]:
    """Fetch every photo in ``sources``; one outcome per source, in order."""
    outcomes: list[DownloadOutcome] = []
    with httpx.Client(timeout=timeout_s, follow_redirects=True) as client:
        bar: Iterable[PhotoSource] = tqdm(sources, unit="photo", disable=not progress, file=sys.stderr)
        for source in bar:
            outcome = download_one(client, source, dest, max_bytes=max_bytes)
            if outcome.status == "failed":
                log.warning("failed %s/%s from %s: %s", source.usn, source.pose, source.url, outcome.reason)
            outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.download_photos",
        description=(
            "Download enrollment photos from the image URLs in the enrollments table into "
            "DEST/<usn>/<pose>.<ext>. The database URL comes from CLASSSIGHT_DATABASE_URL."
        ),
    )
    parser.add_argument("--dest", type=Path, required=True, help="folder to write photos into")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request (default 20)")
    parser.add_argument(
        "--max-bytes", type=int, default=10_000_000, help="largest photo accepted (default 10 MB)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    engine = get_engine(load_settings(DatabaseSettings).database_url)
    sources = photo_sources(engine)
    outcomes = download_photos(
        sources, args.dest, timeout_s=args.timeout, max_bytes=args.max_bytes, progress=not args.no_progress
    )
    counts = {
        status: sum(o.status == status for o in outcomes) for status in ("downloaded", "skipped", "failed")
    }
    print(
        f"{len(outcomes)} photos: {counts['downloaded']} downloaded, "
        f"{counts['skipped']} already there, {counts['failed']} failed"
    )
    for outcome in outcomes:
        if outcome.status == "failed":
            print(
                f"  FAILED {outcome.source.usn}/{outcome.source.pose} {outcome.source.url}: {outcome.reason}"
            )
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
