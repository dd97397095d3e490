"""Every action does what it says, and failures retry with backoff, then dead-letter."""

import json
from datetime import time, timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook

from journeys.crypto import secret_decrypt
from journeys.models import StepRun, UserJourney
from journeys.services.user_journeys import step_run_retry, step_run_skip
from tests.journeys.factories import ParticipantFactory, action, make_journey, tag_step

pytestmark = pytest.mark.django_db


def hook(url: str, **fields) -> dict:
    return action(
        "hook",
        "trigger_webhook",
        {"url": url, "payload": {"plan": "{{ payload.plan }}", "who": "{{ user_id }}"}},
        **fields,
    )


# ------------------------------------------------------------------------------------------------
# Webhooks
# ------------------------------------------------------------------------------------------------
def test_a_webhook_is_signed_with_the_step_secret_and_carries_the_step_run_id(emit, webhook_sink):
    journey = make_journey([hook(f"{webhook_sink.url}/hooks/journey")])
    emit("signup", payload={"plan": "pro"})

    run = StepRun.objects.get()
    assert run.status == StepRun.Status.SUCCEEDED and run.result["status_code"] == 200
    [request] = webhook_sink.requests
    assert request["path"] == "/hooks/journey"
    assert request["headers"]["webhook-id"] == f"step-run-{run.pk}"
    secret = secret_decrypt(journey.steps.get().config["secret"])
    body = Webhook(secret).verify(request["body"], request["headers"])
    assert body["data"] == {"plan": "pro", "who": "u-1"}
    assert body["step_run_id"] == run.pk and body["user_id"] == "u-1"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/"]
)
def test_a_webhook_to_an_internal_address_is_refused_for_good(emit, settings, url):
    # Saved while the address was allow-listed; the check before each call sees the list as it is now.
    settings.WEBHOOK_ALLOWED_HOSTS = [urlsplit(url).hostname]
    make_journey([hook(url, max_attempts=5)])
    settings.WEBHOOK_ALLOWED_HOSTS = []
    emit("signup")
    run = StepRun.objects.get()
    assert run.status == StepRun.Status.FAILED and run.dead_lettered_at is not None
    assert run.attempts == 1  # not retried: retrying cannot help
    assert "TargetRefused" in run.error
    uj = UserJourney.objects.get()
    assert uj.state == UserJourney.State.FAILED and "internal address" in uj.failure_reason


def test_a_failing_webhook_is_retried_with_backoff_then_dead_lettered_and_can_be_retried(
    emit, dispatch, webhook_sink, settings, django_capture_on_commit_callbacks
):
    settings.STEP_RETRY_BASE_SECONDS = 60
    webhook_sink.status = 503
    make_journey([hook(webhook_sink.url, max_attempts=3), tag_step("after", "after", order=1)])
    emit("signup")

    run = StepRun.objects.get(step_key="hook")
    assert run.status == StepRun.Status.SCHEDULED and run.attempts == 1
    wait = run.due_at - timezone.now()
    assert timedelta(seconds=29) <= wait <= timedelta(seconds=60)  # base/2 .. base, with jitter
    assert "503" in run.error

    dispatch(later=timedelta(seconds=60))
    run.refresh_from_db()
    assert run.attempts == 2 and timedelta(seconds=59) <= run.due_at - timezone.now() <= timedelta(
        seconds=120
    )
    dispatch(later=timedelta(seconds=120))
    run.refresh_from_db()
    assert run.status == StepRun.Status.FAILED and run.dead_lettered_at is not None and run.attempts == 3
    assert len(webhook_sink.requests) == 3
    assert {r["headers"]["webhook-id"] for r in webhook_sink.requests} == {f"step-run-{run.pk}"}
    assert UserJourney.objects.get().state == UserJourney.State.FAILED

    webhook_sink.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        step_run_retry(step_run=run)
    run.refresh_from_db()
    assert run.status == StepRun.Status.SUCCEEDED and run.dead_lettered_at is None
    uj = UserJourney.objects.get()
    assert uj.state == UserJourney.State.COMPLETED
    assert uj.participant.tags == ["after"]


