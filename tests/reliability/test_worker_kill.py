"""A worker killed with ``kill -9`` in the middle of hundreds of due webhook steps loses none of
them and invents none: every step runs, each webhook-id is one step, and a repeat is the same
message, byte for byte."""

import time

import pytest

from journeys.models import StepRun, UserJourney
from tests.helpers import wait_for
from tests.reliability.conftest import deliveries_by_id, due_webhook_runs

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.postgres]

STEPS = 500


def test_killing_the_worker_mid_dispatch_loses_and_doubles_nothing(celery_worker, webhook_sink):
    from journeys.tasks import step_runs_dispatch_task

    webhook_sink.delay = 0.05  # seconds per request: the batch is still in flight at the kill
    due_webhook_runs(webhook_sink.url, STEPS)
    env = {
        "STEP_LEASE_SECONDS": "4",
        "STEP_RETRY_BASE_SECONDS": "1",
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "STEP_DISPATCH_BATCH": "200",
    }
    first = celery_worker(extra_env=env)
    step_runs_dispatch_task.delay()  # beat's tick

    wait_for(lambda: len(webhook_sink.requests) >= 50, timeout=60, message="no webhook was sent")
    first.kill()
    received_at_kill = len(webhook_sink.requests)
    assert StepRun.objects.filter(step_key="hook", status=StepRun.Status.SUCCEEDED).count() < STEPS

    celery_worker(extra_env=env)
    webhook_sink.delay = 0

    def all_done() -> bool:
        step_runs_dispatch_task.delay()  # what beat does every second
        return UserJourney.objects.filter(state=UserJourney.State.COMPLETED).count() == STEPS

    wait_for(all_done, timeout=120, interval=1, message="the abandoned runs were never finished")
    time.sleep(1)  # any straggling duplicate would arrive now

    hooks = list(StepRun.objects.filter(step_key="hook"))
    assert len(hooks) == STEPS and {r.status for r in hooks} == {StepRun.Status.SUCCEEDED}
    assert StepRun.objects.filter(step_key="after").count() == STEPS  # no journey walked on twice
    delivered = deliveries_by_id(webhook_sink)
    assert set(delivered) == {f"step-run-{r.pk}" for r in hooks}  # distinct webhook-ids = steps
    assert all(len(bodies) == 1 for bodies in delivered.values())  # a repeat is byte-identical
    assert received_at_kill < len(webhook_sink.requests)
