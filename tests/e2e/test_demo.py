"""The README's main job, end to end: enrollment through the bucket, cam1 on a doorway replay of
real photos, face_match, attendance and handoffs — on the real local stack with real weights."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from infra.local_stack import free_port, port_is_free


def test_demo_enrolls_recognises_and_reports_attendance(tmp_path: Path) -> None:
    # GIVEN a free port and an empty working folder
    port = free_port()

    # WHEN the demo runs for four students (and one visitor who is not a student)
    run = subprocess.run(
        [sys.executable, "-m", "infra.demo", "--people", "4", "--port", str(port)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # THEN it succeeds, every student is recognised once, the visitor is unknown,
    # R101 receives one handoff per student, and the report lists four attendance rows
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert re.search(r"recognised\s+4\b", out), out
    assert re.search(r"unknown_person\s+1\b", out), out
    assert "handoffs on R101's queue (SNS → SQS, filtered by room): 4" in out
    report = out.split("attendance report", 1)[1]
    assert len(re.findall(r"^\s+CS501\s+\d{4}-\d{2}-\d{2}\s+1MS21CS00\d\s", report, re.MULTILINE)) == 4
    # AND the LFW replay ran liveness in record-only mode, said so, and the printed photo held up
    # with liveness enforced was refused as a suspected spoof, flagged, and marked nobody
    assert "[liveness record_only: the replay is LFW photos]" in out
    proxy = out.split("proxy attempt at the door", 1)[1]
    assert re.search(r"spoof_suspected\s+1CS23NU0001", proxy), proxy
    assert "attendance rows for 1CS23NU0001: 0" in proxy
    # AND the endpoint is gone afterwards
    assert port_is_free(port)
