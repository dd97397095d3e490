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


def journeys_list(
    *, state: str | None = None, trigger_type: str | None = None, is_active: bool | None = None
) -> QuerySet[Journey]:
    journeys = Journey.objects.select_related("live_version").prefetch_related("steps")
    if state:
        journeys = journeys.filter(state=state)
    if trigger_type:
        journeys = journeys.filter(trigger_type=trigger_type)
    if is_active is not None:
        journeys = (
            journeys.filter(state=Journey.State.PUBLISHED)
            if is_active
            else journeys.exclude(state=Journey.State.PUBLISHED)
        )
    return journeys


def journey_get(*, pk: int) -> Journey:
    try:
        return Journey.objects.select_related("live_version").prefetch_related("steps").get(pk=pk)
    except Journey.DoesNotExist:
        raise NotFound(f"No journey {pk}.") from None


def user_journeys_list(
    *, user_id: str | None = None, journey_id: int | None = None, state: str | None = None
) -> QuerySet[UserJourney]:
    runs = UserJourney.objects.select_related("journey", "participant", "version")
    if user_id:
        runs = runs.filter(participant__user_id=user_id)
    if journey_id:
        runs = runs.filter(journey_id=journey_id)
    if state:
        runs = runs.filter(state=state)
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


def step_runs_list(
    *,
    dead_lettered: bool | None = None,
    status: str | None = None,
    journey_id: int | None = None,
    overdue_seconds: float | None = None,
) -> QuerySet[StepRun]:
    from datetime import timedelta

    from django.utils import timezone

    runs = StepRun.objects.select_related("user_journey__journey", "participant")
    if dead_lettered is not None:
        runs = runs.filter(dead_lettered_at__isnull=not dead_lettered)
    if status:
        runs = runs.filter(status=status)
    if journey_id:
        runs = runs.filter(user_journey__journey_id=journey_id)
    if overdue_seconds is not None:
        runs = runs.filter(
            status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
            due_at__lt=timezone.now() - timedelta(seconds=overdue_seconds),
            user_journey__state=UserJourney.State.ACTIVE,
        )
    return runs
