"""Serializers of step runs."""

from rest_framework import serializers

from journeys.models import StepRun


class StepRunSerializer(serializers.ModelSerializer):
    user_journey_id = serializers.IntegerField(read_only=True)
    lag_seconds = serializers.FloatField(read_only=True, allow_null=True)
    idempotency_key = serializers.CharField(read_only=True)

    class Meta:
        model = StepRun
        fields = [
            "id",
            "user_journey_id",
            "seq",
            "step_key",
            "step_kind",
            "action_type",
            "channel",
            "status",
            "due_at",
            "waiting_for",
            "executed_at",
            "finished_at",
            "attempts",
            "max_attempts",
            "result",
            "error",
            "trace",
            "dead_lettered_at",
            "rolled_back",
            "lag_seconds",
            "idempotency_key",
            "created_at",
        ]
