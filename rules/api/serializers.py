"""Serializers of the rules API. Rule definitions are validated by ``rules.engine.validation``
(one validator for the API, the admin and YAML files); the definition serializer documents them."""

from typing import Any

from rest_framework import serializers
from rest_framework.parsers import BaseParser

from journeys.api.parsers import read_text
from rules.models import Flag, FlagHistory, Milestone, Rule
from rules.services.rules import rule_definition, rule_definition_parse


class YAMLParser(BaseParser):
    """Rule definitions may be sent as YAML (``Content-Type: application/yaml``)."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        return rule_definition_parse(read_text(stream, parser_context))


class FlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flag
        fields = ["flag", "value", "set_by_rule", "set_at", "expires_at"]


class FlagsSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    flags = FlagSerializer(many=True)
    count = serializers.IntegerField()


class FlagHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = FlagHistory
        fields = [
            "id",
            "flag",
            "value",
            "previous_value",
            "set_by_rule",
            "reason",
            "expires_at",
            "changed_at",
        ]


class FlagHistoryPageSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    history = FlagHistorySerializer(many=True)
    count = serializers.IntegerField(help_text="All history rows of the participant.")
    next_before = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?before= for the next (older) page; null on the last page."
    )


class FlagHistoryQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
    before = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Only rows with a smaller id."
    )


class EvaluateRequestSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False, help_text="Show what would change; write nothing.")
    trace = serializers.BooleanField(
        default=False, help_text="Include every condition with its actual value."
    )


class FlagChangeSerializer(serializers.Serializer):
    flag = serializers.CharField()
    previous_value = serializers.BooleanField(allow_null=True)
    value = serializers.BooleanField(allow_null=True, help_text="null: the flag was removed.")
    reason = serializers.ChoiceField(choices=["rule", "cleared", "expired"])
    set_by_rule = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class EvaluationSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    evaluated_rules = serializers.ListField(
        child=serializers.CharField(), help_text="Active rules, in order."
    )
    triggered_rules = serializers.ListField(
        child=serializers.CharField(),
        help_text="Rules whose conditions held now, whether or not that changed anything (a flag "
        "already true stays true; a higher-priority rule may already have decided the flag).",
    )
    fired_rules = serializers.ListField(
        child=serializers.CharField(),
        help_text="The triggered rules whose action changed a flag now (set, cleared or a new "
        "value). Evaluating again with the same context fires nothing.",
    )
    changes = FlagChangeSerializer(many=True)
    milestones = serializers.ListField(child=serializers.CharField(), help_text="Milestones reached now.")
    events = serializers.ListField(child=serializers.CharField(), help_text="Types of the events emitted.")
    timestamp = serializers.DateTimeField()
    dry_run = serializers.BooleanField()
    next_check_at = serializers.DateTimeField(
        allow_null=True, help_text="When time alone can next change a rule (beat re-evaluates then)."
    )
    trace = serializers.ListField(child=serializers.DictField(), allow_null=True)


class MilestoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Milestone
        fields = ["milestone", "reached_at", "triggered_by_rule", "metadata"]


class MilestonesSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    milestones = MilestoneSerializer(many=True)
    count = serializers.IntegerField()


class MilestoneReachRequestSerializer(serializers.Serializer):
    metadata = serializers.DictField(required=False, default=dict)


class MilestoneReachedSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    created = serializers.BooleanField(
        help_text="false: the milestone had been reached before; nothing changed."
    )
    milestone = MilestoneSerializer()


class RuleDefinitionSerializer(serializers.Serializer):
    """The shape of a rule definition (for the documentation; validation is the engine's)."""

    rule_id = serializers.CharField(
        max_length=100, help_text="Business id, unique (the seed's `id` is accepted)."
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    flag = serializers.CharField(max_length=100, help_text="The primary flag this rule manages.")
    priority = serializers.IntegerField(
        required=False,
        default=0,
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text="Higher runs first and wins.",
    )
    active = serializers.BooleanField(required=False, default=True)
    conditions = serializers.ListField(
        child=serializers.DictField(),
        help_text="All must hold: count, exists, value, time_since, all_of, any_of, not, flag, attribute.",
    )
    actions = serializers.ListField(
        child=serializers.DictField(), help_text="set_flag, clear_flag, emit_event."
    )
    otherwise = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Actions when the conditions do not hold."
    )
    milestone = serializers.JSONField(required=False, help_text="A milestone name, or {name, metadata}.")


class RuleSerializer(serializers.Serializer):
    rule_id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    flag = serializers.CharField()
    priority = serializers.IntegerField()
    active = serializers.BooleanField()
    version = serializers.IntegerField()
    conditions = serializers.ListField(child=serializers.DictField())
    actions = serializers.ListField(child=serializers.DictField())
    otherwise = serializers.ListField(child=serializers.DictField(), required=False)
    milestone = serializers.JSONField(required=False)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, rule: Rule) -> dict[str, Any]:
        body = {**rule_definition(rule), "version": rule.version}
        body["created_at"] = serializers.DateTimeField().to_representation(rule.created_at)
        body["updated_at"] = serializers.DateTimeField().to_representation(rule.updated_at)
        return body


class RulesSerializer(serializers.Serializer):
    rules = RuleSerializer(many=True)
    count = serializers.IntegerField()


class PreviewRequestSerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=255)


class PreviewSerializer(serializers.Serializer):
    rule_id = serializers.CharField()
    user_id = serializers.CharField()
    holds = serializers.BooleanField()
    condition = serializers.DictField(help_text="The condition tree with actual values.")
    timestamp = serializers.DateTimeField()


class BacktestRequestSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1_000_000, default=10_000)


class BacktestSerializer(serializers.Serializer):
    rule_id = serializers.CharField()
    participants_evaluated = serializers.IntegerField()
    matched = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text="More participants exist than the limit examined.")
    sample_user_ids = serializers.ListField(child=serializers.CharField())
    timestamp = serializers.DateTimeField()
