"""The counting rule (cloud_functions/core/marks.py) as tables: marks, cells, tallies, what may be missed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cloud_functions.core.marks import CountingRule, Enrolment, Mark, Session, Tally, mark_of

MONDAY = date(2026, 11, 23)
GRACE = timedelta(minutes=15)


def session(day_offset: int, *, cancelled: bool = False, session_id: int | None = None) -> Session:
    """A 09:00-10:00 UTC session ``day_offset`` days after Monday 2026-11-23."""
    day = MONDAY + timedelta(days=day_offset)
    starts_at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
    return Session(
        session_id=session_id or day_offset + 1,
        session_date=day,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        cancelled=cancelled,
    )


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    day = MONDAY + timedelta(days=day_offset)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "mark"),
    [("entered", "P"), ("present", "P"), ("late", "L"), ("absent", "A"), ("excused", "E")],
)
def test_status_to_mark(status: str, mark: Mark) -> None:
    assert mark_of(status) == mark


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown attendance status"):
        mark_of("asleep")


@pytest.mark.parametrize(
    ("mark", "now", "enrolment", "cancelled", "expected"),
    [
        # before the end: upcoming, whatever the mark
        (None, at(0, 9, 30), Enrolment(), False, (None, "upcoming", False)),
        ("P", at(0, 9, 30), Enrolment(), False, ("P", "upcoming", True)),
        # ended with a mark: counted
        ("L", at(0, 10, 0), Enrolment(), False, ("L", "counted", True)),
        # ended, no mark, within the grace: pending; past it: absent, not recorded
        (None, at(0, 10, 14), Enrolment(), False, (None, "pending", False)),
        (None, at(0, 10, 15), Enrolment(), False, ("A", "counted", False)),
        # outside the roster dates, or cancelled: not counted
        (
            None,
            at(0, 12),
            Enrolment(valid_from=MONDAY + timedelta(days=1)),
            False,
            (None, "not_enrolled", False),
        ),
        (
            None,
            at(0, 12),
            Enrolment(valid_to=MONDAY - timedelta(days=1)),
            False,
            (None, "not_enrolled", False),
        ),
        (None, at(0, 12), Enrolment(valid_from=MONDAY, valid_to=MONDAY), False, ("A", "counted", False)),
        (None, at(0, 12), Enrolment(), True, (None, "cancelled", False)),
    ],
)
def test_cell_of_one_session(
    mark: Mark | None, now: datetime, enrolment: Enrolment, cancelled: bool, expected: tuple[object, ...]
) -> None:
    cell = CountingRule(absent_after_end_grace=GRACE).cell(
        session(0, cancelled=cancelled), mark, enrolment, now
    )
    assert (cell.mark, cell.state, cell.recorded) == expected


def test_tally_over_a_week_counts_held_sessions_only() -> None:
    # GIVEN Mon..Fri sessions, Wednesday cancelled, and it is Thursday 10:05 (Thursday within the grace)
    sessions = [session(d, cancelled=d == 2) for d in range(5)]
    marks: dict[object, Mark] = {MONDAY: "P", MONDAY + timedelta(days=1): "L"}
    # WHEN the rule tallies them
    tally = CountingRule(absent_after_end_grace=GRACE).tally(sessions, marks, Enrolment(), at(3, 10, 5))  # type: ignore[arg-type]
    # THEN Mon P, Tue L count; Wed is cancelled; Thu is pending; Fri is still to come
    assert (tally.present, tally.late, tally.absent, tally.excused) == (1, 1, 0, 0)
    assert (tally.pending, tally.remaining, tally.held, tally.counted) == (1, 1, 3, 2)
    assert tally.percentage == 100.0


@pytest.mark.parametrize(
    ("late_weight", "percentage"),
    [(1.0, 75.0), (0.5, 62.5), (0.0, 50.0)],
)
def test_late_counts_as_a_configurable_fraction(late_weight: float, percentage: float) -> None:
    # GIVEN P, L, A, P and an excused session: E leaves the denominator
    sessions = [session(d) for d in range(5)]
    marks: dict[date, Mark] = {MONDAY + timedelta(days=d): m for d, m in enumerate(["P", "L", "A", "P", "E"])}
    tally = CountingRule(late_weight=late_weight).tally(sessions, marks, Enrolment(), at(6, 0))
    assert tally.counted == 4 and tally.excused == 1
    assert tally.percentage == pytest.approx(percentage)


def test_an_excuse_in_advance_leaves_the_remaining_sessions() -> None:
    sessions = [session(d) for d in range(4)]
    tally = CountingRule().tally(sessions, {MONDAY + timedelta(days=3): "E"}, Enrolment(), at(0, 12))
    assert (tally.counted, tally.remaining) == (1, 2)


@pytest.mark.parametrize(
    ("present", "absent", "remaining", "min_pct", "can_miss"),
    [
        # 8 of 10 so far, 10 to come, 75%: needs 15 of 20, so 7 more of the 10 -> may miss 3
        (8, 2, 10, 75.0, 3),
        # exactly on the line with nothing to come
        (3, 1, 0, 75.0, 0),
        # 2 of 10 so far, 10 to come: needs 15, has at most 12 -> cannot reach
        (2, 8, 10, 75.0, None),
        # the minimum needs a fraction of a session: rounded up (0.75 * 7 = 5.25 -> 6 attended)
        (1, 0, 6, 75.0, 1),
        # nothing counted and nothing to come: nothing to miss
        (0, 0, 0, 75.0, 0),
        # a minimum of 0 lets every remaining session be missed
        (0, 5, 5, 0.0, 5),
        (10, 0, 0, 100.0, 0),
        (9, 1, 5, 100.0, None),
    ],
)
def test_how_many_more_sessions_can_be_missed(
    present: int, absent: int, remaining: int, min_pct: float, can_miss: int | None
) -> None:
    tally = Tally(present=present, late=0, absent=absent, excused=0, pending=0, remaining=remaining)
    assert tally.can_still_miss(min_pct) == can_miss
    if can_miss is not None:
        # AND missing that many more still meets the minimum, one more does not (when there is one)
        attended_all_else = Tally(
            present=present + remaining - can_miss,
            late=0,
            absent=absent + can_miss,
            excused=0,
            pending=0,
            remaining=0,
        )
        assert not attended_all_else.is_short(min_pct)
        if can_miss < remaining:
            one_more = Tally(
                present=present + remaining - can_miss - 1,
                late=0,
                absent=absent + can_miss + 1,
                excused=0,
                pending=0,
                remaining=0,
            )
            assert one_more.is_short(min_pct)


def test_late_weight_changes_what_is_needed() -> None:
    # 6 late of 8 at weight 0.5 counts 2 + 3 = 5 attended of 8; 8 to come at 75% needs 12 -> 7 more
    tally = Tally(present=2, late=6, absent=0, excused=0, pending=0, remaining=8, late_weight=0.5)
    assert tally.percentage == pytest.approx(62.5)
    assert tally.is_short(75.0)
    assert tally.can_still_miss(75.0) == 1


def test_short_list_boundary_and_nothing_counted() -> None:
    assert not Tally(3, 0, 1, 0, 0, 0).is_short(75.0)
    assert Tally(2, 0, 1, 0, 0, 0).is_short(75.0) is True and Tally(
        2, 0, 1, 0, 0, 0
    ).percentage == pytest.approx(66.67, 0.01)
    assert not Tally(0, 0, 0, 2, 1, 4).is_short(75.0)


@pytest.mark.parametrize("weight", [-0.1, 1.1])
def test_rule_bounds(weight: float) -> None:
    with pytest.raises(ValueError):
        CountingRule(late_weight=weight)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CountingRule().cell(session(0), None, Enrolment(), datetime(2026, 11, 23, 12))
