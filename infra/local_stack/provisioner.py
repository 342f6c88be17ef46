"""Create the template's bucket, queues, topic, subscriptions and User Pool on an AWS-compatible endpoint.

Each supported CloudFormation type has one small creator that turns the resolved properties into
plain boto3 calls (so any endpoint that speaks the AWS APIs works) and returns what ``Ref`` and
``Fn::GetAtt`` give for it. SAM functions are not created at the endpoint: they are recorded as
:class:`LocalFunction` (handler path, environment, SQS event sources) for the poller to run.
Their ``HttpApi`` events become :class:`HttpRoute` s for the local HTTP API (``http_api.py``).
Types the local stack has no use for (IAM roles, alarms) are listed as skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.local_stack.template import Resolver, StackTemplate, TemplateError, TemplateResource

logger = logging.getLogger(__name__)

# Types created at the endpoint, and the SAM/CFN types the local stack knowingly leaves out.
CREATED_TYPES = (
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolGroup",
)
FUNCTION_TYPES = ("AWS::Serverless::Function",)
SKIPPED_TYPES = {
    "AWS::Serverless::HttpApi": "HttpApi events are served by the local HTTP API (http_api.py)",
    "AWS::Serverless::Api": "REST APIs are not emulated; HttpApi events are (http_api.py)",
    "AWS::IAM::Role": "the local endpoint does not enforce IAM",
    "AWS::IAM::Policy": "the local endpoint does not enforce IAM",
    "AWS::Logs::LogGroup": "handlers log to the local process",
    "AWS::CloudFront::Distribution": "no CDN locally; the portal bucket is reachable at the endpoint",
    "AWS::CloudFront::OriginAccessControl": "no CDN locally",
}

S3_TEST_EVENT = "s3:TestEvent"


class ProvisioningError(TemplateError):
    """The endpoint refused to create a resource the template declares."""


@dataclass(frozen=True)
class ProvisionedResource:
    """A resource that exists at the endpoint: its ``Ref`` value and attributes."""

    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SqsEventSource:
    """A function's SQS trigger (Lambda's event source mapping)."""

    function_logical_id: str
    event_id: str
    queue_logical_id: str
    queue_arn: str
    queue_url: str
    batch_size: int = 10
    maximum_batching_window_s: int = 0
    report_batch_item_failures: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class ScheduleEventSource:
    """A function's ``Schedule`` (EventBridge rule) or ``ScheduleV2`` (EventBridge Scheduler) trigger."""

    function_logical_id: str
    event_id: str
    expression: str
    """``rate(5 minutes)`` or ``cron(0 8 * * ? *)``, as in the template."""
    event_type: str = "Schedule"
    input: str | None = None
    """The template's ``Input`` (a JSON text the target gets instead of the scheduled event)."""
    enabled: bool = True


@dataclass(frozen=True)
class HttpRoute:
    """A function's ``HttpApi`` event: method and path of the HTTP API route it serves."""

    function_logical_id: str
    event_id: str
    method: str = "ANY"
    path: str = "$default"

    @property
    def route_key(self) -> str:
        """API Gateway's route key, e.g. ``ANY /{proxy+}``, or ``$default`` for the catch-all."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class LocalFunction:
    """A SAM function as the local stack runs it: in this process, fed by pollers."""

    logical_id: str
    function_name: str
    handler_path: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    sqs_event_sources: tuple[SqsEventSource, ...]
    other_events: dict[str, str]
    image_metadata: dict[str, Any]
    http_routes: tuple[HttpRoute, ...] = ()
    schedule_event_sources: tuple[ScheduleEventSource, ...] = ()

    @property
    def arn_suffix(self) -> str:
        """``function:<name>``, the tail of the function's ARN."""
        return f"function:{self.function_name}"


@dataclass
class ProvisionedStack:
    """What :func:`provision` built: resources by logical id, functions, skipped resources, outputs."""

    template: StackTemplate
    stack_name: str
    resources: dict[str, ProvisionedResource]
    functions: dict[str, LocalFunction]
    skipped: dict[str, str]
    outputs: dict[str, str]


Clients = Mapping[str, Any]
"""boto3 clients by service name: ``s3``, ``sqs``, ``sns``, ``cognito-idp``."""