def test_a_dead_lettered_step_can_be_skipped_and_the_journey_goes_on(
    emit, webhook_sink, django_capture_on_commit_callbacks
):
    webhook_sink.status = 500
    make_journey([hook(webhook_sink.url, max_attempts=1), tag_step("after", "after", order=1)])
    emit("signup")
    run = StepRun.objects.get(step_key="hook")
    assert run.status == StepRun.Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        step_run_skip(step_run=run)
    run.refresh_from_db()
    assert run.status == StepRun.Status.SKIPPED
    assert UserJourney.objects.get().state == UserJourney.State.COMPLETED


def test_a_step_whose_policy_is_continue_does_not_fail_the_journey(emit, webhook_sink):
    webhook_sink.status = 500
    make_journey(
        [hook(webhook_sink.url, max_attempts=1, on_failure="continue"), tag_step("after", "after", order=1)]
    )
    emit("signup")
    assert StepRun.objects.get(step_key="hook").dead_lettered_at is not None
    uj = UserJourney.objects.get()
    assert uj.state == UserJourney.State.COMPLETED and uj.participant.tags == ["after"]


# ------------------------------------------------------------------------------------------------
# Messages: email, push, Telegram
# ------------------------------------------------------------------------------------------------
def test_an_email_is_templated_and_identified_by_its_step_run(emit):
    ParticipantFactory(user_id="u-1", attributes={"email": "ada@example.com", "first_name": "Ada"})
    make_journey(
        [
            action(
                "mail",
                "send_email",
                {
                    "subject": "Hello {{ attributes.first_name }}, your {{ payload.plan }} plan",
                    "body": "Dear {{ participant.attributes.first_name }}: {{ payload.plan|upper }} & more",
                    "html": "<p>{{ payload.plan }}</p>",
                },
            )
        ]
    )
    emit("signup", payload={"plan": "pro<b>"})
    [message] = mail.outbox
    run = StepRun.objects.get()
    assert message.subject == "Hello Ada, your pro<b> plan"
    assert message.body == "Dear Ada: PRO<B> & more"  # plain text is not HTML-escaped
    assert message.alternatives[0][0] == "<p>pro&lt;b&gt;</p>"  # HTML is
    assert run.idempotency_key in message.extra_headers["Message-ID"]
    assert run.result["to"] == "ada@example.com"


def test_an_email_to_a_participant_without_an_address_is_skipped_with_the_reason(emit):
    ParticipantFactory(user_id="u-1", attributes={})
    make_journey([action("mail", "send_email", {"subject": "Hi", "body": "Hi"})])
    emit("signup")
    run = StepRun.objects.get()
    assert run.status == StepRun.Status.SKIPPED and run.result == {
        "skipped": "The participant has no email address."
    }
    assert mail.outbox == []


def test_a_push_goes_to_the_configured_provider(emit, webhook_sink, settings):
    settings.PUSH_PROVIDER_URL = f"{webhook_sink.url}/push"
    settings.PUSH_PROVIDER_TOKEN = "push-token"
    ParticipantFactory(user_id="u-1", attributes={"push_tokens": ["device-1"]})
    make_journey(
        [action("push", "send_push", {"title": "Hi {{ user_id }}", "body": "Trial ends {{ payload.day }}"})]
    )
    emit("signup", payload={"day": "Friday"})
    [request] = webhook_sink.requests
    run = StepRun.objects.get()
    assert request["path"] == "/push"
    assert request["headers"]["authorization"] == "Bearer push-token"
    assert request["headers"]["idempotency-key"] == run.idempotency_key
    assert json.loads(request["body"]) == {
        "user_id": "u-1",
        "tokens": ["device-1"],
        "title": "Hi u-1",
        "body": "Trial ends Friday",
        "data": {},
    }


def test_a_push_without_a_provider_is_a_permanent_failure(emit, settings):
    settings.PUSH_PROVIDER_URL = ""
    make_journey([action("push", "send_push", {"body": "x"}, max_attempts=5)])
    emit("signup")
    run = StepRun.objects.get()
    assert run.status == StepRun.Status.FAILED and run.attempts == 1 and "PUSH_PROVIDER_URL" in run.error


