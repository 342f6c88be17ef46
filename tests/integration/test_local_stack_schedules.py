"""The template's Schedule events on the real local stack: found, and run with EventBridge's event."""

from __future__ import annotations

import os
from typing import Any

from infra.local_stack import LocalStack


def test_the_template_schedules_are_provisioned_as_event_sources(local_stack: LocalStack) -> None:
    # GIVEN the template provisioned on the local endpoint
    schedules = {
        (name, source.event_id): source.expression
        for name, function in local_stack.functions.items()
        for source in function.schedule_event_sources
    }
    # THEN every Schedule event is there with its expression
    assert schedules[("BodyMatchFunction", "BodyPrintRetention")] == "rate(1 hour)"


def test_run_schedule_calls_the_handler_now_in_the_functions_environment(local_stack: LocalStack) -> None:
    seen: list[tuple[dict[str, Any], str | None]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
        seen.append((event, os.environ.get("POWERTOOLS_SERVICE_NAME")))
        return {"ok": context.function_name}

    # WHEN the body print retention is run now
    (outcome,) = local_stack.run_schedule("BodyMatchFunction", handler)
    # THEN the handler got a scheduled event of this stack's account and region, in its environment
    event, service = seen[0]
    assert outcome.error is None
    assert outcome.response == {"ok": local_stack.functions["BodyMatchFunction"].function_name}
    assert event["detail-type"] == "Scheduled Event"
    assert event["account"] == local_stack.account_id
    assert event["region"] == local_stack.region
    assert service == "body_match"
