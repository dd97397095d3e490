"""User journey endpoints (``/api/v1/user-journeys/…``): status and progress, transitions, the
000 milestone tracker, history; and dead-lettered step runs (``/api/v1/step-runs``)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from journeys.api.filters import StepRunFilterSet, UserJourneyFilterSet
from journeys.api.journey_serializers import (
    AdvanceInSerializer,
    HistorySerializer,
    MilestoneCompleteInSerializer,
    MilestoneDetailSerializer,
    MilestoneStartInSerializer,
    StepRunSerializer,
    UserJourneyMilestonesSerializer,
    UserJourneySerializer,
)
from journeys.api.journey_views import USER_JOURNEY_EXAMPLE
from journeys.api.permissions import ApiPermissions
from journeys.errors import NotFound
from journeys.models import StepRun, UserJourney
from journeys.selectors.milestones import user_journey_milestone, user_journey_milestones
from journeys.selectors.step_runs import step_runs_list
from journeys.selectors.user_journeys import (
    user_journey_get,
    user_journey_history,
    user_journey_progress,
    user_journeys_list,
)
from journeys.services import user_journeys as services

OPERATE = "journeys.operate_userjourney"
CONFLICT = OpenApiExample(
    "Not allowed in the current state",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "Can't switch from state 'completed' using method 'pause'",
        "code": "invalid_transition",
        "current_state": "completed",
    },
)
STEP_RUN_EXAMPLE = {
    "id": 9001,
    "user_journey_id": 501,
    "seq": 2,
    "step_key": "notify_crm",
    "step_kind": "action",
    "action_type": "trigger_webhook",
    "channel": "",
    "status": "failed",
    "due_at": "2026-01-18T12:05:00Z",
    "waiting_for": "",
    "executed_at": "2026-01-18T12:09:01Z",
    "finished_at": "2026-01-18T12:09:02Z",
    "attempts": 3,
    "max_attempts": 3,
    "result": {},
    "error": "DeliveryFailed: https://crm.example.com/hook answered 503",
    "trace": {
        "condition": {
            "field": "payload.plan",
            "op": "eq",
            "value": "premium",
            "actual": "premium",
            "result": True,
        }
    },
    "dead_lettered_at": "2026-01-18T12:09:02Z",
    "rolled_back": False,
    "lag_seconds": 0.4,
    "idempotency_key": "step-run-9001",
    "created_at": "2026-01-18T12:00:00Z",
}
MILESTONES_EXAMPLE = {
    "user_journey_id": 501,
    "progress": {
        "percent": 50.0,
        "milestones_completed": 2,
        "milestones_total": 4,
        "current_milestone": "transform",
    },
    "milestones": [
        {
            "key": "upload",
            "name": "Upload Content",
            "kind": "manual",
            "is_milestone": True,
            "status": "completed",
            "step_run_id": 1,
            "attempts": 0,
            "started_at": "2026-01-18T12:00:00Z",
            "completed_at": "2026-01-18T12:10:00Z",
            "duration_seconds": 600.0,
            "on_path": True,
            "result": {"files": 3},
            "error": "",
        },
        {
            "key": "transform",
            "name": "Transform Data",
            "kind": "manual",
            "is_milestone": True,
            "status": "in_progress",
            "step_run_id": 3,
            "attempts": 0,
            "started_at": "2026-01-18T12:20:00Z",
            "completed_at": None,
            "duration_seconds": None,
            "on_path": True,
            "result": {},
            "error": "",
        },
    ],
}


def _user_journey(pk: int) -> UserJourney:
    return user_journey_get(pk=pk)


def _render(pk: int) -> Response:
    return Response(UserJourneySerializer(_user_journey(pk)).data)


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


class _Operate(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    required_permission = OPERATE
    serializer_class = UserJourneySerializer


class UserJourneyAdvanceView(_Operate):
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
            CONFLICT,
        ],
    )
    def post(self, request, pk: int):
        serializer = AdvanceInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_journey_advance(
            user_journey=_user_journey(pk), actor=request.user, **serializer.validated_data
        )
        return _render(pk)


def _transition_view(name: str, service, summary: str):
    @extend_schema(
        operation_id=f"user_journeys_{name}",
        summary=summary,
        request=None,
        responses={200: UserJourneySerializer},
        examples=[OpenApiExample("Done", response_only=True, value=USER_JOURNEY_EXAMPLE), CONFLICT],
    )
    def post(self, request, pk: int):
        service(user_journey=_user_journey(pk), actor=request.user)
        return _render(pk)

    return type(f"UserJourney{name.title()}View", (_Operate,), {"post": post, "__doc__": summary})


UserJourneyPauseView = _transition_view(
    "pause", services.user_journey_pause, "Pause: due steps wait until resumed"
)
UserJourneyResumeView = _transition_view(
    "resume", services.user_journey_resume, "Resume: steps that fell due meanwhile run at once"
)
UserJourneyCancelView = _transition_view("cancel", services.user_journey_cancel, "Cancel the user journey")


class UserJourneyMilestonesView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    serializer_class = UserJourneyMilestonesSerializer

    @extend_schema(
        operation_id="user_journeys_milestones",
        summary="The status of each milestone",
        examples=[OpenApiExample("Milestones", response_only=True, value=MILESTONES_EXAMPLE)],
    )
    def get(self, request, pk: int):
        return _milestones_response(pk)


def _milestones_response(pk: int) -> Response:
    uj = _user_journey(pk)
    milestones = user_journey_milestones(user_journey=uj)
    progress = user_journey_progress(user_journey=uj, milestones=milestones)
    return Response(
        UserJourneyMilestonesSerializer(
            {"user_journey_id": uj.pk, "progress": progress, "milestones": milestones}
        ).data
    )


class MilestoneDetailView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    serializer_class = MilestoneDetailSerializer

    @extend_schema(
        operation_id="user_journeys_milestones_retrieve",
        summary="One milestone: status, started and completed times, duration, neighbours",
        examples=[
            OpenApiExample(
                "Milestone",
                response_only=True,
                value={
                    "user_journey_id": 501,
                    **MILESTONES_EXAMPLE["milestones"][0],
                    "predecessors": [],
                    "next_steps": ["analyze"],
                },
            )
        ],
    )
    def get(self, request, pk: int, key: str):
        milestone = user_journey_milestone(user_journey=_user_journey(pk), key=key)
        return Response(MilestoneDetailSerializer(milestone).data)


def _milestone_view(name: str, service, summary: str, *, takes_result: bool = False, takes_force=False):
    request_serializer = (
        MilestoneCompleteInSerializer if takes_result else MilestoneStartInSerializer if takes_force else None
    )

    @extend_schema(
        operation_id=f"user_journeys_milestones_{name}",
        summary=summary,
        request=request_serializer,
        responses={200: UserJourneyMilestonesSerializer},
        examples=[
            *(
                [OpenApiExample("Result", request_only=True, value={"result": {"files": 3}})]
                if takes_result
                else [OpenApiExample("Force", request_only=True, value={"force": True})]
                if takes_force
                else []
            ),
            OpenApiExample("Milestones", response_only=True, value=MILESTONES_EXAMPLE),
            OpenApiExample(
                "Not possible now",
                response_only=True,
                status_codes=["409"],
                value={
                    "detail": "The journey is not waiting on milestone 'validate'.",
                    "code": "not_current_milestone",
                    "current_state": "active",
                    "current_step": "transform",
                },
            ),
        ],
    )
    def post(self, request, pk: int, key: str):
        kwargs = {}
        if request_serializer is not None:
            serializer = request_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            kwargs.update(serializer.validated_data)
        service(user_journey=_user_journey(pk), key=key, actor=request.user, **kwargs)
        return _milestones_response(pk)

    return type(
        f"Milestone{name.title()}View",
        (_Operate,),
        {"post": post, "__doc__": summary, "serializer_class": UserJourneyMilestonesSerializer},
    )


MilestoneStartView = _milestone_view(
    "start",
    services.milestone_start,
    "Start a milestone (the journey moves to it); 409 while no milestone leading to it is done, unless force",
    takes_force=True,
)
MilestoneCompleteView = _milestone_view(
    "complete",
    services.milestone_complete,
    "Complete the milestone the journey waits on, with its result",
    takes_result=True,
)
MilestoneRetryView = _milestone_view(
    "retry", services.milestone_retry, "Retry a failed (dead-lettered) milestone"
)
MilestoneRollbackView = _milestone_view(
    "rollback", services.milestone_rollback, "Roll back to a milestone reached before and do it again"
)
MilestoneSkipView = _milestone_view("skip", services.milestone_skip, "Skip the current or a failed milestone")


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
        uj = _user_journey(pk)
        runs, log = user_journey_history(user_journey=uj)
        return Response(HistorySerializer({"user_journey_id": uj.pk, "step_runs": runs, "log": log}).data)


class StepRunListView(ApiPermissions, generics.GenericAPIView):
    queryset = StepRun.objects.all()
    serializer_class = StepRunSerializer
    filterset_class = StepRunFilterSet

    @extend_schema(
        operation_id="step_runs_list",
        summary="Step runs: the dead-letter queue (dead_lettered=true), overdue runs (overdue_seconds=5)…",
        responses={200: StepRunSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Dead letters",
                response_only=True,
                value={"next": None, "previous": None, "results": [STEP_RUN_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(step_runs_list()))
        return self.get_paginated_response(StepRunSerializer(page, many=True).data)


def _step_run_view(name: str, service, summary: str):
    @extend_schema(
        operation_id=f"step_runs_{name}",
        summary=summary,
        request=None,
        responses={200: StepRunSerializer},
        examples=[
            OpenApiExample(
                "Done",
                response_only=True,
                value={**STEP_RUN_EXAMPLE, "status": "scheduled", "dead_lettered_at": None},
            ),
            OpenApiExample(
                "Not dead-lettered",
                response_only=True,
                status_codes=["409"],
                value={
                    "detail": "Milestone 'notify_crm' has no failed step run to retry or skip.",
                    "code": "not_failed",
                    "current_state": "active",
                    "current_step": "notify_crm",
                },
            ),
        ],
    )
    def post(self, request, pk: int):
        run = StepRun.objects.select_related("user_journey").filter(pk=pk).first()
        if run is None:
            raise NotFound(f"No step run {pk}.")
        service(step_run=run, actor=request.user)
        return Response(StepRunSerializer(StepRun.objects.get(pk=pk)).data)

    return type(
        f"StepRun{name.title()}View",
        (ApiPermissions, generics.GenericAPIView),
        {
            "post": post,
            "__doc__": summary,
            "permission_model": StepRun,
            "required_permission": "journeys.retry_steprun",
            "serializer_class": StepRunSerializer,
        },
    )


StepRunRetryView = _step_run_view("retry", services.step_run_retry, "Retry a dead-lettered step run now")
StepRunSkipView = _step_run_view("skip", services.step_run_skip, "Skip a dead-lettered step run and go on")
