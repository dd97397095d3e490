"""Units of work: created from a stage's task templates, run on Celery in dependency order.

Correctness lives in the database, not in the broker:

1. Ready tasks (every dependency succeeded) are ``queued`` in the same transaction that made
   them ready, and a Celery message is sent after commit.
2. A worker claims a task with a compare-and-swap ``UPDATE`` (queued and due, or running with an
   expired lease → running with a fresh lease); a second message for the same task claims
   nothing, so two workers never run one task.
3. The intent runs outside any transaction (it may call an agent over HTTP). Its outcome is
   written back with another compare-and-swap on (status, attempts): a worker that lost its
   lease cannot overwrite the newer attempt.
4. Writing the outcome queues the tasks it made ready, or schedules the retry (backoff with
   jitter), or fails the unit; the last success completes it.
5. ``work_tasks_sweep`` (beat) re-dispatches queued tasks whose message was lost and running
   tasks whose worker died.

The tasks table is a durable queue (``journeys.queue``, ``WORK_TASKS``); ``stages.tasks`` sends
its messages. This module holds the unit of work's lifecycle (steps 1, 4 and 5); one task's
attempt and its outcome (steps 2 to 4) are ``stages.services.work_tasks``.
"""

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from journeys.errors import Conflict, ValidationFailed
from journeys.queue import Backoff, Queue
from stages.conf import setting
from stages.dag import dag_errors
from stages.models import Stage, StagedJourney, TaskTemplate, UnitOfWork, WorkTask
from stages.services.common import AUTO_PROMOTIONS
from stages.services.events import stage_event_emit

logger = logging.getLogger(__name__)

WORK_TASKS = Queue(
    name="stage tasks",
    model=WorkTask,
    waiting=Q(status=WorkTask.Status.QUEUED),
    due_field="next_attempt_at",
    held=Q(status=WorkTask.Status.RUNNING),
    lease_field="lease_until",
    lease_seconds=lambda: setting("STAGES_TASK_LEASE_SECONDS"),
    chunk=1,  # a message runs one task
    sweep_batch=lambda: setting("STAGES_TASK_SWEEP_BATCH"),
    # The base is each task's own ``retry_backoff_seconds``.
    backoff=Backoff(base=5.0, cap=lambda: setting("STAGES_MAX_RETRY_DELAY_SECONDS")),
)


# --------------------------------------------------------------------------------------------
# Creating, starting and ending
# --------------------------------------------------------------------------------------------
def unit_of_work_create(
    *, journey: StagedJourney, stage: str, purpose: str, templates_stage: str | None = None
) -> UnitOfWork:
    """Create the unit of work for ``stage`` from the templates of ``templates_stage`` (the same
    stage for setup; for a rollback, the stage being left) and start it. Call inside the
    journey's transaction, with its row locked."""
    templates = list(
        TaskTemplate.objects.filter(
            pipeline_stage__pipeline_id=journey.pipeline_id,
            pipeline_stage__stage=templates_stage or stage,
            purpose=purpose,
        )
    )
    errors = dag_errors([(t.key, t.depends_on) for t in templates])
    if errors:
        raise ValidationFailed(
            {"pipeline": [f"The {purpose} tasks of {templates_stage or stage} are not a valid DAG: {errors}"]}
        )
    unit = UnitOfWork.objects.create(journey=journey, stage=stage, purpose=purpose)
    WorkTask.objects.bulk_create(
        [
            WorkTask(
                unit=unit,
                key=t.key,
                name=t.name,
                agent_id=t.agent_id,
                intent=t.intent,
                params=t.params,
                depends_on=list(t.depends_on),
                position=index,
                max_retries=t.max_retries,
                retry_backoff_seconds=t.retry_backoff_seconds,
            )
            for index, t in enumerate(templates)
        ]
    )
    stage_event_emit(
        type="UnitOfWorkCreated",
        journey=journey,
        key=f"stages:unit:{unit.work_id}:created",
        payload=_unit_payload(
            unit, tasks=[{"key": t.key, "intent": t.intent, "depends_on": t.depends_on} for t in templates]
        ),
    )
    _execute(journey=journey, unit=unit)
    return unit


def _execute(*, journey: StagedJourney, unit: UnitOfWork) -> None:
    """The seed's ``execute()``: start the unit and queue the tasks without dependencies."""
    unit.start()
    unit.save(update_fields=["status", "started_at"])
    if not unit.tasks.exists():
        unit_of_work_complete_locked(journey=journey, unit=unit)
        return
    unit_of_work_queue_ready(unit=unit)


def unit_of_work_queue_ready(*, unit: UnitOfWork) -> list[int]:
    """Queue every pending task whose dependencies all succeeded; dispatch them after commit."""
    tasks = list(unit.tasks.only("pk", "key", "status", "depends_on"))
    succeeded = {t.key for t in tasks if t.status == WorkTask.Status.SUCCEEDED}
    ready = [
        t.pk
        for t in tasks
        if t.status == WorkTask.Status.PENDING and all(d in succeeded for d in t.depends_on)
    ]
    if ready:
        WorkTask.objects.filter(pk__in=ready, status=WorkTask.Status.PENDING).update(
            status=WorkTask.Status.QUEUED, next_attempt_at=timezone.now()
        )
        dispatch_on_commit(ready)
    return ready