def provision(template: StackTemplate, clients: Clients, *, stack_name: str) -> ProvisionedStack:
    """Create every supported resource of ``template`` through ``clients``, in dependency order."""
    pseudo = template.resolver.pseudo_parameters
    resources: dict[str, ProvisionedResource] = {}
    functions: dict[str, LocalFunction] = {}
    skipped: dict[str, str] = {}

    def attribute(logical_id: str, name: str | None) -> Any:
        if logical_id in functions:
            function = functions[logical_id]
            arn = f"arn:{pseudo['AWS::Partition']}:lambda:{pseudo['AWS::Region']}:{pseudo['AWS::AccountId']}"
            return function.function_name if name is None else f"{arn}:{function.arn_suffix}"
        if logical_id in skipped or logical_id == "ServerlessHttpApi":
            # Outputs may name resources SAM generates (ServerlessHttpApi); locally they are stand-ins.
            return f"local-{logical_id}"
        try:
            resource = resources[logical_id]
        except KeyError as e:
            raise TemplateError(f"{logical_id} is referenced before it exists") from e
        if name is None:
            return resource.physical_id
        try:
            return resource.attributes[name]
        except KeyError as e:
            raise TemplateError(f"{logical_id} ({resource.type}) has no attribute {name} locally") from e

    template.resolver.resource_attribute = attribute
    creators: dict[str, Callable[[TemplateResource, dict[str, Any], Clients, str], ProvisionedResource]] = {
        "AWS::S3::Bucket": _create_bucket,
        "AWS::S3::BucketPolicy": _create_bucket_policy,
        "AWS::SQS::Queue": _create_queue,
        "AWS::SQS::QueuePolicy": _create_queue_policy,
        "AWS::SNS::Topic": _create_topic,
        "AWS::SNS::Subscription": _create_subscription,
        "AWS::Cognito::UserPool": _create_user_pool,
        "AWS::Cognito::UserPoolClient": _create_user_pool_client,
        "AWS::Cognito::UserPoolGroup": _create_user_pool_group,
    }
    for resource in template.resources.values():
        if resource.type in FUNCTION_TYPES:
            continue
        creator = creators.get(resource.type)
        if creator is None:
            skipped[resource.logical_id] = SKIPPED_TYPES.get(
                resource.type, f"{resource.type} is not emulated"
            )
            continue
        properties = template.resolver.resolve(resource.properties)
        try:
            resources[resource.logical_id] = creator(resource, properties, clients, stack_name)
        except (ClientError, BotoCoreError) as e:
            raise ProvisioningError(f"cannot create {resource.logical_id} ({resource.type}): {e}") from e
        logger.debug("created %s %s", resource.type, resources[resource.logical_id].physical_id)

    # Functions come last: their environment refers to everything else, nothing refers to them
    # except outputs.
    for resource in template.of_type("AWS::Serverless::Function"):
        functions[resource.logical_id] = _local_function(resource, template, resources, stack_name)

    outputs = {}
    for name, output in template.outputs.items():
        outputs[name] = str(template.resolver.resolve(output.get("Value")))
    return ProvisionedStack(template, stack_name, resources, functions, skipped, outputs)


def _generated_name(stack_name: str, logical_id: str, limit: int = 80) -> str:
    # CloudFormation appends a random suffix; a stable name keeps local runs reproducible.
    return f"{stack_name}-{logical_id}"[:limit]


