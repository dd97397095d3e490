"""The stages admin: the pipeline builder (DAG validation, the picture), journeys' transition
buttons (through the services), units of work and tasks."""

import pytest

from journeys.models import Event
from stages.models import PipelineStage, StagedJourney, TaskTemplate, UnitOfWork, WorkTask
from tests.stages.factories import agent, criteria_pipeline, satisfy, start, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


# The (read-only) inlines' management forms, as the change page sends them.
JOURNEY_INLINES = {
    f"{prefix}-{name}": "0"
    for prefix in ["transitions", "measurements", "snapshots", "units_of_work"]
    for name in ["TOTAL_FORMS", "INITIAL_FORMS"]
}


def stage_form(stage: PipelineStage, templates: list[dict]) -> dict:
    """The POST body of a pipeline stage's change form with these task templates."""
    data = {
        "pipeline": stage.pipeline_id,
        "stage": stage.stage,
        "auto_promote": "on",
        "description": "",
        "criteria-TOTAL_FORMS": "0",
        "criteria-INITIAL_FORMS": "0",
        "task_templates-TOTAL_FORMS": str(len(templates)),
        "task_templates-INITIAL_FORMS": "0",
    }
    for i, t in enumerate(templates):
        for name, value in {
            "purpose": "setup",
            "name": t["key"],
            "agent_id": "test-agent",
            "params": "{}",
            "max_retries": "3",
            "retry_backoff_seconds": "5",
            "position": str(i),
            **t,
        }.items():
            data[f"task_templates-{i}-{name}"] = value
    return data


def test_a_stage_with_a_cycle_in_its_tasks_is_not_saved_and_says_why(staff):
    agent("test-agent")
    pipeline = criteria_pipeline()
    stage = pipeline.stages.get(stage="sandbox")
    templates = [
        {"key": "a", "intent": "agent_call", "depends_on": '["b"]'},
        {"key": "b", "intent": "agent_call", "depends_on": '["a"]'},
        {"key": "c", "intent": "agent_call", "depends_on": '["ghost"]'},
    ]

    response = staff.post(f"/admin/stages/pipelinestage/{stage.pk}/change/", stage_form(stage, templates))

    assert response.status_code == 200
    page = response.content.decode()
    assert "The dependencies form a cycle: a → b → a." in page
    assert "Task &#x27;c&#x27; depends on an unknown task &#x27;ghost&#x27;." in page
    assert not TaskTemplate.objects.filter(pipeline_stage=stage).exists()


def test_valid_tasks_are_saved_and_drawn_as_a_graph(staff):
    agent("test-agent")
    pipeline = criteria_pipeline()
    stage = pipeline.stages.get(stage="sandbox")
    templates = [
        {"key": "provision", "intent": "agent_call", "depends_on": "[]"},
        {"key": "deploy", "intent": "agent_call", "depends_on": '["provision"]'},
    ]

    response = staff.post(f"/admin/stages/pipelinestage/{stage.pk}/change/", stage_form(stage, templates))
    assert response.status_code == 302
    assert list(stage.task_templates.values_list("key", "depends_on")) == [
        ("provision", []),
        ("deploy", ["provision"]),
    ]

    page = staff.get(f"/admin/stages/pipelinestage/{stage.pk}/change/").content.decode()
    assert "<svg" in page and 'marker-end="url(#arrow)"' in page
    assert ">provision<" in page and ">deploy<" in page


def test_the_builder_pages_render(staff):
    pipeline = criteria_pipeline()
    assert staff.get("/admin/stages/pipeline/").status_code == 200
    assert staff.get(f"/admin/stages/pipeline/{pipeline.pk}/change/").status_code == 200
    assert staff.get("/admin/stages/agent/add/").status_code == 200


def test_a_journey_page_shows_its_criteria_and_only_the_transitions_allowed_now(staff):
    criteria_pipeline()
    journey = start("client-1")

    page = staff.get(f"/admin/stages/stagedjourney/{journey.pk}/change/").content.decode()
    assert "Exit criteria now" in page and "Search quality &gt; 80%" in page
    assert 'value="cancel"' in page
    assert 'value="promote_to_pilot"' not in page  # the gate is closed
    assert 'value="initiate_rollback"' not in page  # nothing to roll back to

    satisfy(journey)
    page = staff.get(f"/admin/stages/stagedjourney/{journey.pk}/change/").content.decode()
    assert 'value="promote_to_pilot"' in page


