"""Lambda's SQS event source mapping, run in this process against the local endpoint.

What Lambda does, and so what :class:`SqsEventSourcePoller` does:

1. Long-poll ``ReceiveMessage`` for up to ``BatchSize`` messages, with all system attributes.
2. Wrap them in the SQS event Lambda builds (``Records`` with ``messageId``, ``receiptHandle``,
   ``body``, ``attributes``, ``messageAttributes``, ``md5OfBody``, ``eventSource``,
   ``eventSourceARN``, ``awsRegion``) and call the handler with a Lambda-like context.
3. Handler returned: delete the batch, except the ``batchItemFailures`` it reported when the
   mapping has ``ReportBatchItemFailures`` (a malformed report fails the whole batch, as on AWS).
   Handler raised: delete nothing.
4. Messages not deleted reappear after the queue's visibility timeout; once received
   ``maxReceiveCount`` times the queue's redrive policy moves them to the dead-letter queue. The
   endpoint does that itself on receive (moto does, as SQS does), so the poller never moves
   messages on its own.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from infra.local_stack.provisioner import LocalFunction, SqsEventSource

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: ``handler(event, context) -> response``."""

_ENV_LOCK = threading.Lock()


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        return max(0, int((self._started + self.timeout_s - time.monotonic()) * 1000))


def resolve_handler(handler_path: str) -> Handler:
    """Import ``package.module.function`` as Lambda's runtime does for a handler string."""
    module_name, _, attribute = handler_path.rpartition(".")
    if not module_name:
        raise ImportError(f"handler {handler_path!r} is not module.function")
    module = importlib.import_module(module_name)
    try:
        handler: Handler = getattr(module, attribute)
    except AttributeError as e:
        raise ImportError(f"{module_name} has no {attribute}") from e
    return handler


@contextmanager
def function_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """Set ``environment`` in ``os.environ`` for the duration, then restore what was there."""
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
    try:
        yield
    finally:
        with _ENV_LOCK:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def invocation_event_loop() -> Iterator[None]:
    """An asyncio event loop set for this thread during one invocation.

    Lambda calls handlers on its runtime's main thread, where ``asyncio.get_event_loop()`` works
    (Mangum relies on it); here handlers run on worker threads, which have no loop by default.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@dataclass(frozen=True)
class BatchOutcome:
    """One handler invocation: the event it got, what it returned or raised, what was deleted."""

    event: dict[str, Any]
    response: Any
    error: BaseException | None
    message_ids: tuple[str, ...]
    failed_message_ids: tuple[str, ...]

    @property
    def records(self) -> list[dict[str, Any]]:
        """The SQS records of the event."""
        return list(self.event["Records"])

    @property
    def deleted_message_ids(self) -> tuple[str, ...]:
        """Messages the poller deleted (handled successfully)."""
        failed = set(self.failed_message_ids)
        return tuple(m for m in self.message_ids if m not in failed)


def sqs_event(messages: list[dict[str, Any]], source: SqsEventSource, region: str) -> dict[str, Any]:
    """The event Lambda passes for ``messages`` received from ``source``'s queue."""
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda spells these in camelCase and always includes the list fields.
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": list(value.get("BinaryListValues", [])),
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = value["BinaryValue"]
    return attribute


def failed_ids(
    response: Any, message_ids: tuple[str, ...], report_batch_item_failures: bool
) -> tuple[str, ...]:
    """Which messages stay on the queue after the handler returned ``response``.

    Without ``ReportBatchItemFailures`` a return means success for all. With it, an absent or
    empty ``batchItemFailures`` means success; an entry without a known ``itemIdentifier`` makes
    Lambda treat the whole batch as failed.
    """
    if not report_batch_item_failures or not isinstance(response, Mapping):
        return ()
    failures = response.get("batchItemFailures")
    if not failures:
        return ()
    known = set(message_ids)
    failed = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or identifier not in known:
            logger.warning("malformed batchItemFailures entry %r: the whole batch is retried", failure)
            return message_ids
        failed.append(identifier)
    return tuple(m for m in message_ids if m in set(failed))


