"""Serializers of the staged lifecycle API: input shapes and output shapes kept apart."""

from rest_framework import serializers

from journeys.api.fields import FiniteFloatField
from journeys.crypto import secret_mask
from journeys.models import Service
from stages.models import Agent, Measurement, Pipeline, StagedJourney, StageTransition, UnitOfWork, WorkTask
from stages.models.pipelines import AGENT_ID_VALIDATOR, KEY_VALIDATOR
from stages.services.common import CLIENT_ID_MAX, REASON_MAX


# --- input ------------------------------------------------------------------------------------
class JourneyStartSerializer(serializers.Serializer):
    client_id = serializers.CharField(
        max_length=CLIENT_ID_MAX, help_text="The client (a participant's user_id)."
    )
    pipeline = serializers.SlugField(
        required=False, help_text="The pipeline's slug; the default pipeline when left out."
    )

    def validate_pipeline(self, value: str) -> Pipeline:
        pipeline = Pipeline.objects.filter(slug=value).first()
        if pipeline is None:
            known = ", ".join(Pipeline.objects.values_list("slug", flat=True)) or "none"
            raise serializers.ValidationError(f"Unknown pipeline {value!r} (known: {known}).")
        return pipeline


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX, help_text="Kept in the history and sent with the event."
    )


class MeasurementsInSerializer(serializers.Serializer):
    values = serializers.DictField(
        child=FiniteFloatField(),
        allow_empty=False,
        help_text="Metric criterion key → measured value, for the journey's current stage.",
    )

    def validate_values(self, value: dict) -> dict:
        bad = [key for key in value if not KEY_VALIDATOR.regex.match(key)]
        if bad:
            raise serializers.ValidationError(
                f"Keys are lower_snake_case criterion keys, not {', '.join(bad)}."
            )
        return value


class ApprovalInSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=100, help_text="An approval criterion of the current stage.")
    approved = serializers.BooleanField(default=True, help_text="false records a rejection.")
    by = serializers.CharField(
        max_length=150, required=False, help_text="Who decided; defaults to the authenticated user."
    )
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class TaskCompleteSerializer(serializers.Serializer):
    succeeded = serializers.BooleanField(default=True)
    result = serializers.DictField(required=False, default=dict, help_text="Merged into the task's result.")
    error = serializers.CharField(
        max_length=4000,
        required=False,
        default="",
        allow_blank=True,
        help_text="Required when succeeded is false.",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs["succeeded"] and not attrs["error"].strip():
            raise serializers.ValidationError({"error": ["Say what went wrong when a task did not succeed."]})
        return attrs


# --- output -----------------------------------------------------------------------------------
class CheckSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField(help_text="unit_of_work, metric, approval or no_events")
    measured = serializers.JSONField(
        allow_null=True, help_text="The value the check saw (null: nothing yet)."
    )
    expected = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()


class ValidationResultSerializer(serializers.Serializer):
    client_id = serializers.CharField()
    stage = serializers.CharField()
    passed = serializers.BooleanField()
    checks = CheckSerializer(many=True)
    evaluated_at = serializers.DateTimeField()


STAGE_VALUES = ", ".join(StagedJourney.Stage.values)


class StageTransitionSerializer(serializers.ModelSerializer):
    # Plain strings: one enum (StageEnum) documents the stage values, not one per field name.
    from_stage = serializers.CharField(help_text=f"One of {STAGE_VALUES}; empty for the start.")
    to_stage = serializers.CharField(help_text=f"One of {STAGE_VALUES}.")

    class Meta:
        model = StageTransition
        fields = [
            "kind",
            "from_stage",
            "to_stage",
            "reason",
            "exit_criteria_results",
            "actor",
            "automatic",
            "transitioned_at",
        ]
        read_only_fields = fields


class StagedJourneySerializer(serializers.ModelSerializer):
    pipeline = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    seconds_in_stage = serializers.SerializerMethodField(help_text="Time spent in the current stage so far.")
    rollback_from = serializers.CharField(help_text="While rolling back: the stage being left.")

    class Meta:
        model = StagedJourney
        fields = [
            "client_id",
            "pipeline",
            "stage",
            "rollback_from",
            "started_at",
            "stage_entered_at",
            "seconds_in_stage",
            "ended_at",
            "end_reason",
            "started_by",
        ]
        read_only_fields = fields

    def get_seconds_in_stage(self, journey: StagedJourney) -> float:
        return round(journey.time_in_stage(), 1)


class StagedJourneyDetailSerializer(StagedJourneySerializer):
    history = StageTransitionSerializer(source="transitions", many=True, read_only=True)
    last_validation = serializers.JSONField(read_only=True, help_text="The latest exit-criteria evaluation.")

    class Meta(StagedJourneySerializer.Meta):
        fields = [*StagedJourneySerializer.Meta.fields, "last_validation", "last_validated_at", "history"]
        read_only_fields = fields


class PromotionSerializer(serializers.Serializer):
    journey = StagedJourneyDetailSerializer()
    validation = ValidationResultSerializer()


class MeasurementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Measurement
        fields = ["kind", "key", "value", "stage", "actor", "note", "source", "recorded_at"]
        read_only_fields = fields


class MeasurementsRecordedSerializer(serializers.Serializer):
    journey = StagedJourneySerializer(help_text="The journey after the recording (it may have moved on).")
    measurements = MeasurementSerializer(many=True)


class WorkTaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkTask
        fields = [
            "task_id",
            "key",
            "name",
            "agent_id",
            "intent",
            "params",
            "depends_on",
            "status",
            "retry_count",
            "max_retries",
            "attempts",
            "result",
            "error",
            "next_attempt_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class UnitOfWorkSerializer(serializers.ModelSerializer):
    client_id = serializers.CharField(source="journey.client_id", read_only=True)
    tasks = WorkTaskSerializer(many=True, read_only=True)

    class Meta:
        model = UnitOfWork
        fields = [
            "work_id",
            "client_id",
            "stage",
            "purpose",
            "status",
            "round",
            "created_at",
            "started_at",
            "finished_at",
            "tasks",
        ]
        read_only_fields = fields


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    current_stage = serializers.CharField(required=False)
    current_status = serializers.CharField(required=False)
    reason = serializers.CharField()
    checks = CheckSerializer(many=True, required=False)


# --- agents -----------------------------------------------------------------------------------
class AgentInSerializer(serializers.Serializer):
    agent_id = serializers.CharField(
        max_length=100, validators=[AGENT_ID_VALIDATOR], help_text="How task templates name the agent."
    )
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(
        choices=Service.Kind.choices,
        required=False,
        help_text="http (POSTed to endpoint_url) or built-in (answered by this project's handler).",
    )
    handler = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Built-in agents: the local handler."
    )
    endpoint_url = serializers.URLField(
        required=False,
        allow_blank=True,
        help_text="Where intents are POSTed; internal addresses are refused unless allow-listed.",
    )
    active = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class AgentUpdateSerializer(AgentInSerializer):
    agent_id = None
    name = serializers.CharField(max_length=200, required=False)


class AgentSerializer(serializers.ModelSerializer):
    agent_id = serializers.CharField(source="key", read_only=True, help_text="The directory service's key.")
    endpoint_url = serializers.CharField(
        read_only=True, help_text="Where intents are POSTed; empty until it is set."
    )
    needs_configuration = serializers.BooleanField(
        read_only=True, help_text="True while tasks cannot call it (inactive, or http without an endpoint)."
    )
    secret = serializers.SerializerMethodField(
        help_text="The signing secret: in full only in the answer that created or rotated it, masked after."
    )

    class Meta:
        model = Agent
        fields = [
            "agent_id",
            "name",
            "kind",
            "handler",
            "endpoint_url",
            "active",
            "needs_configuration",
            "description",
            "secret",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_secret(self, agent: Agent) -> str:
        return agent.secret if self.context.get("reveal_secret") else secret_mask(agent.secret)
