"""A copy of ``template.yaml`` on a local endpoint, and the way to run its functions' handlers.

Typical use (tests get the same object from the ``local_stack`` fixture)::

    with MotoEndpoint() as endpoint:
        stack = LocalStack.provision(endpoint.endpoint_url, parameter_overrides={"Stage": "demo"})
        s3 = stack.client("s3")
        s3.put_object(Bucket=stack.bucket_name, Key="captures/faces/R101/2024-01-01/c1.jpg", Body=jpeg)
        result = stack.drain("FaceMatchFunction")         # the real handler from ImageConfig.Command
        result = stack.drain("FaceMatchFunction", handler=my_handler)   # or any callable

``drain`` delivers what is waiting now, synchronously, exactly as Lambda would (same event shape,
partial batch responses, retries through the visibility timeout, dead-letter queue after
``maxReceiveCount``). ``start_pollers`` does the same continuously in background threads.

Functions with ``Schedule``/``ScheduleV2`` events run on a timer (``start_schedules``, with a
speed-up for demos) or at once::

    outcomes = stack.run_schedule("SweepFunction")    # EventBridge's scheduled event, now
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from cloud_functions.core.aws import LOCAL_PLACEHOLDER_CREDENTIALS
from cloud_functions.core.settings import DEFAULT_MODELS_DIR
from infra.local_stack.http_api import BoundRoute, HttpApiGateway
from infra.local_stack.poller import BatchOutcome, Handler, SqsEventSourcePoller, resolve_handler
from infra.local_stack.provisioner import LocalFunction, ProvisionedResource, ProvisionedStack, provision
from infra.local_stack.scheduler import ScheduleOutcome, ScheduleRunner
from infra.local_stack.template import DEFAULT_TEMPLATE_PATH, TemplateError, prepare_template

logger = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "classsight-local"


@dataclass(frozen=True)
class DrainResult:
    """What :meth:`LocalStack.drain` delivered: one outcome per handler invocation."""

    function_logical_id: str
    batches: tuple[BatchOutcome, ...] = field(default_factory=tuple)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every SQS record delivered, in order (a retried message appears once per delivery)."""
        return [record for batch in self.batches for record in batch.records]

    @property
    def responses(self) -> list[Any]:
        """What the handler returned per batch (None where it raised)."""
        return [batch.response for batch in self.batches]

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions the handler raised."""
        return [batch.error for batch in self.batches if batch.error is not None]

    @property
    def failed_message_ids(self) -> list[str]:
        """Messages left on the queue for retry (raised batches and reported item failures)."""
        return [m for batch in self.batches for m in batch.failed_message_ids]

    @property
    def deleted_message_ids(self) -> list[str]:
        """Messages handled and deleted."""
        return [m for batch in self.batches for m in batch.deleted_message_ids]


class LocalStack:
    """The resources of ``template.yaml`` on an AWS-compatible endpoint, plus its functions.

    Build it with :meth:`provision`. Logical ids are the template's (``FaceCapturesQueue``,
    ``FaceMatchFunction``, ``HandoffQueueR101`` ...).
    """

    def __init__(
        self, provisioned: ProvisionedStack, *, endpoint_url: str, region: str, account_id: str
    ) -> None:
        self.provisioned = provisioned
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self._clients: dict[str, Any] = {}
        self._pollers: list[SqsEventSourcePoller] = []
        self._schedule_runners: list[ScheduleRunner] = []

    # --- construction -----------------------------------------------------------------------------

    @classmethod
    def provision(
        cls,
        endpoint_url: str,
        *,
        template_path: Path = DEFAULT_TEMPLATE_PATH,
        parameter_overrides: Mapping[str, str] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = DEFAULT_REGION,
    ) -> LocalStack:
        """Create the template's resources at ``endpoint_url`` and return the stack.

        ``parameter_overrides`` are CloudFormation parameter values (``{"Stage": "test",
        "QueueVisibilityTimeout": "1"}``); the template's defaults fill the rest. Parameters without
        default (``DatabaseUrl``) must be given. Resource names derive from ``Stage``; give each
        stack on one endpoint its own stage.
        """
        clients = {
            service: _client(service, endpoint_url, region) for service in ("s3", "sqs", "sns", "cognito-idp")
        }
        account_id = str(_client("sts", endpoint_url, region).get_caller_identity()["Account"])
        pseudo = {
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::NotificationARNs": "",
        }
        template = prepare_template(
            template_path, parameter_overrides=parameter_overrides, pseudo_parameters=pseudo
        )
        provisioned = provision(template, clients, stack_name=stack_name)
        stack = cls(provisioned, endpoint_url=endpoint_url, region=region, account_id=account_id)
        stack._clients.update(clients)
        return stack

    # --- where things are ---------------------------------------------------------------------------

    @property
    def stack_name(self) -> str:
        """The stack name (``AWS::StackName``)."""
        return self.provisioned.stack_name

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameter values in force (defaults plus overrides)."""
        return dict(self.provisioned.template.parameters)

    @property
    def resources(self) -> Mapping[str, ProvisionedResource]:
        """Every resource created at the endpoint, by logical id."""
        return self.provisioned.resources

    @property
    def functions(self) -> Mapping[str, LocalFunction]:
        """The template's functions, by logical id."""
        return self.provisioned.functions

    @property
    def skipped(self) -> Mapping[str, str]:
        """Resources the local stack does not create, with the reason."""
        return self.provisioned.skipped

    @property
    def outputs(self) -> Mapping[str, str]:
        """The template's outputs, resolved against the local resources."""
        return self.provisioned.outputs

    @property
    def bucket_name(self) -> str:
        """The capture and enrollment bucket."""
        return self._resource("CaptureBucket", "AWS::S3::Bucket").physical_id

    @property
    def handoff_topic_arn(self) -> str:
        """The handoff topic."""
        return self._resource("HandoffTopic", "AWS::SNS::Topic").physical_id

    def queue_url(self, logical_id: str) -> str:
        """URL of a queue, by its logical id or by the logical id of a function it feeds."""
        return self._queue(logical_id).physical_id

    def queue_arn(self, logical_id: str) -> str:
        """ARN of a queue, by its logical id or by the logical id of a function it feeds."""
        return self._queue(logical_id).attributes["Arn"]

    def dlq_url(self, logical_id: str) -> str:
        """URL of the dead-letter queue behind a queue (or behind the queue feeding a function)."""
        queue = self._queue(logical_id)
        redrive = queue.properties.get("RedrivePolicy")
        if not redrive:
            raise TemplateError(f"{queue.logical_id} has no dead-letter queue")
        target = str(redrive["deadLetterTargetArn"])
        for resource in self.resources.values():
            if resource.type == "AWS::SQS::Queue" and resource.attributes["Arn"] == target:
                return resource.physical_id
        raise TemplateError(f"dead-letter queue {target} of {queue.logical_id} is not in the stack")

    @property
    def room_ids(self) -> list[str]:
        """Rooms with a handoff queue (the ``RoomIds`` parameter)."""
        rooms = self.parameters.get("RoomIds", [])
        return list(rooms) if isinstance(rooms, list) else [rooms]

    def room_queue_url(self, room_id: str) -> str:
        """URL of the handoff queue of ``room_id`` (one per entry of the ``RoomIds`` parameter)."""
        return self._resource(f"HandoffQueue{room_id}", "AWS::SQS::Queue").physical_id

    def env(self, function_logical_id: str | None = None, **overrides: str) -> dict[str, str]:
        """Environment for a function (or, with no argument, for an edge client) on this stack.

        A function gets its template environment plus the endpoint; an edge client gets the
        endpoint, region, bucket and topic. Keyword overrides win (``CLASSSIGHT_DATABASE_URL=...``).
        """
        base = {
            "CLASSSIGHT_AWS_ENDPOINT_URL": self.endpoint_url,
            "CLASSSIGHT_AWS_REGION": self.region,
            "CLASSSIGHT_BUCKET_NAME": self.bucket_name,
            "CLASSSIGHT_HANDOFF_TOPIC_ARN": self.handoff_topic_arn,
        }
        if function_logical_id is not None:
            function = self._function(function_logical_id)
            base = {
                **function.environment,
                **base,
                "AWS_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            }
        return {**base, **overrides}

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` at this endpoint and region."""
        if service not in self._clients:
            self._clients[service] = _client(service, self.endpoint_url, self.region)
        return self._clients[service]

    # --- running handlers ------------------------------------------------------------------------------

    def poller(
        self,
        function_logical_id: str,
        handler: Handler | None = None,
        *,
        event_id: str | None = None,
        apply_environment: bool = True,
        environment_overrides: Mapping[str, str] | None = None,
    ) -> SqsEventSourcePoller:
        """A poller for one SQS event source of a function (its only one unless ``event_id`` says)."""
        function = self._function(function_logical_id)
        sources = [s for s in function.sqs_event_sources if event_id is None or s.event_id == event_id]
        if len(sources) != 1:
            raise TemplateError(
                f"{function_logical_id} has {len(sources)} SQS event sources matching {event_id!r}"
            )
        return SqsEventSourcePoller(
            self.client("sqs"),
            sources[0],
            function,
            handler=handler,
            region=self.region,
            account_id=self.account_id,
            apply_environment=apply_environment,
            environment_overrides={**self.env(function_logical_id), **(environment_overrides or {})},
        )

    def drain(
        self,
        function_logical_id: str,
        handler: Handler | None = None,
        *,
        max_batches: int = 10,
        wait_s: int = 0,
        event_id: str | None = None,
        environment_overrides: Mapping[str, str] | None = None,
    ) -> DrainResult:
        """Deliver the messages waiting for a function to its handler, now, in this thread.

        Receives batches (``BatchSize`` of the event source) until a receive waiting ``wait_s``
        seconds comes back empty or ``max_batches`` batches were delivered. ``handler`` defaults
        to the function's own (``ImageConfig.Command``). During each call ``os.environ`` holds
        :meth:`env` of the function plus ``environment_overrides``. Messages the handler fails stay
        invisible for the queue's visibility timeout; drain again after it to see the retry.
        """
        poller = self.poller(
            function_logical_id, handler, event_id=event_id, environment_overrides=environment_overrides
        )
        batches: list[BatchOutcome] = []
        while len(batches) < max_batches:
            outcome = poller.poll_once(wait_s)
            if outcome is None:
                break
            batches.append(outcome)
        return DrainResult(function_logical_id, tuple(batches))

    def start_pollers(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        functions: list[str] | None = None,
        wait_s: int = 2,
    ) -> list[SqsEventSourcePoller]:
        """Start one background poller per SQS event source (of ``functions``, default all).

        ``handlers`` overrides the handler of some functions by logical id. Background pollers do
        not touch ``os.environ``: set :meth:`env` in the process environment beforehand.
        """
        handlers = dict(handlers or {})
        started = []
        for function in self.functions.values():
            if functions is not None and function.logical_id not in functions:
                continue
            for source in function.sqs_event_sources:
                if not source.enabled:
                    continue
                poller = self.poller(
                    function.logical_id,
                    handlers.get(function.logical_id),
                    event_id=source.event_id,
                    apply_environment=False,
                )
                poller.start(wait_s)
                started.append(poller)
        self._pollers.extend(started)
        return started

    def stop_pollers(self) -> None:
        """Stop every background poller and schedule timer, waiting for invocations in flight."""
        for poller in self._pollers:
            poller.request_stop()
        for poller in self._pollers:
            poller.stop()
        self._pollers.clear()
        for runner in self._schedule_runners:
            runner.stop()
        self._schedule_runners.clear()

    def schedule_runner(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        functions: list[str] | None = None,
        speedup: float = 1.0,
        apply_environment: bool = True,
        environment_overrides: Mapping[str, str] | None = None,
    ) -> ScheduleRunner:
        """A runner for the ``Schedule``/``ScheduleV2`` events of ``functions`` (default: all).

        A function's handler is ``handlers[logical_id]`` or its own (``ImageConfig.Command``,
        imported only for functions that have a schedule).
        """
        handlers = dict(handlers or {})
        chosen = [
            f
            for f in self.functions.values()
            if f.schedule_event_sources and (functions is None or f.logical_id in functions)
        ]
        resolved = {
            f.logical_id: handlers.get(f.logical_id) or resolve_handler(f.handler_path) for f in chosen
        }
        return ScheduleRunner(
            chosen,
            resolved,
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
            speedup=speedup,
            environments={
                f.logical_id: {**self.env(f.logical_id), **(environment_overrides or {})} for f in chosen
            },
            apply_environment=apply_environment,
        )

    def run_schedule(
        self,
        function_logical_id: str,
        handler: Handler | None = None,
        *,
        event_id: str | None = None,
        environment_overrides: Mapping[str, str] | None = None,
    ) -> list[ScheduleOutcome]:
        """Run a function's schedules now, in this thread, with EventBridge's scheduled event.

        During the call ``os.environ`` holds :meth:`env` of the function plus ``environment_overrides``.
        """
        runner = self.schedule_runner(
            {function_logical_id: handler} if handler is not None else None,
            functions=[function_logical_id],
            environment_overrides=environment_overrides,
        )
        return runner.run_now(function_logical_id, event_id)

    def start_schedules(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        functions: list[str] | None = None,
        speedup: float = 1.0,
    ) -> ScheduleRunner:
        """Run the schedules of ``functions`` (default all) on a background timer until :meth:`stop_pollers`.

        Like background pollers, the timer does not touch ``os.environ``.
        """
        runner = self.schedule_runner(
            handlers, functions=functions, speedup=speedup, apply_environment=False
        ).start()
        self._schedule_runners.append(runner)
        return runner

    def http_api(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        functions: list[str] | None = None,
        port: int = 0,
    ) -> HttpApiGateway:
        """The template's HTTP API (its functions' ``HttpApi`` events) on 127.0.0.1, not yet started.

        ``handlers`` overrides the handler of some functions by logical id; the others are imported
        from the template's handler path. ``functions`` limits the routes to those functions'.
        Call ``start()`` and ``stop()`` on the result.
        """
        handlers = dict(handlers or {})
        routes = [
            BoundRoute(
                route, function, handlers.get(function.logical_id) or resolve_handler(function.handler_path)
            )
            for function in self.functions.values()
            if functions is None or function.logical_id in functions
            for route in function.http_routes
        ]
        if not routes:
            raise TemplateError("the template has no HttpApi events")
        return HttpApiGateway(routes, port=port, account_id=self.account_id)

    def purge(self) -> None:
        """Delete every message in every queue of the stack (between tests).

        SQS allows one ``PurgeQueue`` per queue per minute; within that minute the visible
        messages are received and deleted instead (messages in flight then stay).
        """
        sqs = self.client("sqs")
        for resource in self.resources.values():
            if resource.type != "AWS::SQS::Queue":
                continue
            try:
                sqs.purge_queue(QueueUrl=resource.physical_id)
            except sqs.exceptions.PurgeQueueInProgress:
                while messages := sqs.receive_message(
                    QueueUrl=resource.physical_id, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages", []):
                    sqs.delete_message_batch(
                        QueueUrl=resource.physical_id,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(messages)
                        ],
                    )

    # --- helpers -----------------------------------------------------------------------------------------

    def _resource(self, logical_id: str, resource_type: str) -> ProvisionedResource:
        resource = self.resources.get(logical_id)
        if resource is None or resource.type != resource_type:
            raise TemplateError(f"the stack has no {resource_type} {logical_id}")
        return resource

    def _function(self, logical_id: str) -> LocalFunction:
        try:
            return self.functions[logical_id]
        except KeyError as e:
            raise TemplateError(f"the stack has no function {logical_id}") from e

    def _queue(self, logical_id: str) -> ProvisionedResource:
        if logical_id in self.functions:
            sources = self.functions[logical_id].sqs_event_sources
            if len(sources) != 1:
                raise TemplateError(f"{logical_id} has {len(sources)} SQS event sources; name the queue")
            logical_id = sources[0].queue_logical_id
        return self._resource(logical_id, "AWS::SQS::Queue")


def _client(service: str, endpoint_url: str, region: str) -> Any:
    options: dict[str, Any] = {"retries": {"max_attempts": 3, "mode": "standard"}}
    if service == "s3":
        options["s3"] = {"addressing_style": "path"}
    return boto3.session.Session(region_name=region).client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint_url, config=Config(**options), **LOCAL_PLACEHOLDER_CREDENTIALS
    )


def local_parameter_overrides(
    database_url: str, *, stage: str = "local", models_dir: Path = DEFAULT_MODELS_DIR, **more: str
) -> dict[str, str]:
    """Parameter values for a local stack: stage, database, weights from this machine, then ``more``.

    Locally the face functions use the ONNX ArcFace model shipped beside the checkout (DeepFace's
    weights, the production default, cannot be assumed here) with its calibrated threshold.
    """
    return {
        "Stage": stage,
        "DatabaseUrl": database_url,
        "ModelsDir": str(models_dir),
        "FaceEmbedder": "onnx",
        "FaceEmbedderWeights": "face/arcface_mobilefacenet_128d.onnx",
        "MatchThreshold": "0.365",
        # No tokens: the API refuses to start until some are given (python -m infra.local_stack up
        # makes an admin token for the session).
        "ApiTokens": "{}",
        **more,
    }
