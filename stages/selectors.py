"""Read-side queries of staged journeys, units of work and their history."""

from django.db.models import Prefetch, QuerySet

from journeys.errors import NotFound
from journeys.models import Event
from stages.models import PipelineStage, StagedJourney, StageTransition, UnitOfWork, WorkTask
from stages.models.stages import ACTIVE_STAGES, PIPELINE_STAGES
from stages.services.events import EVENT_SOURCE


def staged_journeys_list() -> QuerySet[StagedJourney]:
    """Filtered by ``stages.api.filters.StagedJourneyFilterSet``."""
    return StagedJourney.objects.select_related("pipeline")


def staged_journey_get(*, client_id: str) -> StagedJourney:
    """The client's active journey, or else its most recent one."""
    journeys = StagedJourney.objects.select_related("pipeline").prefetch_related(
        Prefetch("transitions", queryset=StageTransition.objects.order_by("id"))
    )
    journey = (
        journeys.filter(client_id=client_id, stage__in=ACTIVE_STAGES).first()
        or journeys.filter(client_id=client_id).order_by("-id").first()
    )
    if journey is None:
        raise NotFound(f"Client {client_id!r} has no staged journey.")
    return journey


def units_of_work_list(*, journey: StagedJourney) -> QuerySet[UnitOfWork]:
    return journey.units_of_work.prefetch_related(
        Prefetch("tasks", queryset=WorkTask.objects.order_by("position", "id"))
    )


def unit_of_work_get(*, work_id) -> UnitOfWork:
    unit = UnitOfWork.objects.select_related("journey").filter(work_id=work_id).first()
    if unit is None:
        raise NotFound(f"No unit of work {work_id}.")
    return unit


def work_task_get(*, task_id) -> WorkTask:
    task = WorkTask.objects.select_related("unit__journey").filter(task_id=task_id).first()
    if task is None:
        raise NotFound(f"No task {task_id}.")
    return task


def journey_events(*, journey: StagedJourney) -> QuerySet[Event]:
    """The domain events the stages app emitted for this client's journeys (newest first)."""
    return Event.objects.select_related("participant").filter(
        participant_id=journey.participant_id, source=EVENT_SOURCE
    )


def journeys_awaiting_auto_promotion(*, limit: int) -> list[int]:
    """Journeys in a stage configured to promote automatically, longest waiting first."""
    automatic = PipelineStage.objects.filter(auto_promote=True).values_list("pipeline_id", "stage")
    pairs = set(automatic)
    candidates = (
        StagedJourney.objects.filter(stage__in=PIPELINE_STAGES)
        .order_by("stage_entered_at")
        .values_list("pk", "pipeline_id", "stage")
    )
    found: list[int] = []
    for pk, pipeline_id, stage in candidates.iterator():
        if (pipeline_id, stage) in pairs:
            found.append(pk)
            if len(found) >= limit:
                break
    return found
