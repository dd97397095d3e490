"""Serializers of pipelines through the API: input shapes (checked field by field, then by the
services as a whole) and output shapes, kept apart.

A pipeline is written as ``DEFAULT_PIPELINE`` is (``stages.services.pipelines``): its stages keyed
by name, each with ``criteria`` and ``setup``/``rollback`` task templates.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from journeys.api.fields import FiniteFloatField
from stages.models import ExitCriterion, Pipeline, PipelineStage, TaskTemplate
from stages.models.stages import PIPELINE_STAGE_CHOICES, PIPELINE_STAGES
from stages.services.pipeline_edits import CRITERION_FIELDS, TEMPLATE_FIELDS

RETRY_BACKOFF_MAX = 3600.0  # seconds; the engine caps any retry delay at an hour


# --- input ------------------------------------------------------------------------------------
class ExitCriterionInSerializer(serializers.ModelSerializer):
    threshold = FiniteFloatField(required=False, allow_null=True, help_text="metric: the threshold.")
    payload_filter = serializers.DictField(
        required=False, help_text='no_events: payload fields that must match, e.g. {"severity": ["P0"]}.'
    )

    class Meta:
        model = ExitCriterion
        fields = list(CRITERION_FIELDS)
        extra_kwargs = {"position": {"required": False}}


class TaskTemplateInSerializer(serializers.ModelSerializer):
    purpose = serializers.ChoiceField(
        choices=TaskTemplate.Purpose.choices, default=TaskTemplate.Purpose.SETUP
    )
    params = serializers.DictField(required=False, help_text="What the intent needs (see its contract).")
    depends_on = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="Keys of tasks of the same stage and purpose to finish first.",
    )
    retry_backoff_seconds = FiniteFloatField(
        required=False,
        min_value=0,
        max_value=RETRY_BACKOFF_MAX,
        help_text="First retry delay, doubled after.",
    )

    class Meta:
        model = TaskTemplate
        fields = list(TEMPLATE_FIELDS)
        extra_kwargs = {"position": {"required": False}}


class StageDefinitionSerializer(serializers.Serializer):
    auto_promote = serializers.BooleanField(default=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    criteria = ExitCriterionInSerializer(many=True, required=False, default=list)
    setup = TaskTemplateInSerializer(many=True, required=False, default=list)
    rollback = TaskTemplateInSerializer(many=True, required=False, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Which list a template is in says its purpose.
        for purpose in (TaskTemplate.Purpose.SETUP, TaskTemplate.Purpose.ROLLBACK):
            for template in attrs[purpose]:
                template.pop("purpose", None)
        return attrs


class StageInSerializer(StageDefinitionSerializer):
    stage = serializers.ChoiceField(choices=PIPELINE_STAGE_CHOICES)


class PipelineInSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    is_default = serializers.BooleanField(
        default=False,
        help_text="Used by journeys started without a pipeline; takes over from the current one.",
    )
    stages = serializers.DictField(
        child=StageDefinitionSerializer(),
        help_text=f"Keyed by stage ({', '.join(PIPELINE_STAGES)}); a stage left out has no gate and no work.",
    )

    def validate_stages(self, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(PIPELINE_STAGES))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown stage {', '.join(unknown)}; a pipeline has {', '.join(PIPELINE_STAGES)}."
            )
        return {stage: value[stage] for stage in PIPELINE_STAGES if stage in value}


class PipelineUpdateSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=100, required=False)
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    is_default = serializers.BooleanField(required=False)


class PipelineStageUpdateSerializer(serializers.Serializer):
    auto_promote = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)


# --- output -----------------------------------------------------------------------------------
class ExitCriterionSerializer(serializers.ModelSerializer):
    operator = serializers.ChoiceField(
        choices=ExitCriterion.Operator.choices,
        allow_blank=True,
        read_only=True,
        help_text="Metric criteria only; blank for the other kinds.",
    )
    expectation = serializers.CharField(read_only=True, help_text="What passing means, in words.")

    class Meta:
        model = ExitCriterion
        fields = [*ExitCriterionInSerializer.Meta.fields, "expectation"]
        read_only_fields = fields


class TaskTemplateSerializer(serializers.ModelSerializer):
    depends_on = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = TaskTemplate
        fields = TaskTemplateInSerializer.Meta.fields
        read_only_fields = fields


class PipelineStageSerializer(serializers.ModelSerializer):
    pipeline = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    criteria = ExitCriterionSerializer(many=True, read_only=True)
    setup = serializers.SerializerMethodField(help_text="Tasks run when a journey enters the stage.")
    rollback = serializers.SerializerMethodField(help_text="Tasks run when a journey rolls back out of it.")

    class Meta:
        model = PipelineStage
        fields = ["pipeline", "stage", "auto_promote", "description", "criteria", "setup", "rollback"]
        read_only_fields = fields

    def _templates(self, stage: PipelineStage, purpose: str) -> list[dict]:
        templates = [t for t in stage.task_templates.all() if t.purpose == purpose]
        return TaskTemplateSerializer(sorted(templates, key=lambda t: (t.position, t.id)), many=True).data

    @extend_schema_field(TaskTemplateSerializer(many=True))
    def get_setup(self, stage: PipelineStage) -> list[dict]:
        return self._templates(stage, TaskTemplate.Purpose.SETUP)

    @extend_schema_field(TaskTemplateSerializer(many=True))
    def get_rollback(self, stage: PipelineStage) -> list[dict]:
        return self._templates(stage, TaskTemplate.Purpose.ROLLBACK)


class PipelineSerializer(serializers.ModelSerializer):
    stages = serializers.SerializerMethodField(help_text="Keyed by stage, in the stages' order.")
    journeys_total = serializers.IntegerField(read_only=True, help_text="Staged journeys that used it.")
    journeys_active = serializers.IntegerField(read_only=True, help_text="Of which still active.")

    class Meta:
        model = Pipeline
        fields = [
            "slug",
            "name",
            "description",
            "is_default",
            "stages",
            "journeys_total",
            "journeys_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=PipelineStageSerializer()))
    def get_stages(self, pipeline: Pipeline) -> dict[str, Any]:
        stages = sorted(pipeline.stages.all(), key=lambda s: s.position)
        return {stage.stage: PipelineStageSerializer(stage).data for stage in stages}
