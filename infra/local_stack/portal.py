"""The portal and its API for a local stack: a session admin token and a static file server.

In the cloud the portal is a private bucket behind CloudFront; locally ``frontend_static/`` is
served on 127.0.0.1 and the template's HTTP API by the local gateway.
"""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from infra.local_stack.endpoint import EndpointError

PORTAL_DIR = Path(__file__).resolve().parents[2] / "frontend_static"


def session_admin_token(name: str = "local admin") -> tuple[str, str]:
    """A new admin token and the ``ApiTokens`` parameter (JSON of its sha256) that admits it."""
    from cloud_functions.api.tokens import new_token_entry  # the api extra; only needed here

    token, entry = new_token_entry(name, "admin")
    return token, json.dumps(entry)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class PortalServer:
    """``frontend_static/`` over HTTP on 127.0.0.1 in a daemon thread."""

    def __init__(self, port: int = 8080, directory: Path = PORTAL_DIR) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as e:
            raise EndpointError(f"cannot serve the portal on port {port}: {e.strerror}") from e
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="portal", daemon=True)

    def start(self) -> PortalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
