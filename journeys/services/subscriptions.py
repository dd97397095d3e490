"""Webhook subscriptions: journey events to the endpoints staff registered, each event once.

1. The bus subscriber (pattern ``journey.*``, a worker message's events at once) makes one
   delivery row per matching active subscription, unique per (subscription, event), and
   enqueues it after commit. Which subscriptions are active, and their globs, is an index kept
   per process (``ACTIVE_GLOBS``), so the many events no subscription wants cost no query.
2. ``webhook_delivery_send`` claims a due delivery (compare-and-swap on ``next_attempt_at``, so
   two workers never send it at once), sends it outside any transaction as a Standard Webhook
   whose ``webhook-id`` is the event's idempotency key, and records the try.
3. A failed try is retried with exponential backoff and jitter up to
   ``WEBHOOK_SUBSCRIPTION_MAX_ATTEMPTS``; ``WEBHOOK_SUBSCRIPTION_DISABLE_AFTER`` failed tries in a
   row disable the subscription and e-mail the admins. The sweeper (beat) sends what fell due or
   whose message was lost; staff re-send a delivery from the admin.

The deliveries table is a durable queue (``journeys.queue``, ``DELIVERIES``) whose lease is its
due column: claiming a delivery pushes ``next_attempt_at`` ``CLAIM_SECONDS`` ahead.
"""

import fnmatch
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from journeys.errors import ValidationFailed
from journeys.generations import GenerationIndex
from journeys.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from journeys.queue import Backoff, Queue
from journeys.webhooks import DeliveryFailed, TargetRefused, target_check, webhook_send

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 120  # a claimed delivery is not claimed again this soon (a worker died mid-send)
SWEEP_BATCH = 500  # deliveries re-enqueued per sweep

DELIVERIES = Queue(
    name="webhook deliveries",
    model=WebhookDelivery,
    waiting=Q(status=WebhookDelivery.Status.PENDING, subscription__active=True),
    due_field="next_attempt_at",
    lease_field="next_attempt_at",
    lease_seconds=CLAIM_SECONDS,
    chunk=1,  # the task sends one delivery
    sweep_batch=SWEEP_BATCH,
    backoff=Backoff(base=lambda: settings.WEBHOOK_SUBSCRIPTION_RETRY_BASE_SECONDS, cap=3600),
)


def _globs_errors(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        return ['A list of event type globs, e.g. ["journey.milestone.*"].']
    if not all(isinstance(t, str) and t.startswith("journey.") and len(t) <= 200 for t in event_types):
        return ["Each entry is a journey event type or glob starting with journey. (e.g. journey.*)."]
    return []


@transaction.atomic
def webhook_subscription_save(
    *, subscription: WebhookSubscription | None = None, data: dict[str, Any], actor=None
) -> WebhookSubscription:
    """Create or change a subscription; the URL must be callable (SSRF guard) and the globs valid.

    Enabling (``active: true``) a disabled subscription clears its failure run.
    """
    subscription = subscription or WebhookSubscription(
        created_by=actor if getattr(actor, "pk", None) else None
    )
    errors: dict[str, list[str]] = {}
    if "event_types" in data and (problems := _globs_errors(data["event_types"])):
        errors["event_types"] = problems
    if "url" in data:
        try:
            target_check(data["url"])
        except TargetRefused as exc:
            errors["url"] = [exc.message]
    if errors:
        raise ValidationFailed(errors)
    for name in ("name", "url", "event_types", "secret"):
        if name in data:
            setattr(subscription, name, data[name])
    if "active" in data and data["active"] != subscription.active:
        subscription.active = data["active"]
        if subscription.active:
            subscription.consecutive_failures = 0
            subscription.disabled_at = None
            subscription.disabled_reason = ""
    subscription.save()
    return subscription


def _active_globs() -> tuple[tuple[int, tuple[str, ...]], ...]:
    return tuple(
        (pk, tuple(globs))
        for pk, globs in WebhookSubscription.objects.filter(active=True).values_list("pk", "event_types")
    )


# Active subscriptions and their globs, per process: most journey events match none, and the
# subscriber learns so without a query (``journeys.generations``).
ACTIVE_GLOBS = GenerationIndex(key="journeys:webhook-subscriptions:gen", load=_active_globs)


@receiver(post_save, sender=WebhookSubscription, dispatch_uid="journeys.subscriptions.saved")
@receiver(post_delete, sender=WebhookSubscription, dispatch_uid="journeys.subscriptions.deleted")
def _subscriptions_changed(**kwargs) -> None:
    # Bookkeeping only: the index is an optimisation, whichever path changed the rows.
    ACTIVE_GLOBS.invalidate()


def webhook_subscriptions_interest() -> Callable[[Event], bool]:
    """The bus's pre-filter: events no active subscription matches (all when the index cannot
    be read)."""
    return ACTIVE_GLOBS.interest(
        lambda subscriptions, event: any(_matches(event, globs) for _, globs in subscriptions)
    )


def _matches(event: Event, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(event.type, glob) for glob in globs)


def webhook_subscriptions_handle_event(event: Event) -> None:
    """The bus subscriber: one delivery per matching active subscription (a second run adds none)."""
    webhook_subscriptions_handle_events([event])


def webhook_subscriptions_handle_events(events: list[Event]) -> None:
    """The bus's batch subscriber: the deliveries of a worker message's events, in three statements
    when any matches and none when none does."""
    subscriptions = ACTIVE_GLOBS.get()
    if subscriptions is None:  # the index cannot be validated: read the rows
        subscriptions = _active_globs()
    matching = [(event, pk) for event in events for pk, globs in subscriptions if _matches(event, globs)]
    if not matching:
        return
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(subscription_id=pk, event=event, next_attempt_at=now) for event, pk in matching],
        ignore_conflicts=True,
    )
    ids = list(
        WebhookDelivery.objects.filter(
            event__in=[event for event, _ in matching],
            subscription_id__in={pk for _, pk in matching},
            subscription__active=True,
            status=WebhookDelivery.Status.PENDING,
        ).values_list("pk", flat=True)
    )
    DELIVERIES.enqueue_on_commit(ids)


