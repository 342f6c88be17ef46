"""The character rules the API's schemas state are the ones its validators apply."""

from __future__ import annotations

import re
import unicodedata

import pytest
from pydantic import ValidationError

from cloud_functions.api.schemas import PRINTABLE_PATTERN, UNPRINTABLE, StudentCreate, TimetableEntryCreate


def test_the_unprintable_class_is_every_control_format_and_separator_character_of_the_bmp() -> None:
    # GIVEN the categories a name may not contain (lone surrogates never pass the JSON parser)
    expected = {cp for cp in range(0x10000) if unicodedata.category(chr(cp)) in {"Cc", "Cf", "Zl", "Zp"}}
    # WHEN the character class is read back THEN it names exactly those
    pattern = re.compile(f"[{UNPRINTABLE}]")
    assert {cp for cp in range(0x10000) if pattern.match(chr(cp))} == expected


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("Zoë Ångström", True),
        ("李小龍", True),
        ("<b>Bold</b>", True),  # stored as text, shown as text
        ("Ada\u200bLovelace", False),  # zero-width space
        ("Ada\u202eecalevoL", False),  # right-to-left override
        ("Ada\x00", False),
        ("Ada\u2028Lovelace", False),
    ],
)
def test_names_follow_the_printable_pattern(name: str, accepted: bool) -> None:
    assert bool(re.match(PRINTABLE_PATTERN, name)) is accepted
    try:
        StudentCreate(usn="1MS21CS001", name=name)
    except ValidationError:
        assert not accepted
    else:
        assert accepted


@pytest.mark.parametrize("value", ["09:00:00+05:30", "09:00Z", 32400, "9:00"])
def test_timetable_times_are_wall_clock_text_without_an_offset(value: object) -> None:
    with pytest.raises(ValidationError):
        TimetableEntryCreate.model_validate(
            {
                "course_code": "CS501",
                "room_id": "R101",
                "weekday": 0,
                "start_time": value,
                "end_time": "23:00",
            }
        )


@pytest.mark.parametrize("value", [0, "0", "1700000000", "24/11/2026"])
def test_dates_are_yyyy_mm_dd_not_seconds_since_1970(value: object) -> None:
    with pytest.raises(ValidationError):
        TimetableEntryCreate.model_validate(
            {
                "course_code": "CS501",
                "room_id": "R101",
                "weekday": 0,
                "start_time": "09:00",
                "end_time": "10:00",
                "valid_from": value,
            }
        )
