"""What analytics plugs into journeys' registries."""

from django.db.models import Sum

from analytics.models import StepDayStats
from journeys.registries import StepStats


def step_stats_from_rollups(journey_id: int) -> dict[str, StepStats]:
    """Per step of a journey (all versions and days): reached, waiting, completed, dropped."""
    rows = (
        StepDayStats.objects.filter(journey_id=journey_id)
        .values("step_key")
        .annotate(
            reached=Sum("reached"), waiting=Sum("waiting"), completed=Sum("completed"), dropped=Sum("dropped")
        )
    )
    return {
        row["step_key"]: StepStats(
            reached=row["reached"] or 0,
            waiting=row["waiting"] or 0,
            completed=row["completed"] or 0,
            dropped=row["dropped"] or 0,
        )
        for row in rows
    }
