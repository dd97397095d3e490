"""The pieces of the journey page: its inlines (steps, versions), the deleted filter, errors in words."""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from journeys.builder.forms import StepForm, StepFormSet
from journeys.models import Journey, JourneyVersion, Step
from journeys.models.journeys import TriggerType
from journeys.registries import action_types


def readable_errors(errors: dict[str, list[str]], steps: list[Step]) -> list[str]:
    """``steps.2.config.url: …`` → ``Step "notify" > config.url: …`` (the keys staff know)."""
    lines = []
    for where, problems in errors.items():
        parts = where.split(".", 2)
        if parts[0] == "steps" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(steps):
            step = steps[int(parts[1])]
            where = f'Step "{step.key}"' + (f" > {parts[2]}" if len(parts) > 2 else "")
        lines.extend(f"{where}: {problem}" for problem in problems)
    return lines


def editable(journey: Journey | None) -> bool:
    return journey is None or journey.state != Journey.State.ARCHIVED


def editor_context() -> dict:
    """What the editor's helpers show: built-in triggers, each action type's example config."""
    return {
        "trigger_types": list(TriggerType),
        "action_examples": {name: action.config_example for name, action in action_types.items()},
    }


class StepInline(admin.StackedInline):
    """The draft steps, in order; validated together with the journey before anything is saved."""

    model = Step
    form = StepForm
    formset = StepFormSet
    extra = 0
    ordering = ["order", "id"]
    classes = ["journey-steps"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("key", "name", "order"),
                    ("kind", "action_type"),
                    "config",
                    "condition",
                    "next_steps",
                    ("delay_minutes", "max_attempts", "on_failure"),
                    ("is_milestone", "completion"),
                    ("experience_api", "personalization", "session_tracking"),
                ]
            },
        )
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return editable(obj) and super().has_delete_permission(request, obj)


class JourneyVersionInline(admin.TabularInline):
    """Published versions: frozen, so read-only; runs keep the version they started with."""

    model = JourneyVersion
    fields = ["version_link", "published_at", "published_by", "runs"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]
    verbose_name_plural = "Published versions (frozen)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("published_by").annotate(run_count=Count("runs"))

    @admin.display(description="Version")
    def version_link(self, obj: JourneyVersion):
        url = reverse("admin:journeys_journeyversion_change", args=[obj.pk])
        live = " (live)" if obj.journey.live_version_id == obj.pk else ""
        return format_html('<a href="{}">v{}{}</a>', url, obj.number, live)

    @admin.display(description="Runs")
    def runs(self, obj: JourneyVersion):
        url = reverse("admin:journeys_userjourney_changelist") + f"?version__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.run_count)


class DeletedFilter(admin.SimpleListFilter):
    """Deleted journeys are hidden unless asked for; they are restored with an action."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("all", "All")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Not deleted",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)
