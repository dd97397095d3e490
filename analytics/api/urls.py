from django.urls import path

from analytics.api import views

urlpatterns = [
    path("journeys/compare", views.JourneysCompareView.as_view(), name="analytics-compare"),
    path("journeys/<int:journey_id>/metrics", views.JourneyMetricsView.as_view(), name="analytics-metrics"),
    path(
        "journeys/<int:journey_id>/completion-rate",
        views.JourneyCompletionRateView.as_view(),
        name="analytics-completion-rate",
    ),
    path(
        "journeys/<int:journey_id>/average-duration",
        views.JourneyAverageDurationView.as_view(),
        name="analytics-average-duration",
    ),
    path(
        "journeys/<int:journey_id>/drop-off-points",
        views.JourneyDropOffView.as_view(),
        name="analytics-drop-off",
    ),
    path("journeys/<int:journey_id>/funnel", views.JourneyFunnelView.as_view(), name="analytics-funnel"),
    path(
        "journeys/<int:journey_id>/performance",
        views.JourneyPerformanceView.as_view(),
        name="analytics-performance",
    ),
    path(
        "journeys/<int:journey_id>/recommendations",
        views.JourneyRecommendationsView.as_view(),
        name="analytics-recommendations",
    ),
    path(
        "journeys/<int:journey_id>/variants", views.JourneyVariantsView.as_view(), name="analytics-variants"
    ),
    path("journeys/<int:journey_id>/trend", views.JourneyTrendView.as_view(), name="analytics-trend"),
    path("benchmarks", views.BenchmarksView.as_view(), name="analytics-benchmarks"),
    path(
        "milestones/<int:journey_id>/<str:key>",
        views.MilestoneAnalyticsView.as_view(),
        name="analytics-milestone",
    ),
    path(
        "user-journeys/<int:user_journey_id>/progress",
        views.UserJourneyProgressView.as_view(),
        name="analytics-progress",
    ),
    path("stages", views.StagesAnalyticsView.as_view(), name="analytics-stages"),
    path("rules", views.RulesAnalyticsView.as_view(), name="analytics-rules"),
    path("overdue", views.OverdueView.as_view(), name="analytics-overdue"),
]