def test_a_telegram_message_uses_the_bot_api_shape(emit, webhook_sink, settings):
    settings.TELEGRAM_API_BASE = webhook_sink.url
    settings.TELEGRAM_BOT_TOKEN = "123:abc"
    ParticipantFactory(user_id="u-1", attributes={"telegram_chat_id": 4242, "first_name": "Ada"})
    make_journey([action("tg", "send_telegram", {"message": "Welcome, {{ attributes.first_name }}!"})])
    emit("signup")
    [request] = webhook_sink.requests
    assert request["path"] == "/bot123:abc/sendMessage"
    assert json.loads(request["body"]) == {"chat_id": 4242, "text": "Welcome, Ada!"}
    assert StepRun.objects.get().status == StepRun.Status.SUCCEEDED


def test_a_telegram_message_without_a_chat_is_skipped(emit, settings):
    settings.TELEGRAM_BOT_TOKEN = "123:abc"
    make_journey([action("tg", "send_telegram", {"message": "hi"})])
    emit("signup")
    assert StepRun.objects.get().result == {"skipped": "The participant has no telegram_chat_id."}


# ------------------------------------------------------------------------------------------------
# Quiet hours and frequency caps
# ------------------------------------------------------------------------------------------------
def test_a_message_due_in_quiet_hours_waits_for_the_window_to_open(emit, dispatch):
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/New_York")
    local_now = timezone.now().astimezone(zone)
    start = (local_now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local_now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    ParticipantFactory(user_id="u-1", attributes={"email": "a@example.com", "timezone": "America/New_York"})
    make_journey(
        [action("mail", "send_email", {"subject": "Hi", "body": "Hi"})],
        quiet_hours_start=start,
        quiet_hours_end=end,
    )
    emit("signup")

    run = StepRun.objects.get()
    assert run.status == StepRun.Status.SCHEDULED and mail.outbox == []
    opens = run.due_at.astimezone(zone)
    assert (opens.hour, opens.minute) == (end.hour, end.minute)
    assert run.trace["deferred"][0]["reason"] == "quiet hours"
    assert run.attempts == 0

    # Claimed early (a worker clock ahead, staff forcing it) while the window is still closed: deferred again.
    dispatch(later=timedelta(hours=1, minutes=1))
    run.refresh_from_db()
    assert mail.outbox == [] and run.status == StepRun.Status.SCHEDULED
    assert len(run.trace["deferred"]) == 2 and run.attempts == 0


def test_quiet_hours_cross_midnight():
    from zoneinfo import ZoneInfo

    from journeys.engine.timing import quiet_until

    zone = ZoneInfo("UTC")
    late = timezone.now().replace(hour=23, minute=30, second=0, microsecond=0)
    until = quiet_until(late, time(21, 0), time(8, 0), zone)
    assert until == (late + timedelta(days=1)).replace(hour=8, minute=0)
    assert quiet_until(late.replace(hour=12), time(21, 0), time(8, 0), zone) is None


@pytest.mark.parametrize("policy", ["skip", "defer"])
def test_a_message_over_the_frequency_cap_is_skipped_or_deferred_and_recorded(emit, settings, policy):
    settings.JOURNEY_FREQUENCY_CAPS = {"email": "1/day"}
    ParticipantFactory(user_id="u-1", attributes={"email": "a@example.com"})
    make_journey(
        [
            action("first", "send_email", {"subject": "One", "body": "1"}),
            action("second", "send_email", {"subject": "Two", "body": "2"}, order=1),
        ],
        cap_policy=policy,
    )
    emit("signup")
    assert [m.subject for m in mail.outbox] == ["One"]
    second = StepRun.objects.get(step_key="second")
    if policy == "skip":
        assert second.status == StepRun.Status.SKIPPED
        assert second.trace["skipped"]["reason"] == "frequency cap"
        assert UserJourney.objects.get().state == UserJourney.State.COMPLETED
    else:
        first = StepRun.objects.get(step_key="first")
        assert second.status == StepRun.Status.SCHEDULED
        assert second.due_at > first.finished_at + timedelta(days=1)
        assert second.trace["deferred"][0]["reason"] == "frequency cap"
