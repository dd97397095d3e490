"""User journey endpoints (``/api/v1/user-journeys…``): status and progress, a participant's
user journeys, transitions, executing due steps now, history."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from journeys.api.examples import (
    INVALID_TRANSITION,
    STEP_RUN_EXAMPLE,
    USER_JOURNEY_EXAMPLE,
    USER_JOURNEY_INVALID_TRANSITION,
)
from journeys.api.filters import UserJourneyFilterSet, UserJourneyStateFilterSet
from journeys.api.permissions import OPERATE_USER_JOURNEY, ApiPermissions
from journeys.api.serializers.user_journeys import (
    AdvanceInSerializer,
    ExecuteInSerializer,
    ExecuteOutSerializer,
    HistorySerializer,
    UserJourneySerializer,
)
from journeys.models import UserJourney
from journeys.selectors.user_journeys import user_journey_get, user_journey_history, user_journeys_list
from journeys.services import user_journeys as services

USER_JOURNEY_LIST_MAX = 500  # newest user journeys returned by the 003 list (a plain array)


def _render(pk: int) -> Response:
    return Response(UserJourneySerializer(user_journey_get(pk=pk)).data)


class UserJourneyListView(ApiPermissions, generics.GenericAPIView):
    queryset = UserJourney.objects.all()
    serializer_class = UserJourneySerializer
    filterset_class = UserJourneyFilterSet

    @extend_schema(
        operation_id="user_journeys_list",
        summary="User journeys (newest first; filters: journey, state, user_id)",
        responses={200: UserJourneySerializer(many=True)},
        examples=[
            OpenApiExample(
                "Page",
                response_only=True,
                value={"next": None, "previous": None, "results": [USER_JOURNEY_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(user_journeys_list()))
        return self.get_paginated_response(UserJourneySerializer(page, many=True).data)


class UserJourneyDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = UserJourney.objects.all()
    serializer_class = UserJourneySerializer

    @extend_schema(
        operation_id="user_journeys_retrieve",
        summary="Status and progress: percent, milestones done/total, current milestone",
        examples=[OpenApiExample("User journey", response_only=True, value=USER_JOURNEY_EXAMPLE)],
    )
    def get(self, request, pk: int):
        return _render(pk)


class UserJourneysOfUserView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    queryset = UserJourney.objects.all()
    serializer_class = UserJourneySerializer
    filterset_class = UserJourneyStateFilterSet
    pagination_class = None

    @extend_schema(
        operation_id="journeys_user_journeys",
        summary="A participant's user journeys, newest first (at most 500)",
        responses={200: UserJourneySerializer(many=True)},
        examples=[OpenApiExample("User journeys", response_only=True, value=[USER_JOURNEY_EXAMPLE])],
    )
    def get(self, request, user_id: str):
        runs = self.filter_queryset(user_journeys_list(user_id=user_id))[:USER_JOURNEY_LIST_MAX]
        return Response(UserJourneySerializer(runs, many=True).data)


class UserJourneyOperation(ApiPermissions, generics.GenericAPIView):
    """Base of the views that act on a user journey (transitions, milestones): operators only."""

    permission_model = UserJourney
    required_permission = OPERATE_USER_JOURNEY
    serializer_class = UserJourneySerializer


class UserJourneyAdvanceView(UserJourneyOperation):
    @extend_schema(
        operation_id="user_journeys_advance",
        summary="Finish the step the journey waits on, with a step result, and go on",
        description=(
            "The result is stored as the step's result (conditions read `steps.<key>.<field>`); "
            '`{"next_step": "<key>"}` in it picks among the step\'s next steps.'
        ),
        request=AdvanceInSerializer,
        responses={200: UserJourneySerializer},
        examples=[
            OpenApiExample("Advance", request_only=True, value={"step_result": {"needs_transform": True}}),
            OpenApiExample("Advanced", response_only=True, value=USER_JOURNEY_EXAMPLE),
            USER_JOURNEY_INVALID_TRANSITION,
        ],
    )
    def post(self, request, pk: int):
        serializer = AdvanceInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_journey_advance(
            user_journey=user_journey_get(pk=pk), actor=request.user, **serializer.validated_data
        )
        return _render(pk)


def _transition_view(name: str, service, summary: str):
    @extend_schema(
        operation_id=f"user_journeys_{name}",
        summary=summary,
        request=None,
        responses={200: UserJourneySerializer},
        examples=[
            OpenApiExample("Done", response_only=True, value=USER_JOURNEY_EXAMPLE),
            USER_JOURNEY_INVALID_TRANSITION,
        ],
    )
    def post(self, request, pk: int):
        service(user_journey=user_journey_get(pk=pk), actor=request.user)
        return _render(pk)

    return type(f"UserJourney{name.title()}View", (UserJourneyOperation,), {"post": post, "__doc__": summary})


UserJourneyPauseView = _transition_view(
    "pause", services.user_journey_pause, "Pause: due steps wait until resumed"
)


UserJourneyResumeView = _transition_view(
    "resume", services.user_journey_resume, "Resume: steps that fell due meanwhile run at once"
)


UserJourneyCancelView = _transition_view("cancel", services.user_journey_cancel, "Cancel the user journey")


class JourneyExecuteView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    required_permission = OPERATE_USER_JOURNEY
    serializer_class = ExecuteInSerializer

    @extend_schema(
        operation_id="journeys_execute",
        summary="Execute a user journey's due steps now, in this request",
        request=ExecuteInSerializer,
        responses={200: ExecuteOutSerializer},
        examples=[
            OpenApiExample("Force the delays", request_only=True, value={"force": True}),
            OpenApiExample(
                "Executed", response_only=True, value={"executed": 2, "user_journey": USER_JOURNEY_EXAMPLE}
            ),
            INVALID_TRANSITION,
        ],
    )
    def post(self, request, user_journey_id: int):
        serializer = ExecuteInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        uj = user_journey_get(pk=user_journey_id)
        stats = services.user_journey_execute(user_journey=uj, **serializer.validated_data)
        body = {"executed": stats.executed, "user_journey": user_journey_get(pk=user_journey_id)}
        return Response(ExecuteOutSerializer(body).data)


class UserJourneyHistoryView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    serializer_class = HistorySerializer

    @extend_schema(
        operation_id="user_journeys_history",
        summary="The timeline: step runs with their traces, transitions and staff actions",
        examples=[
            OpenApiExample(
                "History",
                response_only=True,
                value={
                    "user_journey_id": 501,
                    "step_runs": [STEP_RUN_EXAMPLE],
                    "log": [
                        {
                            "at": "2026-01-18T13:00:00Z",
                            "action": "paused",
                            "from_state": "active",
                            "to_state": "paused",
                            "step_key": "telegram_intro",
                            "actor": "operator",
                            "detail": {},
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request, pk: int):
        uj = user_journey_get(pk=pk)
        runs, log = user_journey_history(user_journey=uj)
        return Response(HistorySerializer({"user_journey_id": uj.pk, "step_runs": runs, "log": log}).data)
