"""Views of a participant's flags, their history and milestones, and evaluating rules for them now."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.api.permissions import ApiPermissions
from journeys.selectors.participants import participant_get
from rules import selectors
from rules.api.examples import (
    FLAGS_EVALUATE_EXAMPLES,
    FLAGS_HISTORY_EXAMPLES,
    FLAGS_LIST_EXAMPLES,
    MILESTONES_LIST_EXAMPLES,
    MILESTONES_REACH_EXAMPLES,
    USER,
)
from rules.api.serializers import (
    EvaluateRequestSerializer,
    EvaluationSerializer,
    FlagHistoryPageSerializer,
    FlagHistoryQuerySerializer,
    FlagHistorySerializer,
    FlagSerializer,
    FlagsSerializer,
    MilestoneReachedSerializer,
    MilestoneReachRequestSerializer,
    MilestoneSerializer,
    MilestonesSerializer,
)
from rules.models import Flag, FlagHistory, Milestone
from rules.services.evaluation import participant_evaluate
from rules.services.flags import milestone_reach


class FlagsView(ApiPermissions, APIView):
    permission_model = Flag

    @extend_schema(
        operation_id="journey_flags_list",
        summary="A participant's current flags",
        description="Expired flags are not shown (they count as absent).",
        parameters=[USER],
        responses={200: FlagsSerializer},
        examples=FLAGS_LIST_EXAMPLES,
    )
    def get(self, request, user_id: str):
        participant = participant_get(user_id=user_id)
        flags = list(selectors.live_flags(participant=participant))
        return Response(
            {"user_id": user_id, "flags": FlagSerializer(flags, many=True).data, "count": len(flags)}
        )


class EvaluateView(ApiPermissions, APIView):
    required_permission = "rules.evaluate_rule"

    @extend_schema(
        operation_id="journey_flags_evaluate",
        summary="Evaluate every active rule for a participant now",
        description=(
            "Writes only what changes (flags, history, milestones, events). `dry_run` shows the "
            "changes without writing; `trace` adds each rule's conditions with the actual values seen."
        ),
        parameters=[USER],
        request=EvaluateRequestSerializer,
        responses={200: EvaluationSerializer},
        examples=FLAGS_EVALUATE_EXAMPLES,
    )
    def post(self, request, user_id: str):
        options = EvaluateRequestSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        participant = participant_get(user_id=user_id)
        result = participant_evaluate(participant=participant, **options.validated_data)
        return Response(EvaluationSerializer(result).data)


class FlagHistoryView(ApiPermissions, APIView):
    permission_model = FlagHistory

    @extend_schema(
        operation_id="journey_flags_history",
        summary="A participant's flag changes, newest first",
        parameters=[USER, FlagHistoryQuerySerializer],
        responses={200: FlagHistoryPageSerializer},
        examples=FLAGS_HISTORY_EXAMPLES,
    )
    def get(self, request, user_id: str):
        query = FlagHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        participant = participant_get(user_id=user_id)
        history = selectors.flag_history(participant=participant)
        count = history.count()
        if "before" in query.validated_data:
            history = history.filter(id__lt=query.validated_data["before"])
        limit = query.validated_data["limit"]
        page = list(history[: limit + 1])
        next_before = page[limit - 1].pk if len(page) > limit else None
        return Response(
            {
                "user_id": user_id,
                "history": FlagHistorySerializer(page[:limit], many=True).data,
                "count": count,
                "next_before": next_before,
            }
        )


class MilestonesView(ApiPermissions, APIView):
    permission_model = Milestone

    @extend_schema(
        operation_id="journey_milestones_list",
        summary="Milestones a participant reached, oldest first",
        parameters=[USER],
        responses={200: MilestonesSerializer},
        examples=MILESTONES_LIST_EXAMPLES,
    )
    def get(self, request, user_id: str):
        participant = participant_get(user_id=user_id)
        milestones = list(selectors.milestones(participant=participant))
        return Response(
            {
                "user_id": user_id,
                "milestones": MilestoneSerializer(milestones, many=True).data,
                "count": len(milestones),
            }
        )


class MilestoneReachView(ApiPermissions, APIView):
    permission_model = Milestone

    @extend_schema(
        operation_id="journey_milestones_reach",
        summary="Record a milestone by hand",
        description=(
            "201 and an `orchestration.milestone.reached` event the first time; a milestone already "
            "reached answers 200 with the original record and `created: false`."
        ),
        parameters=[
            USER,
            OpenApiParameter("milestone", str, OpenApiParameter.PATH, description="The milestone's name."),
        ],
        request=MilestoneReachRequestSerializer,
        responses={200: MilestoneReachedSerializer, 201: MilestoneReachedSerializer},
        examples=MILESTONES_REACH_EXAMPLES,
    )
    def post(self, request, user_id: str, milestone: str):
        body = MilestoneReachRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        participant = participant_get(user_id=user_id)
        record, created = milestone_reach(
            participant=participant, milestone=milestone, metadata=body.validated_data["metadata"]
        )
        return Response(
            {"success": True, "created": created, "milestone": MilestoneSerializer(record).data},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
