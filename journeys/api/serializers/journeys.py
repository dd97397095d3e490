"""Serializers of journeys, their steps and versions.

Inputs accept the 003 document's shapes as they are (``trigger_config``, ``is_active``,
``action_config``) and the 000 ones (``journey_id``, ``journey_name``, ``milestones`` with
``milestone_id``, ``milestone_name``, ``experience_api``, ``personalization``,
``session_tracking``); the deep checks of a definition (action configs, conditions, the graph)
are the service's, with the same error paths."""

from django.utils.text import slugify
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from journeys.api.serializers.events import EVENT_TYPE_VALIDATOR
from journeys.engine.definition import SERVICE_FIELDS, STEP_FIELDS
from journeys.models import Journey, JourneyVersion, Step
from journeys.services.journeys import has_unpublished_changes
from journeys.services.webhook_secrets import config_masked, definition_masked

DELAY_MINUTES_MAX = 10 * 366 * 24 * 60  # ten years


class StepInSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=80, required=False)
    name = serializers.CharField(max_length=200)
    order = serializers.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)
    kind = serializers.CharField(
        required=False,
        help_text="action, wait, wait_for_event, manual, branch, split or end (default: action "
        "when action_type is given, else manual).",
    )
    action_type = serializers.CharField(max_length=100, required=False, allow_blank=True)
    config = serializers.JSONField(required=False)
    condition = serializers.JSONField(required=False, allow_null=True)
    next_steps = serializers.JSONField(required=False)
    delay_minutes = serializers.IntegerField(
        required=False, min_value=0, max_value=DELAY_MINUTES_MAX, help_text="At most ten years."
    )
    is_milestone = serializers.BooleanField(required=False)
    completion = serializers.BooleanField(required=False)
    max_attempts = serializers.IntegerField(required=False, min_value=1, max_value=20)
    on_failure = serializers.ChoiceField(choices=Step.OnFailure.choices, required=False)
    experience_api = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        validators=Step._meta.get_field("experience_api").validators,
        help_text="The service operation that carries the milestone out (recorded on the step).",
    )
    personalization = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        validators=Step._meta.get_field("personalization").validators,
        help_text="The service operation that personalises the milestone (recorded on the step).",
    )
    session_tracking = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        validators=Step._meta.get_field("session_tracking").validators,
        help_text="The service operation that records the participant's state (recorded on the step).",
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = dict(data)
            if "action_config" in data and "config" not in data:
                data["config"] = data.pop("action_config")
            if "milestone_id" in data and "key" not in data:
                data["key"] = data.pop("milestone_id")
                data.setdefault("is_milestone", True)
            if "milestone_name" in data and "name" not in data:
                data["name"] = data.pop("milestone_name")
        value = super().to_internal_value(data)
        value.setdefault("kind", Step.Kind.ACTION if value.get("action_type") else Step.Kind.MANUAL)
        value.setdefault("key", slugify(value["name"]).replace("-", "_")[:80] or "step")
        return value


def _steps_with_order(steps: list[dict]) -> list[dict]:
    return [{**step, "order": step.get("order", index)} for index, step in enumerate(steps)]


