"""Views of the rules API. Each validates, calls one service or selector, renders."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.api.filters import StrictFilterBackend
from journeys.api.parsers import JSONParser
from journeys.api.permissions import ApiPermissions
from journeys.selectors.participants import participant_get
from rules import selectors
from rules.api.filters import RuleFilterSet
from rules.api.serializers import (
    BacktestRequestSerializer,
    BacktestSerializer,
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
    PreviewRequestSerializer,
    PreviewSerializer,
    RuleDefinitionSerializer,
    RuleSerializer,
    RulesSerializer,
    YAMLParser,
)
from rules.models import Flag, FlagHistory, Milestone, Rule
from rules.services.evaluation import participant_evaluate
from rules.services.flags import milestone_reach
from rules.services.rules import rule_activate, rule_create, rule_deactivate, rule_delete, rule_update

USER = OpenApiParameter("user_id", str, OpenApiParameter.PATH, description="The participant's user_id.")
RULE = OpenApiParameter("rule_id", str, OpenApiParameter.PATH, description="The rule's business id.")
RULE_EXAMPLE = {
    "rule_id": "custom_rule_001",
    "name": "Custom Rule",
    "description": "Five buddy matches",
    "flag": "custom_flag",
    "priority": 10,
    "active": True,
    "conditions": [{"type": "count", "entity": "buddy_matches", "count": ">=", "count_value": 5}],
    "actions": [
        {"type": "set_flag", "flag": "custom_flag", "value": True},
        {
            "type": "emit_event",
            "event": "orchestration.custom.event",
            "payload": {"message": "Custom event triggered"},
        },
    ],
}
RULE_OUT_EXAMPLE = {
    **RULE_EXAMPLE,
    "version": 1,
    "created_at": "2026-01-15T10:30:00Z",
    "updated_at": "2026-01-15T10:30:00Z",
}
RULE_ERRORS_EXAMPLE = OpenApiExample(
    "Field-level errors",
    response_only=True,
    status_codes=["400"],
    value={
        "conditions.0.count_value": ["A whole number, 0 or more."],
        "conditions.1.duration": ["A duration such as '14 days' (hours, days, weeks or months)."],
    },
)
NOT_FOUND_EXAMPLE = OpenApiExample(
    "Unknown",
    response_only=True,
    status_codes=["404"],
    value={"detail": "No rule with rule_id 'x'.", "code": "not_found"},
)


class FlagsView(ApiPermissions, APIView):
    permission_model = Flag

    @extend_schema(
        operation_id="journey_flags_list",
        summary="A participant's current flags",
        description="Expired flags are not shown (they count as absent).",
        parameters=[USER],
        responses={200: FlagsSerializer},
        examples=[
            OpenApiExample(
                "Flags",
                response_only=True,
                value={
                    "user_id": "user-42",
                    "flags": [
                        {
                            "flag": "mentor_ready",
                            "value": True,
                            "set_by_rule": "mentor_ready_001",
                            "set_at": "2026-01-15T10:30:00Z",
                            "expires_at": None,
                        }
                    ],
                    "count": 1,
                },
            )
        ],
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
        examples=[
            OpenApiExample("Dry run with a trace", request_only=True, value={"dry_run": True, "trace": True}),
            OpenApiExample(
                "Evaluated",
                response_only=True,
                value={
                    "user_id": "user-42",
                    "evaluated_rules": [
                        "mentor_ready_001",
                        "followup_needed_001",
                        "language_support_needed_001",
                    ],
                    "triggered_rules": ["mentor_ready_001"],
                    "fired_rules": ["mentor_ready_001"],
                    "changes": [
                        {
                            "flag": "mentor_ready",
                            "previous_value": None,
                            "value": True,
                            "reason": "rule",
                            "set_by_rule": "mentor_ready_001",
                            "expires_at": None,
                        }
                    ],
                    "milestones": ["mentor_ready"],
                    "events": ["orchestration.flag.updated", "orchestration.milestone.reached"],
                    "timestamp": "2026-01-15T10:30:00Z",
                    "dry_run": False,
                    "next_check_at": None,
                    "trace": None,
                },
            ),
        ],
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
        examples=[
            OpenApiExample(
                "History",
                response_only=True,
                value={
                    "user_id": "user-42",
                    "history": [
                        {
                            "id": 7,
                            "flag": "mentor_ready",
                            "value": True,
                            "previous_value": None,
                            "set_by_rule": "mentor_ready_001",
                            "reason": "rule",
                            "expires_at": None,
                            "changed_at": "2026-01-15T10:30:00Z",
                        }
                    ],
                    "count": 1,
                    "next_before": None,
                },
            )
        ],
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
        examples=[
            OpenApiExample(
                "Milestones",
                response_only=True,
                value={
                    "user_id": "user-42",
                    "milestones": [
                        {
                            "milestone": "mentor_ready",
                            "reached_at": "2026-01-15T10:30:00Z",
                            "triggered_by_rule": "mentor_ready_001",
                            "metadata": {"reason": "Completed 3+ language sessions"},
                        }
                    ],
                    "count": 1,
                },
            )
        ],
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
        examples=[
            OpenApiExample(
                "Manual override",
                request_only=True,
                value={"metadata": {"reason": "Manual override", "triggered_by": "admin@example.com"}},
            ),
            OpenApiExample(
                "Reached",
                response_only=True,
                status_codes=["201"],
                value={
                    "success": True,
                    "created": True,
                    "milestone": {
                        "milestone": "mentor_ready",
                        "reached_at": "2026-01-15T10:30:00Z",
                        "triggered_by_rule": "manual",
                        "metadata": {"reason": "Manual override", "triggered_by": "admin@example.com"},
                    },
                },
            ),
        ],
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


class RuleListView(ApiPermissions, APIView):
    queryset = Rule.objects.all()
    parser_classes = [JSONParser, YAMLParser]
    filterset_class = RuleFilterSet

    @extend_schema(
        operation_id="journey_rules_list",
        summary="List rules in evaluation order (priority, then rule_id)",
        parameters=[
            OpenApiParameter("active", bool, description="Only active (true) or inactive (false) rules."),
            OpenApiParameter("flag", str, description="Only rules that set this flag."),
        ],
        responses={200: RulesSerializer},
        examples=[
            OpenApiExample("Rules", response_only=True, value={"rules": [RULE_OUT_EXAMPLE], "count": 1})
        ],
    )
    def get(self, request):
        rules = list(StrictFilterBackend().filter_queryset(request, selectors.rules_list(), self))
        return Response({"rules": RuleSerializer(rules, many=True).data, "count": len(rules)})

    @extend_schema(
        operation_id="journey_rules_create",
        summary="Create a rule (JSON, or YAML with Content-Type: application/yaml)",
        description="The whole definition is validated; every problem comes back keyed by its field path.",
        request={"application/json": RuleDefinitionSerializer, "application/yaml": OpenApiTypes.STR},
        responses={201: RuleSerializer},
        examples=[
            OpenApiExample("The seed's custom rule", request_only=True, value=RULE_EXAMPLE),
            OpenApiExample("Created", response_only=True, status_codes=["201"], value=RULE_OUT_EXAMPLE),
            RULE_ERRORS_EXAMPLE,
        ],
    )
    def post(self, request):
        rule = rule_create(definition=request.data)
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleDetailView(ApiPermissions, APIView):
    queryset = Rule.objects.all()
    parser_classes = [JSONParser, YAMLParser]

    @extend_schema(
        operation_id="journey_rules_retrieve",
        summary="One rule",
        parameters=[RULE],
        responses={200: RuleSerializer},
        examples=[OpenApiExample("Rule", response_only=True, value=RULE_OUT_EXAMPLE), NOT_FOUND_EXAMPLE],
    )
    def get(self, request, rule_id: str):
        return Response(RuleSerializer(selectors.rule_get(rule_id=rule_id)).data)

    @extend_schema(
        operation_id="journey_rules_replace",
        summary="Update a rule with the fields given (the others stay); rule_id cannot change",
        description=(
            "As the rules document specifies: the body is a partial rule object. Each top-level "
            "field given replaces the rule's (`conditions` and `actions` as whole lists); fields "
            "left out keep their values; the result is validated as a whole. A complete "
            "definition therefore replaces the rule."
        ),
        parameters=[RULE],
        request={"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR},
        responses={200: RuleSerializer},
        examples=[
            OpenApiExample("Some fields", request_only=True, value={"priority": 30, "active": False}),
            OpenApiExample("Definition", request_only=True, value=RULE_EXAMPLE),
            RULE_ERRORS_EXAMPLE,
        ],
    )
    def put(self, request, rule_id: str):
        rule = rule_update(rule=selectors.rule_get(rule_id=rule_id), definition=request.data, partial=True)
        return Response(RuleSerializer(rule).data)

    @extend_schema(
        operation_id="journey_rules_update",
        summary="Change some top-level fields of a rule; the result is validated as a whole",
        parameters=[RULE],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: RuleSerializer},
        examples=[
            OpenApiExample("Raise the priority", request_only=True, value={"priority": 30}),
            RULE_ERRORS_EXAMPLE,
        ],
    )
    def patch(self, request, rule_id: str):
        rule = rule_update(rule=selectors.rule_get(rule_id=rule_id), definition=request.data, partial=True)
        return Response(RuleSerializer(rule).data)

    @extend_schema(
        operation_id="journey_rules_delete",
        summary="Delete a rule (flags it set stay, with their history)",
        parameters=[RULE],
        responses={204: None},
    )
    def delete(self, request, rule_id: str):
        rule_delete(rule=selectors.rule_get(rule_id=rule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleActivateView(ApiPermissions, APIView):
    required_permission = "rules.change_rule"
    active = True

    @extend_schema(
        operation_id="journey_rules_activate",
        summary="Activate a rule (no change if it is active already)",
        parameters=[RULE],
        request=None,
        responses={200: RuleSerializer},
        examples=[OpenApiExample("Active", response_only=True, value=RULE_OUT_EXAMPLE), NOT_FOUND_EXAMPLE],
    )
    def post(self, request, rule_id: str):
        rule = selectors.rule_get(rule_id=rule_id)
        rule = rule_activate(rule=rule) if self.active else rule_deactivate(rule=rule)
        return Response(RuleSerializer(rule).data)


class RuleDeactivateView(RuleActivateView):
    active = False

    @extend_schema(
        operation_id="journey_rules_deactivate",
        summary="Deactivate a rule (its flags stay as they are)",
        parameters=[RULE],
        request=None,
        responses={200: RuleSerializer},
        examples=[
            OpenApiExample(
                "Inactive", response_only=True, value={**RULE_OUT_EXAMPLE, "active": False, "version": 2}
            ),
            NOT_FOUND_EXAMPLE,
        ],
    )
    def post(self, request, rule_id: str):
        return super().post(request, rule_id)


class RulePreviewView(ApiPermissions, APIView):
    required_permission = "rules.evaluate_rule"

    @extend_schema(
        operation_id="journey_rules_preview",
        summary="Test a rule against one participant: does it hold now, and why",
        description="Works for inactive rules too; writes nothing.",
        parameters=[RULE],
        request=PreviewRequestSerializer,
        responses={200: PreviewSerializer},
        examples=[
            OpenApiExample("Participant", request_only=True, value={"user_id": "user-42"}),
            OpenApiExample(
                "Trace",
                response_only=True,
                value={
                    "rule_id": "custom_rule_001",
                    "user_id": "user-42",
                    "holds": False,
                    "condition": {
                        "type": "count",
                        "description": "count(buddy_matches) >= 5",
                        "actual": 3,
                        "holds": False,
                    },
                    "timestamp": "2026-01-15T10:30:00Z",
                },
            ),
        ],
    )
    def post(self, request, rule_id: str):
        body = PreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = selectors.rule_get(rule_id=rule_id)
        participant = participant_get(user_id=body.validated_data["user_id"])
        return Response(PreviewSerializer(selectors.rule_preview(rule=rule, participant=participant)).data)


class RuleBacktestView(ApiPermissions, APIView):
    required_permission = "rules.evaluate_rule"

    @extend_schema(
        operation_id="journey_rules_backtest",
        summary="How many participants the rule's conditions match now",
        description="Examines up to `limit` participants (oldest first); writes nothing.",
        parameters=[RULE],
        request=BacktestRequestSerializer,
        responses={200: BacktestSerializer},
        examples=[
            OpenApiExample("Everyone up to 10,000", request_only=True, value={"limit": 10000}),
            OpenApiExample(
                "Result",
                response_only=True,
                value={
                    "rule_id": "custom_rule_001",
                    "participants_evaluated": 2500,
                    "matched": 112,
                    "truncated": False,
                    "sample_user_ids": ["user-42", "user-97"],
                    "timestamp": "2026-01-15T10:30:00Z",
                },
            ),
        ],
    )
    def post(self, request, rule_id: str):
        body = BacktestRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = selectors.rule_get(rule_id=rule_id)
        return Response(BacktestSerializer(selectors.rule_backtest(rule=rule, **body.validated_data)).data)
