"""The workspace API: files, research, decisions, costs, people, conversations, exports.

Each view validates input, calls one service or selector, and renders; the base class has
already resolved the workspace and checked the caller's role for the method.
"""

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from journeys.errors import ValidationFailed
from workspace.api import examples
from workspace.api import serializers as s
from workspace.api.base import PersonAPIView, WorkspaceAPIView
from workspace.models import Attachment, BeforeAfterPair, Decision, Expense, Quote, ResearchItem
from workspace.policy import Ability, role_of
from workspace.selectors import user_journeys_for
from workspace.services import costs, decisions, files, spaces

TAGS = ["workspace"]
SEARCH_LIMIT = 50  # best-ranked documents returned by a search
QUOTES_LIMIT = 200  # quotes compared at once
STEP_FILTER = OpenApiParameter("step_key", str, description="Only rows of this journey step.")


def _by_step(view, rows):
    step_key = view.request.query_params.get("step_key")
    return rows.filter(step_key=step_key) if step_key is not None else rows


class MyJourneysView(PersonAPIView):
    """The journeys the caller owns or that were shared with them, with their role."""

    serializer_class = s.MyJourneySerializer

    @extend_schema(tags=TAGS, summary="My journeys", examples=examples.MY_JOURNEYS)
    def get(self, request):
        page = self.paginate_queryset(user_journeys_for(user=request.user))
        for user_journey in page:
            workspace = getattr(user_journey, "workspace", None)
            user_journey.role = role_of(request.user, workspace) if workspace else "owner"
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class WorkspaceView(WorkspaceAPIView):
    serializer_class = s.WorkspaceSerializer
    abilities = {**WorkspaceAPIView.abilities, "DELETE": Ability.MANAGE}

    def _render(self, request):
        self.workspace.role = role_of(request.user, self.workspace)
        return Response(self.get_serializer(self.workspace).data)

    @extend_schema(tags=TAGS, summary="A journey's workspace")
    def get(self, request, user_journey_id):
        return self._render(request)

    @extend_schema(tags=TAGS, summary="Delete a journey (soft: staff can restore it)", responses={204: None})
    def delete(self, request, user_journey_id):
        spaces.workspace_delete(workspace=self.workspace, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
class AttachmentsView(WorkspaceAPIView):
    serializer_class = s.AttachmentSerializer
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "uploads"

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, ScopedRateThrottle()] if self.request.method == "POST" else throttles

    @extend_schema(
        tags=TAGS,
        summary="Files of a journey",
        parameters=[STEP_FILTER, OpenApiParameter("kind", str, enum=["image", "document"])],
        responses=s.AttachmentSerializer(many=True),
    )
    def get(self, request, user_journey_id):
        rows = _by_step(self, Attachment.objects.alive().filter(workspace=self.workspace))
        if kind := request.query_params.get("kind"):
            rows = rows.filter(kind=kind)
        page = self.paginate_queryset(rows.select_related("created_by"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Upload an image or a document",
        description="Checked by content (not by name), size-limited, images re-encoded without "
        "metadata. Documents' text is extracted in the background and becomes searchable.",
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        responses={201: s.AttachmentSerializer},
    )
    def post(self, request, user_journey_id):
        upload = s.AttachmentUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        incoming = upload.validated_data["file"]
        attachment = files.attachment_upload(
            workspace=self.workspace,
            actor=request.user,
            content=incoming.read(),
            filename=incoming.name or "file",
            step_key=upload.validated_data["step_key"],
            caption=upload.validated_data["caption"],
        )
        return Response(self.get_serializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentView(WorkspaceAPIView):
    serializer_class = s.AttachmentSerializer

    @extend_schema(tags=TAGS, summary="A file's details")
    def get(self, request, user_journey_id, pk):
        return Response(self.get_serializer(self.row(Attachment, pk)).data)

    @extend_schema(tags=TAGS, summary="Delete a file (soft)", responses={204: None})
    def delete(self, request, user_journey_id, pk):
        files.attachment_delete(attachment=self.row(Attachment, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentContentView(WorkspaceAPIView):
    @extend_schema(
        tags=TAGS,
        summary="Download a file (or its thumbnail)",
        parameters=[OpenApiParameter("thumbnail", bool)],
        responses={(200, "*/*"): bytes},  # the file's own media type
    )
    def get(self, request, user_journey_id, pk):
        attachment = self.row(Attachment, pk)
        thumbnail = request.query_params.get("thumbnail") in {"1", "true"}
        if thumbnail and not attachment.thumbnail:
            raise ValidationFailed({"thumbnail": ["Only images have thumbnails."]})
        stored = attachment.thumbnail if thumbnail else attachment.file
        return FileResponse(
            stored.open("rb"),
            content_type="image/jpeg" if thumbnail else attachment.content_type,
            as_attachment=not thumbnail and attachment.kind == Attachment.Kind.DOCUMENT,
            filename=attachment.filename,
        )


class NearDuplicatesView(WorkspaceAPIView):
    serializer_class = s.NearDuplicateSerializer
    pagination_class = None

    @extend_schema(
        tags=TAGS,
        summary="Images that show (nearly) the same picture",
        responses=s.NearDuplicateSerializer(many=True),
    )
    def get(self, request, user_journey_id, pk):
        found = files.attachment_near_duplicates(attachment=self.row(Attachment, pk))
        rows = [{"attachment": other, "distance": distance} for other, distance in found]
        return Response(self.get_serializer(rows, many=True).data)


class PairsView(WorkspaceAPIView):
    serializer_class = s.PairSerializer

    @extend_schema(
        tags=TAGS,
        summary="Before/after image pairs",
        parameters=[STEP_FILTER],
        responses=s.PairSerializer(many=True),
    )
    def get(self, request, user_journey_id):
        rows = _by_step(self, BeforeAfterPair.objects.filter(workspace=self.workspace))
        page = self.paginate_queryset(rows.select_related("before", "after"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Pair a before and an after image",
        request=s.PairInputSerializer,
        responses={201: s.PairSerializer},
    )
    def post(self, request, user_journey_id):
        data = s.PairInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = files.pair_create(
            workspace=self.workspace,
            actor=request.user,
            before_id=data.validated_data["before"],
            after_id=data.validated_data["after"],
            note=data.validated_data["note"],
        )
        return Response(self.get_serializer(pair).data, status=status.HTTP_201_CREATED)


class SearchView(WorkspaceAPIView):
    serializer_class = s.SearchHitSerializer
    pagination_class = None

    @extend_schema(
        tags=TAGS,
        summary="Search the journey's documents",
        parameters=[OpenApiParameter("q", str, required=True, description="Words to find.")],
        responses=s.SearchHitSerializer(many=True),
    )
    def get(self, request, user_journey_id):
        query = request.query_params.get("q", "")
        hits = list(files.documents_search(workspace=self.workspace, query=query)[:SEARCH_LIMIT])
        context = {**self.get_serializer_context(), "query": query}
        return Response(self.get_serializer(hits, many=True, context=context).data)


class ResearchView(WorkspaceAPIView):
    serializer_class = s.ResearchSerializer

    @extend_schema(
        tags=TAGS,
        summary="Saved research",
        parameters=[STEP_FILTER],
        responses=s.ResearchSerializer(many=True),
    )
    def get(self, request, user_journey_id):
        rows = _by_step(self, ResearchItem.objects.alive().filter(workspace=self.workspace))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Save a search result",
        responses={201: s.ResearchSerializer},
        examples=examples.RESEARCH,
    )
    def post(self, request, user_journey_id):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = files.research_save(workspace=self.workspace, actor=request.user, data=data.validated_data)
        return Response(self.get_serializer(item).data, status=status.HTTP_201_CREATED)


class ResearchSearchView(WorkspaceAPIView):
    serializer_class = s.ResearchResultSerializer
    pagination_class = None

    @extend_schema(
        tags=TAGS,
        summary="Ask the configured search provider",
        parameters=[OpenApiParameter("q", str, required=True)],
        responses={200: s.ResearchResultSerializer(many=True)},
    )
    def get(self, request, user_journey_id):
        results = files.research_search(query=request.query_params.get("q", ""))
        return Response(self.get_serializer(results, many=True).data)


class ResearchItemView(WorkspaceAPIView):
    serializer_class = s.ResearchSerializer

    @extend_schema(tags=TAGS, summary="Forget a saved result (soft)", responses={204: None})
    def delete(self, request, user_journey_id, pk):
        item = self.row(ResearchItem, pk)
        item.soft_delete()
        item.save(update_fields=["deleted_at"])
        spaces.activity_record(
            workspace=self.workspace,
            actor=request.user,
            verb="research.deleted",
            summary=f"Removed {item.title}",
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------
class DecisionsView(WorkspaceAPIView):
    serializer_class = s.DecisionSerializer

    def _rows(self):
        return (
            Decision.objects.alive()
            .filter(workspace=self.workspace)
            .prefetch_related("quotes", "expenses", "tasks")
            .select_related("created_by")
        )

    @extend_schema(
        tags=TAGS,
        summary="Decisions (current ones by default)",
        parameters=[STEP_FILTER, OpenApiParameter("all", bool, description="Include superseded decisions.")],
        responses=s.DecisionSerializer(many=True),
    )
    def get(self, request, user_journey_id):
        rows = _by_step(self, self._rows())
        if request.query_params.get("all") not in {"1", "true"}:
            rows = rows.filter(current=True)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Record a decision",
        responses={201: s.DecisionSerializer},
        examples=examples.DECISION,
    )
    def post(self, request, user_journey_id):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = decisions.decision_record(
            workspace=self.workspace, actor=request.user, data=data.validated_data
        )
        return Response(self.get_serializer(decision).data, status=status.HTTP_201_CREATED)


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


# ---------------------------------------------------------------------------------------------
# Costs
# ---------------------------------------------------------------------------------------------
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


class QuotesView(WorkspaceAPIView):
    serializer_class = s.QuoteSerializer
    pagination_class = None

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

    @extend_schema(
        tags=TAGS, summary="Add a quote", responses={201: s.QuoteSerializer}, examples=examples.QUOTE
    )
    def post(self, request, user_journey_id):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        quote = costs.quote_add(workspace=self.workspace, actor=request.user, data=data.validated_data)
        return Response(self.get_serializer(quote).data, status=status.HTTP_201_CREATED)


class QuoteAcceptView(WorkspaceAPIView):
    serializer_class = s.QuoteSerializer

    @extend_schema(tags=TAGS, summary="Accept a quote", request=None)
    def post(self, request, user_journey_id, pk):
        quote = costs.quote_accept(quote=self.row(Quote, pk), actor=request.user)
        return Response(self.get_serializer(quote).data)


class ExpensesView(WorkspaceAPIView):
    serializer_class = s.ExpenseSerializer

    @extend_schema(
        tags=TAGS, summary="Money spent", parameters=[STEP_FILTER], responses=s.ExpenseSerializer(many=True)
    )
    def get(self, request, user_journey_id):
        page = self.paginate_queryset(
            _by_step(self, Expense.objects.alive().filter(workspace=self.workspace))
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=TAGS, summary="Record an expense", responses={201: s.ExpenseSerializer})
    def post(self, request, user_journey_id):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        expense = costs.expense_add(workspace=self.workspace, actor=request.user, data=data.validated_data)
        return Response(self.get_serializer(expense).data, status=status.HTTP_201_CREATED)
