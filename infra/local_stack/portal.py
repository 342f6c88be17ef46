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
    config: bytes | None = None  # config.json's body, when this run's API is not the file's

    def do_GET(self) -> None:
        if self.config is not None and self.path.split("?")[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class PortalServer:
    """``frontend_static/`` over HTTP on 127.0.0.1 in a daemon thread.

    The portal reads the API's address from its ``config.json``; with ``api_url`` this server
    answers that file with the run's API (the committed one names ``http://127.0.0.1:3000``).
    """

    def __init__(self, port: int = 8080, directory: Path = PORTAL_DIR, *, api_url: str | None = None) -> None:
        config = None if api_url is None else json.dumps({"apiBaseUrl": api_url.rstrip("/")}).encode()
        handler_class = type("_PortalHandler", (_QuietHandler,), {"config": config})
        handler = functools.partial(handler_class, directory=str(directory))
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
