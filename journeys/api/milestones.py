"""The milestone tracker (``/api/v1/user-journeys/{id}/milestones…``): each milestone's status,
and starting, completing, retrying, rolling back and skipping one."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from journeys.api.examples import MILESTONES_EXAMPLE
from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.milestones import (
    MilestoneCompleteInSerializer,
    MilestoneDetailSerializer,
    MilestoneStartInSerializer,
    UserJourneyMilestonesSerializer,
)
from journeys.api.user_journeys import UserJourneyOperation
from journeys.models import UserJourney
from journeys.selectors.milestones import user_journey_milestone, user_journey_milestones
from journeys.selectors.user_journeys import user_journey_get, user_journey_progress
from journeys.services import user_journeys as services


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
    uj = user_journey_get(pk=pk)
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
        milestone = user_journey_milestone(user_journey=user_journey_get(pk=pk), key=key)
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
        service(user_journey=user_journey_get(pk=pk), key=key, actor=request.user, **kwargs)
        return _milestones_response(pk)

    return type(
        f"Milestone{name.title()}View",
        (UserJourneyOperation,),
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
