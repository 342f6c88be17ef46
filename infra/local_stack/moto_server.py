"""The local endpoint's server: moto's, with SNS publishing to every subscription of a topic.

moto 5's ``Topic.publish`` delivers only to the first page (100) of a topic's subscriptions;
real SNS delivers to all of them. A campus has hundreds of rooms, each subscribed to the handoff
topic, so the local stack patches that one method before starting moto's server. Run as a
script (``python moto_server.py -H host -p port``), like ``python -m moto.server``.
"""

from __future__ import annotations

import sys
from typing import Any

from moto.moto_api._internal import mock_random
from moto.server import main
from moto.sns import models


def _publish_to_every_subscription(
    self: models.Topic,
    message: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> str:
    message_id = str(mock_random.uuid4())
    subscriptions, token = self.sns_backend.list_subscriptions_by_topic(topic_arn=self.arn)
    while token:
        page, token = self.sns_backend.list_subscriptions_by_topic(topic_arn=self.arn, next_token=str(token))
        subscriptions = [*subscriptions, *page]
    for subscription in subscriptions:
        subscription.publish(
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
    self.sent_notifications.append((message_id, message, subject, message_attributes, group_id))
    return message_id


models.Topic.publish = _publish_to_every_subscription  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
