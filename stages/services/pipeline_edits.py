"""Editing pipelines piece by piece (the API's writes): the pipeline itself, its stages, their
exit criteria and task templates. Each edit locks the pipeline row, so two edits of one stage's
task graph are checked one after the other, and is validated as the admin validates it.

A pipeline that staged journeys have used is never deleted (their history names it): deleting
it answers 409 with the number of journeys. Removing a stage while journeys are active on the
pipeline answers 409 too; criteria and task templates may change at any time (gates are checked
against the criteria of the moment; a unit of work keeps the tasks it was created with).
"""

from typing import Any

from django.db import transaction
from django.db.models import Max

from journeys.errors import Conflict, ValidationFailed
from stages.models import ExitCriterion, Pipeline, PipelineStage, StagedJourney, TaskTemplate
from stages.models.stages import ACTIVE_STAGES
from stages.services.pipelines import (
    Problem,
    TemplateSpec,
    criterion_errors,
    stage_definition_errors,
    stage_rows_create,
    task_template_problems,
)

PIPELINE_FIELDS = ("slug", "name", "description", "is_default")
STAGE_FIELDS = ("auto_promote", "description")
# What staff edit of a criterion and of a task template (the admin's forms and the API's serializers).
CRITERION_FIELDS = (
    "key",
    "label",
    "kind",
    "operator",
    "threshold",
    "event_type",
    "payload_filter",
    "window_days",
    "triggers_rollback",
    "position",
)
TEMPLATE_FIELDS = (
    "purpose",
    "key",
    "name",
    "intent",
    "agent_id",
    "depends_on",
    "params",
    "max_retries",
    "retry_backoff_seconds",
    "position",
)


def _lock(pipeline: Pipeline) -> Pipeline:
    return Pipeline.objects.select_for_update().get(pk=pipeline.pk)


def _journey_counts(pipeline: Pipeline) -> tuple[int, int]:
    journeys = StagedJourney.objects.filter(pipeline=pipeline)
    return journeys.count(), journeys.filter(stage__in=ACTIVE_STAGES).count()


