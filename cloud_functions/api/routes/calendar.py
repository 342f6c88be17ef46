"""Terms, days off and class sessions: the calendar that turns the timetable into classes held."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from cloud_functions.api.crud import calendar as crud
from cloud_functions.api.deps import AdminUser, ConnectionDep, CurrentUser
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.schemas import (
    CODE_PATTERN,
    ClassSessionCancel,
    ClassSessionExtra,
    ClassSessionMove,
    ClassSessionPublic,
    ClassSessionStatus,
    DayOffReason,
    GenerationPublic,
    IsoDate,
    MarkRemaining,
    MarkRemainingPublic,
    TermCreate,
    TermPublic,
    TermUpdate,
)

router = APIRouter(tags=["calendar"], responses=AUTHENTICATED)

TermId = Annotated[int, Path(ge=1, le=2**31 - 1)]
SessionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DayPath = Annotated[IsoDate, Path(description="YYYY-MM-DD")]


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


@router.get("/terms", response_model=list[TermPublic])
def list_terms(connection: ConnectionDep, _user: CurrentUser) -> list[TermPublic]:
    """Every term, latest first, with its days off and how many sessions it has."""
    return crud.list_terms(connection)


@router.post(
    "/terms",
    response_model=TermPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(403, 409)},
)
def create_term(
    body: TermCreate, request: Request, connection: ConnectionDep, admin: AdminUser
) -> TermPublic:
    """Add a term with its days off; its sessions are generated from the timetable at once.

    422: the end before the start, a day off outside the term. 409: the dates overlap another
    term, or the name is taken.
    """
    return crud.create_term(connection, body, admin, _now(request))


@router.get("/terms/{term_id}", response_model=TermPublic, responses=documented(404, 422))
def get_term(term_id: TermId, connection: ConnectionDep, _user: CurrentUser) -> TermPublic:
    """One term."""
    return crud.get_term(connection, term_id)


@router.patch(
    "/terms/{term_id}", response_model=TermPublic, responses={**WITH_BODY, **documented(403, 404, 409)}
)
def update_term(
    term_id: TermId, body: TermUpdate, request: Request, connection: ConnectionDep, admin: AdminUser
) -> TermPublic:
    """Rename a term or change its dates; its sessions are regenerated (past and marked ones stay)."""
    return crud.update_term(connection, term_id, body, admin, _now(request))


@router.delete(
    "/terms/{term_id}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(403, 404, 422)
)
def delete_term(term_id: TermId, connection: ConnectionDep, admin: AdminUser) -> Response:
    """Delete a term with its days off and sessions; attendance marks are kept."""
    crud.delete_term(connection, term_id, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/terms/{term_id}/days-off/{day}",
    response_model=TermPublic,
    responses={**WITH_BODY, **documented(403, 404)},
)
def put_day_off(
    term_id: TermId,
    day: DayPath,
    body: DayOffReason,
    request: Request,
    connection: ConnectionDep,
    admin: AdminUser,
) -> TermPublic:
    """Make ``day`` a day off (a holiday): its sessions are cancelled if still to come and unmarked."""
    return crud.put_day_off(connection, term_id, day, body.reason, admin, _now(request))


@router.delete(
    "/terms/{term_id}/days-off/{day}", response_model=TermPublic, responses=documented(403, 404, 422)
)
def delete_day_off(
    term_id: TermId, day: DayPath, request: Request, connection: ConnectionDep, admin: AdminUser
) -> TermPublic:
    """``day`` is a teaching day again: the sessions its day off cancelled come back."""
    return crud.delete_day_off(connection, term_id, day, admin, _now(request))


@router.post(
    "/terms/{term_id}/generate", response_model=GenerationPublic, responses=documented(403, 404, 422)
)
def generate(
    term_id: TermId, request: Request, connection: ConnectionDep, admin: AdminUser
) -> GenerationPublic:
    """Regenerate the term's sessions from the timetable now.

    Idempotent; never undoes a person's cancellation or move.
    """
    return crud.generate(connection, term_id, admin, _now(request))


@router.get("/sessions", response_model=list[ClassSessionPublic], responses=documented(403, 404, 422))
def list_sessions(
    connection: ConnectionDep,
    user: CurrentUser,
    term_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    course_code: Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=32)] = None,
    room_id: Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=32)] = None,
    date_from: Annotated[IsoDate | None, Query()] = None,
    date_to: Annotated[IsoDate | None, Query()] = None,
    session_status: Annotated[ClassSessionStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[ClassSessionPublic]:
    """Class sessions by date and start: of a term, course, room, within dates (inclusive).

    A teacher sees only the sessions of the courses they teach (another course: 403).
    """
    return crud.list_sessions(
        connection,
        user,
        term_id=term_id,
        course_code=course_code,
        room_id=room_id,
        date_from=date_from,
        date_to=date_to,
        status=session_status,
        limit=limit,
    )


@router.post(
    "/sessions",
    response_model=ClassSessionPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(403, 404, 409)},
)
def add_extra_session(
    body: ClassSessionExtra, request: Request, connection: ConnectionDep, user: CurrentUser
) -> ClassSessionPublic:
    """Add an extra class (its teachers and admins). 422: no term covers the date; 409: it clashes
    with another session of the course, or a class in the room."""
    return crud.add_extra_session(connection, body, user, _now(request))


@router.get("/sessions/{session_id}", response_model=ClassSessionPublic, responses=documented(403, 404, 422))
def get_session(session_id: SessionId, connection: ConnectionDep, user: CurrentUser) -> ClassSessionPublic:
    """One session (its course's teachers and admins)."""
    return crud.get_session(connection, session_id, user)


@router.post(
    "/sessions/{session_id}/cancel",
    response_model=ClassSessionPublic,
    responses={**WITH_BODY, **documented(403, 404, 409)},
)
def cancel_session(
    session_id: SessionId,
    body: ClassSessionCancel,
    request: Request,
    connection: ConnectionDep,
    user: CurrentUser,
) -> ClassSessionPublic:
    """Cancel a session with the reason (its teachers and admins): it marks nobody, and the
    sweep's absences for it are withdrawn. 409 if it is already cancelled."""
    return crud.cancel_session(connection, session_id, body, user, _now(request))


@router.post(
    "/sessions/{session_id}/move",
    response_model=ClassSessionPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(403, 404, 409)},
)
def move_session(
    session_id: SessionId,
    body: ClassSessionMove,
    request: Request,
    connection: ConnectionDep,
    user: CurrentUser,
) -> ClassSessionPublic:
    """Move a session to another date, time or room; answers the new session ('moved', with
    ``moved_from_id``), the old one is kept cancelled. 409: onto another session of the course,
    a busy room, or a session already swept; 422: no term covers the new date."""
    return crud.move_session(connection, session_id, body, user, _now(request))


@router.post(
    "/sessions/{session_id}/mark-remaining",
    response_model=MarkRemainingPublic,
    responses={**WITH_BODY, **documented(403, 404, 409)},
)
def mark_remaining(
    session_id: SessionId, body: MarkRemaining, request: Request, connection: ConnectionDep, user: CurrentUser
) -> MarkRemainingPublic:
    """Mark every roster student still without a mark (or with only the sweep's absent) present,
    absent or excused, in one call; each change is a correction with the reason."""
    return crud.mark_remaining(connection, session_id, body, user, _now(request))
