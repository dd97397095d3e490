"""The default pipeline from bootstrap, and measurements/incidents arriving on the event bus."""

import pytest

from journeys import bootstrap
from journeys.models import Event
from journeys.services.events import EventInput, events_ingest
from stages.models import Agent, ExitCriterion, Measurement, Pipeline, StagedJourney
from stages.services.pipelines import pipeline_load_defaults
from stages.services.staged_journeys import staged_journey_promote
from tests.stages.factories import criteria_pipeline, satisfy, start

pytestmark = pytest.mark.django_db


def test_bootstrap_loads_the_seeds_default_pipeline_once():
    [step] = [s for s in bootstrap.steps() if s.name == "staged lifecycle pipeline"]
    assert "default pipeline created" in step.load()

    pipeline = Pipeline.objects.get(slug="default")
    assert pipeline.is_default
    criteria = {
        stage.stage: [(c.key, c.kind, c.operator, c.threshold) for c in stage.criteria.all()]
        for stage in pipeline.stages.all()
    }
    assert criteria == {
        "sandbox": [
            ("connectors_syncing", "metric", "gte", 1.0),
            ("search_quality", "metric", "gt", 0.8),
            ("security_scan_passed", "approval", "", None),
            ("demo_approved", "approval", "", None),
        ],
        "pilot": [
            ("search_quality", "metric", "gt", 0.85),
            ("user_satisfaction", "metric", "gt", 4.0),
            ("no_critical_bugs", "no_events", "", None),
            ("performance_sla_met", "approval", "", None),
        ],
        "production": [
            ("user_adoption", "metric", "gt", 0.7),
            ("search_satisfaction", "metric", "gt", 4.5),
            ("no_p0_p1_incidents", "no_events", "", None),
        ],
    }
    assert ExitCriterion.objects.get(key="no_critical_bugs").window_days == 7
    assert ExitCriterion.objects.get(key="no_p0_p1_incidents").triggers_rollback
    dataops = Agent.objects.get(key="dataops-agent")  # the built-in local agent, until staff set an endpoint
    assert (dataops.kind, dataops.handler, dataops.needs_configuration) == ("built-in", "local-agent", False)

    ExitCriterion.objects.filter(key="search_quality", pipeline_stage__stage="sandbox").update(threshold=0.75)
    assert "exists" in step.load()
    assert Pipeline.objects.count() == 1
    assert ExitCriterion.objects.get(key="search_quality", pipeline_stage__stage="sandbox").threshold == 0.75


def test_a_journey_started_without_a_pipeline_uses_the_default_one():
    pipeline_load_defaults()
    journey = start("client-1")
    assert journey.pipeline.slug == "default"
    keys = list(journey.units_of_work.get().tasks.values_list("key", flat=True))
    assert keys == [
        "provision_dataset",
        "install_connectors",
        "configure_search",
        "security_scan",
        "client_demo",
    ]


def ingest(capture, *events: EventInput) -> None:
    with capture(execute=True):
        events_ingest(events=list(events))


def test_measurements_and_approvals_arrive_as_events(django_capture_on_commit_callbacks):
    criteria_pipeline()
    journey = start("client-1")

    ingest(
        django_capture_on_commit_callbacks,
        EventInput(
            type="stages.measurement.recorded",
            user_id="client-1",
            payload={"values": {"search_quality": 0.93, "connectors_syncing": 1}},
            source="search-eval",
            idempotency_key="eval-1",
        ),
        EventInput(
            type="stages.approval.recorded",
            user_id="client-1",
            payload={"key": "demo_approved", "approved": True, "by": "client-lead", "note": "great"},
            source="crm",
        ),
    )

    rows = {m.key: m for m in Measurement.objects.filter(journey=journey)}
    assert rows["search_quality"].value == 0.93 and rows["search_quality"].source == "bus"
    assert rows["search_quality"].actor == "search-eval"
    assert (rows["demo_approved"].value, rows["demo_approved"].actor) == (1.0, "client-lead")
    assert set(Event.objects.exclude(source="stages").values_list("status", flat=True)) == {"processed"}


def test_a_measurement_event_handled_twice_is_recorded_once(django_capture_on_commit_callbacks):
    from stages.subscribers import measurement_event_handle

    criteria_pipeline()
    start("client-1")
    ingest(
        django_capture_on_commit_callbacks,
        EventInput(
            type="stages.measurement.recorded",
            user_id="client-1",
            payload={"key": "search_quality", "value": 0.9},
        ),
    )
    event = Event.objects.get(type="stages.measurement.recorded")
    measurement_event_handle(event)  # a retried delivery
    assert Measurement.objects.count() == 1


def test_a_bad_measurement_event_is_logged_not_retried_forever(django_capture_on_commit_callbacks, caplog):
    criteria_pipeline()
    start("client-1")
    ingest(
        django_capture_on_commit_callbacks,
        EventInput(type="stages.measurement.recorded", user_id="client-1", payload={"values": {"nope": 1}}),
        EventInput(type="stages.measurement.recorded", user_id="client-9", payload={"values": {"x": 1}}),
    )
    assert Measurement.objects.count() == 0
    assert set(Event.objects.filter(type="stages.measurement.recorded").values_list("status", flat=True)) == {
        "processed"
    }
    assert "measurement refused" in caplog.text


def test_a_p0_incident_rolls_production_back_and_a_p3_does_not(django_capture_on_commit_callbacks, events):
    criteria_pipeline()
    journey = start("client-1")
    for _ in range(2):
        journey = staged_journey_promote(journey=satisfy(journey), actor="ops").journey
    assert journey.stage == "production"

    ingest(
        django_capture_on_commit_callbacks,
        EventInput(type="incident.reported", user_id="client-1", payload={"severity": "P3"}),
    )
    journey.refresh_from_db()
    assert journey.stage == "production"

    ingest(
        django_capture_on_commit_callbacks,
        EventInput(type="incident.reported", user_id="client-1", payload={"severity": "P0"}),
    )
    journey.refresh_from_db()
    assert journey.stage == "pilot"
    assert "RollbackInitiated" in events() and "RollbackCompleted" in events()


def test_an_incident_in_pilot_does_not_trigger_the_production_rollback(django_capture_on_commit_callbacks):
    criteria_pipeline()
    journey = start("client-1")
    journey = staged_journey_promote(journey=satisfy(journey), actor="ops").journey
    ingest(
        django_capture_on_commit_callbacks,
        EventInput(type="incident.reported", user_id="client-1", payload={"severity": "P0"}),
    )
    assert StagedJourney.objects.get(pk=journey.pk).stage == "pilot"


def test_out_of_the_box_the_first_staged_journey_runs_its_tasks_with_the_built_in_local_agent(
    admin_api, django_capture_on_commit_callbacks
):
    pipeline_load_defaults()

    with django_capture_on_commit_callbacks(execute=True):
        started = admin_api.post("/api/v1/stages/journeys", {"client_id": "client-1"}, format="json")

    assert started.status_code == 201, started.json()
    tasks = {t.key: t for t in StagedJourney.objects.get().units_of_work.get().tasks.all()}
    assert {key: t.status for key, t in tasks.items()} == {
        "provision_dataset": "succeeded",
        "install_connectors": "succeeded",
        "configure_search": "succeeded",
        "security_scan": "succeeded",
        "client_demo": "waiting",  # a person's task
    }
    assert tasks["provision_dataset"].result["dataset_id"] == "client-1:sandbox-sample"
    assert tasks["security_scan"].result["performed_by"] == "built-in local agent"
