from django.urls import include, path

from journeys.api import subscription_views, views

urlpatterns = [
    path("events", views.EventListCreateView.as_view(), name="events"),
    path("events/<int:pk>", views.EventDetailView.as_view(), name="event-detail"),
    path("participants", views.ParticipantListCreateView.as_view(), name="participants"),
    path("participants/<str:user_id>", views.ParticipantDetailView.as_view(), name="participant-detail"),
    path(
        "participants/<str:user_id>/records",
        views.ParticipantRecordsView.as_view(),
        name="participant-records",
    ),
    path("entity-mappings", views.EntityMappingListCreateView.as_view(), name="entity-mappings"),
    path(
        "webhook-subscriptions",
        subscription_views.WebhookSubscriptionListCreateView.as_view(),
        name="webhook-subscriptions",
    ),
    path(
        "webhook-subscriptions/<int:pk>",
        subscription_views.WebhookSubscriptionDetailView.as_view(),
        name="webhook-subscription-detail",
    ),
    path("entity-mappings/<int:pk>", views.EntityMappingDetailView.as_view(), name="entity-mapping-detail"),
    path("", include("journeys.api.journey_urls")),
]
