"""Serializers of journeys, user journeys, step runs and milestones.

Inputs accept the 003 document's shapes as they are (``trigger_config``, ``is_active``,
``action_config``) and the 000 ones (``journey_id``, ``journey_name``, ``milestones`` with
``milestone_id``, ``milestone_name``, ``experience_api``, ``personalization``,
``session_tracking``); the deep checks of a definition (action configs, conditions, the graph)
are the service's, with the same error paths.
"""

from django.utils.text import slugify
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from journeys.api.serializers import EVENT_TYPE_VALIDATOR
from journeys.engine.definition import SERVICE_FIELDS, STEP_FIELDS
from journeys.models import Journey, JourneyVersion, Step, StepRun, UserJourney, UserJourneyLog
from journeys.selectors.user_journeys import user_journey_progress
from journeys.services.journeys import has_unpublished_changes
from journeys.services.webhook_secrets import config_masked, definition_masked

DELAY_MINUTES_MAX = 10 * 366 * 24 * 60  # ten years
MILESTONE_STATUSES = ["not_started", "in_progress", "completed", "skipped", "failed", "cancelled"]


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


class JourneySerializer(serializers.ModelSerializer):
    trigger_config = serializers.JSONField(source="trigger_conditions", read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    step_count = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()
    has_unpublished_changes = serializers.SerializerMethodField()
    steps = StepOutSerializer(many=True, read_only=True)

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
            "step_count",
            "steps",
            "created_at",
            "updated_at",
        ]

    def get_step_count(self, journey: Journey) -> int:
        return len(journey.steps.all())

    def get_version(self, journey: Journey) -> int | None:
        return journey.live_version.number if journey.live_version_id else None

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


class LogSerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = UserJourneyLog
        fields = ["at", "action", "from_state", "to_state", "step_key", "actor", "detail"]


class HistorySerializer(serializers.Serializer):
    user_journey_id = serializers.IntegerField()
    step_runs = StepRunSerializer(many=True)
    log = LogSerializer(many=True)


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


class AdvanceInSerializer(serializers.Serializer):
    step_result = serializers.DictField(required=False, default=dict)
    next_step = serializers.CharField(
        max_length=80,
        required=False,
        help_text="The next step taken, among the step's next steps; required when the step offers "
        "a choice (several next steps without a condition). Same as step_result.next_step.",
    )

    def validate(self, attrs):
        if "next_step" in attrs:
            attrs["step_result"] = {**attrs["step_result"], "next_step": attrs.pop("next_step")}
        return attrs


class MilestoneCompleteInSerializer(serializers.Serializer):
    result = serializers.DictField(required=False, default=dict)
    next_step = serializers.CharField(
        max_length=80,
        required=False,
        help_text="The next milestone taken when this one offers a choice. Same as result.next_step.",
    )

    def validate(self, attrs):
        if "next_step" in attrs:
            attrs["result"] = {**attrs["result"], "next_step": attrs.pop("next_step")}
        return attrs


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


class ExecuteInSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Run time-based waits now (testing); event and manual waits still wait.",
    )


class ExecuteOutSerializer(serializers.Serializer):
    executed = serializers.IntegerField()
    user_journey = UserJourneySerializer()


class DesignInSerializer(serializers.Serializer):
    """``{template, customizations}``, or the journey realm's ``{journey_type, requirements}``."""

    template = serializers.CharField(
        max_length=200, required=False, help_text="A template key or name (see /journeys/types)."
    )
    journey_type = serializers.ChoiceField(
        choices=Journey._meta.get_field("journey_type").choices,
        required=False,
        help_text="Design from this journey type's template (instead of naming a template).",
    )
    customizations = serializers.DictField(required=False, default=dict)
    requirements = serializers.DictField(
        required=False,
        help_text="The journey realm's name for customizations (journey fields, steps, add_steps, "
        "remove_steps).",
    )
    publish = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("template") and not attrs.get("journey_type"):
            raise serializers.ValidationError({"journey_type": ["Give a journey_type or a template."]})
        if "requirements" in attrs:
            if attrs["customizations"]:
                raise serializers.ValidationError(
                    {"requirements": ["Give requirements or customizations, not both."]}
                )
            attrs["customizations"] = attrs.pop("requirements")
        return attrs


class CustomizeInSerializer(serializers.Serializer):
    customizations = serializers.DictField()


class JourneyTypeSerializer(serializers.Serializer):
    journey_type = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    templates = serializers.ListField(child=serializers.CharField())


class NamedItemSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()


class JourneyTypesSerializer(serializers.Serializer):
    journey_types = JourneyTypeSerializer(many=True)
    trigger_types = NamedItemSerializer(many=True)
    action_types = NamedItemSerializer(many=True)
    condition_types = NamedItemSerializer(many=True)
    step_kinds = NamedItemSerializer(many=True)


class TemplateSerializer(serializers.Serializer):
    template = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    journey_type = serializers.CharField()
    trigger_type = serializers.CharField(allow_blank=True)
    steps = serializers.ListField(child=serializers.DictField())
