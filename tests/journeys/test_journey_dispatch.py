"""The dispatcher under concurrency and failure: two dispatchers never run a step twice; a worker
killed mid-step loses nothing, and the repeat carries the same idempotency key."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from journeys.engine.dispatcher import step_runs_dispatch
from journeys.models import Participant, StepRun, UserJourney
from journeys.registries import ActionType, action_types
from journeys.services.enrolment import Enrolment, user_journeys_enrol
from tests.helpers import wait_for
from tests.journeys.factories import action, make_journey, tag_step


class RecordCalls(ActionType):
    """A side-effecting action that remembers every execution (slow enough to overlap)."""

    name = "test_record_calls"
    description = "records calls, for tests"
    transactional = False
    concurrent = False
    channel = ""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def validate_config(self, config):
        return {}

    def execute(self, action_context):
        time.sleep(0.002)
        with self.lock:
            self.calls.append(action_context.step_run_id)
        return {"ok": True}


@pytest.fixture
def recorder():
    recorder = RecordCalls()
    action_types.register(recorder.name, recorder)
    yield recorder
    action_types.unregister(recorder.name)


def enrol(journey, count: int) -> None:
    participants = [Participant.objects.create(user_id=f"p-{i}") for i in range(count)]
    user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=p) for p in participants])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_dispatchers_never_execute_a_run_twice(recorder):
    journey = make_journey(
        [action("record", recorder.name, {}, delay_minutes=1), tag_step("after", "done", order=1)]
    )
    enrol(journey, 300)
    StepRun.objects.update(due_at=timezone.now() - timedelta(seconds=1))

    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def dispatcher() -> None:
        try:
            barrier.wait()
            step_runs_dispatch(budget_seconds=30, batch_size=25)
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    record_runs = set(StepRun.objects.filter(step_key="record").values_list("pk", flat=True))
    assert len(recorder.calls) == len(set(recorder.calls)) == 300  # every run once, none twice
    assert set(recorder.calls) == record_runs
    assert set(UserJourney.objects.values_list("state", flat=True)) == {UserJourney.State.COMPLETED}
    assert StepRun.objects.filter(step_key="after").count() == 300


@pytest.mark.worker
@pytest.mark.postgres
def test_a_worker_dispatching_in_two_threads_executes_every_step_once(celery_worker):
    from journeys.tasks import step_runs_dispatch_task

    journey = make_journey([tag_step("a", "a", delay_minutes=5), tag_step("b", "b", order=1)])
    enrol(journey, 400)
    StepRun.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    celery_worker(threads=2, extra_env={"STEP_DISPATCH_BATCH": "20"})
    step_runs_dispatch_task.delay()  # two ticks of beat's: one dispatcher in each thread
    step_runs_dispatch_task.delay()

    wait_for(
        lambda: UserJourney.objects.filter(state=UserJourney.State.COMPLETED).count() == 400,
        timeout=60,
        message="the two dispatchers never finished the journeys",
    )
    runs = StepRun.objects.filter(user_journey__journey=journey)
    assert runs.count() == 800  # a and b of each journey, none twice
    assert set(runs.values_list("status", "attempts").distinct()) == {(StepRun.Status.SUCCEEDED, 1)}
    assert {tuple(tags) for tags in Participant.objects.values_list("tags", flat=True)} == {("a", "b")}


@pytest.mark.worker
@pytest.mark.postgres
def test_a_worker_killed_mid_webhook_loses_nothing_and_the_repeat_has_the_same_webhook_id(
    celery_worker, webhook_sink
):
    from journeys.tasks import step_runs_dispatch_task

    webhook_sink.delay = 1.5  # seconds: the worker dies while the requests are in flight
    journey = make_journey(
        [
            action("hook", "trigger_webhook", {"url": f"{webhook_sink.url}/hook"}),
            tag_step("after", "done", order=1),
        ]
    )
    env = {"STEP_LEASE_SECONDS": "3", "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    first = celery_worker(extra_env=env)
    enrol(journey, 6)  # commits; the webhook runs are kicked to the worker

    wait_for(
        lambda: StepRun.objects.filter(step_key="hook", status=StepRun.Status.RUNNING).count() == 6,
        message="the worker never took the webhook runs",
    )
    time.sleep(0.5)
    first.kill()
    assert StepRun.objects.filter(step_key="hook", status=StepRun.Status.SUCCEEDED).count() == 0

    celery_worker(extra_env=env)
    webhook_sink.delay = 0

    def finished() -> bool:
        step_runs_dispatch_task.delay()  # what beat does every second
        return UserJourney.objects.filter(state=UserJourney.State.COMPLETED).count() == 6

    wait_for(finished, timeout=40, interval=0.5, message="the abandoned runs were never finished")

    hook_runs = list(StepRun.objects.filter(step_key="hook"))
    assert len(hook_runs) == 6 and {r.status for r in hook_runs} == {StepRun.Status.SUCCEEDED}
    assert all(r.attempts == 2 for r in hook_runs)  # claimed, abandoned, claimed again
    assert StepRun.objects.filter(step_key="after").count() == 6  # no step of a journey ran twice
    ids = [r["headers"]["webhook-id"] for r in webhook_sink.requests]
    assert len(ids) >= 6  # typically 12: the requests in flight at the kill arrive, then their repeats
    assert set(ids) == {f"step-run-{r.pk}" for r in hook_runs}  # none lost, none invented
    bodies: dict[str, bytes] = {}
    for request in webhook_sink.requests:  # a repeat is the same message: the receiver can drop it
        body = request["body"]
        first_body = bodies.setdefault(request["headers"]["webhook-id"], body)
        assert _data(first_body) == _data(body)


def _data(body: bytes) -> dict:
    import json

    decoded = json.loads(body)
    decoded.pop("timestamp")
    return decoded
