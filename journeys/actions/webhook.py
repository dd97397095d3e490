"""``trigger_webhook``: a signed POST (Standard Webhooks) to the step's endpoint."""

import json
from typing import Any

from django.utils import timezone

from journeys.actions import schemas
from journeys.actions.base import check_templates_in, render_value, unknown_keys
from journeys.crypto import SecretUnreadable, is_encrypted, is_masked, secret_decrypt, secret_encrypt
from journeys.registries import ActionContext, ActionType, FieldErrors
from journeys.webhooks import is_http_url, target_refusal, webhook_secret_generate, webhook_send


class TriggerWebhook(ActionType):
    """POST JSON to ``url``, signed with the step's own ``secret`` (generated when the journey is
    saved, stored encrypted, see ``journeys.services.webhook_secrets``), ``webhook-id`` = the step
    run's idempotency key, so a retried run is recognisable by the receiver. Internal addresses
    are refused when the step is saved and before each call, unless allow-listed
    (``WEBHOOK_ALLOWED_HOSTS``).

    The body is ``{"type": "journey.step", "journey_id", "user_journey_id", "step_run_id",
    "user_id", "timestamp", "data"}`` where ``data`` is the configured ``payload`` (templated) or
    the user journey's trigger payload. It is built once, on the first attempt, and stored on the
    step run: a retry carries the same ``webhook-id`` and the same body bytes (``timestamp`` is
    the first attempt's); only the ``webhook-timestamp`` header and the signature are new.
    """

    name = "trigger_webhook"
    description = "POST a signed JSON webhook (Standard Webhooks) to an endpoint."
    concurrent = True
    config_schema = schemas.TRIGGER_WEBHOOK
    config_example = {"url": "https://example.com/hooks/journey", "payload": {"plan": "{{ payload.plan }}"}}

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        unknown_keys(config, {"url", "secret", "payload", "headers", "timeout_seconds"}, errors)
        url = config.get("url")
        if not isinstance(url, str) or not is_http_url(url):
            errors.setdefault("url", []).append("An http(s) URL with a host is required.")
        elif refusal := target_refusal(url, unresolvable_ok=True):
            errors.setdefault("url", []).append(refusal)
        secret_errors(config.get("secret"), errors)
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
        """The stored form: the secret generated when none is given, and encrypted at rest. A
        masked secret (sent back as read) is left for validation to refuse: the service puts
        the step's current secret in its place when the step already had one."""
        secret = config.get("secret")
        if not secret:
            return {**config, "secret": secret_encrypt(webhook_secret_generate())}
        if isinstance(secret, str) and secret.startswith("whsec_") and not is_masked(secret):
            return {**config, "secret": secret_encrypt(secret)}
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
            secret=secret_decrypt(config.get("secret") or ""),
            message_id=action.idempotency_key,
            headers=config.get("headers"),
            timeout=config.get("timeout_seconds"),
        )
        return {"url": config["url"], **delivery.as_result()}


def secret_errors(secret: Any, errors: FieldErrors) -> None:
    """A step's ``secret`` is absent (one is generated), a ``whsec_…`` secret, or the stored
    (encrypted) form of one; a masked value only stands for a secret the step already has."""
    if secret is None:
        return
    if is_masked(secret):
        errors.setdefault("secret", []).append(
            "This is a masked secret: leave it out to keep the step's secret, or rotate it."
        )
    elif is_encrypted(secret):
        try:
            secret_decrypt(secret)
        except SecretUnreadable as exc:
            errors.setdefault("secret", []).append(str(exc))
    elif not isinstance(secret, str) or not secret.startswith("whsec_"):
        errors.setdefault("secret", []).append(
            "A Standard Webhooks secret (whsec_…); leave empty to generate."
        )
