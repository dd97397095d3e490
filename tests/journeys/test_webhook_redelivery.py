"""A redelivered webhook is the same message: same ``webhook-id``, same body bytes."""

from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from journeys.crypto import secret_decrypt
from journeys.models import StepRun
from tests.journeys.factories import ParticipantFactory, action, make_journey

pytestmark = pytest.mark.django_db


def test_a_retried_webhook_sends_the_first_attempts_body_byte_for_byte(
    emit, dispatch, webhook_sink, settings
):
    settings.STEP_RETRY_BASE_SECONDS = 1
    webhook_sink.status = 503
    journey = make_journey(
        [
            action(
                "hook",
                "trigger_webhook",
                {"url": webhook_sink.url, "payload": {"name": "{{ attributes.name }}"}},
            )
        ]
    )
    ParticipantFactory(user_id="u-1", attributes={"name": "Ada"})
    emit("signup")
    run = StepRun.objects.get()
    assert run.status == StepRun.Status.SCHEDULED

    # What the body is built from changes between the attempts; the message must not.
    run.participant.attributes = {"name": "Grace"}
    run.participant.save()
    webhook_sink.status = 200
    dispatch(later=timedelta(minutes=5))

    run.refresh_from_db()
    assert run.status == StepRun.Status.SUCCEEDED and run.attempts == 2
    first, second = webhook_sink.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == f"step-run-{run.pk}"
    assert first["body"] == second["body"]
    assert run.request_body.encode() == first["body"]
    secret = secret_decrypt(journey.steps.get().config["secret"])  # stored encrypted
    assert Webhook(secret).verify(second["body"], second["headers"])["data"] == {"name": "Ada"}
