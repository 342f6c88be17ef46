"""Interactive API docs (/docs: Swagger UI, /redoc: ReDoc) from assets shipped with the API.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so they are blank without the
internet. The assets live in ``docs_assets/`` (vendored from the npm versions pinned in
package.json by scripts/vendor_assets.sh) and are served here. Every URL on the pages is
relative, so they work under any path prefix the API is mounted at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from cloud_functions.api.errors import RecordNotFoundError

ASSETS_DIR = Path(__file__).resolve().parents[1] / "docs_assets"
_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
TITLE = "ClassSight API"

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    """Swagger UI on the API's OpenAPI document."""
    return get_swagger_ui_html(
        openapi_url="openapi.json",
        title=f"{TITLE} — docs",
        swagger_js_url="docs/assets/swagger-ui-bundle.js",
        swagger_css_url="docs/assets/swagger-ui.css",
        swagger_favicon_url="docs/assets/favicon-32x32.png",
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    """ReDoc on the API's OpenAPI document (no web fonts: the system's are used)."""
    return get_redoc_html(
        openapi_url="openapi.json",
        title=f"{TITLE} — reference",
        redoc_js_url="docs/assets/redoc.standalone.js",
        redoc_favicon_url="docs/assets/favicon-32x32.png",
        with_google_fonts=False,
    )


@router.get("/docs/assets/{name}")
def docs_asset(name: Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$")]) -> FileResponse:
    """One of the shipped assets (a name without a path: nothing else of the disk is reachable)."""
    path = ASSETS_DIR / name
    media_type = _MEDIA_TYPES.get(path.suffix)
    if media_type is None or not path.is_file():
        raise RecordNotFoundError(f"no docs asset {name}")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
