"""The rule builder in the admin: a validated YAML/JSON editor with inline errors, activate and
deactivate, "test against participant" (the trace) and the backtest count. Flags, their history
and milestones are computed, so they are read-only here."""

import json
from typing import Any

import yaml
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from journeys.errors import ValidationFailed
from journeys.models import Participant
from rules import selectors
from rules.models import Flag, FlagHistory, Milestone, Rule
from rules.services.rules import (
    rule_activate,
    rule_create,
    rule_deactivate,
    rule_definition,
    rule_definition_check,
    rule_definition_parse,
    rule_delete,
    rule_update,
)

NEW_RULE_TEMPLATE = """\
rule_id: my_rule_001
name: My rule
description: What makes this rule hold
flag: my_flag
priority: 10
active: true
conditions:
  - type: count
    entity: kintell_sessions
    count: '>='
    count_value: 3
actions:
  - type: set_flag
    flag: my_flag
    value: true
"""


def _without_default_filter_operator(spec: Any) -> Any:
    """A count/exists filter's ``operator: '='`` is the default the validation writes in; shown
    next to ``count: '>='`` it reads as a second comparison, so the editor leaves it out."""
    if isinstance(spec, list):
        return [_without_default_filter_operator(item) for item in spec]
    if not isinstance(spec, dict):
        return spec
    shown = {key: _without_default_filter_operator(value) for key, value in spec.items()}
    if shown.get("type") in {"count", "exists"} and shown.get("operator") == "=":
        del shown["operator"]
    return shown


def _shown_yaml(rule: Rule) -> str:
    """The rule's YAML as the editor shows it (the same definition, defaults left out)."""
    definition = rule_definition(rule)
    for key in ("conditions", "otherwise"):
        if key in definition:
            definition[key] = _without_default_filter_operator(definition[key])
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)


class RuleForm(forms.ModelForm):
    """One field: the whole definition as YAML or JSON, validated as the API validates it."""

    definition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "style": "font-family: monospace"}),
        help_text=(
            "YAML or JSON. Conditions: count, exists, value, time_since, all_of, any_of, not, flag, "
            "attribute. Actions: set_flag, clear_flag, emit_event; optional otherwise and milestone."
        ),
    )

    class Meta:
        model = Rule
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["definition"].initial = (
            _shown_yaml(self.instance) if self.instance.pk else NEW_RULE_TEMPLATE
        )
        self.checked_definition: dict[str, Any] | None = None

    def clean_definition(self) -> str:
        text = self.cleaned_data["definition"]
        try:
            raw = rule_definition_parse(text)
            if self.instance.pk and isinstance(raw, dict):
                given = raw.get("rule_id", raw.get("id", self.instance.rule_id))
                if given != self.instance.rule_id:
                    raise ValidationFailed(
                        {"rule_id": [f"rule_id cannot change (this is {self.instance.rule_id})."]}
                    )
            self.checked_definition = rule_definition_check(raw)
        except ValidationFailed as exc:
            raise forms.ValidationError(
                [f"{where}: {message}" for where, problems in exc.errors.items() for message in problems]
            ) from None
        if not self.instance.pk and Rule.objects.filter(rule_id=self.checked_definition["rule_id"]).exists():
            raise forms.ValidationError(
                f"rule_id: a rule {self.checked_definition['rule_id']!r} exists already."
            )
        return text


def _trace_html(node: dict[str, Any]) -> SafeString:
    """A rule's explained condition as a tree, each condition with the value it saw and a verdict
    (as the journey dry run shows its conditions)."""
    holds = bool(node.get("holds"))
    verdict = format_html(
        '<span class="verdict verdict-{}">{}</span>',
        str(holds).lower(),
        "holds" if holds else "does not hold",
    )
    actual = ""
    if "actual" in node:
        shown = json.dumps(node["actual"], ensure_ascii=False, default=str)
        actual = format_html(' — actual <code class="actual">{}</code>', shown)
    children = node.get("conditions") or []
    inner = format_html_join("", "{}", ((_trace_html(child),) for child in children)) if children else ""
    nested = format_html('<ul class="cond-tree">{}</ul>', inner) if children else ""
    label = node.get("description") or node.get("type", "")
    tag = "strong" if children else "code"
    return format_html(
        '<li class="trace-node" data-holds="{}">{} <{}>{}</{}>{}{}</li>',
        str(holds).lower(),
        verdict,
        tag,
        label,
        tag,
        actual,
        nested,
    )


