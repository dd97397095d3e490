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
its messages.
"""

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from journeys.errors import Conflict, ValidationFailed
from journeys.queue import Backoff, Queue
from stages.conf import setting
from stages.dag import dag_errors
from stages.intents import IntentContext, NeedsConfiguration, TaskFailedPermanently, intents
from stages.models import Agent, Stage, StagedJourney, TaskTemplate, UnitOfWork, WorkTask
from stages.services.common import AUTO_PROMOTIONS
from stages.services.events import stage_event_emit

logger = logging.getLogger(__name__)

ERROR_MAX = 4000  # characters of an error kept on a task

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
# Creating and starting
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
        payload={
            "work_id": str(unit.work_id),
            "stage": stage,
            "purpose": purpose,
            "tasks": [{"key": t.key, "intent": t.intent, "depends_on": t.depends_on} for t in templates],
        },
    )
    _execute(journey=journey, unit=unit)
    return unit


def _execute(*, journey: StagedJourney, unit: UnitOfWork) -> None:
    """The seed's ``execute()``: start the unit and queue the tasks without dependencies."""
    unit.start()
    unit.save(update_fields=["status", "started_at"])
    if not unit.tasks.exists():
        _complete_unit(journey=journey, unit=unit)
        return
    _queue_ready(unit)


def _queue_ready(unit: UnitOfWork) -> list[int]:
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


# --------------------------------------------------------------------------------------------
# Running one task (a Celery worker)
# --------------------------------------------------------------------------------------------
def work_task_execute(*, task_pk: int) -> str:
    """Claim the task, run its intent, record the outcome. Returns what happened (``skipped``
    when another worker holds it or it is not due, ``stale`` when the lease was lost)."""
    attempt = _claim(task_pk)
    if attempt is None:
        return "skipped"
    task = WorkTask.objects.select_related("unit__journey").get(pk=task_pk)
    unit, journey = task.unit, task.unit.journey
    with transaction.atomic():
        stage_event_emit(
            type="TaskExecutionStarted",
            journey=journey,
            key=f"stages:task:{task.task_id}:attempt:{attempt}:started",
            payload=_task_payload(task, unit, attempt=attempt),
        )
    dependencies = dict(unit.tasks.filter(key__in=task.depends_on).values_list("key", "result"))
    context = IntentContext(
        task=task,
        agent=Agent.objects.filter(key=task.agent_id).first() if task.agent_id else None,
        client_id=journey.client_id,
        stage=unit.stage,
        purpose=unit.purpose,
        work_id=str(unit.work_id),
        attempt=attempt,
        dependencies=dependencies,
    )
    try:
        intent = intents.get(task.intent)
        if intent is None:
            raise TaskFailedPermanently(f"Unknown intent {task.intent!r}.")
        outcome = intent.execute(context)
    except NeedsConfiguration as exc:
        return _attempt_needs_configuration(task_pk=task_pk, attempt=attempt, error=str(exc))
    except TaskFailedPermanently as exc:
        return _attempt_failed(task_pk=task_pk, attempt=attempt, error=str(exc), retryable=False)
    except Exception as exc:
        logger.warning("task %s (%s) attempt %s failed", task.key, task.task_id, attempt, exc_info=True)
        return _attempt_failed(
            task_pk=task_pk, attempt=attempt, error=f"{type(exc).__name__}: {exc}", retryable=True
        )
    if outcome.waiting:
        return _attempt_waiting(task_pk=task_pk, attempt=attempt, result=outcome.result)
    return _attempt_succeeded(task_pk=task_pk, attempt=attempt, result=outcome.result)


def _claim(task_pk: int) -> int | None:
    """Take the task for this worker; returns the attempt number, or ``None`` if not ours."""
    now = timezone.now()
    with transaction.atomic():
        claimed = WORK_TASKS.claim(
            (WORK_TASKS.due(now) | WORK_TASKS.expired(now)) & Q(pk=task_pk),
            now=now,
            status=WorkTask.Status.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            next_attempt_at=None,
        )
        if not claimed:
            return None
        return WorkTask.objects.filter(pk=task_pk).values_list("attempts", flat=True).get()


def _locked(task_pk: int) -> tuple[StagedJourney, UnitOfWork, WorkTask]:
    """Lock journey, then unit (the one lock order), and read the task fresh."""
    unit_pk, journey_pk = WorkTask.objects.filter(pk=task_pk).values_list("unit_id", "unit__journey_id").get()
    journey = StagedJourney.objects.select_for_update().get(pk=journey_pk)
    unit = UnitOfWork.objects.select_for_update().get(pk=unit_pk)
    task = WorkTask.objects.get(pk=task_pk)
    return journey, unit, task


