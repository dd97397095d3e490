"""Views of the rules themselves: list, create, read, change, (de)activate, preview, backtest."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.api.filters import StrictFilterBackend
from journeys.api.parsers import JSONParser
from journeys.api.permissions import ApiPermissions
from journeys.selectors.participants import participant_get
from rules import selectors
from rules.api.examples import (
    RULE,
    RULES_ACTIVATE_EXAMPLES,
    RULES_BACKTEST_EXAMPLES,
    RULES_CREATE_EXAMPLES,
    RULES_DEACTIVATE_EXAMPLES,
    RULES_LIST_EXAMPLES,
    RULES_PREVIEW_EXAMPLES,
    RULES_REPLACE_EXAMPLES,
    RULES_RETRIEVE_EXAMPLES,
    RULES_UPDATE_EXAMPLES,
)
from rules.api.filters import RuleFilterSet
from rules.api.serializers import (
    BacktestRequestSerializer,
    BacktestSerializer,
    PreviewRequestSerializer,
    PreviewSerializer,
    RuleDefinitionSerializer,
    RuleSerializer,
    RulesSerializer,
    YAMLParser,
)
from rules.models import Rule
from rules.services.rules import rule_activate, rule_create, rule_deactivate, rule_delete, rule_update


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
        examples=RULES_LIST_EXAMPLES,
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
        examples=RULES_CREATE_EXAMPLES,
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
        examples=RULES_RETRIEVE_EXAMPLES,
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
        examples=RULES_REPLACE_EXAMPLES,
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
        examples=RULES_UPDATE_EXAMPLES,
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
        examples=RULES_ACTIVATE_EXAMPLES,
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
        examples=RULES_DEACTIVATE_EXAMPLES,
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
        examples=RULES_PREVIEW_EXAMPLES,
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
        examples=RULES_BACKTEST_EXAMPLES,
    )
    def post(self, request, rule_id: str):
        body = BacktestRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = selectors.rule_get(rule_id=rule_id)
        return Response(BacktestSerializer(selectors.rule_backtest(rule=rule, **body.validated_data)).data)
