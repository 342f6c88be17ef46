"""One router per resource; ``api_router`` includes them all."""

from __future__ import annotations

from fastapi import APIRouter

from cloud_functions.api.routes import (
    accounts,
    attendance,
    auth,
    calendar,
    cameras,
    courses,
    docs,
    evidence,
    flags,
    health,
    reports,
    rooms,
    rosters,
    students,
    timetable,
)

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(docs.router)
api_router.include_router(auth.router)
api_router.include_router(accounts.router)
api_router.include_router(students.router)
api_router.include_router(courses.router)
api_router.include_router(rooms.router)
api_router.include_router(cameras.router)
api_router.include_router(timetable.router)
api_router.include_router(attendance.router)
api_router.include_router(evidence.router)
api_router.include_router(flags.router)
api_router.include_router(rosters.router)
api_router.include_router(calendar.router)
api_router.include_router(reports.router)
