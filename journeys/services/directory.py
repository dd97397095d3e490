"""The service directory's use cases: services created, changed, their secret rotated, their
health checked; a service operation resolved by name and called.

A call to an HTTP service is a Standard Webhook (signed with the service's secret, ``webhook-id``
the caller's idempotency key) through the SSRF guard, checked again before every send. A
built-in service is answered in-process by its handler (``builtin_handlers``), which apps
register from their ``AppConfig.ready``.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from journeys.errors import DomainError, ValidationFailed
from journeys.models import Service
from journeys.registries import Registry
from journeys.webhooks import (
    MAX_RESPONSE_EXCERPT,
    DeliveryFailed,
    http_request,
    webhook_secret_generate,
    webhook_send,
)

SERVICE_FIELDS = (
    "key",
    "name",
    "kind",
    "handler",
    "endpoint_url",
    "health_check_url",
    "active",
    "description",
)
EDITABLE_FIELDS = SERVICE_FIELDS[1:]  # the key names the service in definitions and task templates
HEALTH_TIMEOUT_SECONDS = 5.0

# A built-in handler: (operation, request body) → the JSON object the service answers.
BuiltinHandler = Callable[[str, dict[str, Any]], dict[str, Any]]
builtin_handlers: Registry[BuiltinHandler] = Registry("built-in service handler")


class ServiceUnavailable(DomainError):
    """The named service is unknown or needs configuration; retrying will not help until staff act."""

    default_code = "service_unavailable"


@dataclass(frozen=True)
class ServiceAnswer:
    body: dict[str, Any]
    status_code: int | None
    duration_ms: float


def _validated(service: Service) -> None:
    errors: dict[str, list[str]] = {}
    try:
        service.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict
    if service.kind == Service.Kind.BUILT_IN and builtin_handlers.get(service.handler) is None:
        known = ", ".join(sorted(builtin_handlers)) or "none"
        errors.setdefault("handler", []).append(
            f"A built-in service needs a registered handler; {service.handler!r} is not one (known: {known})."
        )
    if errors:
        raise ValidationFailed(errors)


# ----------------------------------------------------------------------------------------------
# Writes
# ----------------------------------------------------------------------------------------------
@transaction.atomic
def service_create(*, data: dict[str, Any]) -> tuple[Service, str]:
    """A new service and its signing secret in plain text (stored encrypted; shown this once)."""
    service = Service(**{name: data[name] for name in SERVICE_FIELDS if name in data})
    _validated(service)
    service.save()
    return service, service.secret


@transaction.atomic
def service_update(*, service: Service, data: dict[str, Any]) -> Service:
    """Change a service (its key and secret stay). Once it can be called, whatever waited for its
    configuration is woken (``service_configured`` listeners, e.g. stage tasks)."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    was_unconfigured = service.needs_configuration
    changed = [name for name in EDITABLE_FIELDS if name in data and getattr(service, name) != data[name]]
    for name in changed:
        setattr(service, name, data[name])
    _validated(service)
    service.save(update_fields=[*changed, "updated_at"])
    if was_unconfigured and not service.needs_configuration:
        for listener in configured_listeners:
            listener(service)
    return service


# Called (in the transaction) when a service that needed configuration becomes callable.
configured_listeners: list[Callable[[Service], None]] = []


@transaction.atomic
def service_secret_rotate(*, service: Service) -> str:
    """Give the service a new signing secret and answer it (stored encrypted; shown this once)."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    service.secret = webhook_secret_generate()
    service.save(update_fields=["secret", "updated_at"])
    return service.secret


def service_health_check(*, service: Service) -> Service:
    """GET the service's health-check URL (SSRF-guarded) and record healthy/unhealthy.

    Without a URL: a built-in service is healthy when its handler is registered; an HTTP one
    stays unknown. The request is made outside any transaction.
    """
    status, detail = Service.Health.UNKNOWN, "No health-check URL."
    if service.kind == Service.Kind.BUILT_IN:
        registered = builtin_handlers.get(service.handler) is not None
        status = Service.Health.HEALTHY if registered else Service.Health.UNHEALTHY
        detail = "Built-in handler registered." if registered else f"No handler {service.handler!r}."
    elif service.health_check_url:
        try:
            response = http_request(
                method="GET", url=service.health_check_url, timeout=HEALTH_TIMEOUT_SECONDS
            )
            healthy = 200 <= response.status_code < 300
            status = Service.Health.HEALTHY if healthy else Service.Health.UNHEALTHY
            detail = f"{response.status_code}: {response.body[:200]}"
        except DomainError as exc:
            status, detail = Service.Health.UNHEALTHY, exc.message
        except DeliveryFailed as exc:
            status, detail = Service.Health.UNHEALTHY, str(exc)
        except Exception as exc:
            status, detail = Service.Health.UNHEALTHY, f"{type(exc).__name__}: {exc}"
    Service.objects.filter(pk=service.pk).update(
        health_status=status, health_checked_at=timezone.now(), health_detail=detail[:2000]
    )
    service.refresh_from_db()
    return service


# ----------------------------------------------------------------------------------------------
# Resolving and calling
# ----------------------------------------------------------------------------------------------
def service_resolve(reference: str) -> tuple[Service, str]:
    """The service a reference names and the operation: ``FrontendGateway.handle_x`` is the
    service ``FrontendGateway``, operation ``handle_x`` (a key holding the whole reference wins).
    Raises ``ServiceUnavailable`` when it is unknown or needs configuration."""
    name, _, operation = reference.partition(".")
    candidates = {s.key: s for s in Service.objects.filter(key__in={reference, name})}
    service = candidates.get(reference) or candidates.get(name)
    if service is None:
        raise ServiceUnavailable(f"No service {name!r} in the service directory (named by {reference!r}).")
    if service.key == reference:
        operation = ""
    if service.needs_configuration:
        raise ServiceUnavailable(service.configuration_problem)
    return service, operation


def service_call(*, service: Service, body: dict[str, Any], message_id: str) -> ServiceAnswer:
    """Call the service with ``body`` and answer its JSON object (a non-object is under ``body``).

    HTTP: ``DeliveryFailed`` for a network error or a non-2xx (retryable), ``TargetRefused``
    for a forbidden address. Built-in: whatever the handler raises.
    """
    if service.needs_configuration:
        raise ServiceUnavailable(service.configuration_problem)
    if service.kind == Service.Kind.BUILT_IN:
        handler = builtin_handlers.get(service.handler)
        if handler is None:
            raise ServiceUnavailable(f"The built-in handler {service.handler!r} is not registered.")
        started = time.perf_counter()
        answer = handler(body.get("operation", ""), body)
        return ServiceAnswer(
            body=answer, status_code=None, duration_ms=(time.perf_counter() - started) * 1000
        )
    delivery = webhook_send(
        url=service.endpoint_url, payload=body, secret=service.secret, message_id=message_id
    )
    return ServiceAnswer(
        body=json_object(delivery.body), status_code=delivery.status_code, duration_ms=delivery.duration_ms
    )


def json_object(text: str) -> dict[str, Any]:
    """An answer's body as a JSON object (text that is not one is kept under ``body``)."""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"body": text[:MAX_RESPONSE_EXCERPT]}
    return value if isinstance(value, dict) else {"body": value}