def test_the_promote_button_goes_through_the_service(staff):
    criteria_pipeline()
    journey = satisfy(start("client-1"))

    response = staff.post(
        f"/admin/stages/stagedjourney/{journey.pk}/change/",
        {"_fsm_transition_to": "promote_to_pilot", **JOURNEY_INLINES},
    )

    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.stage == "pilot"
    row = journey.transitions.get(kind="promoted")
    assert row.actor == "root"
    assert Event.objects.filter(type="StagePromoted").exists()
    assert journey.units_of_work.filter(stage="pilot").exists()


def test_the_rollback_button_asks_for_a_reason_and_keeps_a_snapshot(staff):
    from stages.services.staged_journeys import staged_journey_promote

    criteria_pipeline()
    journey = staged_journey_promote(journey=satisfy(start("client-1")), actor="ops").journey
    url = f"/admin/stages/stagedjourney/{journey.pk}/transition/initiate_rollback/"

    assert "reason" in staff.get(url).content.decode()
    response = staff.post(url, {"reason": "pilot users cannot sign in"})

    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.stage == "sandbox"
    assert journey.snapshots.get().stage == "pilot"
    page = staff.get(f"/admin/stages/snapshot/{journey.snapshots.get().pk}/change/").content.decode()
    assert "search_quality" in page


def test_starting_a_journey_from_the_admin(staff):
    pipeline = criteria_pipeline()
    response = staff.post(
        "/admin/stages/stagedjourney/add/", {"client_id": "client-9", "pipeline": pipeline.pk}
    )
    assert response.status_code == 302
    journey = StagedJourney.objects.get(client_id="client-9")
    assert journey.transitions.get().actor == "root"
    assert journey.units_of_work.count() == 1


def test_units_of_work_show_task_states_and_can_be_cancelled(staff, django_capture_on_commit_callbacks):
    criteria_pipeline(
        tasks={
            "sandbox": {
                "setup": [task("demo", intent="manual"), task("after", intent="manual", depends_on=["demo"])]
            }
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        journey = start("client-1")
    unit = journey.units_of_work.get()

    page = staff.get(f"/admin/stages/unitofwork/{unit.pk}/change/").content.decode()
    assert "<svg" in page and ">waiting<" in page and ">pending<" in page

    response = staff.post(
        "/admin/stages/unitofwork/", {"action": "cancel_units", "_selected_action": [unit.pk]}
    )
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.status == "cancelled"


def test_waiting_tasks_can_be_completed_from_the_admin(staff, django_capture_on_commit_callbacks):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("demo", intent="manual")]}})
    with django_capture_on_commit_callbacks(execute=True):
        journey = start("client-1")
    demo = WorkTask.objects.get(key="demo")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/admin/stages/worktask/", {"action": "mark_succeeded", "_selected_action": [demo.pk]}
        )

    assert response.status_code == 302
    demo.refresh_from_db()
    assert demo.status == "succeeded" and demo.result["completed_by"] == "root"
    assert UnitOfWork.objects.get(journey=journey).status == "completed"


def test_failed_units_can_be_retried_from_the_admin(staff, webhook_sink, django_capture_on_commit_callbacks):
    agent("test-agent", url=webhook_sink.url)
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy", max_retries=0)]}})
    webhook_sink.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        journey = start("client-1")
    unit = journey.units_of_work.get()
    assert unit.status == "failed"

    webhook_sink.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(
            "/admin/stages/unitofwork/", {"action": "retry_failed_tasks", "_selected_action": [unit.pk]}
        )

    unit.refresh_from_db()
    assert unit.status == "completed"


def test_the_journey_list_shows_the_criteria_status_at_a_glance(staff):
    from stages.services.measurements import measurements_record

    criteria_pipeline()
    journey = start("client-1")
    measurements_record(
        journey=journey, values={"search_quality": 0.9, "connectors_syncing": 1.0}, actor="eval"
    )

    page = staff.get("/admin/stages/stagedjourney/").content.decode()
    assert "client-1" in page and "3 / 5 pass" in page
