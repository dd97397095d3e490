"""Serializers of the milestone tracker."""

from rest_framework import serializers

from journeys.api.serializers.user_journeys import ProgressSerializer, fold_next_step

MILESTONE_STATUSES = ["not_started", "in_progress", "completed", "skipped", "failed", "cancelled"]


class JourneyMilestoneSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    is_milestone = serializers.BooleanField()
    status = serializers.ChoiceField(choices=MILESTONE_STATUSES)
    step_run_id = serializers.IntegerField(allow_null=True)
    attempts = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    on_path = serializers.BooleanField(help_text="Whether it counts toward progress.")
    result = serializers.JSONField()
    error = serializers.CharField(allow_blank=True)


class UserJourneyMilestonesSerializer(serializers.Serializer):
    user_journey_id = serializers.IntegerField()
    progress = ProgressSerializer()
    milestones = JourneyMilestoneSerializer(many=True)


class MilestoneCompleteInSerializer(serializers.Serializer):
    result = serializers.DictField(required=False, default=dict)
    next_step = serializers.CharField(
        max_length=80,
        required=False,
        help_text="The next milestone taken when this one offers a choice. Same as result.next_step.",
    )

    def validate(self, attrs):
        return fold_next_step(attrs, into="result")


class MilestoneStartInSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Start it although no milestone leading to it is done yet.",
    )


class MilestoneDetailSerializer(serializers.Serializer):
    user_journey_id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    is_milestone = serializers.BooleanField()
    on_path = serializers.BooleanField(help_text="Whether it counts toward progress.")
    status = serializers.ChoiceField(choices=MILESTONE_STATUSES)
    step_run_id = serializers.IntegerField(allow_null=True)
    attempts = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    result = serializers.JSONField()
    error = serializers.CharField(allow_blank=True)
    predecessors = serializers.ListField(child=serializers.CharField())
    next_steps = serializers.ListField(child=serializers.CharField())
