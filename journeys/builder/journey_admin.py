"""The journey builder: a journey with its steps, the picture of its graph, publish / archive /
restore (django-fsm-2 transitions made by the services), read-only versions and the dry run."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django_fsm import TransitionNotAllowed

from journeys.builder.canvas import canvas_endpoint
from journeys.builder.forms import DryRunForm, JourneyForm, StepForm, StepFormSet
from journeys.builder.graph import draft_svg, render_svg
from journeys.builder.traces import trace_html
from journeys.crypto import secret_mask
from journeys.engine.definition import definition_for, step_as_dict
from journeys.engine.validation import implicit_transitions, validate_definition
from journeys.errors import Conflict, ValidationFailed
from journeys.models import Journey, JourneyVersion, Step
from journeys.models.journeys import TriggerType
from journeys.models.runs import LIVE_STATES
from journeys.registries import action_types
from journeys.services.dry_run import journey_dry_run
from journeys.services.journeys import (
    JOURNEY_FIELDS,
    has_unpublished_changes,
    journey_archive,
    journey_create,
    journey_delete,
    journey_publish,
    journey_restore,
    journey_undelete,
    journey_update,
)
from journeys.services.webhook_secrets import WEBHOOK_ACTION, definition_masked, webhook_step_secret_rotate

TRANSITIONS = {
    "publish": (journey_publish, "Published"),
    "archive": (journey_archive, "Archived"),
    "restore": (journey_restore, "Restored to draft"),
}
TRANSITION_LABELS = {"publish": "Publish", "archive": "Archive", "restore": "Restore to draft"}
TRANSITION_PERMISSION = "journeys.publish_journey"
BUILDER_MEDIA = forms.Media(css={"all": ["journeys/builder.css"]}, js=["journeys/builder.js"])


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


def _editable(journey: Journey | None) -> bool:
    return journey is None or journey.state != Journey.State.ARCHIVED


def _editor_context() -> dict:
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
        return _editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return _editable(obj) and super().has_delete_permission(request, obj)


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


class JourneyAdmin(admin.ModelAdmin):
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
        if obj is not None and not _editable(obj):
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
        if change and not _editable(journey):
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

    # ------------------------------------------------------------------------------------------
    # The change page: graph, readiness, transitions
    # ------------------------------------------------------------------------------------------
    def _transitions(self, request, journey: Journey) -> list[dict[str, str]]:
        if not request.user.has_perm(TRANSITION_PERMISSION):
            return []
        available = [t.name for t in journey.get_available_state_transitions()]
        buttons = []
        for name in ("publish", "archive", "restore"):
            if name in available:
                label = TRANSITION_LABELS[name]
                if name == "publish" and journey.state == Journey.State.PUBLISHED:
                    label = "Publish changes"
                buttons.append({"name": name, "label": label})
        return buttons

    def change_view(self, request, object_id, form_url="", extra_context=None):
        journey = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if journey is not None:
            steps = list(journey.steps.order_by("order", "id"))
            problems = validate_definition(
                steps=[step_as_dict(s) for s in steps],
                journey={name: getattr(journey, name) for name in JOURNEY_FIELDS},
                for_publish=True,
            )
            context.update(
                graph=draft_svg(steps),
                canvas_url=reverse("admin:journeys_journey_canvas", args=[journey.pk]),
                publish_problems=readable_errors(problems, steps),
                implicit_paths=readable_errors(implicit_transitions(steps), steps),
                unpublished_changes=journey.state == Journey.State.PUBLISHED
                and has_unpublished_changes(journey),
                draft_pending=_editable(journey) and has_unpublished_changes(journey),
                transitions=self._transitions(request, journey),
                dry_run_url=reverse("admin:journeys_journey_dry_run", args=[journey.pk]),
            )
        return super().change_view(request, object_id, form_url, {**context, **_editor_context()})

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, {**(extra_context or {}), **_editor_context()})

    def response_change(self, request, obj: Journey):
        name = request.POST.get("_transition")
        if not name:
            return super().response_change(request, obj)
        self._apply_transition(request, obj, name)
        return HttpResponseRedirect(reverse("admin:journeys_journey_change", args=[obj.pk]))

    def _apply_transition(self, request, journey: Journey, name: str) -> None:
        """Publish / archive / restore through the services; every refusal becomes a message."""
        if name not in TRANSITIONS:
            self.message_user(request, f"Unknown transition {name!r}.", messages.ERROR)
            return
        if not request.user.has_perm(TRANSITION_PERMISSION):
            self.message_user(request, "You may not publish or archive journeys.", messages.ERROR)
            return
        service, done = TRANSITIONS[name]
        before = journey.live_version_id
        try:
            saved = service(journey=journey, actor=request.user)
        except ValidationFailed as exc:
            steps = list(Journey.objects.get(pk=journey.pk).steps.all())
            self.message_user(request, "Not published: fix these problems first.", messages.ERROR)
            for line in readable_errors(exc.errors, steps):
                self.message_user(request, line, messages.ERROR)
            return
        except TransitionNotAllowed:
            current = Journey.objects.get(pk=journey.pk).state
            self.message_user(request, f"Cannot {name} a journey that is {current}.", messages.ERROR)
            return
        except Conflict as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        if name == "publish":
            number = saved.live_version.number
            if saved.live_version_id == before:
                self.message_user(request, f"Nothing changed since v{number}; it stays live.", messages.INFO)
            else:
                self.message_user(
                    request,
                    f"Published as v{number}. New participants enter v{number}; "
                    "runs in flight keep their version.",
                    messages.SUCCESS,
                )
        else:
            self.message_user(request, f"{done}: {saved.name} is now {saved.state}.", messages.SUCCESS)

    # ------------------------------------------------------------------------------------------
    # Dry run
    # ------------------------------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/canvas/",
                self.admin_site.admin_view(self.canvas_view),
                name="journeys_journey_canvas",
            ),
            path(
                "<int:pk>/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="journeys_journey_dry_run",
            ),
            path(
                "<int:pk>/steps/<str:key>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="journeys_journey_rotate_secret",
            ),
            *super().get_urls(),
        ]

    def canvas_view(self, request, pk: int):
        """The canvas's JSON: the draft to edit (GET) and saving it (POST), see ``builder.canvas``."""
        return canvas_endpoint(self, request, pk)

    def dry_run_view(self, request, pk: int):
        """ "Test with this participant": the path and every condition, without side effects."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        journey = get_object_or_404(Journey.objects.select_related("live_version"), pk=pk)
        form = DryRunForm(request.GET if "user_id" in request.GET else None, journey=journey)
        result = None
        problems: list[str] = []
        if form.is_valid():
            chosen = form.cleaned_data["version"]
            version = None if chosen == "draft" else journey.versions.filter(pk=chosen).first()
            try:
                result = journey_dry_run(
                    journey=journey,
                    user_id=form.cleaned_data["user_id"],
                    payload=form.cleaned_data["payload"],
                    step_results=form.cleaned_data["step_results"],
                    version=version,
                    event_waits=form.cleaned_data["event_waits"],
                )
            except ValidationFailed as exc:
                problems = readable_errors(exc.errors, list(journey.steps.all()))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": journey,
            "title": f"Dry run of {journey.name}",
            "form": form,
            "result": result,
            "problems": problems,
            "media": self.media + form.media,
        }
        if result is not None:
            context["graph"] = render_svg(result.definition, highlight=result.highlight)
            context["trigger_trace"] = (
                trace_html({"condition": result.trigger["trace"]}) if result.trigger["trace"] else ""
            )
            context["rows"] = [
                {
                    "step": step,
                    "trace": trace_html(step.trace),
                    "preview": json.dumps(step.preview, indent=2, ensure_ascii=False, default=str)
                    if step.preview
                    else "",
                    "offset": step.at - result.now,
                }
                for step in result.steps
            ]
        return TemplateResponse(request, "admin/journeys/journey/dry_run.html", context)

    def rotate_secret_view(self, request, pk: int, key: str):
        """Confirm, then give a webhook step a new signing secret and show it this once."""
        journey = get_object_or_404(Journey, pk=pk)
        if not self.has_change_permission(request, journey):
            raise PermissionDenied
        step = get_object_or_404(Step, journey=journey, key=key, action_type=WEBHOOK_ACTION)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": journey,
            "title": f"Rotate the signing secret of step {step.key}",
            "subjects": [f"step {step.key} ({step.name}) of {journey.name}"],
            "subject_label": "Step",
            "back_url": reverse("admin:journeys_journey_change", args=[journey.pk]),
        }
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            secret = webhook_step_secret_rotate(journey=journey, step_key=step.key, actor=request.user)
            context["secrets"] = [(step.key, secret)]
        return TemplateResponse(request, "admin/secret_rotate.html", context)


class JourneyVersionAdmin(admin.ModelAdmin):
    """Versions are frozen when published: look, never touch."""

    list_display = ["__str__", "journey", "number", "published_at", "published_by", "is_live"]
    list_filter = ["journey"]
    list_select_related = ["journey", "published_by"]
    fields = ["journey", "number", "published_at", "published_by", "graph", "definition_json"]
    readonly_fields = fields

    @property
    def media(self):
        return super().media + BUILDER_MEDIA

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Live")
    def is_live(self, obj: JourneyVersion) -> str:
        # Words, not a ✓/✗: an older version is not a failure.
        return "live" if obj.journey.live_version_id == obj.pk else "—"

    @admin.display(description="Step graph")
    def graph(self, obj: JourneyVersion):
        return format_html('<div class="journey-graph-box">{}</div>', render_svg(definition_for(obj)))

    @admin.display(description="Definition")
    def definition_json(self, obj: JourneyVersion):
        text = json.dumps(definition_masked(obj.definition), indent=2, ensure_ascii=False)
        return format_html('<pre class="json-view">{}</pre>', text)


def register(site: admin.AdminSite) -> None:
    site.register(Journey, JourneyAdmin)
    site.register(JourneyVersion, JourneyVersionAdmin)
