"""Routes of the journey engine's API: ``/api/v1/journeys…``, ``/api/v1/user-journeys…``,
``/api/v1/step-runs…``."""

from django.urls import path

from journeys.api import journey_views as j
from journeys.api import user_journey_views as u
from journeys.api import webhook_secret_views as w

urlpatterns = [
    path("journeys", j.JourneyListCreateView.as_view(), name="journeys"),
    path("journeys/types", j.JourneyTypesView.as_view(), name="journey-types"),
    path("journeys/templates", j.JourneyTemplateListView.as_view(), name="journey-templates"),
    path("journeys/templates/<str:name>", j.JourneyTemplateView.as_view(), name="journey-template"),
    path("journeys/design", j.JourneyDesignView.as_view(), name="journey-design"),
    path("journeys/trigger", j.JourneyTriggerView.as_view(), name="journey-trigger"),
    path("journeys/execute/<int:user_journey_id>", j.JourneyExecuteView.as_view(), name="journey-execute"),
    path(
        "journeys/users/<str:user_id>/journeys",
        j.UserJourneysOfUserView.as_view(),
        name="journey-user-journeys",
    ),
    path("journeys/<int:pk>", j.JourneyDetailView.as_view(), name="journey-detail"),
    path("journeys/<int:pk>/publish", j.JourneyPublishView.as_view(), name="journey-publish"),
    path("journeys/<int:pk>/archive", j.JourneyArchiveView.as_view(), name="journey-archive"),
    path("journeys/<int:pk>/restore", j.JourneyRestoreView.as_view(), name="journey-restore"),
    path("journeys/<int:pk>/versions", j.JourneyVersionsView.as_view(), name="journey-versions"),
    path("journeys/<int:pk>/customize", j.JourneyCustomizeView.as_view(), name="journey-customize"),
    path("journeys/<int:pk>/enroll", j.JourneyEnrollView.as_view(), name="journey-enroll"),
    path(
        "journeys/<int:pk>/steps/<str:key>/rotate-secret",
        w.JourneyStepSecretRotateView.as_view(),
        name="journey-step-rotate-secret",
    ),
    path("user-journeys", u.UserJourneyListView.as_view(), name="user-journeys"),
    path("user-journeys/<int:pk>", u.UserJourneyDetailView.as_view(), name="user-journey-detail"),
    path("user-journeys/<int:pk>/advance", u.UserJourneyAdvanceView.as_view(), name="user-journey-advance"),
    path("user-journeys/<int:pk>/pause", u.UserJourneyPauseView.as_view(), name="user-journey-pause"),
    path("user-journeys/<int:pk>/resume", u.UserJourneyResumeView.as_view(), name="user-journey-resume"),
    path("user-journeys/<int:pk>/cancel", u.UserJourneyCancelView.as_view(), name="user-journey-cancel"),
    path("user-journeys/<int:pk>/history", u.UserJourneyHistoryView.as_view(), name="user-journey-history"),
    path(
        "user-journeys/<int:pk>/milestones",
        u.UserJourneyMilestonesView.as_view(),
        name="user-journey-milestones",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>",
        u.MilestoneDetailView.as_view(),
        name="milestone-detail",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/start",
        u.MilestoneStartView.as_view(),
        name="milestone-start",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/complete",
        u.MilestoneCompleteView.as_view(),
        name="milestone-complete",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/retry",
        u.MilestoneRetryView.as_view(),
        name="milestone-retry",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/rollback",
        u.MilestoneRollbackView.as_view(),
        name="milestone-rollback",
    ),
    path(
        "user-journeys/<int:pk>/milestones/<str:key>/skip",
        u.MilestoneSkipView.as_view(),
        name="milestone-skip",
    ),
    path("step-runs", u.StepRunListView.as_view(), name="step-runs"),
    path("step-runs/<int:pk>/retry", u.StepRunRetryView.as_view(), name="step-run-retry"),
    path("step-runs/<int:pk>/skip", u.StepRunSkipView.as_view(), name="step-run-skip"),
]
