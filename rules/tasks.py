"""Thin Celery wrappers around the evaluation services. Safe to run twice."""

from celery import shared_task
from django.db import transaction

from rules.services.evaluation import DUE_CHUNK, participants_evaluate, participants_evaluate_due


@shared_task(name="rules.evaluate_due", ignore_result=True)
def participants_evaluate_due_task() -> int:
    """Beat: fan out evaluations of participants whose time windows or flag expiries came due."""
    ids = participants_evaluate_due()
    with transaction.atomic():
        for start in range(0, len(ids), DUE_CHUNK):
            chunk = ids[start : start + DUE_CHUNK]
            transaction.on_commit(lambda chunk=chunk: participants_evaluate_task.delay(chunk))
    return len(ids)


@shared_task(name="rules.evaluate_participants", ignore_result=True)
def participants_evaluate_task(participant_ids: list[int]) -> int:
    """Evaluate these participants; one that no longer exists is skipped."""
    return participants_evaluate(participant_ids=participant_ids)
