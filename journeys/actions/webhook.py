"""``trigger_webhook``: a signed POST (Standard Webhooks) to the step's endpoint."""

import json
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone

from journeys.actions import schemas
from journeys.actions.base import check_templates_in, render_value, unknown_keys
from journeys.registries import ActionContext, FieldErrors
from journeys.webhooks import webhook_secret_generate, webhook_send


class TriggerWebhook:
    """POST JSON to ``url``, signed with the step's own ``secret`` (generated when the journey is
    saved), ``webhook-id`` = the step run's idempotency key, so a retried run is recognisable by
    the receiver. Internal addresses are refused unless allow-listed (``WEBHOOK_ALLOWED_HOSTS``).

    The body is ``{"type": "journey.step", "journey_id", "user_journey_id", "step_run_id",
    "user_id", "timestamp", "data"}`` where ``data`` is the configured ``payload`` (templated) or
    the user journey's trigger payload. It is built once, on the first attempt, and stored on the
    step run: a retry carries the same ``webhook-id`` and the same body bytes (``timestamp`` is
    the first attempt's); only the ``webhook-timestamp`` header and the signature are new.
    """

    name = "trigger_webhook"
    description = "POST a signed JSON webhook (Standard Webhooks) to an endpoint."
    channel = ""
    concurrent = True
    transactional = False
    config_schema = schemas.TRIGGER_WEBHOOK
    config_example = {"url": "https://example.com/hooks/journey", "payload": {"plan": "{{ payload.plan }}"}}

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        unknown_keys(config, {"url", "secret", "payload", "headers", "timeout_seconds"}, errors)
        url = config.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or parts.scheme not in {"http", "https"} or not parts.hostname:
            errors.setdefault("url", []).append("An http(s) URL with a host is required.")
        secret = config.get("secret")
        if secret is not None and (not isinstance(secret, str) or not secret.startswith("whsec_")):
            errors.setdefault("secret", []).append(
                "A Standard Webhooks secret (whsec_…); leave empty to generate."
            )
        if "payload" in config:
            if not isinstance(config["payload"], dict):
                errors.setdefault("payload", []).append("Must be a JSON object.")
            else:
                check_templates_in(config["payload"], "payload", errors)
        headers = config.get("headers")
        if headers is not None and (
            not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())
        ):
            errors.setdefault("headers", []).append("Must be an object of header names to text values.")
        timeout = config.get("timeout_seconds")
        if timeout is not None and (not isinstance(timeout, int | float) or not 0 < timeout <= 60):
            errors.setdefault("timeout_seconds", []).append("Between 0 and 60 seconds.")
        return errors

    def prepare_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if not config.get("secret"):
            return {**config, "secret": webhook_secret_generate()}
        return config

    def freeze(self, action: ActionContext) -> str:
        """The body of the first attempt (JSON text). The engine stores it on the step run before
        sending, so retries and redeliveries send the same bytes: a receiver can compare them."""
        config = action.config
        context = action.context or {}
        data = render_value(config["payload"], action) if "payload" in config else context.get("payload", {})
        body = {
            "type": "journey.step",
            "journey_id": action.journey_id,
            "user_journey_id": action.user_journey_id,
            "step_run_id": action.step_run_id,
            "user_id": action.participant.user_id,
            "timestamp": timezone.now().isoformat(),
            "data": data,
        }
        return json.dumps(body, separators=(",", ":"), default=str)

    def execute(self, action: ActionContext) -> dict[str, Any]:
        config = action.config
        delivery = webhook_send(
            url=config["url"],
            payload=action.frozen_request or self.freeze(action),
            secret=config.get("secret") or "",
            message_id=action.idempotency_key,
            headers=config.get("headers"),
            timeout=config.get("timeout_seconds"),
        )
        return {"url": config["url"], **delivery.as_result()}
