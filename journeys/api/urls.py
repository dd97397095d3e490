"""Routes of the journeys API: the event spine (``/api/v1/events``, ``/participants``,
``/entity-mappings``, ``/webhook-subscriptions``), the service directory (``/services``,
``/service-calls``), the journey engine (``/api/v1/journeys…``, ``/user-journeys…``,
``/step-runs…``) and the template library (``/api/v1/templates…``)."""

from django.urls import path

from journeys.api import (
    enrolment,
    entity_mappings,
    events,
    journeys,
    milestones,
    participants,
    services,
    step_runs,
    template_library,
    templates,
    user_journeys,
    webhook_secrets,
    webhook_subscriptions,
)

urlpatterns = [
    path("events", events.EventListCreateView.as_view(), name="events"),
    path("events/<int:pk>", events.EventDetailView.as_view(), name="event-detail"),
    path("participants", participants.ParticipantListCreateView.as_view(), name="participants"),
    path(
        "participants/<str:user_id>",
        participants.ParticipantDetailView.as_view(),
        name="participant-detail",
    ),
    path(
        "participants/<str:user_id>/records",
        participants.ParticipantRecordsView.as_view(),
        name="participant-records",
    ),
    path("services", services.ServiceListCreateView.as_view(), name="services"),
    path("services/<str:key>", services.ServiceDetailView.as_view(), name="service-detail"),
    path(
        "services/<str:key>/rotate-secret",
        services.ServiceSecretRotateView.as_view(),
        name="service-rotate-secret",
    ),
    path(
        "services/<str:key>/health-check",
        services.ServiceHealthCheckView.as_view(),
        name="service-health-check",
    ),
    path("service-calls", services.ServiceCallListView.as_view(), name="service-calls"),
    path("entity-mappings", entity_mappings.EntityMappingListCreateView.as_view(), name="entity-mappings"),
    path(
        "webhook-subscriptions",
        webhook_subscriptions.WebhookSubscriptionListCreateView.as_view(),
        name="webhook-subscriptions",
    ),
    path(
        "webhook-subscriptions/<int:pk>",
        webhook_subscriptions.WebhookSubscriptionDetailView.as_view(),
        name="webhook-subscription-detail",
    ),
    path(
        "entity-mappings/<int:pk>",
        entity_mappings.EntityMappingDetailView.as_view(),
        name="entity-mapping-detail",
    ),
    path("journeys", journeys.JourneyListCreateView.as_view(), name="journeys"),
    path("journeys/types", templates.JourneyTypesView.as_view(), name="journey-types"),
    path("journeys/templates", templates.JourneyTemplateListView.as_view(), name="journey-templates"),
    path("journeys/templates/<str:name>", templates.JourneyTemplateView.as_view(), name="journey-template"),
    path("journeys/design", templates.JourneyDesignView.as_view(), name="journey-design"),
    path("journeys/trigger", enrolment.JourneyTriggerView.as_view(), name="journey-trigger"),
    path(
        "journeys/execute/<int:user_journey_id>",
        user_journeys.JourneyExecuteView.as_view(),
        name="journey-execute",
    ),
    path(
        "journeys/users/<str:user_id>/journeys",
        user_journeys.UserJourneysOfUserView.as_view(),
        name="journey-user-journeys",
    ),
    path("journeys/<int:pk>", journeys.JourneyDetailView.as_view(), name="journey-detail"),
    path("journeys/<int:pk>/publish", journeys.JourneyPublishView.as_view(), name="journey-publish"),
    path("journeys/<int:pk>/archive", journeys.JourneyArchiveView.as_view(), name="journey-archive"),
    path("journeys/<int:pk>/restore", journeys.JourneyRestoreView.as_view(), name="journey-restore"),
    path("journeys/<int:pk>/versions", journeys.JourneyVersionsView.as_view(), name="journey-versions"),
    path("journeys/<int:pk>/customize", templates.JourneyCustomizeView.as_view(), name="journey-customize"),
    path("journeys/<int:pk>/enroll", enrolment.JourneyEnrollView.as_view(), name="journey-enroll"),
    path(
        "journeys/<int:pk>/steps/<str:key>/rotate-secret",
        webhook_secrets.JourneyStepSecretRotateView.as_view(),
        name="journey-step-rotate-secret",
    ),
    path("user-journeys", user_journeys.UserJourneyListView.as_view(), name="user-journeys"),
    path("user-journeys/<int:pk>", user_journeys.UserJourneyDetailView.as_view(), name="user-journey-detail"),
    path(
        "user-journeys/<int:pk>/advance",
        user_journeys.UserJourneyAdvanceView.as_view(),
        name="user-journey-advance",
    ),
    path(
        "user-journeys/<int:pk>/pause",
        user_journeys.UserJourneyPauseView.as_view(),
        name="user-journey-pause",
    ),
    path(
        "user-journeys/<int:pk>/resume",
        user_journeys.UserJourneyResumeView.as_view(),
        name="user-journey-resume",
    ),
    path(
        "user-journeys/<int:pk>/cancel",
        user_journeys.UserJourneyCancelView.as_view(),
        name="user-journey-cancel",
    ),
    path(
        "user-journeys/<int:pk>/history",
        user_journeys.UserJourneyHistoryView.as_view(),
        name="user-journey-history",
    ),
    path(
        "user-journeys/<int:pk>/milestones",
        milestones.UserJourneyMilestonesView.as_view(),
        name="user-journey-milestones",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>",
        milestones.MilestoneDetailView.as_view(),
        name="milestone-detail",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/start",
        milestones.MilestoneStartView.as_view(),
        name="milestone-start",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/complete",
        milestones.MilestoneCompleteView.as_view(),
        name="milestone-complete",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/retry",
        milestones.MilestoneRetryView.as_view(),
        name="milestone-retry",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/rollback",
        milestones.MilestoneRollbackView.as_view(),
        name="milestone-rollback",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/skip",
        milestones.MilestoneSkipView.as_view(),
        name="milestone-skip",
    ),
    path("step-runs", step_runs.StepRunListView.as_view(), name="step-runs"),
    path("step-runs/<int:pk>/retry", step_runs.StepRunRetryView.as_view(), name="step-run-retry"),
    path("step-runs/<int:pk>/skip", step_runs.StepRunSkipView.as_view(), name="step-run-skip"),
    path("templates", template_library.TemplateListCreateView.as_view(), name="templates"),
    path("templates/import", template_library.TemplateImportView.as_view(), name="template-import"),
    path("templates/<slug:key>", template_library.TemplateDetailView.as_view(), name="template-detail"),
    path(
        "templates/<slug:key>/publish",
        template_library.TemplatePublishView.as_view(),
        name="template-publish",
    ),
    path("templates/<slug:key>/share", template_library.TemplateShareView.as_view(), name="template-share"),
    path(
        "templates/<slug:key>/versions",
        template_library.TemplateVersionListView.as_view(),
        name="template-versions",
    ),
    path(
        "templates/<slug:key>/versions/<int:number>",
        template_library.TemplateVersionDetailView.as_view(),
        name="template-version-detail",
    ),
    path(
        "templates/<slug:key>/reviews",
        template_library.TemplateReviewListView.as_view(),
        name="template-reviews",
    ),
    path(
        "templates/<slug:key>/export", template_library.TemplateExportView.as_view(), name="template-export"
    ),
    path(
        "templates/<slug:key>/journeys",
        template_library.TemplateJourneyCreateView.as_view(),
        name="template-journeys",
    ),
]