def _swap(task: WorkTask, *, from_status: str, attempt: int | None = None, **values: Any) -> bool:
    current = WorkTask.objects.filter(pk=task.pk, status=from_status)
    if attempt is not None:
        current = current.filter(attempts=attempt)
    if not current.update(**values):
        return False
    for name, value in values.items():
        setattr(task, name, value)
    return True


@transaction.atomic
def _attempt_succeeded(*, task_pk: int, attempt: int, result: dict[str, Any]) -> str:
    journey, unit, task = _locked(task_pk)
    if not _swap(
        task,
        from_status=WorkTask.Status.RUNNING,
        attempt=attempt,
        status=WorkTask.Status.SUCCEEDED,
        result=result,
        error="",
        lease_until=None,
        finished_at=timezone.now(),
    ):
        return "stale"
    _after_success(journey=journey, unit=unit, task=task, attempt=attempt)
    return "succeeded"


def _after_success(*, journey: StagedJourney, unit: UnitOfWork, task: WorkTask, attempt: int) -> None:
    stage_event_emit(
        type="TaskExecutionCompleted",
        journey=journey,
        key=f"stages:task:{task.task_id}:attempt:{attempt}:completed",
        payload={**_task_payload(task, unit, attempt=attempt), "result": task.result},
    )
    if unit.status != UnitOfWork.Status.RUNNING:
        return  # failed (waiting for a retry) or cancelled: nothing new starts
    if not unit.tasks.exclude(status=WorkTask.Status.SUCCEEDED).exists():
        _complete_unit(journey=journey, unit=unit)
    else:
        _queue_ready(unit)


@transaction.atomic
def _attempt_waiting(*, task_pk: int, attempt: int, result: dict[str, Any]) -> str:
    _journey, _unit, task = _locked(task_pk)  # locked all the same: one lock order for all writers
    swapped = _swap(
        task,
        from_status=WorkTask.Status.RUNNING,
        attempt=attempt,
        status=WorkTask.Status.WAITING,
        result=result,
        lease_until=None,
    )
    return "waiting" if swapped else "stale"


@transaction.atomic
def _attempt_needs_configuration(*, task_pk: int, attempt: int, error: str) -> str:
    """The agent cannot be called yet: the task waits (not a failed try) until it is configured."""
    _journey, _unit, task = _locked(task_pk)
    swapped = _swap(
        task,
        from_status=WorkTask.Status.RUNNING,
        attempt=attempt,
        status=WorkTask.Status.NEEDS_CONFIGURATION,
        error=error[:ERROR_MAX],
        lease_until=None,
    )
    return "needs_configuration" if swapped else "stale"


@transaction.atomic
def _attempt_failed(*, task_pk: int, attempt: int, error: str, retryable: bool) -> str:
    journey, unit, task = _locked(task_pk)
    will_retry = (
        retryable and task.retry_count < task.max_retries and unit.status == UnitOfWork.Status.RUNNING
    )
    now = timezone.now()
    if will_retry:
        delay = WORK_TASKS.backoff.delay(task.retry_count + 1, base=task.retry_backoff_seconds)
        swapped = _swap(
            task,
            from_status=WorkTask.Status.RUNNING,
            attempt=attempt,
            status=WorkTask.Status.QUEUED,
            retry_count=task.retry_count + 1,
            error=error[:ERROR_MAX],
            lease_until=None,
            next_attempt_at=now + delay,
        )
    else:
        swapped = _swap(
            task,
            from_status=WorkTask.Status.RUNNING,
            attempt=attempt,
            status=WorkTask.Status.FAILED,
            error=error[:ERROR_MAX],
            lease_until=None,
            finished_at=now,
        )
    if not swapped:
        return "stale"
    stage_event_emit(
        type="TaskExecutionFailed",
        journey=journey,
        key=f"stages:task:{task.task_id}:attempt:{attempt}:failed",
        payload={
            **_task_payload(task, unit, attempt=attempt),
            "error": task.error,
            "will_retry": will_retry,
            "retry_count": task.retry_count,
            "max_retries": task.max_retries,
        },
    )
    if will_retry:
        dispatch_on_commit([task.pk], countdown=delay.total_seconds())
        return "retrying"
    _fail_unit(journey=journey, unit=unit, task=task)
    return "failed"


