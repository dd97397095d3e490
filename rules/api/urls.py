from django.urls import path

from rules.api import participant_views, rule_views

urlpatterns = [
    path("flags/<str:user_id>", participant_views.FlagsView.as_view(), name="journey-flags"),
    path(
        "flags/<str:user_id>/evaluate",
        participant_views.EvaluateView.as_view(),
        name="journey-flags-evaluate",
    ),
    path(
        "flags/<str:user_id>/history",
        participant_views.FlagHistoryView.as_view(),
        name="journey-flags-history",
    ),
    path("milestones/<str:user_id>", participant_views.MilestonesView.as_view(), name="journey-milestones"),
    path(
        "milestones/<str:user_id>/<str:milestone>",
        participant_views.MilestoneReachView.as_view(),
        name="journey-milestone-reach",
    ),
    path("rules", rule_views.RuleListView.as_view(), name="journey-rules"),
    path("rules/<str:rule_id>", rule_views.RuleDetailView.as_view(), name="journey-rule-detail"),
    path("rules/<str:rule_id>/activate", rule_views.RuleActivateView.as_view(), name="journey-rule-activate"),
    path(
        "rules/<str:rule_id>/deactivate",
        rule_views.RuleDeactivateView.as_view(),
        name="journey-rule-deactivate",
    ),
    path("rules/<str:rule_id>/preview", rule_views.RulePreviewView.as_view(), name="journey-rule-preview"),
    path("rules/<str:rule_id>/backtest", rule_views.RuleBacktestView.as_view(), name="journey-rule-backtest"),
]
