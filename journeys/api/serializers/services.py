"""Serializers of the service directory and of the calls milestones make to its services."""

from rest_framework import serializers

from journeys.crypto import secret_mask
from journeys.models import Service, ServiceCall, ServiceCallAttempt


class ServiceInSerializer(serializers.Serializer):
    key = serializers.CharField(
        max_length=100,
        validators=Service._meta.get_field("key").validators,
        help_text="How milestones (FrontendGateway.operation) and task templates (agent_id) name it.",
    )
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Service.Kind.choices, required=False)
    handler = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Built-in services: the local handler."
    )
    endpoint_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, help_text="http services: where calls are POSTed."
    )
    health_check_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class ServiceUpdateSerializer(ServiceInSerializer):
    key = None
    name = serializers.CharField(max_length=200, required=False)


class ServiceSerializer(serializers.ModelSerializer):
    endpoint_url = serializers.CharField(read_only=True, help_text="http services: empty until it is set.")
    health_check_url = serializers.CharField(read_only=True, help_text="Empty when none is set.")
    needs_configuration = serializers.BooleanField(
        read_only=True, help_text="True while it cannot be called (inactive, or http without an endpoint)."
    )
    secret = serializers.SerializerMethodField(
        help_text="The signing secret: in full only in the answer that created or rotated it, masked after."
    )

    class Meta:
        model = Service
        fields = [
            "key",
            "name",
            "kind",
            "handler",
            "endpoint_url",
            "health_check_url",
            "health_status",
            "health_checked_at",
            "health_detail",
            "active",
            "needs_configuration",
            "description",
            "secret",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_secret(self, service: Service) -> str:
        return service.secret if self.context.get("reveal_secret") else secret_mask(service.secret)


class ServiceCallAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceCallAttempt
        fields = ["at", "status_code", "duration_ms", "error"]
        read_only_fields = fields


class ServiceCallSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    attempt_log = ServiceCallAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = ServiceCall
        fields = [
            "id",
            "user_journey",
            "step_key",
            "role",
            "reference",
            "service",
            "operation",
            "status",
            "attempts",
            "request",
            "response",
            "error",
            "created_at",
            "finished_at",
            "attempt_log",
        ]
        read_only_fields = fields
