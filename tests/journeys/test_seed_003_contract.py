"""Seed 003's documented API on a fresh install: the create body as written, soft deletes,
re-entry once by default, and events that carry participant attributes."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from journeys.models import Journey, Participant, UserJourney
from journeys.services.enrolment import user_journey_enrol
from journeys.services.journeys import journey_create
from tests.journeys.factories import make_journey, tag_step
from tests.seed_docs import request_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_install(db):
    """What ``bin/run`` leaves behind: defaults, roles, the demo."""
    call_command("bootstrap", "--no-admin", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123


def test_the_documented_create_body_works_verbatim_on_a_fresh_install(fresh_install, admin_api):
    body = request_body("003", "POST /api/v1/journeys")
    assert body["name"] == "Onboarding Flow"  # the document's own text, not a copy

    response = admin_api.post("/api/v1/journeys", body, format="json")

    assert response.status_code == 201, response.json()
    created = response.json()
    assert {k: created[k] for k in ("name", "trigger_type", "is_active", "priority", "step_count")} == {
        "name": "Onboarding Flow",
        "trigger_type": "signup",
        "is_active": True,
        "priority": 10,
        "step_count": 3,
    }
    assert created["id"] and created["created_at"]
    assert created["re_entry"] == "once"  # the document's unique (user_id, journey_id)


def test_bootstrap_loads_no_journey_from_a_template_but_the_templates_are_served(fresh_install, admin_api):
    names = set(Journey.objects.values_list("name", flat=True))
    assert "Onboarding Flow" not in names and "Content Migration Journey" not in names
    templates = admin_api.get("/api/v1/journeys/templates").json()
    assert {t["name"] for t in templates} >= {"Onboarding Flow", "Content Migration Journey"}


def test_bootstrap_retires_untouched_template_drafts_of_older_installs_only(admin_user):
    # What bootstrap used to load: a draft journey under the template's name, by nobody.
    untouched = journey_create(data={"name": "Onboarding Flow", "template_name": "onboarding"})
    worked_on = journey_create(
        data={"name": "Payment Failure Recovery", "template_name": "payment_recovery"}, actor=admin_user
    )

    call_command("bootstrap", "--no-admin", "--no-demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123

    untouched.refresh_from_db()
    worked_on.refresh_from_db()
    assert untouched.deleted_at is not None and worked_on.deleted_at is None


def test_re_entry_defaults_to_once(admin_api):
    created = admin_api.post("/api/v1/journeys", {"name": "Plain"}, format="json").json()
    assert created["re_entry"] == "once"
    journey = make_journey([{"key": "w", "name": "W", "kind": "manual"}])
    first = user_journey_enrol(journey=journey, user_id="u-1")
    admin_api.post(f"/api/v1/user-journeys/{first.pk}/cancel", format="json")
    again = admin_api.post(f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "u-1"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "re_entry_refused"


def test_deleting_answers_204_cancels_runs_in_flight_and_keeps_history(admin_api):
    journey = make_journey(
        [tag_step("hello", "hello"), {"key": "w", "name": "W", "kind": "manual", "order": 1}],
        name="Onboarding Flow",
        re_entry="always",
    )
    live = user_journey_enrol(journey=journey, user_id="u-live")
    done = user_journey_enrol(journey=journey, user_id="u-done")
    admin_api.post(f"/api/v1/user-journeys/{done.pk}/advance", {}, format="json")
    assert UserJourney.objects.get(pk=done.pk).state == "completed"

    response = admin_api.delete(f"/api/v1/journeys/{journey.pk}")

    assert response.status_code == 204 and response.content == b""
    assert admin_api.get(f"/api/v1/journeys/{journey.pk}").status_code == 404
    assert journey.pk not in [j["id"] for j in admin_api.get("/api/v1/journeys").json()["results"]]
    live_run = admin_api.get(f"/api/v1/user-journeys/{live.pk}").json()
    assert live_run["state"] == "cancelled" and live_run["end_reason"] == "journey deleted"
    assert admin_api.get(f"/api/v1/user-journeys/{done.pk}").json()["state"] == "completed"
    history = admin_api.get(f"/api/v1/user-journeys/{live.pk}/history").json()
    assert [entry["action"] for entry in history["log"]][-1] == "cancelled"
    # Nobody enters it any more; its name is free again.
    triggered = admin_api.post(
        "/api/v1/journeys/trigger", {"trigger_type": "signup", "user_id": "u-new"}, format="json"
    ).json()
    assert triggered["started_journeys"] == []
    assert admin_api.post("/api/v1/journeys", {"name": "Onboarding Flow"}, format="json").status_code == 201
    assert admin_api.delete(f"/api/v1/journeys/{journey.pk}").status_code == 404


def test_staff_restore_a_deleted_journey_from_the_admin(client, admin_user, admin_api):
    journey = make_journey([tag_step("a", "a")], name="Winback")
    admin_api.delete(f"/api/v1/journeys/{journey.pk}")
    client.force_login(admin_user)
    changelist = reverse("admin:journeys_journey_changelist")
    assert "Winback" not in client.get(changelist).content.decode()
    assert "Winback" in client.get(changelist + "?deleted=yes").content.decode()

    response = client.post(
        changelist + "?deleted=yes", {"action": "restore_deleted", "_selected_action": [journey.pk]}
    )

    assert response.status_code == 302
    restored = admin_api.get(f"/api/v1/journeys/{journey.pk}").json()
    assert restored["name"] == "Winback" and restored["state"] == "archived"


def test_restoring_is_refused_while_another_journey_has_taken_the_name(client, admin_user, admin_api):
    journey = make_journey([tag_step("a", "a")], name="Winback")
    admin_api.delete(f"/api/v1/journeys/{journey.pk}")
    make_journey([tag_step("a", "a")], name="Winback")
    client.force_login(admin_user)
    changelist = reverse("admin:journeys_journey_changelist") + "?deleted=yes"

    page = client.post(
        changelist, {"action": "restore_deleted", "_selected_action": [journey.pk]}, follow=True
    ).content.decode()

    assert "exists now; rename one of them first" in page
    assert Journey.objects.get(pk=journey.pk).deleted_at is not None


def test_an_event_carrying_attributes_updates_the_participant(admin_api):
    Participant.objects.create(user_id="u-7", attributes={"plan": "free", "city": "Oslo"})
    event = {
        "type": "upgrade",
        "user_id": "u-7",
        "payload": {"to": "premium"},
        "attributes": {"plan": "premium", "city": None, "email": "u7@example.com"},
        "idempotency_key": "upgrade-u-7",
    }
    assert admin_api.post("/api/v1/events", event, format="json").status_code == 202

    assert Participant.objects.get(user_id="u-7").attributes == {"plan": "premium", "email": "u7@example.com"}
    Participant.objects.filter(user_id="u-7").update(attributes={"plan": "free"})
    repeat = admin_api.post("/api/v1/events", event, format="json")
    assert repeat.json()["duplicate"] is True
    assert Participant.objects.get(user_id="u-7").attributes == {"plan": "free"}


def test_event_attributes_must_be_an_object(admin_api):
    response = admin_api.post(
        "/api/v1/events", {"type": "upgrade", "user_id": "u-7", "attributes": ["plan"]}, format="json"
    )
    assert response.status_code == 400 and "attributes" in response.json()
    assert not Participant.objects.filter(user_id="u-7").exists()
