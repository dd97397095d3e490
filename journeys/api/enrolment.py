"""Enrolment endpoints: evaluate a trigger by hand (``/api/v1/journeys/trigger``) and enrol a
participant into one journey (``/api/v1/journeys/{id}/enroll``)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.examples import ENROLMENT_CONFLICT, USER_JOURNEY_EXAMPLE
from journeys.api.permissions import OPERATE_USER_JOURNEY, ApiPermissions
from journeys.api.serializers.enrolment import EnrollInSerializer, TriggerInSerializer, TriggerOutSerializer
from journeys.api.serializers.user_journeys import UserJourneySerializer
from journeys.models import UserJourney
from journeys.selectors.journeys import journey_get
from journeys.selectors.user_journeys import user_journey_get
from journeys.services.enrolment import journeys_trigger, user_journey_enrol


class JourneyTriggerView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    required_permission = OPERATE_USER_JOURNEY
    serializer_class = TriggerInSerializer

    @extend_schema(
        operation_id="journeys_trigger",
        summary="Evaluate a trigger by hand: enter every matching published journey",
        description="Like an event of `trigger_type` with `context` as its payload; no event is stored.",
        request=TriggerInSerializer,
        responses={200: TriggerOutSerializer},
        examples=[
            OpenApiExample(
                "Trigger",
                request_only=True,
                value={"trigger_type": "signup", "user_id": "user-42", "context": {"plan": "premium"}},
            ),
            OpenApiExample(
                "Started",
                response_only=True,
                value={
                    "trigger_type": "signup",
                    "user_id": "user-42",
                    "started_journeys": [7, 9],
                    "user_journeys": [501, 502],
                },
            ),
        ],
    )
    def post(self, request):
        serializer = TriggerInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        started = journeys_trigger(**serializer.validated_data)
        body = {
            "trigger_type": serializer.validated_data["trigger_type"],
            "user_id": serializer.validated_data["user_id"],
            "started_journeys": [uj.journey_id for uj in started],
            "user_journeys": [uj.pk for uj in started],
        }
        return Response(TriggerOutSerializer(body).data)


class JourneyEnrollView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    required_permission = OPERATE_USER_JOURNEY
    serializer_class = EnrollInSerializer

    @extend_schema(
        operation_id="journeys_enroll",
        summary="Enrol a participant into this journey (created on first sight)",
        request=EnrollInSerializer,
        responses={201: UserJourneySerializer},
        examples=[
            ENROLMENT_CONFLICT,
            OpenApiExample(
                "Enrol", request_only=True, value={"user_id": "user-42", "context": {"plan": "premium"}}
            ),
            OpenApiExample("Enrolled", response_only=True, status_codes=["201"], value=USER_JOURNEY_EXAMPLE),
            OpenApiExample(
                "Re-entry refused",
                response_only=True,
                status_codes=["409"],
                value={
                    "detail": "The re-entry policy (once) does not allow 'user-42' to enter again now.",
                    "code": "re_entry_refused",
                    "current_state": "completed",
                    "user_journey_id": 501,
                },
            ),
        ],
    )
    def post(self, request, pk: int):
        serializer = EnrollInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        uj = user_journey_enrol(journey=journey_get(pk=pk), actor=request.user, **serializer.validated_data)
        return Response(
            UserJourneySerializer(user_journey_get(pk=uj.pk)).data, status=status.HTTP_201_CREATED
        )
