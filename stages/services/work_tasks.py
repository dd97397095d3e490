"""Work tasks: one task's attempt run by a worker, and the outcome staff report for a waiting one.

A worker claims the task (``WORK_TASKS``, compare-and-swap on status and lease), runs its intent
outside any transaction, then writes the outcome with another compare-and-swap on (status,
attempts), so a worker that lost its lease cannot overwrite a newer attempt. Every writer locks
journey, then unit, then reads the task: one lock order. The unit's lifecycle (what becomes
ready, completing or failing the unit) is ``stages.services.work``.
"""

import logging
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from journeys.errors import Conflict, ValidationFailed
from stages.intents import IntentContext, NeedsConfiguration, TaskFailedPermanently, intents
from stages.models import Agent, StagedJourney, UnitOfWork, WorkTask
from stages.services.events import stage_event_emit
from stages.services.work import (
    WORK_TASKS,
    dispatch_on_commit,
    unit_of_work_complete_locked,
    unit_of_work_fail_locked,
    unit_of_work_queue_ready,
)

logger = logging.getLogger(__name__)

ERROR_MAX = 4000  # characters of an error kept on a task


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
        unit_of_work_complete_locked(journey=journey, unit=unit)
    else:
        unit_of_work_queue_ready(unit=unit)


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
    _emit_failed(
        journey,
        unit,
        task,
        attempt=attempt,
        will_retry=will_retry,
        retry_count=task.retry_count,
        max_retries=task.max_retries,
    )
    if will_retry:
        dispatch_on_commit([task.pk], countdown=delay.total_seconds())
        return "retrying"
    unit_of_work_fail_locked(journey=journey, unit=unit, task=task)
    return "failed"


def _emit_failed(
    journey: StagedJourney, unit: UnitOfWork, task: WorkTask, *, attempt: int, **details: Any
) -> None:
    """``TaskExecutionFailed`` for this attempt: the task, its error, and whether it will retry."""
    stage_event_emit(
        type="TaskExecutionFailed",
        journey=journey,
        key=f"stages:task:{task.task_id}:attempt:{attempt}:failed",
        payload={**_task_payload(task, unit, attempt=attempt), "error": task.error, **details},
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
    _emit_failed(journey, unit, task, attempt=task.attempts, will_retry=False)
    unit_of_work_fail_locked(journey=journey, unit=unit, task=task)
    return task
