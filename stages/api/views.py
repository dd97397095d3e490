"""Views of the staged lifecycle API. Each validates, calls one service or selector, renders.

Actions on ``/journeys/{client_id}/…`` address the client's active journey, or else its most
recent one (so acting on an ended journey answers 409 with its stage, not 404).
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.events import EventSerializer
from stages import selectors
from stages.api.examples import (
    CRITERIA_CONFLICT,
    HISTORY_EXAMPLE,
    JOURNEY_DETAIL_EXAMPLE,
    JOURNEY_EXAMPLE,
    VALIDATION_EXAMPLE,
    invalid_transition,
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
    TaskCompleteSerializer,
    UnitOfWorkSerializer,
    ValidationResultSerializer,
    WorkTaskSerializer,
)
from stages.models import StagedJourney, UnitOfWork, WorkTask
from stages.services import measurements as measurement_services
from stages.services import staged_journeys as journey_services
from stages.services import work as work_services
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
        examples=[
            OpenApiExample(
                "A page",
                value={"next": None, "previous": None, "results": [JOURNEY_EXAMPLE]},
                response_only=True,
            )
        ],
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
        examples=[
            OpenApiExample("Start", value={"client_id": "client-123"}, request_only=True),
            OpenApiExample(
                "Start on a pipeline",
                value={"client_id": "client-123", "pipeline": "default"},
                request_only=True,
            ),
            OpenApiExample(
                "Started",
                status_codes=["201"],
                response_only=True,
                value={**JOURNEY_DETAIL_EXAMPLE, "stage": "sandbox", "history": HISTORY_EXAMPLE[:1]},
            ),
            OpenApiExample(
                "Already active",
                status_codes=["409"],
                response_only=True,
                value={
                    "detail": "Client 'client-123' already has an active journey (in pilot).",
                    "code": "journey_active",
                    "current_stage": "pilot",
                    "reason": "Each client has exactly one active journey at a time.",
                },
            ),
        ],
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
        examples=[OpenApiExample("Journey", value=JOURNEY_DETAIL_EXAMPLE, response_only=True)],
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
        examples=[
            OpenApiExample("Validation result", value=VALIDATION_EXAMPLE, response_only=True),
            invalid_transition(
                "validate", "completed", "Only a journey in sandbox, pilot or production has exit criteria."
            ),
        ],
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
        examples=[
            OpenApiExample(
                "Promoted",
                response_only=True,
                value={
                    "journey": JOURNEY_DETAIL_EXAMPLE,
                    "validation": {**VALIDATION_EXAMPLE, "passed": True},
                },
            ),
            CRITERIA_CONFLICT,
            invalid_transition(
                "promote",
                "rollback",
                "The journey is rolling back; promote it once the rollback has completed.",
            ),
        ],
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
        examples=[
            OpenApiExample(
                "Roll back", value={"reason": "Error rate above 2% since the release"}, request_only=True
            ),
            OpenApiExample(
                "Rolling back", value={**JOURNEY_DETAIL_EXAMPLE, "stage": "rollback"}, response_only=True
            ),
            invalid_transition(
                "roll back",
                "sandbox",
                "Sandbox is the first stage: there is no previous stage to roll back to.",
            ),
        ],
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
        examples=[
            OpenApiExample("Cancel", value={"reason": "Contract not renewed"}, request_only=True),
            OpenApiExample(
                "Cancelled",
                value={**JOURNEY_DETAIL_EXAMPLE, "stage": "cancelled", "end_reason": "Contract not renewed"},
                response_only=True,
            ),
            invalid_transition("cancel", "completed", "The journey is already completed."),
        ],
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
        examples=[
            OpenApiExample(
                "Measurements",
                value={"values": {"search_quality": 0.86, "connectors_syncing": 1.0}},
                request_only=True,
            ),
            OpenApiExample(
                "Unknown key",
                status_codes=["400"],
                response_only=True,
                value={
                    "values.search_qualty": [
                        "'search_qualty' is not a metric criterion of sandbox (expected one of: "
                        "connectors_syncing, search_quality)."
                    ]
                },
            ),
        ],
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
        examples=[
            OpenApiExample(
                "Demo approved",
                value={"key": "demo_approved", "approved": True, "by": "client-lead", "note": "Great demo"},
                request_only=True,
            ),
            OpenApiExample(
                "Scan failed",
                value={"key": "security_scan_passed", "approved": False, "note": "2 high CVEs"},
                request_only=True,
            ),
        ],
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
class UnitOfWorkActionView(ApiPermissions, generics.GenericAPIView):
    permission_model = UnitOfWork
    required_permission = "stages.change_unitofwork"
    serializer_class = UnitOfWorkSerializer


class UnitOfWorkRetryView(UnitOfWorkActionView):
    @extend_schema(
        operation_id="stages_units_of_work_retry",
        summary="Retry the failed tasks of a failed unit of work",
        description="Failed tasks get a fresh round of retries; the unit runs again. 409 unless it failed.",
        request=None,
        responses={200: UnitOfWorkSerializer, 409: CONFLICT},
    )
    def post(self, request, work_id):
        unit = work_services.unit_of_work_retry(
            unit=selectors.unit_of_work_get(work_id=work_id), actor=request.user.get_username()
        )
        return Response(UnitOfWorkSerializer(selectors.unit_of_work_get(work_id=unit.work_id)).data)


class UnitOfWorkCancelView(UnitOfWorkActionView):
    @extend_schema(
        operation_id="stages_units_of_work_cancel",
        summary="Cancel a unit of work",
        description="Open tasks are cancelled; an attempt still running has its outcome dropped.",
        request=None,
        responses={200: UnitOfWorkSerializer, 409: CONFLICT},
    )
    def post(self, request, work_id):
        unit = work_services.unit_of_work_cancel(
            unit=selectors.unit_of_work_get(work_id=work_id), actor=request.user.get_username()
        )
        return Response(UnitOfWorkSerializer(selectors.unit_of_work_get(work_id=unit.work_id)).data)


class WorkTaskCompleteView(ApiPermissions, generics.GenericAPIView):
    permission_model = WorkTask
    required_permission = "stages.change_worktask"
    serializer_class = WorkTaskSerializer

    @extend_schema(
        operation_id="stages_tasks_complete",
        summary="Report the outcome of a waiting task (manual, or an agent that answered 202)",
        request=TaskCompleteSerializer,
        responses={200: WorkTaskSerializer, 409: CONFLICT},
        examples=[
            OpenApiExample("Done", value={"result": {"notes": "Client signed off"}}, request_only=True),
            OpenApiExample(
                "Failed", value={"succeeded": False, "error": "Client did not attend"}, request_only=True
            ),
        ],
    )
    def post(self, request, task_id):
        serializer = TaskCompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = work_services.work_task_complete(
            task=selectors.work_task_get(task_id=task_id),
            actor=request.user.get_username(),
            **serializer.validated_data,
        )
        return Response(WorkTaskSerializer(task).data)
