"""Read-side queries of pipelines, staged journeys, units of work and their history."""

from django.db.models import Count, Prefetch, Q, QuerySet

from journeys.errors import NotFound
from journeys.models import Event
from stages.models import (
    ExitCriterion,
    Pipeline,
    PipelineStage,
    StagedJourney,
    StageTransition,
    TaskTemplate,
    UnitOfWork,
    WorkTask,
)
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


def pipelines_list() -> QuerySet[Pipeline]:
    """Pipelines with their stages, criteria and templates, and how many journeys use them."""
    return Pipeline.objects.annotate(
        journeys_total=Count("journeys", distinct=True),
        journeys_active=Count("journeys", filter=Q(journeys__stage__in=ACTIVE_STAGES), distinct=True),
    ).prefetch_related("stages__criteria", "stages__task_templates")


def pipeline_get(*, slug: str) -> Pipeline:
    pipeline = pipelines_list().filter(slug=slug).first()
    if pipeline is None:
        raise NotFound(f"No pipeline {slug!r}.")
    return pipeline


def pipeline_stage_get(*, slug: str, stage: str) -> PipelineStage:
    found = (
        PipelineStage.objects.select_related("pipeline")
        .prefetch_related("criteria", "task_templates")
        .filter(pipeline__slug=slug, stage=stage)
        .first()
    )
    if found is None:
        raise NotFound(f"Pipeline {slug!r} has no {stage} stage.")
    return found


def exit_criterion_get(*, slug: str, stage: str, key: str) -> ExitCriterion:
    found = (
        ExitCriterion.objects.select_related("pipeline_stage__pipeline")
        .filter(pipeline_stage__pipeline__slug=slug, pipeline_stage__stage=stage, key=key)
        .first()
    )
    if found is None:
        raise NotFound(f"The {stage} stage of {slug!r} has no exit criterion {key!r}.")
    return found


def task_template_get(*, slug: str, stage: str, purpose: str, key: str) -> TaskTemplate:
    found = (
        TaskTemplate.objects.select_related("pipeline_stage__pipeline")
        .filter(pipeline_stage__pipeline__slug=slug, pipeline_stage__stage=stage, purpose=purpose, key=key)
        .first()
    )
    if found is None:
        raise NotFound(f"The {stage} stage of {slug!r} has no {purpose} task {key!r}.")
    return found
