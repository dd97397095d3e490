"""The journeys API: the 003 contract, the 000 operations, 409s with the current state, roles."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from journeys.models import Journey, StepRun, UserJourney
from journeys.services.roles import staff_roles_load
from tests.journeys.factories import ParticipantFactory, UserFactory, make_journey, tag_step

pytestmark = pytest.mark.django_db

ONBOARDING_003 = {
    "name": "Onboarding Flow",
    "description": "Welcome new users with multi-step onboarding",
    "trigger_type": "signup",
    "trigger_config": {},
    "is_active": True,
    "priority": 10,
    "steps": [
        {
            "name": "Welcome Email",
            "order": 0,
            "action_type": "send_email",
            "action_config": {"template": "welcome", "subject": "Welcome!"},
            "delay_minutes": 0,
        },
        {
            "name": "Telegram Intro",
            "order": 1,
            "action_type": "send_telegram",
            "action_config": {"message": "Welcome to our platform!"},
            "delay_minutes": 5,
        },
        {
            "name": "Apply Onboarded Tag",
            "order": 2,
            "action_type": "apply_tag",
            "action_config": {"tag": "onboarded"},
            "delay_minutes": 1440,
        },
    ],
}


@pytest.fixture
def cast(client_for):
    """A designer, an operator, an analyst and an outsider, each with an API client."""
    staff_roles_load()

    def member(role: str | None):
        user = UserFactory(username=role or "outsider")
        if role:
            user.groups.add(Group.objects.get(name=role))
        return client_for(user)

    return {role or "outsider": member(role) for role in ("designer", "operator", "analyst", None)}


# ------------------------------------------------------------------------------------------------
# Seed 003: CRUD, trigger, execute, user journeys
# ------------------------------------------------------------------------------------------------
def test_the_003_create_body_works_as_is(admin_api):
    response = admin_api.post("/api/v1/journeys", ONBOARDING_003, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Onboarding Flow" and body["trigger_type"] == "signup"
    assert body["is_active"] is True and body["state"] == "published" and body["version"] == 1
    assert body["priority"] == 10 and body["step_count"] == 3
    assert [s["key"] for s in body["steps"]] == ["welcome_email", "telegram_intro", "apply_onboarded_tag"]
    assert body["steps"][1]["delay_minutes"] == 5 and body["steps"][0]["kind"] == "action"


def test_create_refuses_a_bad_definition_with_field_level_errors(admin_api):
    bad = {
        **ONBOARDING_003,
        "steps": [
            {"name": "Hook", "action_type": "trigger_webhook", "action_config": {"url": "ftp://x"}},
            {"name": "Mystery", "action_type": "teleport", "action_config": {}},
        ],
    }
    response = admin_api.post("/api/v1/journeys", bad, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"steps.0.config.url", "steps.1.action_type"}
    assert not Journey.objects.exists()


def test_a_duplicate_name_is_a_field_error(admin_api):
    make_journey([tag_step("a", "x")], name="Onboarding Flow")
    response = admin_api.post("/api/v1/journeys", ONBOARDING_003, format="json")
    assert response.status_code == 400 and "name" in response.json()


def test_list_get_patch_and_delete(admin_api):
    created = admin_api.post("/api/v1/journeys", {**ONBOARDING_003, "is_active": False}, format="json").json()
    other = make_journey([tag_step("a", "x")], trigger_type="payment_fail")

    listed = admin_api.get("/api/v1/journeys?trigger_type=signup").json()["results"]
    assert [j["id"] for j in listed] == [created["id"]]
    assert [j["id"] for j in admin_api.get("/api/v1/journeys?is_active=true").json()["results"]] == [other.pk]

    url = f"/api/v1/journeys/{created['id']}"
    assert admin_api.get(url).json()["state"] == "draft"
    patched = admin_api.patch(
        url, {"priority": 20, "description": "Changed", "is_active": True}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["priority"] == 20 and patched.json()["state"] == "published"
    deactivated = admin_api.patch(url, {"is_active": False}, format="json").json()
    assert deactivated["state"] == "archived"

    assert admin_api.delete(url).status_code == 204
    assert admin_api.get(url).status_code == 404


def test_deleting_a_journey_participants_entered_keeps_their_runs(admin_api):
    journey = make_journey([{"key": "w", "name": "W", "kind": "manual"}])
    run = admin_api.post(f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "u-1"}, format="json").json()
    assert admin_api.delete(f"/api/v1/journeys/{journey.pk}").status_code == 204
    assert admin_api.get(f"/api/v1/user-journeys/{run['id']}").json()["state"] == "cancelled"


def test_trigger_enters_matching_journeys_and_the_user_list_shows_them(
    admin_api, django_capture_on_commit_callbacks
):
    ParticipantFactory(user_id="user-42", attributes={"email": "a@example.com"})
    journey = admin_api.post("/api/v1/journeys", ONBOARDING_003, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            "/api/v1/journeys/trigger",
            {"trigger_type": "signup", "user_id": "user-42", "context": {"plan": "premium"}},
            format="json",
        )
    assert response.status_code == 200
    body = response.json()
    assert body["trigger_type"] == "signup" and body["user_id"] == "user-42"
    assert body["started_journeys"] == [journey["id"]]
    assert [m.subject for m in mail.outbox] == ["Welcome!"]

    listed = admin_api.get("/api/v1/journeys/users/user-42/journeys?status_filter=active").json()
    assert len(listed) == 1
    assert listed[0]["journey_name"] == "Onboarding Flow" and listed[0]["status"] == "active"
    assert listed[0]["current_step_id"] == "telegram_intro" and listed[0]["metadata"] == {"plan": "premium"}
    assert admin_api.get("/api/v1/journeys/users/user-42/journeys?status_filter=completed").json() == []
    assert admin_api.get("/api/v1/journeys/users/user-42/journeys?status_filter=bogus").status_code == 400


def test_execute_runs_due_steps_now_and_force_runs_the_delayed_ones(admin_api, settings, webhook_sink):
    settings.TELEGRAM_API_BASE = webhook_sink.url
    settings.TELEGRAM_BOT_TOKEN = "1:x"
    ParticipantFactory(user_id="u-1", attributes={"email": "a@example.com", "telegram_chat_id": 7})
    journey = admin_api.post("/api/v1/journeys", ONBOARDING_003, format="json").json()
    uj = admin_api.post(f"/api/v1/journeys/{journey['id']}/enroll", {"user_id": "u-1"}, format="json").json()

    # The welcome email was kicked to a worker after commit (not run here): execute runs it now.
    assert admin_api.post(f"/api/v1/journeys/execute/{uj['id']}", {}, format="json").json()["executed"] == 1
    assert [m.subject for m in mail.outbox] == ["Welcome!"]
    assert admin_api.post(f"/api/v1/journeys/execute/{uj['id']}", {}, format="json").json()["executed"] == 0
    response = admin_api.post(f"/api/v1/journeys/execute/{uj['id']}", {"force": True}, format="json")
    assert response.json()["executed"] >= 1 and len(webhook_sink.requests) == 1
    assert response.json()["user_journey"]["current_step"] == "apply_onboarded_tag"
    response = admin_api.post(f"/api/v1/journeys/execute/{uj['id']}", {"force": True}, format="json")
    assert response.json()["user_journey"]["state"] == "completed"
    assert response.json()["user_journey"]["progress"]["percent"] == 100.0


# ------------------------------------------------------------------------------------------------
# Seed 000: types, templates, design, customise, enrol, status, milestones, history
# ------------------------------------------------------------------------------------------------
def test_types_and_templates(admin_api, template_library):
    types = admin_api.get("/api/v1/journeys/types").json()
    assert {"onboarding", "content_migration", "dunning"} <= {
        t["journey_type"] for t in types["journey_types"]
    }
    assert len(types["trigger_types"]) == 10
    assert {"send_email", "trigger_webhook", "emit_event", "schedule_next"} <= {
        a["name"] for a in types["action_types"]
    }
    template = admin_api.get("/api/v1/journeys/templates/Content Migration Journey").json()
    assert [s["key"] for s in template["steps"]] == ["upload", "analyze", "transform", "validate"]
    assert admin_api.get("/api/v1/journeys/templates/nope").status_code == 404


def test_design_from_a_template_customise_publish_and_track_milestones(admin_api, template_library):
    designed = admin_api.post(
        "/api/v1/journeys/design",
        {
            "template": "content_migration",
            "customizations": {"name": "Migrate ACME", "steps": {"upload": {"name": "Upload ACME files"}}},
        },
        format="json",
    )
    assert designed.status_code == 201, designed.json()
    journey = designed.json()
    assert journey["state"] == "draft" and journey["template_name"] == "content_migration"
    assert journey["steps"][0]["name"] == "Upload ACME files"

    customized = admin_api.post(
        f"/api/v1/journeys/{journey['id']}/customize",
        {"customizations": {"priority": 3, "steps": {"nope": {}}}},
        format="json",
    )
    assert customized.status_code == 400 and "steps.nope" in customized.json()
    customized = admin_api.post(
        f"/api/v1/journeys/{journey['id']}/customize", {"customizations": {"priority": 3}}, format="json"
    )
    assert customized.json()["priority"] == 3

    enrol = admin_api.post(f"/api/v1/journeys/{journey['id']}/enroll", {"user_id": "u-1"}, format="json")
    assert enrol.status_code == 409 and enrol.json()["current_state"] == "draft"
    assert admin_api.post(f"/api/v1/journeys/{journey['id']}/publish").json()["state"] == "published"

    uj = admin_api.post(
        f"/api/v1/journeys/{journey['id']}/enroll", {"user_id": "u-1", "context": {"batch": 7}}, format="json"
    ).json()
    assert uj["state"] == "active" and uj["current_step"] == "upload"
    assert uj["progress"] == {
        "percent": 0.0,
        "milestones_completed": 0,
        "milestones_total": 4,
        "current_milestone": "upload",
    }
    base = f"/api/v1/user-journeys/{uj['id']}"

    done = admin_api.post(f"{base}/milestones/upload/complete", {"result": {"files": 3}}, format="json")
    assert done.status_code == 200
    assert done.json()["progress"]["current_milestone"] == "analyze"
    wrong = admin_api.post(f"{base}/milestones/validate/complete", {}, format="json")
    assert wrong.status_code == 409 and wrong.json()["current_step"] == "analyze"

    admin_api.post(f"{base}/advance", {"step_result": {"needs_transform": True}}, format="json")
    status = admin_api.get(base).json()
    assert status["current_step"] == "transform"
    assert status["progress"]["percent"] == 50.0 and status["progress"]["milestones_completed"] == 2

    rolled = admin_api.post(f"{base}/milestones/analyze/rollback", format="json").json()
    by_key = {m["key"]: m["status"] for m in rolled["milestones"]}
    assert by_key == {
        "upload": "completed",
        "analyze": "in_progress",
        "transform": "not_started",
        "validate": "not_started",
    }
    admin_api.post(f"{base}/advance", {"step_result": {"needs_transform": False}}, format="json")
    skipped = admin_api.post(f"{base}/milestones/validate/skip", format="json").json()
    assert skipped["progress"]["percent"] == 100.0
    assert admin_api.get(base).json()["state"] == "completed"

    history = admin_api.get(f"{base}/history").json()
    assert [r["step_key"] for r in history["step_runs"]] == [
        "upload",
        "analyze",
        "transform",
        "analyze",
        "validate",
    ]
    assert history["step_runs"][2]["rolled_back"] is True
    assert "milestone_rolled_back" in [entry["action"] for entry in history["log"]]


def test_pause_resume_cancel_answer_409_with_the_current_state(admin_api):
    journey = make_journey([{"key": "w", "name": "W", "kind": "manual"}])
    uj = admin_api.post(f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "u-1"}, format="json").json()
    base = f"/api/v1/user-journeys/{uj['id']}"
    assert admin_api.post(f"{base}/resume").status_code == 409
    assert admin_api.post(f"{base}/pause").json()["state"] == "paused"
    again = admin_api.post(f"{base}/pause")
    assert again.status_code == 409 and again.json()["current_state"] == "paused"
    assert admin_api.post(f"{base}/advance", {}, format="json").status_code == 409
    assert admin_api.post(f"{base}/resume").json()["state"] == "active"
    assert admin_api.post(f"{base}/cancel").json()["state"] == "cancelled"
    refused = admin_api.post(f"{base}/pause")
    assert refused.status_code == 409 and refused.json()["current_state"] == "cancelled"
    assert StepRun.objects.get().status == StepRun.Status.CANCELLED


def test_enrolling_twice_against_the_policy_is_409(admin_api):
    journey = make_journey([{"key": "w", "name": "W", "kind": "manual"}], re_entry="once")
    first = admin_api.post(f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "u-1"}, format="json")
    second = admin_api.post(f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "u-1"}, format="json")
    assert first.status_code == 201
    assert second.status_code == 409 and second.json()["user_journey_id"] == first.json()["id"]


def test_dead_letters_are_listed_and_retried_or_skipped_via_the_api(
    admin_api, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # saved while allowed, refused when called
    journey = make_journey(
        [
            {
                "key": "hook",
                "name": "Hook",
                "action_type": "trigger_webhook",
                "config": {"url": "http://127.0.0.1:9/x"},
            },
            tag_step("after", "after", order=1),
        ]
    )
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.post(f"/api/v1/journeys/{journey.pk}/enroll", {"user_id": "u-1"}, format="json")
    dead = admin_api.get("/api/v1/step-runs?dead_lettered=true").json()["results"]
    assert [r["step_key"] for r in dead] == ["hook"] and "TargetRefused" in dead[0]["error"]
    skipped = admin_api.post(f"/api/v1/step-runs/{dead[0]['id']}/skip")
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    assert UserJourney.objects.get().state == "completed"
    assert admin_api.post(f"/api/v1/step-runs/{dead[0]['id']}/retry").status_code == 409


# ------------------------------------------------------------------------------------------------
# Roles: designer, operator, analyst, outsider
# ------------------------------------------------------------------------------------------------
def test_roles_are_honoured_by_the_api(cast):
    create = cast["designer"].post("/api/v1/journeys", ONBOARDING_003, format="json")
    assert create.status_code == 201
    journey_id = create.json()["id"]
    assert (
        cast["operator"].post("/api/v1/journeys", {**ONBOARDING_003, "name": "X"}, format="json").status_code
        == 403
    )
    assert (
        cast["analyst"].patch(f"/api/v1/journeys/{journey_id}", {"priority": 1}, format="json").status_code
        == 403
    )
    assert cast["outsider"].get("/api/v1/journeys").status_code == 403
    assert cast["analyst"].get("/api/v1/journeys").status_code == 200

    assert (
        cast["designer"]
        .post(f"/api/v1/journeys/{journey_id}/enroll", {"user_id": "u"}, format="json")
        .status_code
        == 403
    )
    enrolled = cast["operator"].post(f"/api/v1/journeys/{journey_id}/enroll", {"user_id": "u"}, format="json")
    assert enrolled.status_code == 201
    uj = enrolled.json()["id"]
    assert cast["analyst"].post(f"/api/v1/user-journeys/{uj}/pause").status_code == 403
    assert cast["operator"].post(f"/api/v1/user-journeys/{uj}/pause").status_code == 200
    assert cast["analyst"].get(f"/api/v1/user-journeys/{uj}/history").status_code == 200
    assert cast["operator"].post(f"/api/v1/journeys/{journey_id}/archive").status_code == 403
    assert cast["designer"].post(f"/api/v1/journeys/{journey_id}/archive").status_code == 200
