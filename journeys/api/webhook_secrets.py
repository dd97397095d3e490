"""Rotate a webhook step's signing secret: the new secret is in this answer only."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.webhook_secrets import StepSecretSerializer
from journeys.models import Journey
from journeys.selectors.journeys import journey_get
from journeys.services.webhook_secrets import webhook_step_secret_rotate


class JourneyStepSecretRotateView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    required_permission = "journeys.change_journey"
    serializer_class = StepSecretSerializer

    @extend_schema(
        operation_id="journeys_steps_rotate_secret",
        summary="Give a webhook step a new signing secret, shown in this answer only",
        description=(
            "The secret changes in the draft and in every published version at once, so runs in "
            "flight sign with it from the next delivery; the old secret stops working. Configure "
            "the receiver with the new secret (Standard Webhooks receivers can accept both "
            "during the switch)."
        ),
        request=None,
        responses={
            200: StepSecretSerializer,
            404: OpenApiResponse(description="No such journey, or no webhook step with that key."),
        },
        examples=[
            OpenApiExample(
                "Rotated",
                response_only=True,
                value={
                    "journey_id": 7,
                    "step": "notify_crm",
                    "secret": "whsec_MfKQ9r3fTz2FJ7yR3Rk1Xw6AbC0dXy9A",
                },
            )
        ],
    )
    def post(self, request, pk: int, key: str):
        journey = journey_get(pk=pk)
        secret = webhook_step_secret_rotate(journey=journey, step_key=key, actor=request.user)
        return Response(StepSecretSerializer({"journey_id": journey.pk, "step": key, "secret": secret}).data)
