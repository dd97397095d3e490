"""Thin Celery wrappers around the stages services. Each takes primitive ids, is safe to run
twice, and returns quietly when its row is gone.

The ``*_enqueue`` functions are the only code that puts stages' work on the broker; the tasks
queue (``stages.services.work.WORK_TASKS``) and the auto-promotion channel call them after
commit once ``queues_connect`` ran.
"""

import logging

from celery import shared_task

from stages.conf import setting
from stages.models import WorkTask
from stages.selectors import journeys_awaiting_auto_promotion
from stages.services import history, staged_journeys, work, work_tasks
from stages.services.common import AUTO_PROMOTIONS

logger = logging.getLogger(__name__)


@shared_task(name="stages.work_task_execute", ignore_result=True)
def work_task_execute_task(task_pk: int) -> str:
    """Run one task of a unit of work (claimed first: a duplicate message does nothing)."""
    if not WorkTask.objects.filter(pk=task_pk).exists():
        return "gone"
    return work_tasks.work_task_execute(task_pk=task_pk)


@shared_task(name="stages.work_tasks_sweep", ignore_result=True)
def work_tasks_sweep_task() -> int:
    """Beat: re-dispatch tasks whose message was lost or whose worker died."""
    return work.work_tasks_sweep()


@shared_task(name="stages.staged_journey_auto_promote", ignore_result=True)
def staged_journey_auto_promote_task(journey_pk: int) -> bool:
    """Promote one journey if its stage promotes automatically and every criterion passes."""
    return staged_journeys.staged_journey_auto_promote(journey_pk=journey_pk)


@shared_task(name="stages.journeys_auto_promote", ignore_result=True)
def journeys_auto_promote_task() -> int:
    """Beat: re-check the gates of journeys waiting in a stage that promotes automatically
    (criteria that pass with time, such as "no critical bugs in 7 days"). Returns promotions."""
    promoted = 0
    for journey_pk in journeys_awaiting_auto_promotion(limit=setting("STAGES_AUTO_PROMOTE_BATCH")):
        promoted += staged_journeys.staged_journey_auto_promote(journey_pk=journey_pk)
    return promoted


@shared_task(name="stages.history_purge", ignore_result=True)
def stage_history_purge_task(retention_days: int | None = None) -> dict[str, int]:
    """Beat: delete journey history older than the retention period (two years by default)."""
    return history.stage_history_purge(retention_days=retention_days)


def work_task_execute_enqueue(task_pks: list[int], countdown: float | None = None) -> None:
    """Send one stage task to a worker; the broker down, the sweeper finds it later."""
    [pk] = task_pks  # one task per message (the queue's chunk)
    try:
        work_task_execute_task.apply_async(args=[pk], countdown=countdown)
    except Exception:
        logger.warning("could not enqueue task %s; the sweeper will retry", pk, exc_info=True)


def staged_journey_auto_promote_enqueue(journey_pks: list[int]) -> None:
    """Ask a worker to check one journey's gate; the broker down, beat's periodic check will."""
    [pk] = journey_pks  # one journey per message (the channel's chunk)
    try:
        staged_journey_auto_promote_task.delay(pk)
    except Exception:
        logger.warning(
            "could not enqueue the gate check of journey %s; the periodic check will catch up",
            pk,
            exc_info=True,
        )


def queues_connect() -> None:
    """Give stages' queues their senders (the app's ``ready``)."""
    work.WORK_TASKS.connect(work_task_execute_enqueue)
    AUTO_PROMOTIONS.connect(staged_journey_auto_promote_enqueue)
