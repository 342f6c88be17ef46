"""The local stack: ``template.yaml`` on a local AWS-compatible endpoint, handlers fed as Lambda would.

- :class:`MotoEndpoint` starts the endpoint (moto server, 127.0.0.1) in a child process.
- :meth:`LocalStack.provision` creates the template's bucket, queues, topic, subscriptions and
  bucket notifications there, and records its functions.
- :meth:`LocalStack.drain` delivers waiting messages to a function's handler synchronously (tests);
  :meth:`LocalStack.start_pollers` does it continuously (``python -m infra.local_stack up``).
- :meth:`LocalStack.http_api` serves the ``HttpApi`` functions as API Gateway would (payload 2.0).

See ``infra/local_stack/README.md`` for why moto, and what is and is not emulated.
"""

from infra.local_stack.endpoint import EndpointError, MotoEndpoint, free_port, port_is_free
from infra.local_stack.http_api import HttpApiGateway, http_api_event, http_response
from infra.local_stack.poller import BatchOutcome, Handler, LambdaContext, SqsEventSourcePoller, sqs_event
from infra.local_stack.provisioner import (
    LocalFunction,
    ProvisionedResource,
    ProvisioningError,
    SqsEventSource,
)
from infra.local_stack.stack import DrainResult, LocalStack, local_parameter_overrides
from infra.local_stack.template import DEFAULT_TEMPLATE_PATH, TemplateError, load_template_document

__all__ = [
    "DEFAULT_TEMPLATE_PATH",
    "BatchOutcome",
    "DrainResult",
    "EndpointError",
    "Handler",
    "HttpApiGateway",
    "HttpRoute",
    "LambdaContext",
    "LocalFunction",
    "LocalStack",
    "MotoEndpoint",
    "ProvisionedResource",
    "ProvisioningError",
    "SqsEventSource",
    "SqsEventSourcePoller",
    "TemplateError",
    "free_port",
    "http_api_event",
    "http_response",
    "load_template_document",
    "local_parameter_overrides",
    "port_is_free",
    "sqs_event",
]
