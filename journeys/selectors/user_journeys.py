"""Read-side queries of user journeys: lists, progress, history."""

from dataclasses import dataclass

from django.db.models import QuerySet

from journeys.errors import NotFound
from journeys.models import StepRun, UserJourney, UserJourneyLog
from journeys.selectors.milestones import Milestone, user_journey_milestones


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
