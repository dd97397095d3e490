"""Serializers of user journeys: status and progress, history, advancing, executing."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from journeys.api.serializers.step_runs import StepRunSerializer
from journeys.models import UserJourney, UserJourneyLog
from journeys.selectors.user_journeys import user_journey_progress


class ProgressSerializer(serializers.Serializer):
    percent = serializers.FloatField()
    milestones_completed = serializers.IntegerField()
    milestones_total = serializers.IntegerField()
    current_milestone = serializers.CharField(allow_null=True)


class UserJourneySerializer(serializers.ModelSerializer):
    """A user journey; ``status``, ``current_step_id``, ``completed_at`` and ``metadata`` are the
    003 names of ``state``, ``current_step``, ``ended_at`` and the trigger payload."""

    user_id = serializers.CharField(source="participant.user_id", read_only=True)
    journey_name = serializers.CharField(source="journey.name", read_only=True)
    status = serializers.CharField(source="state", read_only=True)
    current_step_id = serializers.CharField(source="current_step", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    completed_at = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = UserJourney
        fields = [
            "id",
            "user_id",
            "journey_id",
            "journey_name",
            "version",
            "state",
            "status",
            "current_step",
            "current_step_id",
            "variant",
            "converted",
            "converted_at",
            "started_at",
            "paused_at",
            "ended_at",
            "completed_at",
            "end_reason",
            "failure_reason",
            "metadata",
            "context",
            "progress",
        ]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_completed_at(self, uj: UserJourney):
        return serializers.DateTimeField().to_representation(uj.ended_at) if uj.state == "completed" else None

    def get_metadata(self, uj: UserJourney) -> dict:
        return uj.context.get("payload", {})

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, uj: UserJourney) -> dict:
        return ProgressSerializer(user_journey_progress(user_journey=uj)).data


class LogSerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = UserJourneyLog
        fields = ["at", "action", "from_state", "to_state", "step_key", "actor", "detail"]


class HistorySerializer(serializers.Serializer):
    user_journey_id = serializers.IntegerField()
    step_runs = StepRunSerializer(many=True)
    log = LogSerializer(many=True)


def fold_next_step(attrs: dict, *, into: str) -> dict:
    """``next_step`` given beside a result dict is a shorthand for ``result["next_step"]``."""
    if "next_step" in attrs:
        attrs[into] = {**attrs[into], "next_step": attrs.pop("next_step")}
    return attrs


class AdvanceInSerializer(serializers.Serializer):
    step_result = serializers.DictField(required=False, default=dict)
    next_step = serializers.CharField(
        max_length=80,
        required=False,
        help_text="The next step taken, among the step's next steps; required when the step offers "
        "a choice (several next steps without a condition). Same as step_result.next_step.",
    )

    def validate(self, attrs):
        return fold_next_step(attrs, into="step_result")


class ExecuteInSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Run time-based waits now (testing); event and manual waits still wait.",
    )


class ExecuteOutSerializer(serializers.Serializer):
    executed = serializers.IntegerField()
    user_journey = UserJourneySerializer()