class JourneyInSerializer(serializers.Serializer):
    """Create or change a journey. ``is_active: true`` publishes it, ``false`` archives it.

    The journey realm's names are accepted as they are: ``journey_name`` for ``name``,
    ``journey_id`` for ``key``, ``milestones`` for ``steps``.
    """

    name = serializers.CharField(max_length=200)
    key = serializers.CharField(
        max_length=80,
        required=False,
        allow_blank=True,
        validators=Journey._meta.get_field("key").validators,
        help_text="A stable identifier of your own (the 000 journey_id), unique among journeys.",
    )
    description = serializers.CharField(required=False, allow_blank=True)
    journey_type = serializers.ChoiceField(
        choices=Journey._meta.get_field("journey_type").choices, required=False
    )
    trigger_type = serializers.CharField(
        max_length=200, required=False, allow_blank=True, validators=[EVENT_TYPE_VALIDATOR]
    )
    trigger_conditions = serializers.JSONField(required=False, allow_null=True)
    trigger_config = serializers.JSONField(
        required=False, allow_null=True, help_text="003 name of trigger_conditions."
    )
    priority = serializers.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)
    re_entry = serializers.ChoiceField(choices=Journey.ReEntry.choices, required=False)
    goal_event = serializers.CharField(
        max_length=200, required=False, allow_blank=True, validators=[EVENT_TYPE_VALIDATOR]
    )
    exit_event = serializers.CharField(
        max_length=200, required=False, allow_blank=True, validators=[EVENT_TYPE_VALIDATOR]
    )
    quiet_hours_start = serializers.TimeField(required=False, allow_null=True)
    quiet_hours_end = serializers.TimeField(required=False, allow_null=True)
    cap_policy = serializers.ChoiceField(choices=Journey.CapPolicy.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    steps = StepInSerializer(many=True, required=False)

    ALIASES = {"journey_name": "name", "journey_id": "key", "milestones": "steps"}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = dict(data)
            for alias, name in self.ALIASES.items():
                if alias in data and name not in data:
                    data[name] = data.pop(alias)
        return super().to_internal_value(data)

    def validate_trigger_type(self, value: str) -> str:
        if value:
            Journey._meta.get_field("trigger_type").run_validators(value)
        return value

    def validate(self, attrs):
        config = attrs.pop("trigger_config", None)
        if config is not None and "trigger_conditions" not in attrs:
            attrs["trigger_conditions"] = config or None
        if "steps" in attrs:
            attrs["steps"] = _steps_with_order(attrs["steps"])
        return attrs


class JourneyUpdateSerializer(JourneyInSerializer):
    name = serializers.CharField(max_length=200, required=False)


class StepOutSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(help_text="action, wait, wait_for_event, manual, branch, split or end.")

    class Meta:
        model = Step
        fields = [*STEP_FIELDS, *SERVICE_FIELDS]

    def to_representation(self, step: Step) -> dict:
        # A webhook step's signing secret is masked, except in the answer that created it.
        data = super().to_representation(step)
        revealed = (self.context.get("revealed_secrets") or {}).get(step.key)
        data["config"] = config_masked(data["config"], revealed=revealed)
        return data


class TemplateVersionRefSerializer(serializers.Serializer):
    template = serializers.CharField(help_text="The template's key.")
    number = serializers.IntegerField()


class JourneySerializer(serializers.ModelSerializer):
    trigger_config = serializers.JSONField(source="trigger_conditions", read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    step_count = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()
    has_unpublished_changes = serializers.SerializerMethodField()
    steps = StepOutSerializer(many=True, read_only=True)
    template_version = serializers.SerializerMethodField(
        help_text="The template version it was designed from, e.g. onboarding v2 (null: none)."
    )

    class Meta:
        model = Journey
        fields = [
            "id",
            "key",
            "name",
            "description",
            "journey_type",
            "trigger_type",
            "trigger_conditions",
            "trigger_config",
            "priority",
            "re_entry",
            "goal_event",
            "exit_event",
            "quiet_hours_start",
            "quiet_hours_end",
            "cap_policy",
            "state",
            "is_active",
            "version",
            "has_unpublished_changes",
            "template_name",
            "template_version",
            "step_count",
            "steps",
            "created_at",
            "updated_at",
        ]

    def get_step_count(self, journey: Journey) -> int:
        return len(journey.steps.all())

    def get_version(self, journey: Journey) -> int | None:
        return journey.live_version.number if journey.live_version_id else None

    @extend_schema_field(TemplateVersionRefSerializer(allow_null=True))
    def get_template_version(self, journey: Journey) -> dict | None:
        version = journey.template_version
        return {"template": version.template.key, "number": version.number} if version else None

    def get_has_unpublished_changes(self, journey: Journey) -> bool:
        return has_unpublished_changes(journey)


class JourneyVersionSerializer(serializers.ModelSerializer):
    published_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = JourneyVersion
        fields = ["number", "published_at", "published_by", "definition"]

    def to_representation(self, version: JourneyVersion) -> dict:
        data = super().to_representation(version)
        data["definition"] = definition_masked(data["definition"])
        return data
