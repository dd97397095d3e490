"""Read-side queries of step runs."""

from django.db.models import QuerySet

from journeys.models import StepRun


def step_runs_list() -> QuerySet[StepRun]:
    """Filtered by ``journeys.api.filters.StepRunFilterSet`` (the dead-letter queue, overdue runs)."""
    return StepRun.objects.select_related("user_journey__journey", "participant")
