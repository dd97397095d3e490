"""Rollups: per journey, version, variant and cohort day; per step as well.

A *cohort day* is the day a user journey started, so every user journey (and every step run of
it) belongs to exactly one row and the rows add up across any range of days: a funnel over
"journeys started last week" is a sum over seven rows per step, never a scan of step runs.

The rows are rebuilt, a cohort day at a time, by ``analytics.rollups.rollups_refresh`` (a beat
task): a day whose runs changed since the last refresh is recomputed from the raw rows and
replaced, so refreshing twice, or refreshing an overlapping window, changes nothing.

Durations are kept as a sum and a count (exact averages) and as a sparse histogram over
logarithmic buckets (``analytics.sketch``), from which medians and p90s are estimated.
"""

from django.db import models

from journeys.models import StepRun


class JourneyDayStats(models.Model):
    """User journeys of one journey version (and A/B variant) that started on one day."""

    journey = models.ForeignKey("journeys.Journey", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("journeys.JourneyVersion", on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=100, blank=True)
    day = models.DateField()
    started = models.PositiveIntegerField(default=0)
    active = models.PositiveIntegerField(default=0, help_text="Active or paused now.")
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    converted = models.PositiveIntegerField(default=0, help_text="Ended by the journey's goal event.")
    duration_count = models.PositiveIntegerField(default=0, help_text="Completed runs with a duration.")
    duration_sum = models.FloatField(default=0, help_text="Seconds from start to completion, summed.")
    duration_buckets = models.JSONField(default=dict, help_text="Sparse log-bucket histogram (seconds).")
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "journey day statistics"
        verbose_name_plural = "journey day statistics"
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "version", "variant", "day"], name="journey_day_stats_unique"
            ),
        ]
        indexes = [models.Index(fields=["journey", "day"], name="journey_day_stats_day")]
        permissions = [("view_analytics", "Can view analytics (metrics, funnels, dashboards)")]

    def __str__(self) -> str:
        return f"journey {self.journey_id} v{self.version_id} {self.variant or '-'} {self.day}"


class StepDayStats(models.Model):
    """What happened at one step to the user journeys of one version that started on one day.

    Counts are of user journeys, not of runs: a step run twice (a retry by staff, a loop) is
    reached once. ``runs`` counts the runs, so ``runs - reached`` is how often a step was re-run.
    """

    journey = models.ForeignKey("journeys.Journey", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("journeys.JourneyVersion", on_delete=models.CASCADE, related_name="+")
    step_key = models.CharField(max_length=80)
    day = models.DateField()
    reached = models.PositiveIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)
    waiting = models.PositiveIntegerField(default=0, help_text="Live user journeys at this step now.")
    completed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(
        default=0, help_text="User journeys that ended failed or cancelled at this step."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Claims by workers, summed over runs.")
    rolled_back = models.PositiveIntegerField(default=0)
    dead_lettered = models.PositiveIntegerField(default=0)
    duration_count = models.PositiveIntegerField(default=0)
    duration_sum = models.FloatField(default=0, help_text="Seconds from entering to finishing, summed.")
    duration_buckets = models.JSONField(default=dict)
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "step day statistics"
        verbose_name_plural = "step day statistics"
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "version", "step_key", "day"], name="step_day_stats_unique"
            ),
        ]
        indexes = [models.Index(fields=["journey", "day"], name="step_day_stats_day")]

    def __str__(self) -> str:
        return f"journey {self.journey_id} {self.step_key} {self.day}"


class RollupState(models.Model):
    """When the last refresh began: runs created, claimed or finished (and user journeys started or
    ended) after that instant, less a safety margin, mark their cohort day for the next refresh."""

    name = models.CharField(max_length=50, unique=True)
    refreshed_from = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    days_refreshed = models.PositiveIntegerField(default=0, help_text="Cohort days rebuilt last time.")

    def __str__(self) -> str:
        return self.name


class Dashboard(JourneyDayStats):
    """The admin's analytics dashboard (no rows of its own: a page over the rollups)."""

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"


class OverdueStepRun(StepRun):
    """Step runs past their due time, or waiting far longer than their step's norm, for staff to
    run now, skip or cancel in bulk."""

    class Meta:
        proxy = True
        verbose_name = "overdue step run"
        verbose_name_plural = "overdue step runs"
