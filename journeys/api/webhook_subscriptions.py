"""Webhook subscriptions (``/api/v1/webhook-subscriptions``): journey events to staff's endpoints."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.examples import SUBSCRIPTION_EXAMPLE
from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.webhook_subscriptions import (
    WebhookSubscriptionCreatedSerializer,
    WebhookSubscriptionSerializer,
)
from journeys.models import WebhookSubscription
from journeys.services.subscriptions import webhook_subscription_save


class WebhookSubscriptionListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSubscriptionSerializer

    @extend_schema(
        operation_id="webhook_subscriptions_list",
        summary="Webhook subscriptions",
        responses={200: WebhookSubscriptionSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Page",
                response_only=True,
                value={"next": None, "previous": None, "results": [SUBSCRIPTION_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookSubscriptionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhook_subscriptions_create",
        summary="Register an endpoint for journey events (Standard Webhooks; the secret is shown once)",
        request=WebhookSubscriptionSerializer,
        responses={201: WebhookSubscriptionCreatedSerializer},
        examples=[
            OpenApiExample(
                "Milestones to a CRM",
                request_only=True,
                value={
                    "name": "CRM milestones",
                    "url": "https://crm.example.com/hooks/journeys",
                    "event_types": ["journey.milestone.*", "journey.completed"],
                },
            ),
            OpenApiExample(
                "Created",
                response_only=True,
                status_codes=["201"],
                value={**SUBSCRIPTION_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
            ),
        ],
    )
    def post(self, request):
        serializer = WebhookSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = webhook_subscription_save(data=serializer.validated_data, actor=request.user)
        return Response(
            WebhookSubscriptionCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


class WebhookSubscriptionDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSubscriptionSerializer

    @extend_schema(
        operation_id="webhook_subscriptions_retrieve",
        summary="One webhook subscription",
        examples=[OpenApiExample("Subscription", response_only=True, value=SUBSCRIPTION_EXAMPLE)],
    )
    def get(self, request, pk: int):
        return Response(WebhookSubscriptionSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="webhook_subscriptions_update",
        summary="Change a subscription; active: true enables a disabled one again",
        examples=[OpenApiExample("Enable", request_only=True, value={"active": True})],
    )
    def patch(self, request, pk: int):
        subscription = self.get_object()
        serializer = WebhookSubscriptionSerializer(subscription, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        saved = webhook_subscription_save(subscription=subscription, data=serializer.validated_data)
        return Response(WebhookSubscriptionSerializer(saved).data)

    @extend_schema(
        operation_id="webhook_subscriptions_delete", summary="Delete a subscription", responses={204: None}
    )
    def delete(self, request, pk: int):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
