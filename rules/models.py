"""State of the rules engine: rules, the flags they compute, flag history and milestones.

Table names follow the seed document (``journey_rules``, ``journey_flags``, ``journey_milestones``).
Flags, history and milestones are written only by ``rules.services`` and only on change, so a
history row is always a real change and an emitted event always has a row behind it.
"""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_.:\-]{0,99}$",
    "Use letters, digits and _ . : - only, starting with a letter (e.g. mentor_ready).",
)


class Rule(models.Model):
    """A declarative rule: when all ``conditions`` hold, its ``actions`` run (``otherwise`` when not).

    The full definition lives in ``rule_config`` (as loaded from YAML/JSON, normalised);
    ``rule_id``, ``name``, ``flag``, ``priority`` and ``active`` are columns too, for listing and
    ordering. ``version`` goes up on every change; compiled evaluators are cached per version.
    """

    rule_id = models.CharField(max_length=100, unique=True, validators=[NAME_VALIDATOR])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    flag = models.CharField(max_length=100, validators=[NAME_VALIDATOR], help_text="The primary flag.")
    rule_config = models.JSONField(help_text="The full rule definition.")
    priority = models.IntegerField(default=0, help_text="Higher runs first and wins conflicts.")
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "journey_rules"
        ordering = ["-priority", "rule_id"]
        permissions = [("evaluate_rule", "Can evaluate rules for a participant, preview and backtest")]

    def __str__(self) -> str:
        return self.rule_id


class Flag(models.Model):
    """A participant's current flag value. ``set_by_rule`` is a rule_id, ``manual`` or ``journey:<id>``.

    A flag past ``expires_at`` counts as absent; the next evaluation (beat finds it through
    ``EvaluationSchedule``) removes it and records that in the history.
    """

    participant = models.ForeignKey(
        "journeys.Participant", on_delete=models.CASCADE, related_name="flags", db_index=False
    )  # indexed by flag_unique_per_participant (its first column)
    flag = models.CharField(max_length=100)
    value = models.BooleanField()
    set_by_rule = models.CharField(max_length=100)
    set_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "journey_flags"
        ordering = ["flag"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "flag"], name="flag_unique_per_participant"),
        ]

    def __str__(self) -> str:
        return f"{self.flag}={self.value}"


class FlagHistory(models.Model):
    """One change of one flag. ``value`` is null when the flag was cleared or expired."""

    class Reason(models.TextChoices):
        RULE = "rule", "Set by a rule"
        CLEARED = "cleared", "Cleared"
        EXPIRED = "expired", "Expired"
        ACTION = "action", "Journey action"
        MANUAL = "manual", "Manual"

    participant = models.ForeignKey(
        "journeys.Participant", on_delete=models.CASCADE, related_name="flag_history", db_index=False
    )  # indexed by flag_history_participant (its first column)
    flag = models.CharField(max_length=100)
    value = models.BooleanField(null=True)
    previous_value = models.BooleanField(null=True)
    set_by_rule = models.CharField(max_length=100)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    expires_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        db_table = "journey_flag_history"
        ordering = ["-id"]
        verbose_name_plural = "flag history"
        indexes = [models.Index(fields=["participant", "-id"], name="flag_history_participant")]

    def __str__(self) -> str:
        return f"{self.flag}: {self.previous_value} → {self.value}"


class Milestone(models.Model):
    """A milestone a participant reached, once (``triggered_by_rule`` is a rule_id or ``manual``)."""

    participant = models.ForeignKey(
        "journeys.Participant", on_delete=models.CASCADE, related_name="milestones", db_index=False
    )  # indexed by milestone_unique_per_participant (its first column)
    milestone = models.CharField(max_length=100, validators=[NAME_VALIDATOR])
    reached_at = models.DateTimeField()
    triggered_by_rule = models.CharField(max_length=100)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "journey_milestones"
        ordering = ["-reached_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "milestone"], name="milestone_unique_per_participant"
            ),
        ]

    def __str__(self) -> str:
        return self.milestone


class EvaluationSchedule(models.Model):
    """When a participant's rules can next change truth with time alone.

    ``next_check_at`` is the earliest moment a ``time_since`` window closes or a flag expires for
    this participant; beat re-evaluates only participants whose moment has come, instead of
    rescanning everyone. Null: nothing time-dependent is pending.
    """

    participant = models.OneToOneField(
        "journeys.Participant", on_delete=models.CASCADE, primary_key=True, related_name="rule_schedule"
    )
    next_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "journey_rule_schedule"
        indexes = [
            models.Index(
                fields=["next_check_at"], condition=Q(next_check_at__isnull=False), name="rule_schedule_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} @ {self.next_check_at}"
