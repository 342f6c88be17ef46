"""Liveness and database reachability (no token), and who the caller is."""

from __future__ import annotations

import logging
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from cloud_functions.api.deps import CurrentUser, get_engine
from cloud_functions.api.responses import AUTHENTICATED
from cloud_functions.api.schemas import HealthPublic, MePublic

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "The database does not answer."}},
)
def health(engine: Annotated[Engine, Depends(get_engine)], response: Response) -> HealthPublic:
    """``ok`` when the database answers; ``degraded`` with 503 when it does not."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as e:
        logger.warning("health check: database unavailable: %s", type(e).__name__)
        response.status_code = 503
        return HealthPublic(status="degraded", database="unavailable")
    return HealthPublic(status="ok", database="ok")


@router.get("/me", response_model=MePublic, responses=AUTHENTICATED)
def me(user: CurrentUser) -> MePublic:
    """The caller's name and role."""
    return MePublic(name=user.name, role=user.role)
