from django.urls import include, path

from stages.api import agent_views, views, work_views

journey = "journeys/<str:client_id>"

urlpatterns = [
    path("journeys", views.StagedJourneyListCreateView.as_view(), name="stages-journeys"),
    path(journey, views.StagedJourneyDetailView.as_view(), name="stages-journey-detail"),
    path(f"{journey}/validate", views.StagedJourneyValidateView.as_view(), name="stages-journey-validate"),
    path(f"{journey}/promote", views.StagedJourneyPromoteView.as_view(), name="stages-journey-promote"),
    path(f"{journey}/rollback", views.StagedJourneyRollbackView.as_view(), name="stages-journey-rollback"),
    path(f"{journey}/cancel", views.StagedJourneyCancelView.as_view(), name="stages-journey-cancel"),
    path(
        f"{journey}/measurements",
        views.StagedJourneyMeasurementsView.as_view(),
        name="stages-journey-measurements",
    ),
    path(f"{journey}/approvals", views.StagedJourneyApprovalsView.as_view(), name="stages-journey-approvals"),
    path(
        f"{journey}/units-of-work",
        views.StagedJourneyUnitsOfWorkView.as_view(),
        name="stages-journey-units-of-work",
    ),
    path(f"{journey}/events", views.StagedJourneyEventsView.as_view(), name="stages-journey-events"),
    path(
        "units-of-work/<uuid:work_id>/retry",
        work_views.UnitOfWorkRetryView.as_view(),
        name="stages-unit-retry",
    ),
    path(
        "units-of-work/<uuid:work_id>/cancel",
        work_views.UnitOfWorkCancelView.as_view(),
        name="stages-unit-cancel",
    ),
    path("agents", agent_views.AgentListCreateView.as_view(), name="stages-agents"),
    path("agents/<str:agent_id>", agent_views.AgentDetailView.as_view(), name="stages-agent-detail"),
    path(
        "agents/<str:agent_id>/rotate-secret",
        agent_views.AgentSecretRotateView.as_view(),
        name="stages-agent-rotate-secret",
    ),
    path(
        "tasks/<uuid:task_id>/complete",
        work_views.WorkTaskCompleteView.as_view(),
        name="stages-task-complete",
    ),
    path("", include("stages.api.pipeline_urls")),
]
