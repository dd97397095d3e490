"""Thin Celery wrappers around the rollups. Safe to run twice (a refresh replaces whole days)."""

from celery import shared_task

from analytics.rollups import rollups_refresh


@shared_task(name="analytics.rollups_refresh", ignore_result=True)
def rollups_refresh_task(full: bool = False) -> int:
    """Beat: rebuild the rollups of the cohort days whose runs changed since the last refresh."""
    return rollups_refresh(full=full).days
