"""The workspace API's choices and money: decisions (revisited and rolled back with their
history), the budget, quotes and expenses.

Each view validates input, calls one service or selector, and renders; the base class has
already resolved the workspace and checked the caller's role for the method.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from workspace import selectors
from workspace.api import examples
from workspace.api import serializers as s
from workspace.api.base import STEP_FILTER, TAGS, WorkspaceAPIView, WorkspaceListCreateView
from workspace.models import Decision, Quote
from workspace.services import costs, decisions

QUOTES_LIMIT = 200  # quotes compared at once


@extend_schema_view(
    get=extend_schema(
        tags=TAGS,
        summary="Decisions (current ones by default)",
        parameters=[STEP_FILTER, OpenApiParameter("all", bool, description="Include superseded decisions.")],
        responses=s.DecisionSerializer(many=True),
    ),
    post=extend_schema(
        tags=TAGS,
        summary="Record a decision",
        responses={201: s.DecisionSerializer},
        examples=examples.DECISION,
    ),
)
class DecisionsView(WorkspaceListCreateView):
    serializer_class = s.DecisionSerializer
    selector = staticmethod(selectors.decisions_list)
    service = staticmethod(decisions.decision_record)
    by_step = True

    def narrow(self, rows):
        return rows if self.request.query_params.get("all") in {"1", "true"} else rows.filter(current=True)


class DecisionView(WorkspaceAPIView):
    serializer_class = s.DecisionSerializer

    @extend_schema(tags=TAGS, summary="A decision")
    def get(self, request, user_journey_id, pk):
        return Response(self.get_serializer(self.row(Decision, pk)).data)

    @extend_schema(tags=TAGS, summary="Delete a decision (soft)", responses={204: None})
    def delete(self, request, user_journey_id, pk):
        decisions.decision_delete(decision=self.row(Decision, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DecisionRevisitView(WorkspaceAPIView):
    serializer_class = s.DecisionSerializer

    @extend_schema(
        tags=TAGS,
        summary="Revisit a decision (the old choice stays in the history)",
        request=s.DecisionRevisitSerializer,
        responses={201: s.DecisionSerializer, 409: examples.REFUSED},
    )
    def post(self, request, user_journey_id, pk):
        data = s.DecisionRevisitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        newer = decisions.decision_revisit(
            decision=self.row(Decision, pk), actor=request.user, data=data.validated_data
        )
        return Response(self.get_serializer(newer).data, status=status.HTTP_201_CREATED)


class DecisionRollbackView(WorkspaceAPIView):
    serializer_class = s.DecisionSerializer

    @extend_schema(
        tags=TAGS,
        summary="Roll a revisited decision back to the previous choice",
        request=None,
        responses={200: s.DecisionSerializer, 409: examples.REFUSED},
    )
    def post(self, request, user_journey_id, pk):
        previous = decisions.decision_rollback(decision=self.row(Decision, pk), actor=request.user)
        return Response(self.get_serializer(previous).data)


class DecisionHistoryView(WorkspaceAPIView):
    serializer_class = s.DecisionSerializer
    pagination_class = None

    @extend_schema(
        tags=TAGS,
        summary="Every choice made for this question, newest first",
        responses=s.DecisionSerializer(many=True),
    )
    def get(self, request, user_journey_id, pk):
        chain = decisions.decision_history(decision=self.row(Decision, pk, alive=False))
        return Response(self.get_serializer(chain, many=True).data)


class BudgetView(WorkspaceAPIView):
    serializer_class = s.BudgetReportSerializer

    def get_object(self):
        return self.workspace  # the budget is the workspace's own (OPTIONS asks for the object of PUT)

    @extend_schema(tags=TAGS, summary="Budget vs actual per category", examples=examples.BUDGET_REPORT)
    def get(self, request, user_journey_id):
        return Response(self.get_serializer(costs.budget_report(workspace=self.workspace)).data)

    @extend_schema(
        tags=TAGS,
        summary="Set the budget of a category (empty category: the total)",
        request=s.BudgetLineInputSerializer,
    )
    def put(self, request, user_journey_id):
        data = s.BudgetLineInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        costs.budget_set(workspace=self.workspace, actor=request.user, **data.validated_data)
        return Response(self.get_serializer(costs.budget_report(workspace=self.workspace)).data)


@extend_schema_view(
    post=extend_schema(
        tags=TAGS, summary="Add a quote", responses={201: s.QuoteSerializer}, examples=examples.QUOTE
    )
)
class QuotesView(WorkspaceListCreateView):
    """Listed whole (not paged), cheapest first, to compare them side by side."""

    serializer_class = s.QuoteSerializer
    pagination_class = None
    service = staticmethod(costs.quote_add)

    @extend_schema(
        tags=TAGS,
        summary="Quotes, cheapest first within a category (compare side by side)",
        parameters=[OpenApiParameter("category", str)],
        responses=s.QuoteSerializer(many=True),
    )
    def get(self, request, user_journey_id):
        rows = Quote.objects.alive().filter(workspace=self.workspace)
        if category := request.query_params.get("category"):
            rows = rows.filter(category=category)
        rows = rows.order_by("category", "amount", "id")
        return Response(self.get_serializer(rows[:QUOTES_LIMIT], many=True).data)


class QuoteAcceptView(WorkspaceAPIView):
    serializer_class = s.QuoteSerializer

    @extend_schema(tags=TAGS, summary="Accept a quote", request=None)
    def post(self, request, user_journey_id, pk):
        quote = costs.quote_accept(quote=self.row(Quote, pk), actor=request.user)
        return Response(self.get_serializer(quote).data)


@extend_schema_view(
    get=extend_schema(
        tags=TAGS, summary="Money spent", parameters=[STEP_FILTER], responses=s.ExpenseSerializer(many=True)
    ),
    post=extend_schema(tags=TAGS, summary="Record an expense", responses={201: s.ExpenseSerializer}),
)
class ExpensesView(WorkspaceListCreateView):
    serializer_class = s.ExpenseSerializer
    selector = staticmethod(selectors.expenses_list)
    service = staticmethod(costs.expense_add)
    by_step = True
