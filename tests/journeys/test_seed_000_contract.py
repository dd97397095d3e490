"""Seed 000's journey realm: its journey definition as written, choices at decision points,
design by journey type, and the milestone tracker (dependencies, path progress, one milestone)."""

import pytest
from django.core.management import call_command

from tests.seed_docs import python_literal

pytestmark = pytest.mark.django_db
SERVICES = ("experience_api", "personalization", "session_tracking")


@pytest.fixture
def definition() -> dict:
    """The document's *Example Journey Definition*, parsed from its text."""
    return python_literal("000", '"journey_id": "content_migration_001"')


@pytest.fixture
def published(admin_api, definition) -> dict:
    call_command("bootstrap", "--no-admin", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
    created = admin_api.post("/api/v1/journeys", definition, format="json")
    assert created.status_code == 201, created.json()
    journey = created.json()
    assert admin_api.post(f"/api/v1/journeys/{journey['id']}/publish").status_code == 200
    return journey


@pytest.fixture
def run(admin_api, published) -> dict:
    response = admin_api.post(f"/api/v1/journeys/{published['id']}/enroll", {"user_id": "ada"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _advance(admin_api, run: dict, **body):
    return admin_api.post(f"/api/v1/user-journeys/{run['id']}/advance", body, format="json")


def test_the_documented_definition_is_accepted_as_written(published, definition, admin_api):
    assert published["key"] == "content_migration_001"
    assert published["name"] == "Content Migration Journey"
    steps = {s["key"]: s for s in published["steps"]}
    assert list(steps) == [m["milestone_id"] for m in definition["milestones"]]
    for milestone in definition["milestones"]:
        step = steps[milestone["milestone_id"]]
        assert step["name"] == milestone["milestone_name"]
        assert step["kind"] == "manual" and step["is_milestone"] is True
        for field in SERVICES:  # stored, not dropped
            assert step.get(field, "") == milestone.get(field, "")
        assert step["completion"] is bool(milestone.get("completion"))
        assert [n["step"] for n in step["next_steps"]] == milestone.get("next_steps", [])
    [version] = admin_api.get(f"/api/v1/journeys/{published['id']}/versions").json()
    frozen = {s["key"]: s for s in version["definition"]["steps"]}
    assert frozen["upload"]["personalization"] == "UserExperience.personalize_experience"


def test_a_bad_service_name_is_refused_with_its_path(admin_api, definition):
    definition["milestones"][1]["experience_api"] = "not a service!"
    response = admin_api.post("/api/v1/journeys", definition, format="json")
    assert response.status_code == 400 and "experience_api" in str(response.json())


def test_several_unconditional_next_steps_are_the_participants_choice(admin_api, run):
    assert _advance(admin_api, run).json()["current_step"] == "analyze"

    refused = _advance(admin_api, run)

    assert refused.status_code == 400
    [message] = refused.json()["next_step"]
    assert "transform, validate" in message
    assert admin_api.get(f"/api/v1/user-journeys/{run['id']}").json()["current_step"] == "analyze"
    assert _advance(admin_api, run, next_step="elsewhere").status_code == 400

    chosen = _advance(admin_api, run, next_step="validate")

    assert chosen.status_code == 200 and chosen.json()["current_step"] == "validate"


def test_progress_counts_the_milestones_on_the_participants_path(admin_api, run):
    _advance(admin_api, run)
    progress = admin_api.get(f"/api/v1/user-journeys/{run['id']}").json()["progress"]
    assert (progress["milestones_completed"], progress["milestones_total"]) == (1, 4)

    _advance(admin_api, run, next_step="validate")  # transform is gone around
    progress = admin_api.get(f"/api/v1/user-journeys/{run['id']}").json()["progress"]
    counts = (progress["milestones_completed"], progress["milestones_total"], progress["percent"])
    assert counts == (2, 3, 66.7)

    done = _advance(admin_api, run).json()
    assert done["state"] == "completed"
    assert (done["progress"]["milestones_total"], done["progress"]["percent"]) == (3, 100.0)


def test_an_ended_journey_is_not_rounded_up_to_complete(admin_api, run):
    _advance(admin_api, run)
    cancelled = admin_api.post(f"/api/v1/user-journeys/{run['id']}/cancel").json()
    assert cancelled["progress"]["percent"] == 25.0


def test_starting_a_milestone_before_its_predecessors_is_refused_unless_forced(admin_api, run):
    url = f"/api/v1/user-journeys/{run['id']}/milestones/validate/start"

    refused = admin_api.post(url, {}, format="json")

    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "predecessors_not_done" and body["predecessors"] == ["analyze", "transform"]
    assert body["current_step"] == "upload"
    forced = admin_api.post(url, {"force": True}, format="json")
    assert forced.status_code == 200
    assert forced.json()["progress"]["current_milestone"] == "validate"


def test_a_milestone_answers_its_status_times_and_duration(admin_api, run):
    _advance(admin_api, run)
    url = f"/api/v1/user-journeys/{run['id']}/milestones"

    upload = admin_api.get(f"{url}/upload").json()
    analyze = admin_api.get(f"{url}/analyze").json()

    assert upload["status"] == "completed" and upload["started_at"] and upload["completed_at"]
    assert upload["duration_seconds"] >= 0 and upload["next_steps"] == ["analyze"]
    assert analyze["status"] == "in_progress" and analyze["duration_seconds"] is None
    assert analyze["predecessors"] == ["upload"]
    transform = admin_api.get(f"{url}/transform").json()
    assert (transform["status"], transform["started_at"], transform["on_path"]) == ("not_started", None, True)
    assert admin_api.get(f"{url}/nowhere").status_code == 404
    listed = admin_api.get(url).json()["milestones"]
    assert listed[0]["duration_seconds"] == upload["duration_seconds"]


def test_design_by_journey_type_applies_the_requirements(admin_api):
    call_command("bootstrap", "--no-admin", "--no-demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
    body = {"journey_type": "content_migration", "requirements": {"name": "Migrate ACME", "priority": 5}}

    response = admin_api.post("/api/v1/journeys/design", body, format="json")

    assert response.status_code == 201, response.json()
    journey = response.json()
    assert (journey["name"], journey["priority"], journey["template_name"]) == (
        "Migrate ACME",
        5,
        "content_migration",
    )
    assert [s["key"] for s in journey["steps"]] == ["upload", "analyze", "transform", "validate"]
    plain = [
        admin_api.post("/api/v1/journeys/design", {"journey_type": "content_migration"}, format="json").json()
        for _ in range(2)
    ]
    assert [j["name"] for j in plain] == ["Content Migration Journey", "Content Migration Journey (2)"]
    taken = admin_api.post("/api/v1/journeys/design", body, format="json")
    assert taken.status_code == 400 and "name" in taken.json()


def test_design_names_the_types_that_have_a_template(admin_api, template_library):
    response = admin_api.post("/api/v1/journeys/design", {"journey_type": "retention"}, format="json")
    assert response.status_code == 400
    assert "content_migration" in response.json()["journey_type"][0]
    assert admin_api.post("/api/v1/journeys/design", {}, format="json").status_code == 400


def test_only_a_manual_step_can_offer_a_choice(admin_api):
    body = {
        "name": "Automatic fork",
        "steps": [
            {
                "key": "tag",
                "name": "Tag",
                "action_type": "apply_tag",
                "config": {"tag": "x"},
                "next_steps": ["a", "b"],
            },
            {"key": "a", "name": "A"},
            {"key": "b", "name": "B"},
        ],
    }
    response = admin_api.post("/api/v1/journeys", body, format="json")
    assert response.status_code == 400
    assert "only a manual step can offer" in response.json()["steps.0.next_steps"][0]
