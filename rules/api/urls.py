from django.urls import path

from rules.api import views

urlpatterns = [
    path("flags/<str:user_id>", views.FlagsView.as_view(), name="journey-flags"),
    path("flags/<str:user_id>/evaluate", views.EvaluateView.as_view(), name="journey-flags-evaluate"),
    path("flags/<str:user_id>/history", views.FlagHistoryView.as_view(), name="journey-flags-history"),
    path("milestones/<str:user_id>", views.MilestonesView.as_view(), name="journey-milestones"),
    path(
        "milestones/<str:user_id>/<str:milestone>",
        views.MilestoneReachView.as_view(),
        name="journey-milestone-reach",
    ),
    path("rules", views.RuleListView.as_view(), name="journey-rules"),
    path("rules/<str:rule_id>", views.RuleDetailView.as_view(), name="journey-rule-detail"),
    path("rules/<str:rule_id>/activate", views.RuleActivateView.as_view(), name="journey-rule-activate"),
    path(
        "rules/<str:rule_id>/deactivate", views.RuleDeactivateView.as_view(), name="journey-rule-deactivate"
    ),
    path("rules/<str:rule_id>/preview", views.RulePreviewView.as_view(), name="journey-rule-preview"),
    path("rules/<str:rule_id>/backtest", views.RuleBacktestView.as_view(), name="journey-rule-backtest"),
]
