"""The service directory: services managed through the API (secrets shown once, targets checked,
health recorded), one registry with stage agents, and what milestones do with their services."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from journeys.models import Service, ServiceCall, ServiceCallAttempt, StepRun, UserJourney
from journeys.services.milestone_calls import SERVICE_CALLS, milestone_call_execute, milestone_calls_sweep
from tests.journeys.factories import ParticipantFactory, action, make_journey

pytestmark = pytest.mark.django_db
SERVICES = "/api/v1/services"


def bootstrap() -> None:
    call_command("bootstrap", "--no-admin", "--no-demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123


def milestone(key: str, **fields) -> dict:
    return {"key": key, "name": key.title(), "kind": "manual", "is_milestone": True, **fields}


def test_a_service_is_added_with_its_secret_shown_once_and_listed_masked(admin_api):
    body = {"key": "Insights", "name": "Insights", "endpoint_url": "https://insights.example.com/call"}

    created = admin_api.post(SERVICES, body, format="json")

    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and secret == Service.objects.get(key="Insights").secret
    shown = admin_api.get(f"{SERVICES}/Insights").json()
    assert shown["secret"] != secret and shown["secret"].endswith(secret[-4:])
    assert (shown["kind"], shown["needs_configuration"], shown["health_status"]) == ("http", False, "unknown")
    rotated = admin_api.post(f"{SERVICES}/Insights/rotate-secret").json()["secret"]
    assert rotated != secret and Service.objects.get(key="Insights").secret == rotated


def test_an_internal_endpoint_or_a_built_in_without_handler_is_a_field_error(admin_api, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    inside = admin_api.post(
        SERVICES, {"key": "Probe", "name": "Probe", "endpoint_url": "http://10.0.0.7/"}, format="json"
    )
    local = admin_api.post(
        SERVICES, {"key": "Local", "name": "Local", "kind": "built-in", "handler": "nobody"}, format="json"
    )

    assert inside.status_code == 400 and "private address" in inside.json()["endpoint_url"][0]
    assert local.status_code == 400 and "local-agent" in local.json()["handler"][0]
    assert not Service.objects.filter(key__in=["Probe", "Local"]).exists()


def test_the_directory_is_filtered_and_refuses_unknown_parameters(admin_api):
    bootstrap()
    admin_api.post(SERVICES, {"key": "Unset", "name": "Unset"}, format="json")

    built_in = admin_api.get(SERVICES, {"kind": "built-in", "search": "experience"}).json()["results"]
    http = admin_api.get(SERVICES, {"kind": "http"}).json()["results"]

    assert [s["key"] for s in built_in] == ["UserExperience"]
    assert [(s["key"], s["needs_configuration"]) for s in http] == [("Unset", True)]
    assert admin_api.get(SERVICES, {"colour": "red"}).status_code == 400


def test_a_health_check_records_what_the_service_answered(admin_api, webhook_sink):
    bootstrap()
    admin_api.post(
        SERVICES,
        {"key": "Sink", "name": "Sink", "health_check_url": f"{webhook_sink.url}/healthz"},
        format="json",
    )

    sink = admin_api.post(f"{SERVICES}/Sink/health-check").json()
    local = admin_api.post(f"{SERVICES}/SessionManager/health-check").json()

    assert sink["health_status"] == "unhealthy" and sink["health_detail"].startswith(
        "501"
    )  # the sink only takes POST
    assert sink["health_checked_at"] is not None
    assert (local["health_status"], local["health_detail"]) == ("healthy", "Built-in handler registered.")


def test_stage_agents_are_entries_of_the_same_directory(admin_api):
    admin_api.post(SERVICES, {"key": "crawler", "name": "Crawler"}, format="json")

    agents = admin_api.get("/api/v1/stages/agents").json()["results"]

    assert [(a["agent_id"], a["needs_configuration"]) for a in agents] == [("crawler", True)]
    admin_api.patch("/api/v1/stages/agents/crawler", {"active": False}, format="json")
    assert admin_api.get(f"{SERVICES}/crawler").json()["active"] is False


def test_a_personalized_milestone_message_renders_the_services_answer(emit):
    bootstrap()
    ParticipantFactory(user_id="u-1", attributes={"email": "ada@example.com", "first_name": "Ada"})
    body = {
        "subject": "Welcome",
        "body": "Hello {{ personalization.display_name }} ({{ personalization.locale }})",
    }
    make_journey(
        [action("welcome", "send_email", body, personalization="UserExperience.personalize_experience")]
    )

    emit("signup")

    [message] = mail.outbox
    assert message.body == "Hello Ada (en)"
    call = ServiceCall.objects.get()
    assert (call.role, call.service.key, call.status) == ("personalization", "UserExperience", "succeeded")
    assert UserJourney.objects.get().context["personalization"]["display_name"] == "Ada"


def test_an_unknown_service_fails_the_milestone_with_the_reason(emit):
    make_journey([milestone("upload", experience_api="Nowhere.handle_upload")])

    emit("signup")

    run = StepRun.objects.get()
    assert run.status == "failed" and "No service 'Nowhere' in the service directory" in run.error
    assert UserJourney.objects.get().state == "failed"


def test_a_failing_service_is_retried_each_try_logged_then_fails_the_milestone(
    emit, webhook_sink, django_capture_on_commit_callbacks
):
    Service.objects.create(key="Flaky", name="Flaky", endpoint_url=f"{webhook_sink.url}/call")
    webhook_sink.status = 503
    make_journey([milestone("upload", experience_api="Flaky.handle_upload", max_attempts=2)])
    emit("signup")
    call = ServiceCall.objects.get()
    assert (call.status, call.attempts) == ("pending", 1) and call.next_attempt_at > timezone.now()

    ServiceCall.objects.filter(pk=call.pk).update(next_attempt_at=timezone.now())  # its backoff passed
    with django_capture_on_commit_callbacks(execute=True):
        assert milestone_call_execute(call_id=call.pk) == "failed"

    call.refresh_from_db()
    assert (call.status, call.attempts) == ("failed", 2)
    assert list(ServiceCallAttempt.objects.values_list("status_code", flat=True)) == [503, 503]
    assert len({r["headers"]["webhook-id"] for r in webhook_sink.requests}) == 1  # one key for every try
    run = StepRun.objects.get()
    assert run.status == "failed" and "Flaky.handle_upload failed after 2 attempt(s)" in run.error


def test_an_advance_waits_for_the_milestones_services_to_answer(
    admin_api, webhook_sink, django_capture_on_commit_callbacks
):
    Service.objects.create(key="Slow", name="Slow", endpoint_url=f"{webhook_sink.url}/call")
    journey = make_journey(
        [milestone("upload", experience_api="Slow.handle", next_steps=["done"]), milestone("done")]
    )
    with django_capture_on_commit_callbacks() as sent:  # the calls' message is not delivered yet
        run = admin_api.post(
            f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "ada"}, format="json"
        ).json()

    refused = admin_api.post(f"/api/v1/user-journeys/{run['id']}/advance", {}, format="json")

    assert refused.status_code == 409
    assert StepRun.objects.get().waiting_for == "services" and ServiceCall.objects.get().status == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        for callback in sent:
            callback()
    advanced = admin_api.post(f"/api/v1/user-journeys/{run['id']}/advance", {}, format="json")
    assert advanced.status_code == 200 and advanced.json()["current_step"] == "done"
    assert UserJourney.objects.get().context["services"]["upload"]["experience_api"] == {"ok": True}


def test_a_cancelled_run_sends_no_call_it_no_longer_waits_for(
    admin_api, webhook_sink, django_capture_on_commit_callbacks
):
    Service.objects.create(key="Slow", name="Slow", endpoint_url=f"{webhook_sink.url}/call")
    journey = make_journey([milestone("upload", experience_api="Slow.handle")])
    with django_capture_on_commit_callbacks() as sent:
        run = admin_api.post(
            f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "ada"}, format="json"
        ).json()
    assert admin_api.post(f"/api/v1/user-journeys/{run['id']}/cancel").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        for callback in sent:
            callback()

    assert webhook_sink.requests == []
    call = ServiceCall.objects.get()
    assert (call.status, call.error) == ("failed", "The milestone's run stopped waiting for it.")


def test_staff_add_a_service_in_the_admin_and_see_what_needs_configuration(client, admin_user):
    client.force_login(admin_user)
    data = {"key": "Insights", "name": "Insights", "kind": "http", "handler": "", "endpoint_url": ""}

    response = client.post(
        "/admin/journeys/service/add/", {**data, "active": "on", "description": ""}, follow=True
    )

    secret = Service.objects.get(key="Insights").secret
    assert secret in response.content.decode() and "only this once" in response.content.decode()
    listed = client.get("/admin/journeys/service/").content.decode()
    assert "Insights" in listed and 'alt="False"' in listed  # not configured: no endpoint yet
    page = client.get(
        f"/admin/journeys/service/{Service.objects.get(key='Insights').pk}/change/"
    ).content.decode()
    assert secret not in page and "Rotate" in page


def test_calls_are_made_one_after_the_other_and_a_lost_message_is_swept(
    emit, webhook_sink, monkeypatch, django_capture_on_commit_callbacks
):
    Service.objects.create(key="Profile", name="Profile", endpoint_url=f"{webhook_sink.url}/profile")
    Service.objects.create(key="Gateway", name="Gateway", endpoint_url=f"{webhook_sink.url}/gateway")
    make_journey([milestone("upload", personalization="Profile.get", experience_api="Gateway.handle_upload")])
    send = SERVICE_CALLS._send
    monkeypatch.setattr(SERVICE_CALLS, "_send", lambda ids, **options: None)  # the broker loses it
    emit("signup")
    first, second = ServiceCall.objects.order_by("position")
    assert (first.attempts, second.next_attempt_at) == (0, None)  # the second waits for the first

    monkeypatch.setattr(SERVICE_CALLS, "_send", send)
    ServiceCall.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert milestone_calls_sweep() == 1  # only the first call is due

    assert [r["path"] for r in webhook_sink.requests] == ["/profile", "/gateway"]
    assert set(ServiceCall.objects.values_list("status", flat=True)) == {"succeeded"}
    assert StepRun.objects.get().trace["services"]