class SqsEventSourcePoller:
    """Feeds one queue to one handler the way Lambda's SQS event source mapping does.

    Args:
        sqs: boto3 SQS client for the endpoint holding the queue.
        source: The mapping (queue, batch size, partial batch responses).
        function: The function whose name, timeout and environment the invocation gets.
        handler: What to call; by default the function's own handler, imported on first use.
        region: Region written into each record's ``awsRegion``.
        account_id: Account written into the context's function ARN.
        apply_environment: Set the function's environment variables in ``os.environ`` around
            each call (Lambda gives each function its own process; here they share one).
    """

    def __init__(
        self,
        sqs: Any,
        source: SqsEventSource,
        function: LocalFunction,
        *,
        handler: Handler | None = None,
        region: str,
        account_id: str,
        apply_environment: bool = True,
        environment_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.sqs = sqs
        self.source = source
        self.function = function
        self.region = region
        self.account_id = account_id
        self.apply_environment = apply_environment
        self.environment = {**function.environment, **(environment_overrides or {})}
        self._handler = handler
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def handler(self) -> Handler:
        """The handler, imported from the function's handler path on first use."""
        if self._handler is None:
            self._handler = resolve_handler(self.function.handler_path)
        return self._handler

    def context(self) -> LambdaContext:
        """A fresh context for one invocation."""
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:{self.function.arn_suffix}"
        return LambdaContext(
            function_name=self.function.function_name,
            invoked_function_arn=arn,
            memory_limit_in_mb=self.function.memory_mb,
            timeout_s=self.function.timeout_s,
        )

    def receive(self, wait_s: int) -> list[dict[str, Any]]:
        """One long poll for up to a batch of messages."""
        response = self.sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def poll_once(self, wait_s: int = 0) -> BatchOutcome | None:
        """Receive one batch and deliver it; None when the queue gave nothing within ``wait_s``."""
        messages = self.receive(wait_s)
        if not messages:
            return None
        return self.deliver(messages)

    def deliver(self, messages: list[dict[str, Any]]) -> BatchOutcome:
        """Invoke the handler on ``messages`` and delete those it handled."""
        event = sqs_event(messages, self.source, self.region)
        message_ids = tuple(m["MessageId"] for m in messages)
        response: Any = None
        error: BaseException | None = None
        environment = function_environment(self.environment) if self.apply_environment else nullcontext()
        try:
            with environment, invocation_event_loop():
                response = self.handler(event, self.context())
        except Exception as e:  # the handler's failure is data for the caller, as on Lambda
            error = e
            logger.warning(
                "%s failed on a batch of %d: %s: %s; the batch stays on the queue",
                self.function.logical_id,
                len(messages),
                type(e).__name__,
                e,
            )
        failed = (
            message_ids
            if error is not None
            else failed_ids(response, message_ids, self.source.report_batch_item_failures)
        )
        to_delete = [m for m in messages if m["MessageId"] not in set(failed)]
        if to_delete:
            self.sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(to_delete)
                ],
            )
        return BatchOutcome(event, response, error, message_ids, failed)

    # --- background mode (the ``up`` command) ---------------------------------------------------

    def start(self, wait_s: int = 2) -> None:
        """Poll in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run,
            args=(wait_s,),
            name=f"poller-{self.source.function_logical_id}-{self.source.event_id}",
            daemon=True,
        )
        self._thread.start()

    def _run(self, wait_s: int) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_s)
            except Exception:  # keep polling through endpoint hiccups, as Lambda does
                if self._stop.is_set():
                    break
                logger.exception("poller %s: receive or delete failed", self.source.queue_url)
                self._stop.wait(1.0)

    def request_stop(self) -> None:
        """Ask the thread to stop after its current long poll and batch, without waiting."""
        self._stop.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the thread to stop after its current long poll and batch, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
