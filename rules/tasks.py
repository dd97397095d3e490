"""Thin Celery wrappers around the evaluation services. Safe to run twice.

``participants_evaluate_enqueue`` is the only code that puts evaluations on the broker; the
schedules queue (``rules.services.evaluation.DUE_SCHEDULES``) calls it after commit.
"""

from celery import shared_task

from rules.services.evaluation import DUE_SCHEDULES, participants_evaluate, participants_evaluate_due


@shared_task(name="rules.evaluate_due", ignore_result=True)
def participants_evaluate_due_task() -> int:
    """Beat: fan out evaluations of participants whose time windows or flag expiries came due."""
    ids = participants_evaluate_due()
    DUE_SCHEDULES.enqueue_on_commit(ids)
    return len(ids)


@shared_task(name="rules.evaluate_participants", ignore_result=True)
def participants_evaluate_task(participant_ids: list[int]) -> int:
    """Evaluate these participants; one that no longer exists is skipped."""
    return participants_evaluate(participant_ids=participant_ids)


def participants_evaluate_enqueue(participant_ids: list[int]) -> None:
    participants_evaluate_task.delay(participant_ids)


def queues_connect() -> None:
    """Give the schedules queue its sender (the app's ``ready``)."""
    DUE_SCHEDULES.connect(participants_evaluate_enqueue)
