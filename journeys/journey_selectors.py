"""Read-side queries of journeys and user journeys: lists, progress, milestones, history."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from journeys.engine.definition import definition_for
from journeys.errors import NotFound
from journeys.models import Journey, StepRun, UserJourney, UserJourneyLog

MILESTONE_STATUS = {
    StepRun.Status.PENDING: "in_progress",
    StepRun.Status.SCHEDULED: "in_progress",
    StepRun.Status.RUNNING: "in_progress",
    StepRun.Status.SUCCEEDED: "completed",
    StepRun.Status.SKIPPED: "skipped",
    StepRun.Status.FAILED: "failed",
    StepRun.Status.CANCELLED: "cancelled",
}


def journeys_list() -> QuerySet[Journey]:
    """Journeys not deleted; filtered by ``journeys.api.filters.JourneyFilterSet``."""
    return (
        Journey.objects.filter(deleted_at__isnull=True)
        .select_related("live_version")
        .prefetch_related("steps")
    )


def journey_get(*, pk: int) -> Journey:
    try:
        return (
            Journey.objects.filter(deleted_at__isnull=True)
            .select_related("live_version")
            .prefetch_related("steps")
            .get(pk=pk)
        )
    except Journey.DoesNotExist:
        raise NotFound(f"No journey {pk}.") from None


def user_journeys_list(*, user_id: str | None = None) -> QuerySet[UserJourney]:
    """All user journeys, or one participant's; filtered by ``journeys.api.filters``."""
    runs = UserJourney.objects.select_related("journey", "participant", "version")
    if user_id:
        runs = runs.filter(participant__user_id=user_id)
    return runs


def user_journey_get(*, pk: int) -> UserJourney:
    try:
        return UserJourney.objects.select_related("journey", "participant", "version").get(pk=pk)
    except UserJourney.DoesNotExist:
        raise NotFound(f"No user journey {pk}.") from None


@dataclass(frozen=True)
class Milestone:
    key: str
    name: str
    kind: str
    is_milestone: bool
    status: str  # not_started | in_progress | completed | skipped | failed | cancelled
    step_run_id: int | None
    attempts: int
    started_at: datetime | None
    completed_at: datetime | None
    result: dict[str, Any]
    error: str


def user_journey_milestones(*, user_journey: UserJourney) -> list[Milestone]:
    """Each milestone's status, from its newest step run that was not rolled back."""
    definition = definition_for(user_journey.version)
    latest: dict[str, StepRun] = {}
    for run in StepRun.objects.filter(user_journey=user_journey, rolled_back=False).order_by("seq"):
        latest[run.step_key] = run
    milestones = []
    for step in definition.milestones():
        run = latest.get(step.key)
        milestones.append(
            Milestone(
                key=step.key,
                name=step.name,
                kind=step.kind,
                is_milestone=step.is_milestone,
                status=MILESTONE_STATUS[run.status] if run else "not_started",
                step_run_id=run.pk if run else None,
                attempts=run.attempts if run else 0,
                started_at=run.created_at if run else None,
                completed_at=run.finished_at if run else None,
                result=run.result if run else {},
                error=run.error if run else "",
            )
        )
    return milestones


@dataclass(frozen=True)
class Progress:
    percent: float
    milestones_completed: int
    milestones_total: int
    current_milestone: str | None


def user_journey_progress(
    *, user_journey: UserJourney, milestones: list[Milestone] | None = None
) -> Progress:
    milestones = milestones if milestones is not None else user_journey_milestones(user_journey=user_journey)
    done = sum(m.status in {"completed", "skipped"} for m in milestones)
    total = len(milestones)
    if user_journey.state == UserJourney.State.COMPLETED:
        percent = 100.0
    else:
        percent = round(done / total * 100, 1) if total else 0.0
    keys = {m.key for m in milestones}
    current = user_journey.current_step if user_journey.current_step in keys else None
    if user_journey.state == UserJourney.State.COMPLETED:
        current = None
    return Progress(
        percent=percent, milestones_completed=done, milestones_total=total, current_milestone=current
    )


def user_journey_history(*, user_journey: UserJourney) -> tuple[QuerySet[StepRun], QuerySet[UserJourneyLog]]:
    """The timeline: every step run (with its trace) and every transition and staff action."""
    runs = StepRun.objects.filter(user_journey=user_journey).order_by("seq")
    entries = UserJourneyLog.objects.filter(user_journey=user_journey).select_related("actor").order_by("id")
    return runs, entries


def step_runs_list() -> QuerySet[StepRun]:
    """Filtered by ``journeys.api.filters.StepRunFilterSet`` (the dead-letter queue, overdue runs)."""
    return StepRun.objects.select_related("user_journey__journey", "participant")