def _claim(delivery_id: int, now) -> WebhookDelivery | None:
    """Take a due delivery of an active subscription; another worker's claim makes it not due."""
    if not DELIVERIES.claim(DELIVERIES.due(now) & Q(pk=delivery_id), now=now):
        return None
    return WebhookDelivery.objects.select_related("subscription", "event__participant").get(pk=delivery_id)


def webhook_payload(event: Event) -> dict[str, Any]:
    return {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": {"user_id": event.participant.user_id, **event.payload},
    }


def webhook_delivery_send(*, delivery_id: int) -> str:
    """Try one due delivery now; returns its status afterwards ("skipped" when not due)."""
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return "skipped"
    subscription, event = delivery.subscription, delivery.event
    status_code, error, duration = None, "", None
    try:
        sent = webhook_send(
            url=subscription.url,
            payload=webhook_payload(event),
            secret=subscription.secret,
            message_id=event.idempotency_key or f"event-{event.pk}",
        )
        status_code, duration = sent.status_code, sent.duration_ms
    except DeliveryFailed as exc:
        status_code, error = exc.status_code, str(exc)
    except TargetRefused as exc:
        error = exc.message
    return _record(delivery, now=timezone.now(), status_code=status_code, error=error, duration=duration)


@transaction.atomic
def _record(delivery: WebhookDelivery, *, now, status_code, error: str, duration) -> str:
    WebhookAttempt.objects.create(
        delivery=delivery, at=now, status_code=status_code, error=error[:2000], duration_ms=duration
    )
    delivery.attempts += 1
    subscriptions = WebhookSubscription.objects.filter(pk=delivery.subscription_id)
    if not error:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.last_error = ""
        delivery.save(update_fields=["status", "attempts", "delivered_at", "last_error"])
        subscriptions.update(consecutive_failures=0)
        return delivery.status
    delivery.last_error = error[:2000]
    if delivery.attempts >= settings.WEBHOOK_SUBSCRIPTION_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    else:
        delivery.next_attempt_at = DELIVERIES.retry_at(now, delivery.attempts)
    delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    subscriptions.update(consecutive_failures=F("consecutive_failures") + 1)
    subscription = subscriptions.select_for_update().get()
    if (
        subscription.active
        and subscription.consecutive_failures >= settings.WEBHOOK_SUBSCRIPTION_DISABLE_AFTER
    ):
        _disable(subscription, now=now, error=error)
    elif delivery.status == WebhookDelivery.Status.PENDING:
        countdown = max((delivery.next_attempt_at - now).total_seconds(), 0)
        DELIVERIES.enqueue_on_commit([delivery.pk], countdown=countdown)
    return delivery.status


def _disable(subscription: WebhookSubscription, *, now, error: str) -> None:
    subscription.active = False
    subscription.disabled_at = now
    subscription.disabled_reason = (
        f"{subscription.consecutive_failures} failed deliveries in a row; the last: {error}"
    )[:2000]
    subscription.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    transaction.on_commit(
        lambda: mail_admins(
            f"Webhook subscription {subscription.name!r} disabled",
            f"{subscription.disabled_reason}\n\nEndpoint: {subscription.url}\n"
            "Fix the endpoint, then enable the subscription again in the admin (Webhook subscriptions) "
            "and re-send its failed deliveries.",
        )
    )
    logger.warning("webhook subscription %s disabled: %s", subscription.pk, subscription.disabled_reason)


@transaction.atomic
def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (delivered or failed alike): same body, same ``webhook-id``."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    DELIVERIES.enqueue_on_commit([delivery.pk])
    return delivery


def webhook_deliveries_sweep() -> int:
    """Beat: enqueue pending deliveries that fell due (lost messages, retries after a restart)."""
    return len(DELIVERIES.sweep())
