"""Read-side queries of journeys and user journeys: lists, progress, milestones, history."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from journeys.engine.definition import Definition, definition_for
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
    duration_seconds: float | None  # completed_at - started_at, once both are known
    on_path: bool  # counts toward progress: not skipped, and reached or still reachable
    result: dict[str, Any]
    error: str


def reachable_from(definition: Definition, start: str | None) -> set[str]:
    """Every step the journey can still reach from ``start`` (itself included)."""
    seen: set[str] = set()
    stack = [start] if start else []
    while stack:
        key = stack.pop()
        if key in seen or key not in definition.steps:
            continue
        seen.add(key)
        stack.extend(definition.successors(key))
    return seen


def predecessors_of(definition: Definition, key: str) -> list[str]:
    """The steps that lead to ``key``, in order."""
    return [k for k in definition.order if key in definition.successors(k)]


def _milestone(step, run: StepRun | None, ahead: set[str]) -> Milestone:
    status = MILESTONE_STATUS[run.status] if run else "not_started"
    started = run.created_at if run else None
    finished = run.finished_at if run else None
    reached = status in {"completed", "in_progress", "failed"}
    return Milestone(
        key=step.key,
        name=step.name,
        kind=step.kind,
        is_milestone=step.is_milestone,
        status=status,
        step_run_id=run.pk if run else None,
        attempts=run.attempts if run else 0,
        started_at=started,
        completed_at=finished,
        duration_seconds=(finished - started).total_seconds() if started and finished else None,
        on_path=status != "skipped" and (reached or step.key in ahead),
        result=run.result if run else {},
        error=run.error if run else "",
    )


def _latest_runs(user_journey: UserJourney) -> dict[str, StepRun]:
    latest: dict[str, StepRun] = {}
    for run in StepRun.objects.filter(user_journey=user_journey, rolled_back=False).order_by("seq"):
        latest[run.step_key] = run
    return latest


def _ahead(user_journey: UserJourney, definition: Definition) -> set[str]:
    """What the participant's path may still include: reachable from where the journey stands."""
    return reachable_from(definition, user_journey.current_step or definition.entry)


def user_journey_milestones(*, user_journey: UserJourney) -> list[Milestone]:
    """Each milestone's status, from its newest step run that was not rolled back.

    A milestone is on the participant's path (``on_path``) when it was not skipped and was
    reached or can still be reached from the current step; one a branch went around is not.
    """
    definition = definition_for(user_journey.version)
    latest = _latest_runs(user_journey)
    ahead = _ahead(user_journey, definition)
    return [_milestone(step, latest.get(step.key), ahead) for step in definition.milestones()]


def user_journey_milestone(*, user_journey: UserJourney, key: str) -> dict[str, Any]:
    """One milestone (any step of the journey, by key): status, times, duration, neighbours."""
    definition = definition_for(user_journey.version)
    step = definition.steps.get(key)
    if step is None:
        raise NotFound(f"The journey has no milestone {key!r}.")
    run = _latest_runs(user_journey).get(key)
    milestone = _milestone(step, run, _ahead(user_journey, definition))
    return {
        "user_journey_id": user_journey.pk,
        **milestone.__dict__,
        "predecessors": predecessors_of(definition, key),
        "next_steps": definition.successors(key),
    }


@dataclass(frozen=True)
class Progress:
    percent: float
    milestones_completed: int
    milestones_total: int
    current_milestone: str | None


def user_journey_progress(
    *, user_journey: UserJourney, milestones: list[Milestone] | None = None
) -> Progress:
    """Completed milestones over the milestones on the participant's path.

    Skipped milestones and those a branch went around are out of the total; an ended journey
    is not rounded up (one that converted half-way shows how far it got).
    """
    milestones = milestones if milestones is not None else user_journey_milestones(user_journey=user_journey)
    on_path = [m for m in milestones if m.on_path]
    done = sum(m.status == "completed" for m in on_path)
    total = len(on_path)
    if total:
        percent = round(done / total * 100, 1)
    else:
        percent = 100.0 if user_journey.state == UserJourney.State.COMPLETED else 0.0
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
