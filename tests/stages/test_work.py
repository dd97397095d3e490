"""Units of work run in-process (Celery eager): order, retries, claims, the sweeper, manual tasks.
The real-worker versions of the use cases are in test_worker.py."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from journeys.errors import Conflict
from journeys.models import Event
from journeys.webhooks import Delivery
from stages.models import Agent, StagedJourney, UnitOfWork, WorkTask
from stages.services import work, work_tasks
from stages.services.measurements import measurements_record
from stages.services.rollback import staged_journey_rollback
from stages.services.staged_journeys import staged_journey_promote
from stages.tasks import work_task_execute_task
from tests.stages.factories import agent, criteria_pipeline, satisfy, start, task

pytestmark = pytest.mark.django_db

DIAMOND = [
    task("provision"),
    task("connectors"),
    task("configure", depends_on=["provision", "connectors"]),
    task("scan", depends_on=["configure"]),
]


@pytest.fixture
def sink_agent(webhook_sink):
    return agent("test-agent", url=f"{webhook_sink.url}/agent")


def run(capture, fn, *args, **kwargs):
    """Call ``fn`` and run what it enqueued (Celery is eager in tests), to quiescence."""
    with capture(execute=True):
        return fn(*args, **kwargs)


def sandbox_unit(journey: StagedJourney) -> UnitOfWork:
    return journey.units_of_work.get(stage="sandbox", purpose="setup")


def tasks_by_key(unit: UnitOfWork) -> dict[str, WorkTask]:
    return {t.key: t for t in unit.tasks.all()}


def test_tasks_run_after_their_dependencies_and_the_unit_completes(
    sink_agent, webhook_sink, django_capture_on_commit_callbacks, events
):
    criteria_pipeline(tasks={"sandbox": {"setup": DIAMOND}})

    journey = run(django_capture_on_commit_callbacks, start, "client-1")

    called = [body["task"] for body in webhook_sink.json_bodies()]
    assert sorted(called[:2]) == ["connectors", "provision"]
    assert called[2:] == ["configure", "scan"]
    unit = sandbox_unit(journey)
    assert unit.status == "completed"
    assert {t.status for t in unit.tasks.all()} == {"succeeded"}
    assert tasks_by_key(unit)["scan"].result == {"ok": True}
    configure = next(b for b in webhook_sink.json_bodies() if b["task"] == "configure")
    assert configure["dependencies"] == {"provision": {"ok": True}, "connectors": {"ok": True}}
    assert configure["client_id"] == "client-1" and configure["stage"] == "sandbox"
    assert events().count("TaskExecutionStarted") == 4
    assert events().count("TaskExecutionCompleted") == 4
    assert events()[-1] == "UnitOfWorkCompleted"


def test_only_tasks_without_dependencies_are_dispatched_at_first(
    sink_agent, django_capture_on_commit_callbacks
):
    criteria_pipeline(tasks={"sandbox": {"setup": DIAMOND}})
    with django_capture_on_commit_callbacks(execute=False):
        journey = start("client-1")
    statuses = {k: t.status for k, t in tasks_by_key(sandbox_unit(journey)).items()}
    assert statuses == {
        "provision": "queued",
        "connectors": "queued",
        "configure": "pending",
        "scan": "pending",
    }


def test_agent_calls_are_signed_with_the_agents_secret_and_keep_one_idempotency_key_across_retries(
    sink_agent, webhook_sink, django_capture_on_commit_callbacks
):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("only", max_retries=1)]}})
    webhook_sink.status = 503

    journey = run(django_capture_on_commit_callbacks, start, "client-1")

    first, second = webhook_sink.requests
    only = tasks_by_key(sandbox_unit(journey))["only"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == f"stages-task-{only.task_id}"
    assert Webhook(sink_agent.secret).verify(first["body"], first["headers"])["task"] == "only"


def test_a_failing_task_is_retried_up_to_max_retries_then_fails_the_unit(
    sink_agent, webhook_sink, django_capture_on_commit_callbacks
):
    criteria_pipeline(
        tasks={"sandbox": {"setup": [task("deploy", max_retries=2), task("smoke", depends_on=["deploy"])]}}
    )
    webhook_sink.status = 500

    journey = run(django_capture_on_commit_callbacks, start, "client-1")

    assert [b["attempt"] for b in webhook_sink.json_bodies()] == [1, 2, 3]
    unit = sandbox_unit(journey)
    deploy, smoke = tasks_by_key(unit)["deploy"], tasks_by_key(unit)["smoke"]
    assert (deploy.status, deploy.retry_count, deploy.attempts) == ("failed", 2, 3)
    assert "answered 500" in deploy.error
    assert smoke.status == "pending"
    assert unit.status == "failed"
    failures = Event.objects.filter(type="TaskExecutionFailed").order_by("id")
    assert [e.payload["will_retry"] for e in failures] == [True, True, False]
    assert Event.objects.filter(type="UnitOfWorkFailed").get().payload["failed_task"] == "deploy"


def test_retrying_failed_tasks_gives_them_a_fresh_round_and_completes_the_unit(
    sink_agent, webhook_sink, django_capture_on_commit_callbacks
):
    criteria_pipeline(
        tasks={"sandbox": {"setup": [task("deploy", max_retries=0), task("smoke", depends_on=["deploy"])]}}
    )
    webhook_sink.status = 500
    journey = run(django_capture_on_commit_callbacks, start, "client-1")
    unit = sandbox_unit(journey)
    assert unit.status == "failed"

    webhook_sink.status = 200
    unit = run(django_capture_on_commit_callbacks, work.unit_of_work_retry, unit=unit, actor="ops")

    unit.refresh_from_db()
    assert unit.status == "completed" and unit.round == 2
    assert [b["task"] for b in webhook_sink.json_bodies()] == ["deploy", "deploy", "smoke"]
    with pytest.raises(Conflict) as refused:
        work.unit_of_work_retry(unit=unit)
    assert refused.value.extra["current_status"] == "completed"


def test_a_task_whose_agent_has_no_endpoint_waits_as_needing_configuration(
    django_capture_on_commit_callbacks,
):
    agent("test-agent", url="")
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy", max_retries=5)]}})

    journey = run(django_capture_on_commit_callbacks, start, "client-1")

    unit = sandbox_unit(journey)
    deploy = tasks_by_key(unit)["deploy"]
    assert (deploy.status, deploy.attempts, deploy.retry_count) == ("needs_configuration", 1, 0)
    assert deploy.error == "The service 'test-agent' has no endpoint URL; set it in the service directory."
    assert unit.status == "running"


def test_configuring_the_agent_runs_the_tasks_that_waited_for_it(
    webhook_sink, admin_api, django_capture_on_commit_callbacks
):
    agent("test-agent", url="")
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy")]}})
    journey = run(django_capture_on_commit_callbacks, start, "client-1")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.patch(
            "/api/v1/stages/agents/test-agent", {"endpoint_url": f"{webhook_sink.url}/agent"}, format="json"
        )

    assert response.status_code == 200 and response.json()["needs_configuration"] is False
    deploy = tasks_by_key(sandbox_unit(journey))["deploy"]
    assert (deploy.status, deploy.error) == ("succeeded", "")
    assert [r["path"] for r in webhook_sink.requests] == ["/agent"]


def test_an_agent_on_an_internal_address_is_refused_without_retries(
    webhook_sink, settings, django_capture_on_commit_callbacks
):
    agent("test-agent", url=webhook_sink.url)
    settings.WEBHOOK_ALLOWED_HOSTS = []
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy", max_retries=5)]}})

    journey = run(django_capture_on_commit_callbacks, start, "client-1")

    deploy = tasks_by_key(sandbox_unit(journey))["deploy"]
    assert (deploy.status, deploy.attempts) == ("failed", 1)
    assert "internal address" in deploy.error
    assert webhook_sink.requests == []


def test_provision_test_dataset_must_answer_a_dataset_id(sink_agent, django_capture_on_commit_callbacks):
    spec = task("provision", intent="provision_test_dataset", params={"dataset": "sample"}, max_retries=0)
    criteria_pipeline(tasks={"sandbox": {"setup": [spec]}})

    journey = run(django_capture_on_commit_callbacks, start, "client-1")

    provision = tasks_by_key(sandbox_unit(journey))["provision"]
    assert provision.status == "failed"
    assert "breaks the provision_test_dataset contract: missing dataset_id" in provision.error


def test_provision_test_dataset_succeeds_with_the_dataset_id_as_its_result(
    sink_agent, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []

    def fake_send(**kwargs):
        sent.append(kwargs["payload"])
        return Delivery(status_code=200, body='{"dataset_id": "ds-42"}', duration_ms=1.0)

    monkeypatch.setattr("journeys.services.directory.webhook_send", fake_send)
    spec = task("provision", intent="provision_test_dataset", params={"dataset": "sample", "rows": 500})
    criteria_pipeline(tasks={"sandbox": {"setup": [spec]}})

    journey = run(django_capture_on_commit_callbacks, start, "client-1")

    assert tasks_by_key(sandbox_unit(journey))["provision"].result == {"dataset_id": "ds-42"}
    assert sent[0]["intent"] == "provision_test_dataset"
    assert sent[0]["params"] == {"dataset": "sample", "rows": 500}


def test_a_manual_task_waits_for_someone_to_complete_it(django_capture_on_commit_callbacks, events):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("demo", intent="manual")]}})
    journey = run(django_capture_on_commit_callbacks, start, "client-1")
    demo = tasks_by_key(sandbox_unit(journey))["demo"]
    assert demo.status == "waiting" and sandbox_unit(journey).status == "running"

    run(
        django_capture_on_commit_callbacks,
        work_tasks.work_task_complete,
        task=demo,
        result={"notes": "client loved it"},
        actor="ada",
    )

    demo.refresh_from_db()
    assert demo.status == "succeeded"
    assert demo.result == {"notes": "client loved it", "completed_by": "ada"}
    assert sandbox_unit(journey).status == "completed"
    with pytest.raises(Conflict) as refused:
        work_tasks.work_task_complete(task=demo)
    assert refused.value.extra["current_status"] == "succeeded"


def test_a_manual_task_reported_as_failed_fails_the_unit(django_capture_on_commit_callbacks):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("demo", intent="manual")]}})
    journey = run(django_capture_on_commit_callbacks, start, "client-1")
    demo = tasks_by_key(sandbox_unit(journey))["demo"]

    work_tasks.work_task_complete(task=demo, succeeded=False, error="client did not attend")

    demo.refresh_from_db()
    assert (demo.status, demo.error) == ("failed", "client did not attend")
    assert sandbox_unit(journey).status == "failed"


def test_an_agent_answering_202_leaves_the_task_waiting_for_its_report(
    sink_agent, webhook_sink, django_capture_on_commit_callbacks
):
    webhook_sink.status = 202
    criteria_pipeline(tasks={"sandbox": {"setup": [task("long_job")]}})
    journey = run(django_capture_on_commit_callbacks, start, "client-1")
    assert tasks_by_key(sandbox_unit(journey))["long_job"].status == "waiting"


def test_a_second_message_for_a_claimed_task_does_nothing(sink_agent, django_capture_on_commit_callbacks):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy")]}})
    with django_capture_on_commit_callbacks(execute=False):
        journey = start("client-1")
    deploy = tasks_by_key(sandbox_unit(journey))["deploy"]

    assert work_tasks._claim(deploy.pk) == 1
    assert work_tasks._claim(deploy.pk) is None
    assert work_tasks.work_task_execute(task_pk=deploy.pk) == "skipped"


def test_a_late_result_from_a_worker_that_lost_its_lease_is_dropped(
    sink_agent, django_capture_on_commit_callbacks
):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy")]}})
    with django_capture_on_commit_callbacks(execute=False):
        journey = start("client-1")
    deploy = tasks_by_key(sandbox_unit(journey))["deploy"]
    assert work_tasks._claim(deploy.pk) == 1
    WorkTask.objects.filter(pk=deploy.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert work_tasks._claim(deploy.pk) == 2  # another worker takes over

    assert work_tasks._attempt_succeeded(task_pk=deploy.pk, attempt=1, result={"late": True}) == "stale"
    assert work_tasks._attempt_succeeded(task_pk=deploy.pk, attempt=2, result={"fresh": True}) == "succeeded"
    deploy.refresh_from_db()
    assert deploy.result == {"fresh": True}


def test_a_lost_message_is_recovered_by_the_sweeper(
    sink_agent, webhook_sink, monkeypatch, settings, django_capture_on_commit_callbacks
):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy")]}})

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(work_task_execute_task, "apply_async", broker_down)
        journey = run(django_capture_on_commit_callbacks, start, "client-1")
    deploy = tasks_by_key(sandbox_unit(journey))["deploy"]
    assert deploy.status == "queued" and webhook_sink.requests == []

    assert run(django_capture_on_commit_callbacks, work.work_tasks_sweep) == 0  # not yet presumed lost
    settings.STAGES_TASK_SWEEP_AFTER_SECONDS = 0
    assert run(django_capture_on_commit_callbacks, work.work_tasks_sweep) == 1

    deploy.refresh_from_db()
    assert deploy.status == "succeeded" and len(webhook_sink.requests) == 1


def test_the_task_of_a_dead_worker_is_run_again_once_its_lease_expires(
    sink_agent, webhook_sink, django_capture_on_commit_callbacks
):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy")]}})
    with django_capture_on_commit_callbacks(execute=False):
        journey = start("client-1")
    deploy = tasks_by_key(sandbox_unit(journey))["deploy"]
    assert work_tasks._claim(deploy.pk) == 1  # ... and the worker dies here

    assert run(django_capture_on_commit_callbacks, work.work_tasks_sweep) == 0  # lease still valid
    WorkTask.objects.filter(pk=deploy.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert run(django_capture_on_commit_callbacks, work.work_tasks_sweep) == 1

    deploy.refresh_from_db()
    assert (deploy.status, deploy.attempts) == ("succeeded", 2)


def test_cancelling_a_unit_cancels_open_tasks_and_drops_a_running_result(
    sink_agent, django_capture_on_commit_callbacks, events
):
    criteria_pipeline(tasks={"sandbox": {"setup": DIAMOND}})
    with django_capture_on_commit_callbacks(execute=False):
        journey = start("client-1")
    unit = sandbox_unit(journey)
    provision = tasks_by_key(unit)["provision"]
    attempt = work_tasks._claim(provision.pk)

    work.unit_of_work_cancel(unit=unit, actor="ops")

    assert work_tasks._attempt_succeeded(task_pk=provision.pk, attempt=attempt, result={}) == "stale"
    unit.refresh_from_db()
    assert unit.status == "cancelled"
    assert {t.status for t in unit.tasks.all()} == {"cancelled"}
    assert events()[-1] == "UnitOfWorkCancelled"
    with pytest.raises(Conflict):
        work.unit_of_work_cancel(unit=unit)


def test_a_rollback_waits_for_its_unit_of_work_which_cannot_be_cancelled_meanwhile(
    django_capture_on_commit_callbacks, events
):
    criteria_pipeline(
        tasks={
            "pilot": {
                "setup": [task("deploy", intent="manual")],
                "rollback": [task("restore", intent="manual")],
            }
        }
    )
    journey = start("client-1")
    journey = staged_journey_promote(journey=satisfy(journey), actor="ops").journey

    journey = run(
        django_capture_on_commit_callbacks, staged_journey_rollback, journey=journey, reason="bad", actor="o"
    )

    assert journey.stage == "rollback"
    unit = journey.units_of_work.get(purpose="rollback")
    assert (unit.stage, unit.status) == ("sandbox", "running")
    assert journey.units_of_work.get(stage="pilot").status == "cancelled"  # setup stops on rollback
    with pytest.raises(Conflict):
        work.unit_of_work_cancel(unit=unit)

    run(django_capture_on_commit_callbacks, work_tasks.work_task_complete, task=unit.tasks.get(), actor="ops")

    journey.refresh_from_db()
    assert journey.stage == "sandbox" and journey.rollback_from == ""
    assert events()[-2:] == ["UnitOfWorkCompleted", "RollbackCompleted"]


def test_a_completed_unit_promotes_automatically_when_every_criterion_passes(
    django_capture_on_commit_callbacks,
):
    criteria_pipeline(auto_promote=True, tasks={"sandbox": {"setup": [task("demo", intent="manual")]}})
    journey = run(django_capture_on_commit_callbacks, start, "client-1")
    run(django_capture_on_commit_callbacks, satisfy, journey)
    journey.refresh_from_db()
    assert journey.stage == "sandbox"  # the unit of work is still running

    demo = tasks_by_key(sandbox_unit(journey))["demo"]
    run(django_capture_on_commit_callbacks, work_tasks.work_task_complete, task=demo, actor="ops")

    journey.refresh_from_db()
    assert journey.stage == "pilot"
    row = journey.transitions.get(kind="promoted")
    assert row.automatic and row.actor == "system"


def test_a_measurement_that_opens_the_gate_promotes_automatically(django_capture_on_commit_callbacks):
    criteria_pipeline(auto_promote=True)
    journey = run(django_capture_on_commit_callbacks, start, "client-1")
    run(django_capture_on_commit_callbacks, satisfy, journey, skip="search_quality")
    journey.refresh_from_db()
    assert journey.stage == "sandbox"
    assert journey.transitions.filter(kind="promotion_refused").count() == 0  # automatic: silent

    run(
        django_capture_on_commit_callbacks,
        measurements_record,
        journey=journey,
        values={"search_quality": 0.95},
        actor="eval",
    )
    journey.refresh_from_db()
    assert journey.stage == "pilot"


def test_an_inactive_agent_leaves_its_task_needing_configuration(
    django_capture_on_commit_callbacks, webhook_sink
):
    Agent.objects.create(key="test-agent", name="x", endpoint_url=webhook_sink.url, active=False)
    criteria_pipeline(tasks={"sandbox": {"setup": [task("deploy")]}})
    journey = run(django_capture_on_commit_callbacks, start, "client-1")
    deploy = tasks_by_key(sandbox_unit(journey))["deploy"]
    assert deploy.status == "needs_configuration" and "inactive" in deploy.error
    assert not webhook_sink.requests
