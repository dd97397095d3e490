"""Thin Celery wrappers around the stages services. Each takes primitive ids, is safe to run
twice, and returns quietly when its row is gone."""

from celery import shared_task

from stages.conf import setting
from stages.services import history, journeys, work


@shared_task(name="stages.work_task_execute", ignore_result=True)
def work_task_execute_task(task_pk: int) -> str:
    """Run one task of a unit of work (claimed first: a duplicate message does nothing)."""
    from stages.models import WorkTask

    if not WorkTask.objects.filter(pk=task_pk).exists():
        return "gone"
    return work.work_task_execute(task_pk=task_pk)


@shared_task(name="stages.work_tasks_sweep", ignore_result=True)
def work_tasks_sweep_task() -> int:
    """Beat: re-dispatch tasks whose message was lost or whose worker died."""
    return work.work_tasks_sweep()


@shared_task(name="stages.staged_journey_auto_promote", ignore_result=True)
def staged_journey_auto_promote_task(journey_pk: int) -> bool:
    """Promote one journey if its stage promotes automatically and every criterion passes."""
    return journeys.staged_journey_auto_promote(journey_pk=journey_pk)


@shared_task(name="stages.journeys_auto_promote", ignore_result=True)
def journeys_auto_promote_task() -> int:
    """Beat: re-check the gates of journeys waiting in a stage that promotes automatically
    (criteria that pass with time, such as "no critical bugs in 7 days"). Returns promotions."""
    from stages.selectors import journeys_awaiting_auto_promotion

    promoted = 0
    for journey_pk in journeys_awaiting_auto_promotion(limit=setting("STAGES_AUTO_PROMOTE_BATCH")):
        promoted += journeys.staged_journey_auto_promote(journey_pk=journey_pk)
    return promoted


@shared_task(name="stages.history_purge", ignore_result=True)
def stage_history_purge_task(retention_days: int | None = None) -> dict[str, int]:
    """Beat: delete journey history older than the retention period (two years by default)."""
    return history.stage_history_purge(retention_days=retention_days)
