"""Serializers of event → entity mappings."""

from rest_framework import serializers

from journeys.models import EntityMapping


class EntityMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = EntityMapping
        fields = [
            "id",
            "event_type",
            "entity",
            "key_field",
            "active",
            "description",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