def _changed(row: Any, data: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    """Set the given fields that differ on ``row``; answer their names (for ``update_fields``)."""
    changed = [name for name in fields if name in data and getattr(row, name) != data[name]]
    for name in changed:
        setattr(row, name, data[name])
    return changed


# --- pipelines ----------------------------------------------------------------------------------
@transaction.atomic
def pipeline_update(*, pipeline: Pipeline, data: dict[str, Any]) -> Pipeline:
    """Change the slug, name, description, or make it the default (the previous default stops
    being one). A default stays the default until another pipeline takes over."""
    pipeline = _lock(pipeline)
    if "slug" in data and Pipeline.objects.filter(slug=data["slug"]).exclude(pk=pipeline.pk).exists():
        raise ValidationFailed({"slug": [f"A pipeline {data['slug']!r} exists already."]})
    if data.get("is_default") is False and pipeline.is_default:
        raise ValidationFailed(
            {"is_default": ["Journeys started without a pipeline use this one: make another the default."]}
        )
    if data.get("is_default") and not pipeline.is_default:
        Pipeline.objects.select_for_update().filter(is_default=True).update(is_default=False)
    changed = _changed(pipeline, data, PIPELINE_FIELDS)
    pipeline.save(update_fields=[*changed, "updated_at"])
    return pipeline


@transaction.atomic
def pipeline_delete(*, pipeline: Pipeline) -> None:
    """Delete an unused pipeline with its stages, criteria and templates; 409 otherwise."""
    pipeline = _lock(pipeline)
    if pipeline.is_default:
        raise Conflict(
            f"{pipeline.slug!r} is the default pipeline; make another the default first.",
            code="pipeline_is_default",
            reason="Journeys started without naming a pipeline use the default.",
        )
    total, active = _journey_counts(pipeline)
    if total:
        raise Conflict(
            f"{pipeline.slug!r} is used by {total} staged journeys ({active} active); their history "
            "names it, so it cannot be deleted.",
            code="pipeline_in_use",
            reason="A pipeline that staged journeys have used is kept with their history.",
            journeys=total,
            active_journeys=active,
        )
    pipeline.delete()


# --- stages -------------------------------------------------------------------------------------
@transaction.atomic
def pipeline_stage_create(*, pipeline: Pipeline, stage: str, spec: dict[str, Any]) -> PipelineStage:
    """Add a missing stage with its criteria and task templates, validated together."""
    pipeline = _lock(pipeline)
    if pipeline.stages.filter(stage=stage).exists():
        raise ValidationFailed({"stage": [f"{pipeline.slug!r} has a {stage} stage already; change it."]})
    errors = stage_definition_errors(spec, prefix="stage")
    if errors:
        raise ValidationFailed({key.removeprefix("stage."): messages for key, messages in errors.items()})
    pipeline.save(update_fields=["updated_at"])
    return stage_rows_create(pipeline=pipeline, stage=stage, spec=spec)


@transaction.atomic
def pipeline_stage_update(*, pipeline_stage: PipelineStage, data: dict[str, Any]) -> PipelineStage:
    _lock(pipeline_stage.pipeline)
    pipeline_stage.save(update_fields=_changed(pipeline_stage, data, STAGE_FIELDS))
    return pipeline_stage


@transaction.atomic
def pipeline_stage_delete(*, pipeline_stage: PipelineStage) -> None:
    """Remove a stage (its gate and work) unless journeys are active on the pipeline."""
    pipeline = _lock(pipeline_stage.pipeline)
    _, active = _journey_counts(pipeline)
    if active:
        raise Conflict(
            f"{active} journeys are active on {pipeline.slug!r}; its stages cannot be removed now.",
            code="pipeline_in_use",
            reason="An active journey may be in, or move into, this stage.",
            active_journeys=active,
        )
    pipeline_stage.delete()


# --- exit criteria ------------------------------------------------------------------------------
def _criterion_check(pipeline_stage: PipelineStage, criterion: ExitCriterion) -> None:
    errors = criterion_errors(
        kind=criterion.kind,
        operator=criterion.operator,
        threshold=criterion.threshold,
        event_type=criterion.event_type,
        payload_filter=criterion.payload_filter,
    )
    taken = pipeline_stage.criteria.filter(key=criterion.key).exclude(pk=criterion.pk)
    if taken.exists():
        errors["key"] = [f"The {pipeline_stage.stage} stage has a criterion {criterion.key!r} already."]
    if errors:
        raise ValidationFailed(errors)


@transaction.atomic
def exit_criterion_create(*, pipeline_stage: PipelineStage, data: dict[str, Any]) -> ExitCriterion:
    _lock(pipeline_stage.pipeline)
    criterion = ExitCriterion(
        pipeline_stage=pipeline_stage, **{n: data[n] for n in CRITERION_FIELDS if n in data}
    )
    if "position" not in data:
        criterion.position = (pipeline_stage.criteria.aggregate(last=Max("position"))["last"] or 0) + 1
    _criterion_check(pipeline_stage, criterion)
    criterion.save()
    return criterion


@transaction.atomic
def exit_criterion_update(*, criterion: ExitCriterion, data: dict[str, Any]) -> ExitCriterion:
    _lock(criterion.pipeline_stage.pipeline)
    changed = _changed(criterion, data, CRITERION_FIELDS)
    _criterion_check(criterion.pipeline_stage, criterion)
    criterion.save(update_fields=changed)  # nothing changed: Django skips the query
    return criterion


@transaction.atomic
def exit_criterion_delete(*, criterion: ExitCriterion) -> None:
    _lock(criterion.pipeline_stage.pipeline)
    criterion.delete()


# --- task templates -----------------------------------------------------------------------------
def _templates_of(pipeline_stage: PipelineStage) -> list[TaskTemplate]:
    """The stage's templates as they are now, under the pipeline's lock (never a prefetched copy
    read before the lock was taken)."""
    return list(TaskTemplate.objects.filter(pipeline_stage=pipeline_stage))


def _spec(template: TaskTemplate) -> TemplateSpec:
    return TemplateSpec(
        key=template.key,
        intent=template.intent,
        depends_on=template.depends_on,
        agent_id=template.agent_id,
        params=template.params,
        purpose=template.purpose,
    )


def _new_problems(pipeline_stage: PipelineStage, after: list[TaskTemplate]) -> set[Problem]:
    """Problems of the stage's templates once ``after`` replaces them that were not there
    before (so an edit is not blamed for what was already wrong elsewhere)."""
    before = {*task_template_problems([_spec(t) for t in _templates_of(pipeline_stage)])}
    return {*task_template_problems([_spec(t) for t in after])} - before


def _template_check(template: TaskTemplate) -> None:
    """The edited template's own problems as field errors; what it breaks in others as well."""
    others = [t for t in _templates_of(template.pipeline_stage) if t.pk != template.pk]
    clash = [t for t in others if t.key == template.key and t.purpose == template.purpose]
    own = task_template_problems([_spec(t) for t in [*others, template]])
    errors: dict[str, list[str]] = {}
    if clash:
        errors["key"] = [f"The stage has a {template.purpose} task {template.key!r} already."]
    for problem in own:
        if problem.key == template.key and problem.field != "key":
            errors.setdefault(problem.field, []).append(problem.message)
    for problem in _new_problems(template.pipeline_stage, [*others, template]):
        if problem.key != template.key:
            errors.setdefault("depends_on" if problem.key == "__all__" else "key", []).append(problem.message)
    if errors:
        raise ValidationFailed(errors)


@transaction.atomic
def task_template_create(*, pipeline_stage: PipelineStage, data: dict[str, Any]) -> TaskTemplate:
    """Add a task to a stage's setup or rollback work; the stage's graph must stay a DAG."""
    _lock(pipeline_stage.pipeline)
    template = TaskTemplate(
        pipeline_stage=pipeline_stage, **{n: data[n] for n in TEMPLATE_FIELDS if n in data}
    )
    if "position" not in data:
        last = pipeline_stage.task_templates.filter(purpose=template.purpose).aggregate(last=Max("position"))
        template.position = (last["last"] or 0) + 1
    _template_check(template)
    template.save()
    return template


@transaction.atomic
def task_template_update(*, template: TaskTemplate, data: dict[str, Any]) -> TaskTemplate:
    _lock(template.pipeline_stage.pipeline)
    changed = _changed(template, data, TEMPLATE_FIELDS)
    _template_check(template)
    template.save(update_fields=changed)  # nothing changed: Django skips the query
    return template


@transaction.atomic
def task_template_delete(*, template: TaskTemplate) -> None:
    """Remove a task unless another of the stage depends on it (409 naming them)."""
    _lock(template.pipeline_stage.pipeline)
    rest = [t for t in _templates_of(template.pipeline_stage) if t.pk != template.pk]
    dependants = sorted(t.key for t in rest if t.purpose == template.purpose and template.key in t.depends_on)
    if dependants:
        raise Conflict(
            f"{', '.join(dependants)} depend on {template.key!r}; change their depends_on first.",
            code="task_has_dependants",
            reason="A stage's tasks form a graph; removing this task would leave a dependency dangling.",
            dependants=dependants,
        )
    template.delete()
