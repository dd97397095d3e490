"""Serializers of the event spine: events in (one or a batch) and out."""

import json
from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.utils import timezone
from rest_framework import serializers

from journeys.models import Event
from journeys.services.events import EventInput

EVENT_TYPE_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9_.:\-]{1,200}$",
    "Use letters, digits and . _ - : only (e.g. kintell.session.completed).",
)


SOURCE_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_.:\-]{1,100}$", "Use letters, digits and . _ - : only.")


PAYLOAD_MAX_BYTES = 64 * 1024  # per event, serialised


FUTURE_SKEW = timedelta(hours=24)  # clocks of senders may run ahead, not by days


class EventInSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=200, validators=[EVENT_TYPE_VALIDATOR])
    user_id = serializers.CharField(max_length=255)
    payload = serializers.DictField(required=False, default=dict)
    occurred_at = serializers.DateTimeField(required=False)
    source = serializers.CharField(
        max_length=100, required=False, default="api", validators=[SOURCE_VALIDATOR]
    )
    idempotency_key = serializers.CharField(max_length=200, required=False, allow_null=True)
    attributes = serializers.DictField(
        required=False,
        help_text="Merged into the participant's attributes when the event is stored (a null value "
        "removes that attribute); a repeated idempotency key changes nothing.",
    )

    def validate_payload(self, value: dict) -> dict:
        if len(json.dumps(value, separators=(",", ":"))) > PAYLOAD_MAX_BYTES:
            raise serializers.ValidationError(f"The payload is larger than {PAYLOAD_MAX_BYTES} bytes.")
        return value

    def validate_attributes(self, value: dict) -> dict:
        if len(json.dumps(value, separators=(",", ":"))) > PAYLOAD_MAX_BYTES:
            raise serializers.ValidationError(f"The attributes are larger than {PAYLOAD_MAX_BYTES} bytes.")
        return value

    def validate_occurred_at(self, value):
        if value > timezone.now() + FUTURE_SKEW:
            raise serializers.ValidationError("occurred_at is more than a day in the future.")
        return value


def parse_event_batch(data) -> tuple[list[EventInput], bool]:
    """Validate one event or a list of them; every error is collected before anything is written.

    Returns the inputs and whether the body was a list. Raises a ``ValidationError`` keyed by the
    position of each bad item (``{"3": {"type": [...]}}``).
    """
    is_list = isinstance(data, list)
    items = data if is_list else [data]
    if is_list and not items:
        raise serializers.ValidationError({"non_field_errors": ["Send at least one event."]})
    if len(items) > settings.EVENT_BATCH_MAX:
        raise serializers.ValidationError(
            {"non_field_errors": [f"At most {settings.EVENT_BATCH_MAX} events per request."]}
        )
    inputs: list[EventInput] = []
    errors: dict[str, object] = {}
    # One serializer for every item, as DRF's ListSerializer validates with its one child: a
    # serializer deep-copies its declared fields when it is built, which cost more than the
    # validation itself when done per event.
    serializer = EventInSerializer()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[str(index)] = {"non_field_errors": ["Each event must be a JSON object."]}
            continue
        try:
            inputs.append(EventInput(**serializer.run_validation(item)))
        except serializers.ValidationError as exc:
            errors[str(index)] = exc.detail
    if errors:
        raise serializers.ValidationError(errors if is_list else errors["0"])
    return inputs, is_list


class IngestResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    duplicate = serializers.BooleanField()


class IngestBatchResultSerializer(serializers.Serializer):
    events = IngestResultSerializer(many=True)
    accepted = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(help_text="Events already stored under their idempotency key.")


class EventSerializer(serializers.ModelSerializer):
    user_id = serializers.CharField(source="participant.user_id", read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "user_id",
            "payload",
            "occurred_at",
            "received_at",
            "source",
            "idempotency_key",
            "status",
            "attempts",
            "error",
            "processed_at",
            "subscriber_results",
        ]
        read_only_fields = fields
