"""What operators watch: user journeys with the timeline of their step runs (and why each went
where it went), pause / resume / cancel, and the queues of step runs that need a person: dead
letters (retry or skip) and overdue runs (timer lateness, visible)."""

import json
from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django_fsm import TransitionNotAllowed

from journeys.builder.graph.svg import render_svg
from journeys.builder.journey_admin import BUILDER_MEDIA
from journeys.builder.traces import trace_html
from journeys.engine.definition import definition_for
from journeys.errors import DomainError
from journeys.models import RewardLedger, StepRun, UserJourney
from journeys.selectors.user_journeys import user_journey_history, user_journey_progress
from journeys.services.user_journeys import (
    step_run_retry,
    step_run_skip,
    user_journey_cancel,
    user_journey_pause,
    user_journey_resume,
)

OPERATIONS = {
    "pause": (user_journey_pause, "Paused"),
    "resume": (user_journey_resume, "Resumed"),
    "cancel": (user_journey_cancel, "Cancelled"),
}
OPERATE_PERMISSION = "journeys.operate_userjourney"
RETRY_PERMISSION = "journeys.retry_steprun"
OVERDUE_GRACE_SECONDS = 5  # the dispatcher ticks every second; later than this is overdue


def overdue_grace() -> timedelta:
    return timedelta(seconds=getattr(settings, "JOURNEY_OVERDUE_GRACE_SECONDS", OVERDUE_GRACE_SECONDS))


def _error_text(exc: Exception, user_journey: UserJourney | None = None) -> str:
    if isinstance(exc, TransitionNotAllowed):
        state = UserJourney.objects.filter(pk=user_journey.pk).values_list("state", flat=True).first()
        return f"not allowed while the journey is {state}"
    if isinstance(exc, DomainError):
        return exc.message
    return str(exc)


def _seconds(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# ----------------------------------------------------------------------------------------------
# User journeys
# ----------------------------------------------------------------------------------------------
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
        changed, refused = 0, []
        for user_journey in queryset:
            try:
                service(user_journey=user_journey, actor=request.user)
                changed += 1
            except (TransitionNotAllowed, DomainError) as exc:
                refused.append(f"#{user_journey.pk}: {_error_text(exc, user_journey)}")
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
        except (TransitionNotAllowed, DomainError) as exc:
            self.message_user(
                request, f"Cannot {operation}: {_error_text(exc, user_journey)}.", messages.ERROR
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
                late = _seconds(now - run.due_at)
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
            items.append({"type": "log", "at": entry.at, "entry": entry, "detail": _in_words(entry.detail)})
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


def _in_words(detail) -> str:
    """A log entry's detail as staff read it: ``reason: goal event · step: welcome``."""
    if not detail:
        return ""
    if not isinstance(detail, dict):
        return str(detail)
    parts = []
    for key, value in detail.items():
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, default=str)
        parts.append(f"{str(key).replace('_', ' ')}: {value}")
    return " · ".join(parts)


# ----------------------------------------------------------------------------------------------
# Step runs: dead letters, overdue runs, waiting runs
# ----------------------------------------------------------------------------------------------
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
                return format_html('<span class="late">{} overdue</span>', _seconds(late))
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
        done, refused = 0, []
        for run in queryset.select_related("user_journey"):
            try:
                service(step_run=run, actor=request.user)
                done += 1
            except (TransitionNotAllowed, DomainError) as exc:
                refused.append(f"#{run.pk} ({run.step_key}): {_error_text(exc, run.user_journey)}")
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


def register(site: admin.AdminSite) -> None:
    site.register(UserJourney, UserJourneyAdmin)
    site.register(StepRun, StepRunAdmin)
    site.register(RewardLedger, RewardLedgerAdmin)
