"""User journeys: the timeline of their step runs and why each went where it went; pause, resume, cancel."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from journeys.builder.forms import BUILDER_MEDIA
from journeys.builder.graph.svg import render_svg
from journeys.builder.read_only import ReadOnlyMixin
from journeys.builder.run_admin.common import (
    OPERATE_PERMISSION,
    OPERATIONS,
    RETRY_PERMISSION,
    detail_in_words,
    each_through_service,
    error_text,
    seconds_in_words,
)
from journeys.builder.traces import trace_html
from journeys.engine.definition import definition_for
from journeys.errors import DomainError
from journeys.models import StepRun, UserJourney
from journeys.selectors.user_journeys import user_journey_history, user_journey_progress


class UserJourneyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    change_form_template = "admin/journeys/userjourney/change_form.html"
    change_list_template = "admin/journeys/userjourney/change_list.html"
    list_display = [
        "id",
        "participant",
        "journey",
        "version_number",
        "state",
        "current_step",
        "started_at",
        "ended_at",
    ]
    list_filter = ["state", "journey", "converted"]
    search_fields = ["participant__user_id", "journey__name"]
    list_select_related = ["participant", "journey", "version"]
    show_full_result_count = False
    actions = ["pause", "resume", "cancel"]
    fieldsets = [
        (
            None,
            {"fields": [("journey", "version_number", "participant"), ("state", "current_step", "variant")]},
        ),
        (
            "Times",
            {
                "fields": [
                    ("started_at", "paused_at", "ended_at"),
                    ("end_reason", "converted", "converted_at"),
                ]
            },
        ),
        ("Failure", {"fields": ["failure_reason"]}),
        ("Context", {"fields": ["context_json"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "journey",
        "version_number",
        "participant",
        "state",
        "current_step",
        "variant",
        "started_at",
        "paused_at",
        "ended_at",
        "end_reason",
        "converted",
        "converted_at",
        "failure_reason",
        "context_json",
    ]

    @property
    def media(self):
        return super().media + BUILDER_MEDIA

    @admin.display(description="Version", ordering="version__number")
    def version_number(self, obj: UserJourney) -> str:
        return f"v{obj.version.number}"

    @admin.display(description="Context (trigger payload and step results)")
    def context_json(self, obj: UserJourney):
        return format_html(
            '<pre class="json-view">{}</pre>', json.dumps(obj.context, indent=2, ensure_ascii=False)
        )

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm(OPERATE_PERMISSION)

    # Bulk actions: each through its service; a journey in the wrong state is reported, not fatal.
    def _operate_all(self, request, queryset, name: str) -> None:
        service, done = OPERATIONS[name]
        changed, refused = each_through_service(
            queryset,
            lambda user_journey: service(user_journey=user_journey, actor=request.user),
            lambda user_journey, exc: f"#{user_journey.pk}: {error_text(exc, user_journey)}",
        )
        if changed:
            self.message_user(request, f"{done}: {changed} user journey(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not {done.lower()}: {line}", messages.WARNING)

    @admin.action(description="Pause the selected user journeys", permissions=["operate"])
    def pause(self, request, queryset) -> None:
        self._operate_all(request, queryset, "pause")

    @admin.action(description="Resume the selected user journeys", permissions=["operate"])
    def resume(self, request, queryset) -> None:
        self._operate_all(request, queryset, "resume")

    @admin.action(description="Cancel the selected user journeys", permissions=["operate"])
    def cancel(self, request, queryset) -> None:
        self._operate_all(request, queryset, "cancel")

    def get_urls(self):
        return [
            path(
                "<int:pk>/operate/<str:operation>/",
                self.admin_site.admin_view(self.operate_view),
                name="journeys_userjourney_operate",
            ),
            *super().get_urls(),
        ]

    def operate_view(self, request, pk: int, operation: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request) or operation not in OPERATIONS:
            raise PermissionDenied
        user_journey = get_object_or_404(UserJourney, pk=pk)
        service, done = OPERATIONS[operation]
        try:
            service(user_journey=user_journey, actor=request.user)
            self.message_user(request, f"{done}.", messages.SUCCESS)
        except DomainError as exc:
            self.message_user(
                request, f"Cannot {operation}: {error_text(exc, user_journey)}.", messages.ERROR
            )
        return HttpResponseRedirect(reverse("admin:journeys_userjourney_change", args=[pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user_journey = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if user_journey is not None:
            context.update(self._timeline_context(request, user_journey))
        return super().change_view(request, object_id, form_url, context)

    def _timeline_context(self, request, user_journey: UserJourney) -> dict:
        runs, log_entries = user_journey_history(user_journey=user_journey)
        runs = list(runs)
        now = timezone.now()
        can_retry = request.user.has_perm(RETRY_PERMISSION)
        items = []
        for run in runs:
            late = None
            if (
                run.status in (StepRun.Status.PENDING, StepRun.Status.SCHEDULED)
                and run.due_at
                and run.due_at < now
            ):
                late = seconds_in_words(now - run.due_at)
            items.append(
                {
                    "type": "run",
                    # When the step ran (or is due), not when its row was made: the order it ran in.
                    "at": run.finished_at or run.executed_at or run.due_at or run.created_at,
                    "ran": bool(run.finished_at or run.executed_at),
                    "run": run,
                    "trace": trace_html(run.trace),
                    "result": json.dumps(run.result, indent=2, ensure_ascii=False, default=str)
                    if run.result
                    else "",
                    "late": late,
                    "lag": f"{run.lag_seconds:.2f} s" if run.lag_seconds is not None else "",
                    "retryable": can_retry
                    and run.status == StepRun.Status.FAILED
                    and run.seq == user_journey.last_seq
                    and user_journey.state in (UserJourney.State.FAILED, UserJourney.State.ACTIVE),
                }
            )
        for entry in log_entries:
            items.append(
                {"type": "log", "at": entry.at, "entry": entry, "detail": detail_in_words(entry.detail)}
            )
        items.sort(
            key=lambda item: (item["at"], 0, item["run"].seq) if item["type"] == "run" else (item["at"], 1, 0)
        )
        latest: dict[str, str] = {}
        for run in runs:
            if not run.rolled_back:
                latest[run.step_key] = run.status
        transitions = []
        if self.has_operate_permission(request):
            available = {t.name for t in user_journey.get_available_state_transitions()}
            transitions = [name for name in OPERATIONS if name in available]
        return {
            "timeline": items,
            "graph": render_svg(definition_for(user_journey.version), highlight=latest),
            "progress": user_journey_progress(user_journey=user_journey),
            "operations": transitions,
            "here": request.get_full_path(),
        }
