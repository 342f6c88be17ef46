"""The portal and its API for a local stack: a session admin token and a static file server.

In the cloud the portal is a private bucket behind CloudFront; locally ``frontend_static/`` is
served on 127.0.0.1 and the template's HTTP API by the local gateway.
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from infra.local_stack.endpoint import EndpointError

if TYPE_CHECKING:
    from infra.local_stack.stack import LocalStack

PORTAL_DIR = Path(__file__).resolve().parents[2] / "frontend_static"


def session_admin_token(name: str = "local admin") -> tuple[str, str]:
    """A new admin token and the ``ApiTokens`` parameter (JSON of its sha256) that admits it."""
    from cloud_functions.api.tokens import new_token_entry  # the api extra; only needed here

    token, entry = new_token_entry(name, "admin")
    return token, json.dumps(entry)


class _QuietHandler(SimpleHTTPRequestHandler):
    config: bytes | None = None  # served as /config.json instead of the file, when set

    def do_GET(self) -> None:
        if self.config is not None and self.path.split("?", 1)[0] == "/config.json":
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

    ``config`` replaces the portal's ``config.json`` (the API's address, each room's camera
    stream), so a stack on other ports needs no edited file.
    """

    def __init__(
        self, port: int = 8080, directory: Path = PORTAL_DIR, config: dict[str, object] | None = None
    ) -> None:
        served = type(
            "_Handler", (_QuietHandler,), {"config": json.dumps(config).encode() if config else None}
        )
        handler = functools.partial(served, directory=str(directory))
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


def first_admin_account(stack: LocalStack) -> tuple[str, str] | None:
    """Make an admin account with a random password if the pool has no admin; None if it has.

    The local endpoint keeps accounts in memory, so a fresh ``up`` starts with none: this one lets
    someone sign in and create the others (portal, ``/accounts`` or the accounts CLI).
    """
    from cloud_functions.api.accounts import CognitoAccounts  # the api extra; only needed here

    env = stack.env("ApiFunction")
    pool_id = env.get("CLASSSIGHT_COGNITO_USER_POOL_ID")
    client_id = env.get("CLASSSIGHT_COGNITO_CLIENT_ID")
    if not pool_id or not client_id:
        return None
    accounts = CognitoAccounts(stack.client("cognito-idp"), user_pool_id=pool_id, client_id=client_id)
    if any(account.role == "admin" for account in accounts.list_accounts()):
        return None
    password = secrets.token_urlsafe(12)
    accounts.create_account("admin", "admin", password)
    return "admin", password
