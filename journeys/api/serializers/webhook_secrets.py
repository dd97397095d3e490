"""Serializers of webhook step secrets."""

from rest_framework import serializers


class StepSecretSerializer(serializers.Serializer):
    journey_id = serializers.IntegerField()
    step = serializers.CharField(help_text="The webhook step's key.")
    secret = serializers.CharField(help_text="The new signing secret (whsec_…), shown this once.")
