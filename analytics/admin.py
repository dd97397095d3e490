"""The analytics dashboard and the overdue list in the admin.

The dashboard is a page over the rollups (a proxy model gives it a place in the admin's menu);
charts are drawn in the browser by Chart.js, served from this app's static files.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from analytics.models import Dashboard, OverdueStepRun
from analytics.selectors import comparisons, operations
from analytics.selectors import journeys as journey_selectors
from analytics.selectors.journeys import Scope
from journeys.builder.read_only import ReadOnlyMixin
from journeys.builder.run_admin.common import each_through_service
from journeys.errors import DomainError
from journeys.models import Journey, JourneyVersion, StepRun, UserJourney
from journeys.services.user_journeys import milestone_skip, user_journey_cancel, user_journey_execute

VIEW_ANALYTICS = "analytics.view_analytics"
OPERATE = "journeys.operate_userjourney"
DEFAULT_RANGE_DAYS = 30


class DashboardFilterForm(forms.Form):
    journey = forms.ModelChoiceField(queryset=Journey.objects.order_by("name"), required=False)
    version = forms.IntegerField(required=False, min_value=1, help_text="Version number (all when empty).")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "Must be on or after the first day.")
        journey, number = data.get("journey"), data.get("version")
        if number and journey is None:
            self.add_error("version", "Pick a journey first.")
        elif number and not JourneyVersion.objects.filter(journey=journey, number=number).exists():
            self.add_error("version", f"{journey} has no version {number}.")
        return data


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """One page: the chosen journey's funnel, durations, trend, A/B split and advice; the stage
    pipeline; the overdue list."""

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(VIEW_ANALYTICS)

    def has_module_permission(self, request) -> bool:
        return request.user.has_perm(VIEW_ANALYTICS)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.now().date()
        form = DashboardFilterForm(request.GET or None)
        data = form.cleaned_data if form.is_bound and form.is_valid() else {}
        journey = data.get("journey") or _busiest_journey()
        since = data.get("since") or today - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        until = data.get("until") or today
        version = (
            JourneyVersion.objects.filter(journey=journey, number=data["version"]).first()
            if journey and data.get("version")
            else None
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Analytics dashboard",
            "opts": self.model._meta,
            "form": form,
            "journey": journey,
            "since": since,
            "until": until,
            "stages": operations.stages_analytics(),
            "overdue": operations.overdue_step_runs(limit=20),
            "overdue_url": reverse("admin:analytics_overduesteprun_changelist"),
            "benchmarks": comparisons.journeys_benchmarks(since=since, until=until)["journeys"],
        }
        if journey is not None:
            scope = Scope(journey=journey, version=version, since=since, until=until)
            funnel = journey_selectors.journey_funnel(scope=scope)
            ab = journey_selectors.journey_ab_test(scope=scope)
            context.update(
                metrics=journey_selectors.journey_metrics(scope=scope),
                funnel=funnel,
                drop_offs=journey_selectors.journey_drop_off_points(scope=scope, funnel=funnel),
                recommendations=comparisons.journey_recommendations(scope=scope),
                ab=ab,
                charts={
                    "funnel": [
                        {k: s[k] for k in ("step_key", "reached", "completed", "dropped", "waiting")}
                        for s in funnel
                    ],
                    "durations": journey_selectors.journey_duration_distribution(scope=scope),
                    "trend": journey_selectors.journey_trend(scope=scope),
                    "ab": [
                        {
                            "variant": v["variant"],
                            "rate": v["conversion_rate"],
                            "interval": v["confidence_interval"],
                        }
                        for v in ab["variants"]
                    ],
                },
            )
        context.setdefault("charts", {})
        context["charts"]["stages"] = context["stages"]["pipeline"]
        return TemplateResponse(request, "analytics/dashboard.html", context)


def _busiest_journey() -> Journey | None:
    """The journey shown when none is picked: the published one with the most runs."""
    from django.db.models import Count

    return (
        Journey.objects.filter(state=Journey.State.PUBLISHED)
        .annotate(runs=Count("user_journeys"))
        .order_by("-runs", "name")
        .first()
    ) or Journey.objects.order_by("name").first()


class LatenessFilter(admin.SimpleListFilter):
    title = "why"
    parameter_name = "why"

    def lookups(self, request, model_admin):
        return [("due", "Past its due time"), ("stuck", "Waiting far longer than the step's norm")]

    def queryset(self, request, queryset):
        return queryset  # applied in get_queryset, which knows both lists


@admin.register(OverdueStepRun)
class OverdueStepRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Timers past due and runs stuck at a step, with bulk run now / skip / cancel."""

    list_display = [
        "id",
        "journey",
        "user_journey_link",
        "participant",
        "step_key",
        "status",
        "due_at",
        "waited",
    ]
    list_filter = [LatenessFilter]
    actions = ["run_now", "skip_step", "cancel_journey"]
    list_per_page = 100

    def get_queryset(self, request) -> QuerySet:
        why = request.GET.get("why")
        ids: set[int] = set()
        if why in (None, "due"):
            ids |= {run.pk for run in operations.overdue_step_runs(limit=1000)}
        if why in (None, "stuck"):
            ids |= {s["step_run"].pk for s in operations.stuck_user_journeys(limit=1000)}
        return (
            OverdueStepRun.objects.filter(pk__in=ids)
            .select_related("user_journey__journey", "participant")
            .order_by("due_at", "created_at")
        )

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(VIEW_ANALYTICS) or request.user.has_perm(OPERATE)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm(OPERATE)

    @admin.display(description="journey")
    def journey(self, run: StepRun) -> str:
        return run.user_journey.journey.name

    @admin.display(description="user journey")
    def user_journey_link(self, run: StepRun) -> str:
        url = reverse("admin:journeys_userjourney_change", args=[run.user_journey_id])
        return format_html('<a href="{}">#{}</a>', url, run.user_journey_id)

    @admin.display(description="waited")
    def waited(self, run: StepRun) -> str:
        hours = (timezone.now() - run.created_at).total_seconds() / 3600
        return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"

    def _each(self, request, queryset, verb: str, operation) -> None:
        done, refused = each_through_service(
            queryset.select_related("user_journey"),
            operation,
            lambda run, exc: f"#{run.pk}: {exc.message}",
        )
        if done:
            self.message_user(request, f"{verb} {done} step run(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not {verb.lower()}: {line}", messages.WARNING)

    @admin.action(
        description="Run the selected steps now (waits and backoff count as due)", permissions=["operate"]
    )
    def run_now(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            "Ran",
            lambda run: user_journey_execute(user_journey=run.user_journey, force=True),
        )

    @admin.action(description="Skip the selected steps (the journeys go on)", permissions=["operate"])
    def skip_step(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            "Skipped",
            lambda run: milestone_skip(user_journey=run.user_journey, key=run.step_key, actor=request.user),
        )

    @admin.action(description="Cancel the selected runs' user journeys", permissions=["operate"])
    def cancel_journey(self, request, queryset) -> None:
        def cancel(run: StepRun) -> None:
            if run.user_journey.state not in (UserJourney.State.ACTIVE, UserJourney.State.PAUSED):
                raise DomainError(f"the user journey is {run.user_journey.state}")
            user_journey_cancel(
                user_journey=run.user_journey, actor=request.user, reason="overdue: cancelled by staff"
            )

        self._each(request, queryset, "Cancelled", cancel)
