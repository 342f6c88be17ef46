"""Lambda entry point of the HTTP API (API Gateway HTTP API, payload 2.0): ``handler``.

Settings are read when the container starts, so a missing secret fails the cold start with a
message naming it instead of failing the first request.
"""

from __future__ import annotations

from mangum import Mangum

from cloud_functions.api.app import create_app

__all__ = ["handler"]

handler = Mangum(create_app(), lifespan="off")