def dispatch_on_commit(task_pks: Iterable[int], *, countdown: float | None = None) -> None:
    """Send these tasks to a worker once the surrounding transaction commits."""
    WORK_TASKS.enqueue_on_commit(task_pks, countdown=countdown)


def unit_of_work_complete_locked(*, journey: StagedJourney, unit: UnitOfWork) -> None:
    """Complete the unit (every task succeeded): a rollback completes, a setup checks its gate."""
    unit.succeed()
    unit.save(update_fields=["status", "finished_at"])
    stage_event_emit(
        type="UnitOfWorkCompleted",
        journey=journey,
        key=f"stages:unit:{unit.work_id}:completed",
        payload=_unit_payload(unit),
    )
    if unit.purpose == UnitOfWork.Purpose.ROLLBACK and journey.stage == Stage.ROLLBACK:
        from stages.services.staged_journeys import staged_journey_complete_rollback_locked

        staged_journey_complete_rollback_locked(journey=journey, unit=unit)
    elif unit.purpose == UnitOfWork.Purpose.SETUP and journey.stage == unit.stage:
        # Seed §7: UnitOfWorkCompleted → check exit criteria (and promote if they all pass).
        AUTO_PROMOTIONS.enqueue_on_commit([journey.pk])


def unit_of_work_fail_locked(*, journey: StagedJourney, unit: UnitOfWork, task: WorkTask) -> None:
    """Fail the running unit because ``task`` failed for good (a retry starts a new round)."""
    if unit.status != UnitOfWork.Status.RUNNING:
        return
    unit.fail()
    unit.save(update_fields=["status", "finished_at"])
    stage_event_emit(
        type="UnitOfWorkFailed",
        journey=journey,
        key=f"stages:unit:{unit.work_id}:round:{unit.round}:failed",
        payload=_unit_payload(unit, failed_task=task.key, error=task.error),
    )


def _unit_payload(unit: UnitOfWork, **details: Any) -> dict[str, Any]:
    return {"work_id": str(unit.work_id), "stage": unit.stage, "purpose": unit.purpose, **details}


# --------------------------------------------------------------------------------------------
# Staff actions: retry failed tasks, cancel
# --------------------------------------------------------------------------------------------
@transaction.atomic
def unit_of_work_retry(*, unit: UnitOfWork, actor: str = "") -> UnitOfWork:
    """The seed's ``retry_failed_tasks()``: failed tasks get a fresh round of retries."""
    journey = StagedJourney.objects.select_for_update().get(pk=unit.journey_id)
    unit = UnitOfWork.objects.select_for_update().get(pk=unit.pk)
    if unit.status != UnitOfWork.Status.FAILED:
        raise Conflict(
            f"The unit of work is {unit.status}; only a failed one can be retried.",
            code="invalid_transition",
            current_status=unit.status,
            reason="Nothing failed.",
        )
    unit.retry()
    unit.save(update_fields=["status", "round", "finished_at"])
    unit.tasks.filter(status=WorkTask.Status.FAILED).update(
        status=WorkTask.Status.PENDING, retry_count=0, error="", finished_at=None
    )
    unit_of_work_queue_ready(unit=unit)
    logger.info("unit of work %s of %s retried by %s", unit.work_id, journey.client_id, actor or "system")
    return unit


@transaction.atomic
def unit_of_work_cancel(*, unit: UnitOfWork, actor: str = "") -> UnitOfWork:
    """The seed's ``cancel()``: open tasks are cancelled; a running attempt's outcome is dropped."""
    journey = StagedJourney.objects.select_for_update().get(pk=unit.journey_id)
    unit = UnitOfWork.objects.select_for_update().get(pk=unit.pk)
    if not unit.is_open:
        raise Conflict(
            f"The unit of work is already {unit.status}.",
            code="invalid_transition",
            current_status=unit.status,
            reason="Only a pending, running or failed unit of work can be cancelled.",
        )
    if unit.purpose == UnitOfWork.Purpose.ROLLBACK and journey.stage == Stage.ROLLBACK:
        raise Conflict(
            "The journey is rolling back and needs this unit of work; retry it, or cancel the journey.",
            code="invalid_transition",
            current_status=unit.status,
            reason="A rollback cannot complete without its unit of work.",
        )
    unit_of_work_cancel_locked(journey=journey, unit=unit, actor=actor)
    return unit


def unit_of_work_cancel_locked(*, journey: StagedJourney, unit: UnitOfWork, actor: str = "") -> None:
    unit.cancel()
    unit.save(update_fields=["status", "finished_at"])
    unit.tasks.filter(status__in=WorkTask.OPEN_STATUSES).update(
        status=WorkTask.Status.CANCELLED, lease_until=None, next_attempt_at=None, finished_at=timezone.now()
    )
    stage_event_emit(
        type="UnitOfWorkCancelled",
        journey=journey,
        key=f"stages:unit:{unit.work_id}:cancelled",
        payload=_unit_payload(unit, by=actor or "system"),
    )


# --------------------------------------------------------------------------------------------
# The sweeper (beat)
# --------------------------------------------------------------------------------------------
def work_tasks_sweep() -> int:
    """Re-dispatch tasks the broker lost (queued and due for ``STAGES_TASK_SWEEP_AFTER_SECONDS``)
    or a dead worker left behind (running, lease expired). Returns how many.

    The tasks are only read: the worker's claim keeps a task sent twice from running twice."""
    return len(WORK_TASKS.sweep(lost_after=setting("STAGES_TASK_SWEEP_AFTER_SECONDS")))