def _complete_unit(*, journey: StagedJourney, unit: UnitOfWork) -> None:
    unit.succeed()
    unit.save(update_fields=["status", "finished_at"])
    stage_event_emit(
        type="UnitOfWorkCompleted",
        journey=journey,
        key=f"stages:unit:{unit.work_id}:completed",
        payload={"work_id": str(unit.work_id), "stage": unit.stage, "purpose": unit.purpose},
    )
    if unit.purpose == UnitOfWork.Purpose.ROLLBACK and journey.stage == Stage.ROLLBACK:
        from stages.services.staged_journeys import staged_journey_complete_rollback_locked

        staged_journey_complete_rollback_locked(journey=journey, unit=unit)
    elif unit.purpose == UnitOfWork.Purpose.SETUP and journey.stage == unit.stage:
        # Seed §7: UnitOfWorkCompleted → check exit criteria (and promote if they all pass).
        AUTO_PROMOTIONS.enqueue_on_commit([journey.pk])


def _fail_unit(*, journey: StagedJourney, unit: UnitOfWork, task: WorkTask) -> None:
    if unit.status != UnitOfWork.Status.RUNNING:
        return
    unit.fail()
    unit.save(update_fields=["status", "finished_at"])
    stage_event_emit(
        type="UnitOfWorkFailed",
        journey=journey,
        key=f"stages:unit:{unit.work_id}:round:{unit.round}:failed",
        payload={
            "work_id": str(unit.work_id),
            "stage": unit.stage,
            "purpose": unit.purpose,
            "failed_task": task.key,
            "error": task.error,
        },
    )


def _task_payload(task: WorkTask, unit: UnitOfWork, *, attempt: int) -> dict[str, Any]:
    return {
        "work_id": str(unit.work_id),
        "task_id": str(task.task_id),
        "task": task.key,
        "intent": task.intent,
        "agent_id": task.agent_id,
        "stage": unit.stage,
        "attempt": attempt,
    }


# --------------------------------------------------------------------------------------------
# Staff actions: complete a waiting task, retry failed tasks, cancel
# --------------------------------------------------------------------------------------------
@transaction.atomic
def work_task_complete(
    *,
    task: WorkTask,
    succeeded: bool = True,
    result: dict[str, Any] | None = None,
    error: str = "",
    actor: str = "",
) -> WorkTask:
    """Report the outcome of a waiting task (a manual task, an agent that answered 202)."""
    if not succeeded and not error.strip():
        raise ValidationFailed({"error": ["Say what went wrong when a task did not succeed."]})
    journey, unit, task = _locked(task.pk)
    if task.status != WorkTask.Status.WAITING:
        raise Conflict(
            f"Task {task.key!r} is {task.status}; only a waiting task can be completed.",
            code="invalid_transition",
            current_status=task.status,
            reason="The task is not waiting for an outcome.",
        )
    now = timezone.now()
    if succeeded:
        outcome = {**task.result, **(result or {})}
        if actor:
            outcome["completed_by"] = actor
        _swap(
            task,
            from_status=WorkTask.Status.WAITING,
            status=WorkTask.Status.SUCCEEDED,
            result=outcome,
            finished_at=now,
        )
        _after_success(journey=journey, unit=unit, task=task, attempt=task.attempts)
        return task
    _swap(
        task,
        from_status=WorkTask.Status.WAITING,
        status=WorkTask.Status.FAILED,
        error=error.strip()[:ERROR_MAX],
        result={**task.result, **(result or {})},
        finished_at=now,
    )
    stage_event_emit(
        type="TaskExecutionFailed",
        journey=journey,
        key=f"stages:task:{task.task_id}:attempt:{task.attempts}:failed",
        payload={
            **_task_payload(task, unit, attempt=task.attempts),
            "error": task.error,
            "will_retry": False,
        },
    )
    _fail_unit(journey=journey, unit=unit, task=task)
    return task


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
    _queue_ready(unit)
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
        payload={
            "work_id": str(unit.work_id),
            "stage": unit.stage,
            "purpose": unit.purpose,
            "by": actor or "system",
        },
    )


# --------------------------------------------------------------------------------------------
# The sweeper (beat)
# --------------------------------------------------------------------------------------------
def work_tasks_sweep() -> int:
    """Re-dispatch tasks the broker lost (queued and due for ``STAGES_TASK_SWEEP_AFTER_SECONDS``)
    or a dead worker left behind (running, lease expired). Returns how many.

    The tasks are only read: the worker's claim keeps a task sent twice from running twice."""
    return len(WORK_TASKS.sweep(lost_after=setting("STAGES_TASK_SWEEP_AFTER_SECONDS")))
