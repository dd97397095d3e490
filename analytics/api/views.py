"""The analytics API: every view reads a selector; none writes.

Every view extends ``AnalyticsAPIView``: the project's permission base (authentication, key
scope, then Django's permissions) with ``analytics.view_analytics`` as the permission required —
the analyst role has it, and operators and designers include analysts.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api import examples
from analytics.api.serializers import (
    MAX_COMPARED,
    CompareQuerySerializer,
    JourneyRangeQuerySerializer,
    OverdueQuerySerializer,
    RangeQuerySerializer,
    RulesQuerySerializer,
    StrictQuerySerializer,
)
from analytics.selectors import comparisons, operations, progress
from analytics.selectors import journeys as journey_selectors
from analytics.selectors.journeys import Scope
from journeys.api.permissions import ApiPermissions
from journeys.models import Journey, UserJourney

VIEW_ANALYTICS = "analytics.view_analytics"


class AnalyticsAPIView(ApiPermissions, APIView):
    required_permission = VIEW_ANALYTICS
    query_serializer = StrictQuerySerializer

    def query(self) -> StrictQuerySerializer:
        params = self.query_serializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params


class JourneyAnalyticsView(AnalyticsAPIView):
    """A figure of one journey, over a range of cohort days and optionally one version."""

    query_serializer = JourneyRangeQuerySerializer

    def scope(self, journey_id: int) -> Scope:
        journey = get_object_or_404(Journey, pk=journey_id)
        params = self.query()
        return Scope(
            journey=journey,
            version=params.resolve_version(journey),
            since=params.validated_data.get("since"),
            until=params.validated_data.get("until"),
        )


def _doc(operation_id: str, summary: str, example: dict | list, params=JourneyRangeQuerySerializer, **kw):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=[params] if params else None,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        examples=[
            OpenApiExample(summary, value=example, response_only=True, status_codes=["200"]),
            examples.BAD_RANGE,
        ],
        tags=["analytics"],
        **kw,
    )


class JourneyMetricsView(JourneyAnalyticsView):
    @_doc("analytics_journey_metrics", "Journey metrics: counts, rates, durations", examples.METRICS)
    def get(self, request, journey_id: int):
        return Response(journey_selectors.journey_metrics(scope=self.scope(journey_id)))


class JourneyCompletionRateView(JourneyAnalyticsView):
    @_doc("analytics_journey_completion_rate", "Completion rate of a journey", examples.COMPLETION_RATE)
    def get(self, request, journey_id: int):
        m = journey_selectors.journey_metrics(scope=self.scope(journey_id))
        keys = ("journey_id", "started", "completed", "failed", "cancelled", "active")
        return Response(
            {k: m[k] for k in keys}
            | {
                "completion_rate": m["completion_rate"],
                "completion_rate_of_ended": m["completion_rate_of_ended"],
            }
        )


class JourneyAverageDurationView(JourneyAnalyticsView):
    @_doc(
        "analytics_journey_average_duration",
        "Duration of completed runs: average, median, p90 and distribution",
        examples.AVERAGE_DURATION,
        description="Averages are exact; medians and p90s are estimated from logarithmic buckets "
        "(within about 9%). `distribution` lists the buckets (seconds) with their counts.",
    )
    def get(self, request, journey_id: int):
        scope = self.scope(journey_id)
        m = journey_selectors.journey_metrics(scope=scope)
        return Response(
            {
                "journey_id": m["journey_id"],
                **m["duration"],
                "distribution": journey_selectors.journey_duration_distribution(scope=scope),
            }
        )


class JourneyDropOffView(JourneyAnalyticsView):
    @_doc(
        "analytics_journey_drop_off_points",
        "Drop-off points, ranked (most participants lost first)",
        examples.DROP_OFF,
    )
    def get(self, request, journey_id: int):
        scope = self.scope(journey_id)
        return Response(
            {
                "journey_id": scope.journey.pk,
                "drop_off_points": journey_selectors.journey_drop_off_points(scope=scope),
            }
        )


class JourneyFunnelView(JourneyAnalyticsView):
    @_doc(
        "analytics_journey_funnel",
        "Funnel: per step reached, completed, skipped, failed, dropped, waiting, durations",
        examples.FUNNEL,
        description="Steps in the definition's order. Counts are user journeys (a step re-run counts "
        "once; `retries` counts the extra runs). `reach_rate` is reached / started.",
    )
    def get(self, request, journey_id: int):
        scope = self.scope(journey_id)
        started = journey_selectors.journey_metrics(scope=scope)["started"]
        return Response(
            {
                "journey_id": scope.journey.pk,
                "started": started,
                "steps": journey_selectors.journey_funnel(scope=scope),
            }
        )


class JourneyPerformanceView(JourneyAnalyticsView):
    @_doc(
        "analytics_journey_performance", "Time per step, bottlenecks, goal conversions", examples.PERFORMANCE
    )
    def get(self, request, journey_id: int):
        return Response(journey_selectors.journey_performance(scope=self.scope(journey_id)))


class JourneyRecommendationsView(JourneyAnalyticsView):
    @_doc(
        "analytics_journey_recommendations",
        "Recommendations, each with its evidence",
        examples.RECOMMENDATIONS,
    )
    def get(self, request, journey_id: int):
        scope = self.scope(journey_id)
        return Response(
            {
                "journey_id": scope.journey.pk,
                "recommendations": comparisons.journey_recommendations(scope=scope),
            }
        )


class JourneyVariantsView(JourneyAnalyticsView):
    @_doc(
        "analytics_journey_variants",
        "A/B split: conversion per variant, Wilson intervals, z-test against the control",
        examples.VARIANTS,
    )
    def get(self, request, journey_id: int):
        return Response(journey_selectors.journey_ab_test(scope=self.scope(journey_id)))


class JourneyTrendView(JourneyAnalyticsView):
    @_doc("analytics_journey_trend", "Starts, completions and conversions per day", examples.TREND)
    def get(self, request, journey_id: int):
        scope = self.scope(journey_id)
        return Response(
            {"journey_id": scope.journey.pk, "days": journey_selectors.journey_trend(scope=scope)}
        )


class JourneysCompareView(AnalyticsAPIView):
    query_serializer = CompareQuerySerializer

    @_doc(
        "analytics_journeys_compare", "Journeys side by side", examples.COMPARE, params=CompareQuerySerializer
    )
    def get(self, request):
        data = self.query().validated_data
        ids = data.get("ids") or comparisons.busiest_journey_ids(
            since=data.get("since"), until=data.get("until"), limit=MAX_COMPARED
        )
        by_id = Journey.objects.in_bulk(ids)
        journeys = [by_id[i] for i in ids]
        return Response(
            {
                "journeys": comparisons.journeys_compare(
                    journeys=journeys, since=data.get("since"), until=data.get("until")
                )
            }
        )


class BenchmarksView(AnalyticsAPIView):
    query_serializer = RangeQuerySerializer

    @_doc(
        "analytics_benchmarks",
        "Benchmarks: each journey's completion rate and duration with its percentile",
        examples.BENCHMARKS,
        params=RangeQuerySerializer,
    )
    def get(self, request):
        data = self.query().validated_data
        return Response(comparisons.journeys_benchmarks(since=data.get("since"), until=data.get("until")))


class MilestoneAnalyticsView(JourneyAnalyticsView):
    @_doc(
        "analytics_milestone",
        "Milestone analytics: reach, completion, retries, rollbacks, durations",
        examples.MILESTONE,
    )
    def get(self, request, journey_id: int, key: str):
        scope = self.scope(journey_id)
        result = progress.milestone_analytics(
            journey=scope.journey, key=key, version=scope.version, since=scope.since, until=scope.until
        )
        if result is None:
            return Response({"detail": f"Journey {journey_id} has no step {key!r}."}, status=404)
        return Response(result)


class UserJourneyProgressView(AnalyticsAPIView):
    @_doc(
        "analytics_user_journey_progress",
        "Progress of a user journey with its estimated completion",
        examples.PROGRESS,
        params=None,
        description="The estimate walks the expected path from the current step and adds the "
        "journey's observed median duration of each remaining step.",
    )
    def get(self, request, user_journey_id: int):
        self.query()
        uj = get_object_or_404(UserJourney.objects.select_related("journey", "version"), pk=user_journey_id)
        return Response(progress.user_journey_progress_report(user_journey=uj))


class StagesAnalyticsView(AnalyticsAPIView):
    query_serializer = RangeQuerySerializer

    @_doc(
        "analytics_stages",
        "Stages: time to production, rollback rate, exit-criteria pass rate, time in stage",
        examples.STAGES,
        params=RangeQuerySerializer,
    )
    def get(self, request):
        data = self.query().validated_data
        return Response(operations.stages_analytics(since=data.get("since"), until=data.get("until")))


class RulesAnalyticsView(AnalyticsAPIView):
    query_serializer = RulesQuerySerializer

    @_doc(
        "analytics_rules",
        "Rules: fires per rule, flags currently true",
        examples.RULES,
        params=RulesQuerySerializer,
    )
    def get(self, request):
        data = self.query().validated_data
        return Response(operations.rules_analytics(since=data.get("since"), until=data.get("until")))


class OverdueView(AnalyticsAPIView):
    query_serializer = OverdueQuerySerializer

    @_doc(
        "analytics_overdue",
        "Overdue timers and user journeys stuck far longer than their step's norm",
        examples.OVERDUE,
        params=OverdueQuerySerializer,
    )
    def get(self, request):
        limit = self.query().validated_data["limit"]
        overdue = operations.overdue_step_runs(limit=limit)
        stuck = operations.stuck_user_journeys(limit=limit)
        return Response(
            {
                "overdue_step_runs": [_run(r) for r in overdue],
                "stuck_user_journeys": [
                    _run(s["step_run"])
                    | {"waited_seconds": s["waited_seconds"], "norm_p90_seconds": s["norm_p90_seconds"]}
                    for s in stuck
                ],
            }
        )


def _run(run) -> dict:
    return {
        "step_run_id": run.pk,
        "user_journey_id": run.user_journey_id,
        "journey_id": run.user_journey.journey_id,
        "journey": run.user_journey.journey.name,
        "participant": run.participant.user_id,
        "step_key": run.step_key,
        "status": run.status,
        "due_at": run.due_at,
        "waiting_for": run.waiting_for,
        "created_at": run.created_at,
    }
