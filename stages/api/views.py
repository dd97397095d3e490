"""Views of staged journeys in the lifecycle API. Each validates, calls one service or selector, renders.

Actions on ``/journeys/{client_id}/…`` address the client's active journey, or else its most
recent one (so acting on an ended journey answers 409 with its stage, not 404).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.events import EventSerializer
from stages import selectors
from stages.api.examples import (
    STAGES_JOURNEYS_APPROVALS_EXAMPLES,
    STAGES_JOURNEYS_CANCEL_EXAMPLES,
    STAGES_JOURNEYS_LIST_EXAMPLES,
    STAGES_JOURNEYS_MEASUREMENTS_EXAMPLES,
    STAGES_JOURNEYS_PROMOTE_EXAMPLES,
    STAGES_JOURNEYS_RETRIEVE_EXAMPLES,
    STAGES_JOURNEYS_ROLLBACK_EXAMPLES,
    STAGES_JOURNEYS_START_EXAMPLES,
    STAGES_JOURNEYS_VALIDATE_EXAMPLES,
)
from stages.api.filters import StagedJourneyFilterSet
from stages.api.serializers import (
    ApprovalInSerializer,
    ConflictSerializer,
    JourneyStartSerializer,
    MeasurementsInSerializer,
    MeasurementsRecordedSerializer,
    PromotionSerializer,
    ReasonSerializer,
    StagedJourneyDetailSerializer,
    StagedJourneySerializer,
    UnitOfWorkSerializer,
    ValidationResultSerializer,
)
from stages.models import StagedJourney
from stages.services import measurements as measurement_services
from stages.services import staged_journeys as journey_services
from stages.services.rollback import staged_journey_rollback

CONFLICT = OpenApiResponse(ConflictSerializer, description="Not allowed in the current stage (or status).")


class JourneyActionView(ApiPermissions, generics.GenericAPIView):
    """Base of the per-journey endpoints: the journey named by ``client_id`` in the path."""

    permission_model = StagedJourney
    serializer_class = StagedJourneyDetailSerializer

    def journey(self) -> StagedJourney:
        return selectors.staged_journey_get(client_id=self.kwargs["client_id"])

    def detail(self, journey: StagedJourney, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.staged_journey_get(client_id=journey.client_id)
        return Response(StagedJourneyDetailSerializer(fresh).data, status=status_code)

    def actor(self) -> str:
        return self.request.user.get_username()


# --- journeys ---------------------------------------------------------------------------------
class StagedJourneyListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = StagedJourney.objects.all()
    serializer_class = StagedJourneySerializer
    filterset_class = StagedJourneyFilterSet

    @extend_schema(
        operation_id="stages_journeys_list",
        summary="List staged journeys (newest first, cursor pagination)",
        responses={200: StagedJourneySerializer(many=True)},
        examples=STAGES_JOURNEYS_LIST_EXAMPLES,
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(selectors.staged_journeys_list()))
        return self.get_paginated_response(StagedJourneySerializer(page, many=True).data)

    @extend_schema(
        operation_id="stages_journeys_start",
        summary="Start a client's journey in Sandbox (UC-1)",
        description="Creates the journey in sandbox and its sandbox unit of work (whose ready tasks start "
        "at once), and emits `JourneyStarted`. A client has one active journey at a time: 409 if it "
        "already has one.",
        request=JourneyStartSerializer,
        responses={201: StagedJourneyDetailSerializer, 409: CONFLICT},
        examples=STAGES_JOURNEYS_START_EXAMPLES,
    )
    def post(self, request):
        serializer = JourneyStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        journey = journey_services.staged_journey_start(
            client_id=serializer.validated_data["client_id"],
            pipeline=serializer.validated_data.get("pipeline"),
            actor=request.user.get_username(),
        )
        fresh = selectors.staged_journey_get(client_id=journey.client_id)
        return Response(StagedJourneyDetailSerializer(fresh).data, status=status.HTTP_201_CREATED)


class StagedJourneyDetailView(JourneyActionView):
    @extend_schema(
        operation_id="stages_journeys_retrieve",
        summary="A client's journey: stage, time in stage, history",
        examples=STAGES_JOURNEYS_RETRIEVE_EXAMPLES,
    )
    def get(self, request, client_id: str):
        return Response(StagedJourneyDetailSerializer(self.journey()).data)


class StagedJourneyValidateView(JourneyActionView):
    required_permission = "stages.view_stagedjourney"

    @extend_schema(
        operation_id="stages_journeys_validate",
        summary="Evaluate the current stage's exit criteria",
        description="Each check with the value it measured and whether it passes; nothing moves.",
        request=None,
        responses={200: ValidationResultSerializer, 409: CONFLICT},
        examples=STAGES_JOURNEYS_VALIDATE_EXAMPLES,
    )
    def post(self, request, client_id: str):
        validation = journey_services.staged_journey_validate(journey=self.journey())
        return Response(ValidationResultSerializer(validation).data)


class StagedJourneyPromoteView(JourneyActionView):
    required_permission = "stages.promote_stagedjourney"

    @extend_schema(
        operation_id="stages_journeys_promote",
        summary="Promote to the next stage (UC-2); from production, complete the journey",
        description="Only when every exit criterion passes, and only to the next stage. On success the "
        "next unit of work starts and `StagePromoted` (or `JourneyCompleted`) is emitted. Otherwise "
        "409 with every check; the refusal is kept in the history.",
        request=None,
        responses={200: PromotionSerializer, 409: CONFLICT},
        examples=STAGES_JOURNEYS_PROMOTE_EXAMPLES,
    )
    def post(self, request, client_id: str):
        outcome = journey_services.staged_journey_promote(journey=self.journey(), actor=self.actor())
        fresh = selectors.staged_journey_get(client_id=outcome.journey.client_id)
        body = {"journey": fresh, "validation": outcome.validation}
        return Response(PromotionSerializer(body).data)


class StagedJourneyRollbackView(JourneyActionView):
    required_permission = "stages.rollback_stagedjourney"

    @extend_schema(
        operation_id="stages_journeys_rollback",
        summary="Roll back to the previous stage (UC-3)",
        description="Snapshots the journey, enters `rollback`, runs the rollback unit of work, then "
        "returns to the stage before (at once when there are no rollback tasks). "
        "Emits `RollbackInitiated` and `RollbackCompleted`. Only from pilot or production.",
        request=ReasonSerializer,
        responses={200: StagedJourneyDetailSerializer, 409: CONFLICT},
        examples=STAGES_JOURNEYS_ROLLBACK_EXAMPLES,
    )
    def post(self, request, client_id: str):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        journey = staged_journey_rollback(
            journey=self.journey(), reason=serializer.validated_data["reason"], actor=self.actor()
        )
        return self.detail(journey)


class StagedJourneyCancelView(JourneyActionView):
    required_permission = "stages.cancel_stagedjourney"

    @extend_schema(
        operation_id="stages_journeys_cancel",
        summary="Cancel the journey",
        description="Ends the journey for good, cancels its open units of work, emits `JourneyCancelled`.",
        request=ReasonSerializer,
        responses={200: StagedJourneyDetailSerializer, 409: CONFLICT},
        examples=STAGES_JOURNEYS_CANCEL_EXAMPLES,
    )
    def post(self, request, client_id: str):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        journey = journey_services.staged_journey_cancel(
            journey=self.journey(), reason=serializer.validated_data["reason"], actor=self.actor()
        )
        return self.detail(journey)


class StagedJourneyMeasurementsView(JourneyActionView):
    required_permission = "stages.add_measurement"

    @extend_schema(
        operation_id="stages_journeys_measurements",
        summary="Record metric measurements for the current stage",
        description="Keys are the stage's metric criteria. A value that fails a rollback-triggering "
        "criterion rolls the journey back at once; otherwise, if the stage promotes automatically, "
        "the gate is checked again.",
        request=MeasurementsInSerializer,
        responses={201: MeasurementsRecordedSerializer, 409: CONFLICT},
        examples=STAGES_JOURNEYS_MEASUREMENTS_EXAMPLES,
    )
    def post(self, request, client_id: str):
        serializer = MeasurementsInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        journey, rows = measurement_services.measurements_record(
            journey=self.journey(), values=serializer.validated_data["values"], actor=self.actor()
        )
        journey.refresh_from_db()
        body = {"journey": journey, "measurements": rows}
        return Response(MeasurementsRecordedSerializer(body).data, status=status.HTTP_201_CREATED)


class StagedJourneyApprovalsView(JourneyActionView):
    required_permission = "stages.record_approval"

    @extend_schema(
        operation_id="stages_journeys_approvals",
        summary="Record an approval (or a rejection) for the current stage",
        request=ApprovalInSerializer,
        responses={201: MeasurementsRecordedSerializer, 409: CONFLICT},
        examples=STAGES_JOURNEYS_APPROVALS_EXAMPLES,
    )
    def post(self, request, client_id: str):
        serializer = ApprovalInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        journey, row = measurement_services.approval_record(
            journey=self.journey(),
            key=data["key"],
            approved=data["approved"],
            actor=data.get("by") or self.actor(),
            note=data["note"],
        )
        journey.refresh_from_db()
        body = {"journey": journey, "measurements": [row]}
        return Response(MeasurementsRecordedSerializer(body).data, status=status.HTTP_201_CREATED)


class StagedJourneyUnitsOfWorkView(JourneyActionView):
    required_permission = "stages.view_unitofwork"
    serializer_class = UnitOfWorkSerializer
    pagination_class = None

    @extend_schema(
        operation_id="stages_journeys_units_of_work",
        summary="The journey's units of work with their tasks (newest first)",
        responses={200: UnitOfWorkSerializer(many=True)},
    )
    def get(self, request, client_id: str):
        units = self.filter_queryset(selectors.units_of_work_list(journey=self.journey()))
        return Response(UnitOfWorkSerializer(units, many=True).data)


class StagedJourneyEventsView(JourneyActionView):
    required_permission = "stages.view_stagedjourney"
    serializer_class = EventSerializer

    @extend_schema(
        operation_id="stages_journeys_events",
        summary="The domain events emitted for the client's journeys (newest first, cursor pagination)",
        responses={200: EventSerializer(many=True)},
    )
    def get(self, request, client_id: str):
        page = self.paginate_queryset(self.filter_queryset(selectors.journey_events(journey=self.journey())))
        return self.get_paginated_response(EventSerializer(page, many=True).data)


# --- units of work and tasks ------------------------------------------------------------------
