"""Serializers of enrolment: evaluating a trigger by hand, enrolling a participant."""

from rest_framework import serializers


class TriggerInSerializer(serializers.Serializer):
    trigger_type = serializers.CharField(max_length=200)
    user_id = serializers.CharField(max_length=255)
    context = serializers.DictField(required=False, default=dict)


class TriggerOutSerializer(serializers.Serializer):
    trigger_type = serializers.CharField()
    user_id = serializers.CharField()
    started_journeys = serializers.ListField(
        child=serializers.IntegerField(), help_text="Journey ids entered."
    )
    user_journeys = serializers.ListField(
        child=serializers.IntegerField(), help_text="The new user journeys."
    )


class EnrollInSerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=255)
    context = serializers.DictField(required=False, default=dict)
