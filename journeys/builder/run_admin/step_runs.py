"""Step runs that need a person: dead letters (retry or skip), overdue and waiting runs; rewards."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from journeys.builder.forms import BUILDER_MEDIA
from journeys.builder.read_only import ReadOnlyMixin
from journeys.builder.run_admin.common import (
    RETRY_PERMISSION,
    each_through_service,
    error_text,
    overdue_grace,
    seconds_in_words,
)
from journeys.builder.traces import trace_html
from journeys.models import StepRun, UserJourney
from journeys.services.user_journeys import (
    step_run_retry,
    step_run_skip,
)


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("dead", "Dead letters (failed for good)"),
            ("overdue", "Overdue (due, not executed)"),
            ("waiting", "Waiting for an event or an advance"),
            ("running", "Running"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "dead":
            return queryset.filter(status=StepRun.Status.FAILED, dead_lettered_at__isnull=False).order_by(
                "-dead_lettered_at"
            )
        if value == "overdue":
            return queryset.filter(
                status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
                due_at__lt=timezone.now() - overdue_grace(),
                user_journey__state=UserJourney.State.ACTIVE,
            ).order_by("due_at")
        if value == "waiting":
            return queryset.filter(status=StepRun.Status.SCHEDULED, entered=True).exclude(waiting_for="")
        if value == "running":
            return queryset.filter(status=StepRun.Status.RUNNING)
        return queryset


class StepRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "user_journey_link",
        "participant",
        "journey",
        "step_key",
        "kind",
        "status",
        "tries",
        "due_at",
        "lateness",
        "dead_lettered_at",
        "error_excerpt",
    ]
    list_filter = [QueueFilter, "status", "step_kind", "user_journey__journey"]
    search_fields = ["participant__user_id", "step_key", "=user_journey__id"]
    list_select_related = ["user_journey__journey", "participant"]
    show_full_result_count = False
    actions = ["retry", "skip"]
    readonly_fields = [
        "user_journey_link",
        "participant",
        "seq",
        "step_key",
        "step_kind",
        "action_type",
        "status",
        "entered",
        "due_at",
        "waiting_for",
        "attempts",
        "max_attempts",
        "executed_at",
        "finished_at",
        "lateness",
        "dead_lettered_at",
        "error",
        "trace_view",
        "result_json",
    ]
    fields = readonly_fields

    @property
    def media(self):
        return super().media + BUILDER_MEDIA

    def changelist_view(self, request, extra_context=None):
        queue = request.GET.get("queue")
        title = {"dead": "Dead letters", "overdue": "Overdue step runs", "waiting": "Waiting step runs"}.get(
            queue, "Step runs"
        )
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    @admin.display(description="User journey", ordering="user_journey")
    def user_journey_link(self, obj: StepRun):
        url = reverse("admin:journeys_userjourney_change", args=[obj.user_journey_id])
        return format_html('<a href="{}">#{}</a>', url, obj.user_journey_id)

    @admin.display(description="Journey")
    def journey(self, obj: StepRun):
        return obj.user_journey.journey

    @admin.display(description="Kind")
    def kind(self, obj: StepRun) -> str:
        return obj.action_type or obj.step_kind

    @admin.display(description="Attempts")
    def tries(self, obj: StepRun) -> str:
        return f"{obj.attempts}/{obj.max_attempts}"

    @admin.display(description="Lateness")
    def lateness(self, obj: StepRun):
        """How late the timer is: still waiting past due, or the dispatch lag once executed."""
        if obj.status in (StepRun.Status.PENDING, StepRun.Status.SCHEDULED) and obj.due_at:
            late = timezone.now() - obj.due_at
            if late > overdue_grace():
                return format_html('<span class="late">{} overdue</span>', seconds_in_words(late))
            return "—"
        if obj.lag_seconds is not None:
            return f"lag {obj.lag_seconds:.2f} s"
        return "—"

    @admin.display(description="Error")
    def error_excerpt(self, obj: StepRun) -> str:
        return obj.error[:120] + ("…" if len(obj.error) > 120 else "")

    @admin.display(description="Trace (why)")
    def trace_view(self, obj: StepRun):
        return trace_html(obj.trace) or "—"

    @admin.display(description="Result")
    def result_json(self, obj: StepRun):
        return format_html('<pre class="json-view">{}</pre>', json.dumps(obj.result, indent=2, default=str))

    # Retry / skip of dead letters, through the services.
    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm(RETRY_PERMISSION)

    def _dead_letter_all(self, request, queryset, name: str) -> None:
        service = step_run_retry if name == "retry" else step_run_skip
        done, refused = each_through_service(
            queryset.select_related("user_journey"),
            lambda run: service(step_run=run, actor=request.user),
            lambda run, exc: f"#{run.pk} ({run.step_key}): {error_text(exc, run.user_journey)}",
        )
        verb = "Retried" if name == "retry" else "Skipped"
        if done:
            self.message_user(request, f"{verb} {done} step run(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not {verb.lower()}: {line}", messages.WARNING)

    @admin.action(description="Retry the selected dead letters now", permissions=["retry"])
    def retry(self, request, queryset) -> None:
        self._dead_letter_all(request, queryset, "retry")

    @admin.action(description="Skip the selected dead letters (the journey goes on)", permissions=["retry"])
    def skip(self, request, queryset) -> None:
        self._dead_letter_all(request, queryset, "skip")

    def get_urls(self):
        return [
            path(
                "<int:pk>/dead-letter/<str:operation>/",
                self.admin_site.admin_view(self.dead_letter_view),
                name="journeys_steprun_operate",
            ),
            *super().get_urls(),
        ]

    def dead_letter_view(self, request, pk: int, operation: str):
        """One run's retry or skip, from the timeline of its user journey."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_retry_permission(request) or operation not in {"retry", "skip"}:
            raise PermissionDenied
        run = get_object_or_404(StepRun.objects.select_related("user_journey"), pk=pk)
        self._dead_letter_all(request, StepRun.objects.filter(pk=run.pk), operation)
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:journeys_userjourney_change", args=[run.user_journey_id])
        return HttpResponseRedirect(target)


class RewardLedgerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Rewards granted by step runs: one row per run, never edited by hand."""

    list_display = ["created_at", "participant", "reward", "amount", "unit", "step_run"]
    list_filter = ["reward", "unit"]
    search_fields = ["participant__user_id", "reward"]
    list_select_related = ["participant"]
