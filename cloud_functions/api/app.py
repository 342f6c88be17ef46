"""The FastAPI application: routers, middleware, and the one table of error responses.

``create_app()`` reads ``ApiSettings`` from the environment (failing fast when a secret such as
``CLASSSIGHT_API_TOKENS`` is missing); tests pass their own settings and clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from cloud_functions.api.accounts import CognitoAccounts
from cloud_functions.api.errors import (
    AuthenticationError,
    TooManyAttemptsError,
    field_errors,
    public_message,
    status_for,
)
from cloud_functions.api.middleware import BodySizeLimit, SecurityHeaders
from cloud_functions.api.people import JwksKeys, PeopleTokenVerifier
from cloud_functions.api.routes import api_router
from cloud_functions.core.aws import aws_client
from cloud_functions.core.db.engine import engine_for
from cloud_functions.core.errors import ClassSightError
from cloud_functions.core.settings import ApiSettings, load_settings
from cloud_functions.core.storage import S3ObjectStore

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _project_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        logger.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    if isinstance(exc, TooManyAttemptsError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    detail = field_errors(exc) if status == 422 else public_message(exc, status)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # The driver's message names tables and values; the client learns only that it conflicts.
    logger.info("%s %s: integrity error: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse({"detail": "conflicts with stored data"}, status_code=409)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("%s %s: database error", request.method, request.url.path)
    return JSONResponse({"detail": "internal error"}, status_code=500)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    # Location, message and type only: the rejected input is not echoed back.
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's own answers (no such route, method not allowed). A 405 lists every method the
    # path has: Starlette names only those of the first route that matched the path.
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = {
            method
            for route in request.app.router.routes
            if isinstance(route, APIRoute) and route.matches(request.scope)[0] is not Match.NONE
            for method in route.methods or ()
        }
        headers["Allow"] = ", ".join(sorted(methods))
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("%s %s: unexpected error", request.method, request.url.path)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def create_app(settings: ApiSettings | None = None, *, clock: Clock = _utc_now) -> FastAPI:
    """The API with its database engine and bucket built from ``settings`` (default: the environment)."""
    settings = settings if settings is not None else load_settings(ApiSettings)
    app = FastAPI(
        title="ClassSight API",
        version="1.0",
        description="Students, courses, rooms, timetable and attendance of ClassSight.",
        # Served by routes/docs.py from assets shipped with the API (the defaults use a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine_for(settings)
    app.state.photo_bucket = S3ObjectStore(aws_client("s3", settings), settings.bucket_name)
    app.state.accounts = None
    app.state.people_tokens = None
    if settings.cognito_enabled:
        app.state.accounts = CognitoAccounts(
            aws_client("cognito-idp", settings),
            user_pool_id=settings.cognito_user_pool_id,
            client_id=settings.cognito_client_id,
        )
        app.state.people_tokens = PeopleTokenVerifier(
            issuer=settings.cognito_issuer,
            client_id=settings.cognito_client_id,
            keys=JwksKeys(settings.resolved_jwks_url, cache_s=settings.jwks_cache_s),
        )

    app.add_exception_handler(ClassSightError, _project_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

    app.include_router(api_router)

    # Added last = outermost: oversized bodies are refused before anything else runs.
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Content-Disposition"],
            max_age=600,
        )
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, larger={"/imports/": settings.import_max_bytes}
    )
    return app
