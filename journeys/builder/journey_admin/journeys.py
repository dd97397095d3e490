"""The journey's change list and form: fields, saving through the services, soft delete."""

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from journeys.builder.forms import BUILDER_MEDIA, JourneyForm, StepFormSet
from journeys.builder.journey_admin.pages import JourneyPages
from journeys.builder.journey_admin.parts import (
    DeletedFilter,
    JourneyVersionInline,
    StepInline,
    editable,
    readable_errors,
)
from journeys.crypto import secret_mask
from journeys.errors import Conflict, ValidationFailed
from journeys.models import Journey
from journeys.models.runs import LIVE_STATES
from journeys.services.journeys import (
    JOURNEY_FIELDS,
    journey_create,
    journey_delete,
    journey_undelete,
    journey_update,
)
from journeys.services.webhook_secrets import WEBHOOK_ACTION


class JourneyAdmin(JourneyPages, admin.ModelAdmin):
    """A journey and its draft steps, saved together through the services; deleting is soft."""

    form = JourneyForm
    inlines = [StepInline, JourneyVersionInline]
    change_form_template = "admin/journeys/journey/change_form.html"
    list_display = [
        "name",
        "state",
        "journey_type",
        "trigger_type",
        "priority",
        "live_version_number",
        "active_runs",
        "updated_at",
    ]
    list_filter = [DeletedFilter, "state", "journey_type", "trigger_type"]
    search_fields = ["name", "description", "trigger_type"]
    actions = ["restore_deleted"]
    readonly_fields = [
        "state",
        "live_version_link",
        "template_name",
        "created_by",
        "created_at",
        "updated_at",
        "signing_secrets",
        "deleted_at",
        "deleted_by",
    ]
    fieldsets = [
        (None, {"fields": [("name", "key"), "description", ("journey_type", "state", "live_version_link")]}),
        ("Trigger", {"fields": ["trigger_type", "trigger_conditions", ("priority", "re_entry")]}),
        ("Ending", {"fields": [("goal_event", "exit_event")]}),
        ("Messages", {"fields": [("quiet_hours_start", "quiet_hours_end"), "cap_policy"]}),
        (
            "Bookkeeping",
            {
                "fields": [
                    "template_name",
                    "created_by",
                    ("created_at", "updated_at"),
                    ("deleted_at", "deleted_by"),
                ],
                "classes": ["collapse"],
            },
        ),
    ]

    @property
    def media(self):
        return super().media + BUILDER_MEDIA

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("live_version")
            .annotate(live_runs=Count("user_journeys", filter=Q(user_journeys__state__in=LIVE_STATES)))
        )

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        for inline in inlines:
            if obj is not None and isinstance(inline, StepInline):
                inline.classes = [*inline.classes, "collapse"]  # the canvas edits them; the form stays
        return inlines

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.steps.filter(action_type=WEBHOOK_ACTION).exists():
            fieldsets = [*fieldsets, ("Webhook signing secrets", {"fields": ["signing_secrets"]})]
        return fieldsets

    @admin.display(description="Signing secrets")
    def signing_secrets(self, obj: Journey):
        """Each webhook step's secret, masked, with a link to rotate it (shown once then)."""
        steps = obj.steps.filter(action_type=WEBHOOK_ACTION).order_by("order", "id")
        return format_html_join(
            mark_safe("<br>"),
            '{}: <code>{}</code> <a href="{}" class="rotate-secret">Rotate</a>',
            (
                (
                    step.key,
                    secret_mask(step.config.get("secret") or "") if isinstance(step.config, dict) else "",
                    reverse("admin:journeys_journey_rotate_secret", args=[obj.pk, step.key]),
                )
                for step in steps
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not editable(obj):
            return [*self.readonly_fields, *JOURNEY_FIELDS]
        return self.readonly_fields

    @admin.display(description="Live version", ordering="live_version__number")
    def live_version_number(self, obj: Journey) -> str:
        return f"v{obj.live_version.number}" if obj.live_version_id else "—"

    @admin.display(description="Live version")
    def live_version_link(self, obj: Journey):
        if not obj.live_version_id:
            return "—"
        url = reverse("admin:journeys_journeyversion_change", args=[obj.live_version_id])
        return format_html('<a href="{}">v{}</a>', url, obj.live_version.number)

    @admin.display(description="Active runs", ordering="live_runs")
    def active_runs(self, obj: Journey):
        url = (
            reverse("admin:journeys_userjourney_changelist")
            + f"?journey__id__exact={obj.pk}&state__in=active,paused"
        )
        return format_html('<a href="{}">{}</a>', url, obj.live_runs)

    # ------------------------------------------------------------------------------------------
    # Saving: through the services, the journey and its steps together
    # ------------------------------------------------------------------------------------------
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationFailed as exc:  # a race the forms could not see (a name taken meanwhile)
            for line in readable_errors(exc.errors, []):
                self.message_user(request, f"Not saved: {line}", messages.ERROR)
        except Conflict as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)
        return HttpResponseRedirect(request.path)

    def save_model(self, request, obj: Journey, form, change: bool) -> None:
        """Nothing yet: the journey is saved with its steps, by the services, in save_related."""

    def save_related(self, request, form, formsets, change: bool) -> None:
        journey: Journey = form.instance
        steps_formset = next(f for f in formsets if isinstance(f, StepFormSet))
        for formset in formsets:  # what the admin's change message reads
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if change and not editable(journey):
            return
        data = {name: form.cleaned_data[name] for name in JOURNEY_FIELDS if name in form.cleaned_data}
        if not change:
            saved = journey_create(data=data, steps=steps_formset.steps, actor=request.user)
        elif form.has_changed() or steps_formset.has_changed():
            steps = steps_formset.steps if steps_formset.has_changed() else None
            saved = journey_update(journey=journey, data=data, steps=steps, actor=request.user)
        else:
            return
        journey.pk = saved.pk  # what the admin's log and redirect use
        for key, secret in saved.revealed_secrets.items():
            self.message_user(
                request,
                format_html(
                    "The signing secret of step {}, shown only this once: <code>{}</code>", key, secret
                ),
                messages.WARNING,
            )

    def delete_model(self, request, obj: Journey) -> None:
        """Soft: runs in flight are cancelled, history stays, *Restore* brings it back."""
        journey_delete(journey=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for journey in queryset:
            journey_delete(journey=journey, actor=request.user)

    def get_deleted_objects(self, objs, request):
        """A soft delete removes no related rows, so the confirmation lists only the journeys."""
        return [str(obj) for obj in objs], {}, set(), []

    @admin.action(description="Restore the selected deleted journeys", permissions=["delete"])
    def restore_deleted(self, request, queryset) -> None:
        restored = 0
        for journey in queryset.filter(deleted_at__isnull=False):
            try:
                journey_undelete(journey=journey, actor=request.user)
            except ValidationFailed as exc:
                for line in readable_errors(exc.errors, []):
                    self.message_user(request, f"{journey}: {line}", messages.ERROR)
                continue
            restored += 1
        self.message_user(request, f"{restored} journeys restored.", messages.SUCCESS)
