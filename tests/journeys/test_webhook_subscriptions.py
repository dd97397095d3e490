"""Webhook subscriptions: journey events reach a real local endpoint, signed, once per
idempotency key; failures are logged per try, retried, and disable the subscription with an
alert; staff re-send from the admin."""

import time

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from journeys.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from journeys.services.events import EventInput, events_ingest
from journeys.services.subscriptions import webhook_delivery_send, webhook_subscriptions_handle_event
from tests.journeys.factories import make_journey

MILESTONES = [
    {"key": "upload", "name": "Upload", "kind": "manual", "is_milestone": True, "next_steps": ["check"]},
    {"key": "check", "name": "Check", "kind": "manual", "is_milestone": True, "completion": True},
]


def wait_for(condition, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_subscription_receives_each_journey_event_once_from_a_real_worker(
    admin_api, celery_worker, webhook_sink
):
    celery_worker(extra_env={"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"})
    created = admin_api.post(
        "/api/v1/webhook-subscriptions",
        {
            "name": "sink",
            "url": webhook_sink.url,
            "event_types": ["journey.milestone.*", "journey.completed"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    journey = make_journey(MILESTONES, trigger_type="")
    run = admin_api.post(f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "ada"}, format="json").json()
    admin_api.post(f"/api/v1/user-journeys/{run['id']}/advance", {}, format="json")
    admin_api.post(f"/api/v1/user-journeys/{run['id']}/advance", {}, format="json")

    wait_for(lambda: len(webhook_sink.requests) >= 5)
    # The bus handing the same events to the subscriber again sends nothing new.
    for event in Event.objects.filter(type__startswith="journey."):
        webhook_subscriptions_handle_event(event)
    time.sleep(2)

    requests = list(webhook_sink.requests)
    subscribed = ["journey.milestone.started", "journey.milestone.completed", "journey.completed"]
    keys = Event.objects.filter(type__in=subscribed).values_list("idempotency_key", flat=True)
    assert sorted(r["headers"]["webhook-id"] for r in requests) == sorted(keys)  # each event once
    assert len({r["headers"]["webhook-id"] for r in requests}) == len(requests) == 5
    bodies = [Webhook(secret).verify(r["body"], r["headers"]) for r in requests]  # signed per the spec
    assert sorted(b["type"] for b in bodies) == sorted(
        ["journey.milestone.started"] * 2 + ["journey.milestone.completed"] * 2 + ["journey.completed"]
    )
    assert all(b["data"]["user_id"] == "ada" and b["data"]["user_journey_id"] == run["id"] for b in bodies)
    assert WebhookDelivery.objects.filter(status="delivered").count() == 5
    assert WebhookAttempt.objects.filter(status_code=200).count() == 5


@pytest.fixture
def failing(db, webhook_sink, settings):
    settings.WEBHOOK_SUBSCRIPTION_DISABLE_AFTER = 3
    settings.ADMINS = [("Ops", "ops@example.com")]
    webhook_sink.status = 503
    subscription = WebhookSubscription.objects.create(
        name="flaky", url=webhook_sink.url, event_types=["journey.*"]
    )
    [result] = events_ingest(
        events=[
            EventInput(
                type="journey.enrolled",
                user_id="ada",
                payload={"user_journey_id": 1, "journey_id": 1},
                source="journeys",
                idempotency_key="journey.enrolled:1",
            )
        ]
    )
    webhook_subscriptions_handle_event(Event.objects.get(pk=result.id))
    return subscription, WebhookDelivery.objects.get(subscription=subscription)


def _try_now(delivery: WebhookDelivery) -> str:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return webhook_delivery_send(delivery_id=delivery.pk)


def test_failed_tries_are_logged_retried_with_backoff_then_disable_with_an_alert(
    failing, webhook_sink, django_capture_on_commit_callbacks
):
    subscription, delivery = failing

    assert webhook_delivery_send(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.next_attempt_at > timezone.now()  # backoff
    assert webhook_delivery_send(delivery_id=delivery.pk) == "skipped"  # not due yet
    _try_now(delivery)
    with django_capture_on_commit_callbacks(execute=True):
        _try_now(delivery)

    subscription.refresh_from_db()
    assert not subscription.active and "3 failed deliveries in a row" in subscription.disabled_reason
    assert [a.status_code for a in WebhookAttempt.objects.filter(delivery=delivery)] == [503, 503, 503]
    [alert] = mail.outbox
    assert alert.to == ["ops@example.com"] and "flaky" in alert.subject
    assert _try_now(delivery) == "skipped"  # nothing is sent to a disabled endpoint
    assert len(webhook_sink.requests) == 3


def test_staff_enable_the_subscription_and_resend_from_the_admin(
    failing, webhook_sink, admin_api, client, admin_user, django_capture_on_commit_callbacks
):
    subscription, delivery = failing
    for _ in range(3):
        _try_now(delivery)
    webhook_sink.status = 200
    enabled = admin_api.patch(
        f"/api/v1/webhook-subscriptions/{subscription.pk}", {"active": True}, format="json"
    ).json()
    assert enabled["active"] is True and enabled["consecutive_failures"] == 0
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:journeys_webhookdelivery_changelist"),
            {"action": "resend", "_selected_action": [delivery.pk]},
        )

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    ids = {r["headers"]["webhook-id"] for r in webhook_sink.requests}
    assert ids == {"journey.enrolled:1"}  # every try, and the re-send, under the same id
    page = client.get(reverse("admin:journeys_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert page.count("503") >= 3 and "200" in page


def test_a_subscription_to_an_internal_address_or_bad_globs_is_refused(admin_api, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    response = admin_api.post(
        "/api/v1/webhook-subscriptions",
        {"name": "x", "url": "http://127.0.0.1:9/hook", "event_types": ["signup"]},
        format="json",
    )
    assert response.status_code == 400
    assert {"url", "event_types"} <= set(response.json())
    assert not WebhookSubscription.objects.exists()
