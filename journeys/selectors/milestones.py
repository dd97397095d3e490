"""Read-side queries of milestones: each step's status on a participant's path."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeys.engine.definition import Definition, definition_for
from journeys.errors import NotFound
from journeys.models import StepRun, UserJourney

MILESTONE_STATUS = {
    StepRun.Status.PENDING: "in_progress",
    StepRun.Status.SCHEDULED: "in_progress",
    StepRun.Status.RUNNING: "in_progress",
    StepRun.Status.SUCCEEDED: "completed",
    StepRun.Status.SKIPPED: "skipped",
    StepRun.Status.FAILED: "failed",
    StepRun.Status.CANCELLED: "cancelled",
}


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
    return definition.reachable_from(user_journey.current_step or definition.entry)


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