def _create_queue(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    sqs = clients["sqs"]
    name = str(properties.get("QueueName") or _generated_name(stack_name, resource.logical_id))
    attributes: dict[str, str] = {}
    for key, value in properties.items():
        if key in ("QueueName", "Tags"):
            continue
        if key in ("RedrivePolicy", "RedriveAllowPolicy"):
            value = json.dumps(value) if isinstance(value, dict) else value
        elif isinstance(value, bool):
            value = "true" if value else "false"
        attributes[key] = str(value)
    queue_url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return ProvisionedResource(
        resource.logical_id,
        resource.type,
        queue_url,
        {"Arn": queue_arn, "QueueName": name, "QueueUrl": queue_url},
        properties,
    )


def _create_queue_policy(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    policy = json.dumps(properties["PolicyDocument"])
    for queue_url in properties["Queues"]:
        clients["sqs"].set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
    return ProvisionedResource(
        resource.logical_id, resource.type, _generated_name(stack_name, resource.logical_id), {}, properties
    )


def _create_topic(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    sns = clients["sns"]
    name = str(properties.get("TopicName") or _generated_name(stack_name, resource.logical_id, 256))
    attributes = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in properties.items()
        if key in ("DisplayName", "FifoTopic", "ContentBasedDeduplication", "KmsMasterKeyId")
    }
    topic_arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for subscription in properties.get("Subscription", []):
        sns.subscribe(
            TopicArn=topic_arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
        )
    return ProvisionedResource(
        resource.logical_id, resource.type, topic_arn, {"TopicArn": topic_arn, "TopicName": name}, properties
    )


def _create_subscription(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    attributes: dict[str, str] = {}
    for key in ("RawMessageDelivery", "FilterPolicyScope", "FilterPolicy", "RedrivePolicy", "DeliveryPolicy"):
        if key not in properties:
            continue
        value = properties[key]
        if isinstance(value, dict):
            attributes[key] = json.dumps(value)
        elif isinstance(value, bool):
            attributes[key] = "true" if value else "false"
        else:
            attributes[key] = str(value)
    arn = clients["sns"].subscribe(
        TopicArn=properties["TopicArn"],
        Protocol=properties["Protocol"],
        Endpoint=properties["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return ProvisionedResource(resource.logical_id, resource.type, arn, {}, properties)


# CloudFormation's UserPool properties that are CreateUserPool parameters of the same name (the
# pool's name is the one that differs). The endpoint enforces the password policy on sign-in and
# on set-password, as Cognito does.
_USER_POOL_PARAMETERS = (
    "Policies",
    "UsernameConfiguration",
    "AdminCreateUserConfig",
    "AccountRecoverySetting",
    "DeletionProtection",
)
_USER_POOL_CLIENT_PARAMETERS = (
    "GenerateSecret",
    "ExplicitAuthFlows",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "AccessTokenValidity",
    "IdTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
)


def _create_user_pool(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    cognito = clients["cognito-idp"]
    name = str(properties.get("UserPoolName") or _generated_name(stack_name, resource.logical_id, 128))
    kwargs = {key: properties[key] for key in _USER_POOL_PARAMETERS if key in properties}
    # Pool names need not be unique, so an existing pool of this name is the one a provisioning
    # of this stack made before (the local stack's resources are found again, not duplicated).
    existing = [
        found["Id"] for found in cognito.list_user_pools(MaxResults=60)["UserPools"] if found["Name"] == name
    ]
    if existing:
        pool = cognito.describe_user_pool(UserPoolId=existing[0])["UserPool"]
    else:
        pool = cognito.create_user_pool(PoolName=name, **kwargs)["UserPool"]
    pool_id = str(pool["Id"])
    region = pool_id.split("_", 1)[0]
    provider = f"cognito-idp.{region}.amazonaws.com/{pool_id}"
    attributes = {
        "Arn": str(pool["Arn"]),
        "UserPoolId": pool_id,
        "ProviderName": provider,
        "ProviderURL": f"https://{provider}",
    }
    return ProvisionedResource(resource.logical_id, resource.type, pool_id, attributes, properties)


def _create_user_pool_client(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    cognito = clients["cognito-idp"]
    name = str(properties.get("ClientName") or _generated_name(stack_name, resource.logical_id, 128))
    kwargs = {key: properties[key] for key in _USER_POOL_CLIENT_PARAMETERS if key in properties}
    pool_id = str(properties["UserPoolId"])
    existing = [
        found["ClientId"]
        for found in cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
        if found["ClientName"] == name
    ]
    if existing:
        client_id = str(existing[0])
    else:
        created = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName=name, **kwargs)
        client_id = str(created["UserPoolClient"]["ClientId"])
    return ProvisionedResource(
        resource.logical_id, resource.type, client_id, {"ClientId": client_id}, properties
    )


def _create_user_pool_group(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    cognito = clients["cognito-idp"]
    kwargs = {key: properties[key] for key in ("Description", "Precedence") if key in properties}
    name = str(properties["GroupName"])
    try:
        cognito.create_group(UserPoolId=str(properties["UserPoolId"]), GroupName=name, **kwargs)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "GroupExistsException":
            raise
    return ProvisionedResource(resource.logical_id, resource.type, name, {}, properties)


def _create_bucket(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    s3 = clients["s3"]
    name = str(properties.get("BucketName") or _generated_name(stack_name, resource.logical_id, 63).lower())
    region = s3.meta.region_name
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
        )
    if "BucketEncryption" in properties:
        rules = [
            {
                ("Apply" + key if key == "ServerSideEncryptionByDefault" else key): value
                for key, value in rule.items()
            }
            for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "LifecycleConfiguration" in properties:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration=lifecycle_to_api(properties["LifecycleConfiguration"])
        )
    if "CorsConfiguration" in properties:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration=cors_to_api(properties["CorsConfiguration"]))
    if "NotificationConfiguration" in properties:
        notification = notification_to_api(properties["NotificationConfiguration"])
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notification)
        _discard_s3_test_events(clients, notification)
    partition_arn = f"arn:aws:s3:::{name}"
    return ProvisionedResource(
        resource.logical_id,
        resource.type,
        name,
        {
            "Arn": partition_arn,
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        },
        properties,
    )


def _create_bucket_policy(
    resource: TemplateResource, properties: dict[str, Any], clients: Clients, stack_name: str
) -> ProvisionedResource:
    bucket = str(properties["Bucket"])
    clients["s3"].put_bucket_policy(Bucket=bucket, Policy=json.dumps(properties["PolicyDocument"]))
    return ProvisionedResource(resource.logical_id, resource.type, bucket, {}, properties)


def lifecycle_to_api(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``LifecycleConfiguration`` in the shape of ``PutBucketLifecycleConfiguration``."""
    rules = []
    for rule in configuration.get("Rules", []):
        api_rule: dict[str, Any] = {"Status": rule["Status"]}
        if "Id" in rule:
            api_rule["ID"] = rule["Id"]
        api_rule["Filter"] = {"Prefix": rule.get("Prefix", "")}
        if "ExpirationInDays" in rule:
            api_rule["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        if "NoncurrentVersionExpirationInDays" in rule:
            api_rule["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
            }
        if "AbortIncompleteMultipartUpload" in rule:
            days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            api_rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
        rules.append(api_rule)
    return {"Rules": rules}


def cors_to_api(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``CorsConfiguration`` in the shape of ``PutBucketCors``."""
    renames = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
    return {
        "CORSRules": [
            {renames.get(key, key): (int(value) if key == "MaxAge" else value) for key, value in rule.items()}
            for rule in configuration.get("CorsRules", [])
        ]
    }


def notification_to_api(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``NotificationConfiguration`` as ``PutBucketNotificationConfiguration`` wants it."""
    api: dict[str, Any] = {}
    for cfn_key, api_key, target_key, api_target in (
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ):
        entries = []
        for index, entry in enumerate(configuration.get(cfn_key, [])):
            api_entry: dict[str, Any] = {
                "Id": f"{api_target.removesuffix('Arn')}{index}",
                api_target: entry[target_key],
                "Events": [entry["Event"]],
            }
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            if rules:
                api_entry["Filter"] = {
                    "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}
                }
            entries.append(api_entry)
        if entries:
            api[api_key] = entries
    return api


def _discard_s3_test_events(clients: Clients, notification: Mapping[str, Any]) -> None:
    """Remove the ``s3:TestEvent`` S3 sends each queue when notifications are set.

    AWS sends it too, and handlers must skip it; removing it here keeps freshly provisioned queues
    empty, so that what a test drains is what the test put.
    """
    sqs = clients["sqs"]
    for entry in notification.get("QueueConfigurations", []):
        queue_name = entry["QueueArn"].rsplit(":", 1)[-1]
        queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
            ).get("Messages", [])
            test_events = [m for m in messages if _is_s3_test_event(m.get("Body", ""))]
            for message in test_events:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if len(test_events) < len(messages) or not messages:
                break


def _is_s3_test_event(body: str) -> bool:
    try:
        return bool(json.loads(body).get("Event") == S3_TEST_EVENT)
    except (ValueError, AttributeError):
        return False


def _local_function(
    resource: TemplateResource,
    template: StackTemplate,
    resources: Mapping[str, ProvisionedResource],
    stack_name: str,
) -> LocalFunction:
    resolver = template.resolver
    raw = resource.properties
    handler_path = _handler_path(resource)
    environment = {
        key: str(value)
        for key, value in resolver.resolve(raw.get("Environment", {}).get("Variables", {})).items()
    }
    queues_by_arn = {r.attributes["Arn"]: r for r in resources.values() if r.type == "AWS::SQS::Queue"}
    sqs_sources = []
    http_routes = []
    other_events = {}
    schedules = []
    for event_id, event in raw.get("Events", {}).items():
        if event.get("Type") in ("Schedule", "ScheduleV2"):
            schedules.append(_schedule_source(resource.logical_id, event_id, event, resolver))
        if event.get("Type") == "HttpApi":
            properties = resolver.resolve(event.get("Properties", {}))
            # SAM: an HttpApi event without Path/Method is the API's $default (catch-all) route.
            http_routes.append(
                HttpRoute(
                    resource.logical_id,
                    event_id,
                    method=str(properties.get("Method", "ANY")).upper(),
                    path=str(properties.get("Path", "$default")),
                )
            )
        if event.get("Type") != "SQS":
            other_events[event_id] = str(event.get("Type"))
            continue
        properties = resolver.resolve(event.get("Properties", {}))
        queue = queues_by_arn.get(str(properties["Queue"]))
        if queue is None:
            raise TemplateError(
                f"{resource.logical_id}.{event_id}: queue {properties['Queue']} is not in the stack"
            )
        sqs_sources.append(
            SqsEventSource(
                function_logical_id=resource.logical_id,
                event_id=event_id,
                queue_logical_id=queue.logical_id,
                queue_arn=queue.attributes["Arn"],
                queue_url=queue.physical_id,
                batch_size=int(properties.get("BatchSize", 10)),
                maximum_batching_window_s=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures"
                in properties.get("FunctionResponseTypes", []),
                enabled=bool(properties.get("Enabled", True)),
            )
        )
    function_name = str(
        resolver.resolve(raw.get("FunctionName", "")) or f"{stack_name}-{resource.logical_id}"
    )
    return LocalFunction(
        logical_id=resource.logical_id,
        function_name=function_name,
        handler_path=handler_path,
        environment=environment,
        timeout_s=int(resolver.resolve(raw.get("Timeout", 3))),
        memory_mb=int(resolver.resolve(raw.get("MemorySize", 128))),
        sqs_event_sources=tuple(sqs_sources),
        other_events=other_events,
        image_metadata=dict(resource.metadata),
        http_routes=tuple(http_routes),
        schedule_event_sources=tuple(schedules),
    )


def _schedule_source(
    function_logical_id: str, event_id: str, event: Mapping[str, Any], resolver: Resolver
) -> ScheduleEventSource:
    """SAM's ``Schedule`` (``Schedule``, ``Enabled``, ``State``) or ``ScheduleV2`` event.

    ``ScheduleV2`` names its expression ``ScheduleExpression``; both take ``State`` and ``Input``.
    """
    event_type = str(event["Type"])
    properties = resolver.resolve(event.get("Properties", {}))
    key = "Schedule" if event_type == "Schedule" else "ScheduleExpression"
    expression = properties.get(key)
    if not isinstance(expression, str) or not expression:
        raise TemplateError(f"{function_logical_id}.{event_id}: {event_type} event without {key}")
    enabled = str(properties.get("Enabled", True)).lower() != "false"
    if str(properties.get("State", "ENABLED")).upper() == "DISABLED":
        enabled = False
    raw_input = properties.get("Input")
    return ScheduleEventSource(
        function_logical_id=function_logical_id,
        event_id=event_id,
        expression=expression.strip(),
        event_type=event_type,
        input=None if raw_input is None else str(raw_input),
        enabled=enabled,
    )


def _handler_path(resource: TemplateResource) -> str:
    """The dotted ``module.function`` Lambda would call: the image's command, else ``Handler``."""
    properties = resource.properties
    command = properties.get("ImageConfig", {}).get("Command")
    if command:
        return str(command[0])
    if "Handler" in properties:
        return str(properties["Handler"])
    raise TemplateError(f"{resource.logical_id} names no handler (ImageConfig.Command or Handler)")
