"""The photo-download command fetches enrollment photos over real HTTP into <usn>/<pose>.<ext>."""

from __future__ import annotations

import functools
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import enrollments, students
from infra.download_photos import main
from tests.conftest import DATA_DIR

LFW = DATA_DIR / "faces" / "lfw_subset" / "known"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def photo_server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving two LFW photos and a text file."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(LFW / "Colin_Powell" / "Colin_Powell_0001.jpg", root / "powell_front.jpg")
    shutil.copy(LFW / "Laura_Bush" / "Laura_Bush_0001.jpg", root / "bush_front.jpg")
    (root / "notes.txt").write_text("this is not a photo")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_downloads_photos_reports_failures_and_skips_on_rerun(
    engine: Engine,
    database_url: str,
    photo_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN enrollment rows with good, missing, non-image and unreachable URLs, and one unsafe USN
    rows = [
        ("1MS21CS001", "front", f"{photo_server}/powell_front.jpg"),
        ("1MS21CS002", "front", f"{photo_server}/bush_front.jpg"),
        ("1MS21CS002", "left", f"{photo_server}/missing.jpg"),
        ("1MS21CS003", "front", f"{photo_server}/notes.txt"),
        ("1MS21CS003", "left", f"http://127.0.0.1:{_closed_port()}/x.jpg"),
        ("..", "front", f"{photo_server}/powell_front.jpg"),
    ]
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            students.insert(),
            [
                {"usn": usn, "name": f"Student {usn}", "created_at": now}
                for usn in sorted({r[0] for r in rows})
            ],
        )
        connection.execute(
            enrollments.insert(),
            [{"usn": usn, "pose": pose, "source_url": url, "status": "pending"} for usn, pose, url in rows],
        )
    monkeypatch.setenv("CLASSSIGHT_DATABASE_URL", database_url)
    dest = tmp_path / "photos"

    # WHEN the command runs
    status = main(["--dest", str(dest), "--no-progress", "--timeout", "5"])

    # THEN the two good photos are there byte for byte, and every failure is reported with a reason
    assert status == 1
    assert (dest / "1MS21CS001" / "front.jpg").read_bytes() == (
        LFW / "Colin_Powell" / "Colin_Powell_0001.jpg"
    ).read_bytes()
    assert (dest / "1MS21CS002" / "front.jpg").is_file()
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "1MS21CS001/front.jpg",
        "1MS21CS002/front.jpg",
    ]
    out = capsys.readouterr().out
    assert "6 photos: 2 downloaded, 0 already there, 4 failed" in out
    assert "1MS21CS002/left" in out and "HTTP 404" in out
    assert "1MS21CS003/front" in out and "not an image" in out
    assert "1MS21CS003/left" in out and "ConnectError" in out
    assert "not a safe file name" in out

    # WHEN it runs again
    main(["--dest", str(dest), "--no-progress", "--timeout", "5"])

    # THEN nothing already there is fetched again
    assert "6 photos: 0 downloaded, 2 already there, 4 failed" in capsys.readouterr().out
