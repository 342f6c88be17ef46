"""``bench/scale.py`` at a tiny size: the class-start burst on the local stack with MariaDB.

The full burst (10,000 students, 100 rooms, 3,000 captures) is measured by hand (README, "Campus
scale"); this runs the same code end to end with 50 students, 3 rooms and 20 captures, repeats
included, and holds it to its two promises: attendance rows exact, no dead-letter message.
"""

from __future__ import annotations

import json

import pytest

from bench import scale


@pytest.mark.mariadb
def test_a_small_burst_marks_each_student_once_and_dead_letters_nothing(
    mysql_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN 50 students in 3 rooms, 13 of them with a capture photo, 20 door captures (7 repeats)
    # WHEN the captures go through the local stack's bucket, queue and face_match function
    status = scale.main(
        ["--students", "50", "--rooms", "3", "--captures", "20", "--database-url", mysql_url, "--json"]
    )
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # THEN every capture is recognised as its own student, once
    assert figures["outcomes"] == {"recognised": 20}
    assert figures["wrong_student"] == 0
    # AND each student who appeared has exactly one attendance row for their class, nobody else
    assert figures["photographed_students"] == 13
    assert figures["expected_rows"] == 13
    assert figures["attendance_rows"] == 13 and figures["duplicate_rows"] == 0
    assert figures["rows_exact"] is True
    # AND no message ended in a dead-letter queue or was left on the capture queue
    assert figures["dlq_messages"] == 0 and figures["queue_left"] == 0
    assert status == 0
