"""``python -m infra.local_stack up``: the AWS side of ClassSight on this machine, from template.yaml.

Starts a local AWS-compatible endpoint (moto server) on 127.0.0.1, migrates the database,
creates the bucket, queues, topic, subscriptions and notifications of ``template.yaml``, runs
one poller per SQS event source of its functions, serves its HTTP API as API Gateway would,
prints what an edge client needs, and on Ctrl-C or SIGTERM stops the HTTP API, the pollers and
the endpoint, leaving nothing listening.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from cloud_functions.core.errors import ClassSightError, ConfigurationError, DatabaseUnavailableError
from infra.local_stack.endpoint import EndpointError, MotoEndpoint
from infra.local_stack.http_api import HttpApiGateway
from infra.local_stack.poller import Handler, resolve_handler
from infra.local_stack.portal import PortalServer, first_admin_account, session_admin_token
from infra.local_stack.stack import DEFAULT_REGION, LocalStack, local_parameter_overrides
from infra.local_stack.template import DEFAULT_TEMPLATE_PATH

logger = logging.getLogger("infra.local_stack")

DEFAULT_PORT = 4566
DEFAULT_API_PORT = 3000
DEFAULT_PORTAL_PORT = 8080
DEFAULT_DATABASE_URL = "sqlite:///var/classsight.db"


def _parameter(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``up`` and its options."""
    parser = argparse.ArgumentParser(prog="python -m infra.local_stack", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the endpoint, provision template.yaml, run the functions")
    up.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"endpoint port on 127.0.0.1 ({DEFAULT_PORT})"
    )
    up.add_argument(
        "--endpoint-url",
        help=(
            "use an AWS-compatible endpoint that is already running (e.g. a second process hosting "
            "only the functions: --endpoint-url URL --no-api --no-portal); default: start one"
        ),
    )
    up.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help=f"SQLAlchemy URL the functions use; migrated to head first ({DEFAULT_DATABASE_URL})",
    )
    up.add_argument("--stage", default="local", help="the template's Stage parameter (resource names)")
    up.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE_PATH, help="SAM template to provision")
    up.add_argument(
        "--parameter",
        "-P",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override, e.g. -P RoomIds=R101,R102,R103 (repeatable)",
    )
    up.add_argument("--no-functions", action="store_true", help="provision only; run no functions")
    up.add_argument(
        "--api-port",
        type=int,
        default=DEFAULT_API_PORT,
        help=f"HTTP API port on 127.0.0.1 ({DEFAULT_API_PORT})",
    )
    up.add_argument("--no-api", action="store_true", help="do not serve the template's HTTP API")
    up.add_argument(
        "--portal-port",
        type=int,
        default=DEFAULT_PORTAL_PORT,
        help=f"port of the web portal (frontend_static/) on 127.0.0.1 ({DEFAULT_PORTAL_PORT})",
    )
    up.add_argument("--no-portal", action="store_true", help="do not serve the web portal")
    up.add_argument(
        "--poll-wait-s",
        type=int,
        default=1,
        choices=range(0, 21),
        metavar="0-20",
        help="long-poll wait per receive; longer is fewer requests, slower shutdown (1)",
    )
    up.add_argument(
        "--schedule-speedup",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help=(
            "run the template's Schedule events FACTOR times faster than their rate "
            "(e.g. 60: rate(5 minutes) every 5 s); 1 is real time (1)"
        ),
    )
    up.add_argument("--no-schedules", action="store_true", help="do not run the template's Schedule events")
    up.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _migrate(database_url: str) -> None:
    """Create the database if it is missing (SQLite file, MySQL/MariaDB schema), then migrate to head."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from infra.migrations import upgrade

    url = make_url(database_url)
    try:
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        elif url.get_backend_name() in ("mysql", "mariadb") and url.database:
            server = sa.create_engine(url.set(database=""))
            try:
                with server.begin() as connection:
                    name = url.database.replace("`", "``")
                    connection.execute(
                        sa.text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
                    )
            finally:
                server.dispose()
        upgrade(database_url)
    except SQLAlchemyError as e:
        raise DatabaseUnavailableError(f"cannot prepare the database {url!r}: {e}") from e


def _shared_environment(stack: LocalStack) -> dict[str, str]:
    """Variables every function gets with the same value; pollers here share one process."""
    environments = [stack.env(name) for name, fn in stack.functions.items() if fn.sqs_event_sources]
    if not environments:
        return stack.env()
    shared = dict(environments[0])
    for environment in environments[1:]:
        shared = {k: v for k, v in shared.items() if environment.get(k) == v}
    return shared


def _print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _load_handlers(
    stack: LocalStack, *, serve_api: bool, schedules: bool = True
) -> tuple[dict[str, Handler], list[list[str]]]:
    handlers: dict[str, Handler] = {}
    rows = []
    for name, function in stack.functions.items():
        triggers = [s.queue_logical_id for s in function.sqs_event_sources]
        triggers += [f"HTTP {r.route_key}" for r in function.http_routes] if serve_api else []
        triggers += [s.expression for s in function.schedule_event_sources if s.enabled] if schedules else []
        if not triggers:
            events = ", ".join(f"{k} ({v})" for k, v in function.other_events.items()) or "none"
            rows.append([name, function.handler_path, events, "not run here"])
            continue
        try:
            handlers[name] = resolve_handler(function.handler_path)
        except ImportError as e:
            rows.append(
                [name, function.handler_path, ", ".join(triggers), f"NOT RUNNING: cannot import ({e})"]
            )
            continue
        except ConfigurationError as e:  # e.g. the API without CLASSSIGHT_API_TOKENS
            rows.append([name, function.handler_path, ", ".join(triggers), f"NOT RUNNING: {e}"])
            continue
        status = (
            "polling" if function.sqs_event_sources else "serving" if function.http_routes else "scheduled"
        )
        rows.append([name, function.handler_path, ", ".join(triggers), status])
    return handlers, rows


def _start_http_api(stack: LocalStack, handlers: dict[str, Handler], port: int) -> HttpApiGateway | None:
    served = {name: handler for name, handler in handlers.items() if stack.functions[name].http_routes}
    if not served:
        return None
    try:
        gateway = stack.http_api(served, functions=list(served), port=port)
    except OSError as e:
        raise EndpointError(f"cannot serve the HTTP API on port {port}: {e.strerror}") from e
    return gateway.start()


def up(args: argparse.Namespace) -> int:
    """Run the local stack until SIGINT/SIGTERM; 0 on a clean stop."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s received; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    _migrate(args.database_url)
    endpoint = None if args.endpoint_url else MotoEndpoint(args.port)
    endpoint_url = args.endpoint_url or (endpoint.endpoint_url if endpoint else "")
    stack: LocalStack | None = None
    gateway: HttpApiGateway | None = None
    portal: PortalServer | None = None
    try:
        if endpoint is not None:
            endpoint.start()
        parameters = dict(args.parameter)
        admin_token = None
        if "ApiTokens" not in parameters and not args.no_api:
            if os.environ.get("CLASSSIGHT_API_TOKENS"):
                parameters["ApiTokens"] = os.environ["CLASSSIGHT_API_TOKENS"]
            else:
                admin_token, parameters["ApiTokens"] = session_admin_token()
        parameters.setdefault("PortalOrigins", f"http://127.0.0.1:{args.portal_port}")
        overrides = local_parameter_overrides(args.database_url, stage=args.stage, **parameters)
        # Provisioning is idempotent: on an endpoint another process provisioned, it finds the
        # same resources.
        stack = LocalStack.provision(
            endpoint_url,
            template_path=args.template,
            parameter_overrides=overrides,
            stack_name=f"classsight-{args.stage}",
            region=DEFAULT_REGION,
        )
        os.environ.update(_shared_environment(stack))
        # The API's handler reads its settings when imported (as a cold start does), so its own
        # variables (tokens, CORS origins) must be in this shared process's environment first.
        for name, function in stack.functions.items():
            if function.http_routes or function.schedule_event_sources:
                # Scheduled functions' own variables too: the timer shares this environment.
                for key, value in stack.env(name).items():
                    os.environ.setdefault(key, value)

        print(f"\nResources from {args.template.name} at {endpoint_url}:")
        _print_table(
            [[r.logical_id, r.type, r.physical_id] for r in stack.resources.values()],
            ["logical id", "type", "physical id"],
        )
        if not args.no_functions:
            handlers, rows = _load_handlers(stack, serve_api=not args.no_api, schedules=not args.no_schedules)
            print("\nFunctions:")
            _print_table(rows, ["function", "handler", "trigger", "status"])
            stack.start_pollers(handlers, functions=list(handlers), wait_s=args.poll_wait_s)
            if not args.no_schedules:
                runner = stack.start_schedules(
                    handlers, functions=list(handlers), speedup=args.schedule_speedup
                )
                for function_id, event_id, expression in runner.schedules:
                    print(
                        f"schedule {function_id}.{event_id}: {expression}"
                        f" (speed-up x{args.schedule_speedup:g})"
                    )
            if not args.no_api:
                gateway = _start_http_api(stack, handlers, args.api_port)
                if gateway is not None:
                    print(f"\nHTTP API (as API Gateway, payload 2.0): {gateway.url}")
                    if admin_token is not None:
                        print(f"admin token for this run (portal → Connection): {admin_token}")
                    first_admin = first_admin_account(stack)
                    if first_admin is not None:
                        print(f"admin account for this run (sign in): {first_admin[0]} / {first_admin[1]}")
        if not args.no_portal:
            portal_config: dict[str, object] | None = {"apiBaseUrl": gateway.url} if gateway else None
            portal = PortalServer(args.portal_port, config=portal_config).start()
            print(f"\nWeb portal: {portal.url}")
        print("\nEnvironment for edge clients and tools:")
        for key, value in stack.env().items():
            print(f"export {key}={value}")
        for room_id in stack.room_ids:
            queue_url = stack.room_queue_url(room_id)
            print(f"export CLASSSIGHT_HANDOFF_QUEUE_URL={queue_url}  # cam2 of room {room_id}")
        print(f"\nLocal stack ready on {endpoint_url} (Ctrl-C stops it).", flush=True)
        while not stop.wait(0.5):
            if endpoint is not None and not endpoint.running:
                logger.error("the endpoint process died; stopping")
                return 1
    finally:
        if portal is not None:
            portal.stop()
        if gateway is not None:
            gateway.stop()
        if stack is not None:
            stack.stop_pollers()
        if endpoint is not None:
            endpoint.stop()
    print("Local stack stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m infra.local_stack`` and ``classsight-local-stack``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return up(args)
    except ClassSightError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