class TestForm(forms.Form):
    user_id = forms.CharField(max_length=255, label="Participant user_id")


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    change_form_template = "admin/rules/rule/change_form.html"
    list_display = ["rule_id", "name", "flag", "priority", "state", "version", "updated_at"]
    list_filter = ["active", "flag"]
    search_fields = ["rule_id", "name", "flag", "description"]
    ordering = ["-priority", "rule_id"]
    actions = ["activate", "deactivate"]
    readonly_fields = ["version", "created_at", "updated_at"]
    fieldsets = [(None, {"fields": ["definition"]}), ("Bookkeeping", {"fields": readonly_fields})]

    @admin.display(description="State", ordering="active")
    def state(self, rule: Rule) -> str:
        return "active" if rule.active else "inactive"  # words: an inactive rule is no failure

    def save_model(self, request, obj: Rule, form: RuleForm, change: bool) -> None:
        if change:
            saved = rule_update(rule=obj, definition=form.checked_definition)
        else:
            saved = rule_create(definition=form.checked_definition)
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def delete_model(self, request, obj: Rule) -> None:
        rule_delete(rule=obj)

    def delete_queryset(self, request, queryset) -> None:
        for rule in queryset:
            rule_delete(rule=rule)

    @admin.action(description="Activate selected rules", permissions=["change"])
    def activate(self, request, queryset) -> None:
        for rule in queryset:
            rule_activate(rule=rule)
        self.message_user(request, f"{queryset.count()} rule(s) active.", messages.SUCCESS)

    @admin.action(description="Deactivate selected rules", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        for rule in queryset:
            rule_deactivate(rule=rule)
        self.message_user(request, f"{queryset.count()} rule(s) inactive.", messages.SUCCESS)

    def get_urls(self):
        extra = [
            path("<int:pk>/test/", self.admin_site.admin_view(self.test_view), name="rules_rule_test"),
            path(
                "<int:pk>/backtest/",
                self.admin_site.admin_view(self.backtest_view),
                name="rules_rule_backtest",
            ),
        ]
        return extra + super().get_urls()

    def _evaluate_permission(self, request) -> None:
        if not request.user.has_perm("rules.evaluate_rule"):
            raise PermissionDenied

    def test_view(self, request, pk: int):
        """Run the rule against one participant and show each condition with its actual value."""
        self._evaluate_permission(request)
        rule = get_object_or_404(Rule, pk=pk)
        form = TestForm(request.GET or None)
        preview = None
        if form.is_valid():
            participant = Participant.objects.filter(user_id=form.cleaned_data["user_id"]).first()
            if participant is None:
                form.add_error("user_id", "No participant with this user_id.")
            else:
                preview = selectors.rule_preview(rule=rule, participant=participant)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": rule,
            "title": f"Test {rule.rule_id} against a participant",
            "form": form,
            "preview": preview,
            "trace": _trace_html(preview["condition"]) if preview else "",
        }
        return TemplateResponse(request, "admin/rules/rule/test.html", context)

    def backtest_view(self, request, pk: int):
        """How many participants the rule would match now (the first 10,000)."""
        self._evaluate_permission(request)
        rule = get_object_or_404(Rule, pk=pk)
        result = selectors.rule_backtest(rule=rule) if request.method == "POST" else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": rule,
            "title": f"Backtest {rule.rule_id}",
            "result": result,
        }
        return TemplateResponse(request, "admin/rules/rule/backtest.html", context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Computed rows: visible, never edited by hand here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _flag_value(value: bool | None) -> str:
    """A flag's value in words (true / false / unset): neither is good or bad, so no ✓/✗."""
    return "unset" if value is None else str(value).lower()


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin):
    list_display = ["participant", "flag", "value_shown", "set_by_rule", "set_at", "expires_at"]
    list_filter = ["flag", "value", "set_by_rule"]
    search_fields = ["participant__user_id", "flag"]
    list_select_related = ["participant"]

    @admin.display(description="Value", ordering="value")
    def value_shown(self, flag: Flag) -> str:
        return _flag_value(flag.value)


@admin.register(FlagHistory)
class FlagHistoryAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "participant", "flag", "change", "reason", "set_by_rule"]
    list_filter = ["reason", "flag"]
    search_fields = ["participant__user_id", "flag", "set_by_rule"]
    list_select_related = ["participant"]
    date_hierarchy = "changed_at"
    show_full_result_count = False

    @admin.display(description="Change")
    def change(self, row: FlagHistory) -> str:
        return f"{_flag_value(row.previous_value)} → {_flag_value(row.value)}"


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ["participant", "milestone", "reached_at", "triggered_by_rule", "participant_flags"]
    list_filter = ["milestone", "triggered_by_rule"]
    search_fields = ["participant__user_id", "milestone"]
    list_select_related = ["participant"]

    @admin.display(description="Flags")
    def participant_flags(self, obj: Milestone):
        url = reverse("admin:rules_flag_changelist") + f"?q={obj.participant.user_id}"
        return format_html('<a href="{}">flags of {}</a>', url, obj.participant.user_id)
