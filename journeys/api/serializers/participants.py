"""Serializers of participants and their entity records."""

from rest_framework import serializers

from journeys.models import EntityRecord, Participant


class ParticipantSerializer(serializers.ModelSerializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=200)
    attributes = serializers.DictField(required=False)

    class Meta:
        model = Participant
        fields = ["user_id", "attributes", "tags", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"user_id": {"validators": []}}


class ParticipantUpdateSerializer(serializers.Serializer):
    attributes = serializers.DictField(
        required=False,
        help_text="Merged into the stored attributes; an attribute set to null is removed.",
    )
    replace_attributes = serializers.BooleanField(
        required=False, default=False, help_text="Replace all attributes instead of merging."
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=200,
        help_text="The full new list of tags.",
    )


class EntityRecordSerializer(serializers.ModelSerializer):
    last_event_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = EntityRecord
        fields = [
            "id",
            "entity",
            "key",
            "data",
            "event_type",
            "occurred_at",
            "last_event_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
