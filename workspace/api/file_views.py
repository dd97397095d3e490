"""The workspace API's files: attachments (images and documents), before/after pairs, search
across documents, saved research, and PDF exports of the journey.

Each view validates input, calls one service or selector, and renders; the base class has
already resolved the workspace and checked the caller's role for the method.
"""

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from journeys.errors import Conflict, ValidationFailed
from workspace import selectors
from workspace.api import examples
from workspace.api import serializers as s
from workspace.api.base import (
    STEP_FILTER,
    TAGS,
    WorkspaceAPIView,
    WorkspaceListCreateView,
    WorkspaceListView,
)
from workspace.api.examples import REFUSED
from workspace.models import Attachment, Export, ResearchItem
from workspace.services import exports, files

SEARCH_LIMIT = 50  # best-ranked documents returned by a search


@extend_schema_view(
    get=extend_schema(
        tags=TAGS,
        summary="Files of a journey",
        parameters=[STEP_FILTER, OpenApiParameter("kind", str, enum=["image", "document"])],
        responses=s.AttachmentSerializer(many=True),
    )
)
class AttachmentsView(WorkspaceListView):
    serializer_class = s.AttachmentSerializer
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "uploads"
    selector = staticmethod(selectors.attachments_list)
    by_step = True

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, ScopedRateThrottle()] if self.request.method == "POST" else throttles

    def narrow(self, rows):
        kind = self.request.query_params.get("kind")
        return rows.filter(kind=kind) if kind else rows

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


@extend_schema_view(
    get=extend_schema(
        tags=TAGS,
        summary="Before/after image pairs",
        parameters=[STEP_FILTER],
        responses=s.PairSerializer(many=True),
    )
)
class PairsView(WorkspaceListView):
    serializer_class = s.PairSerializer
    selector = staticmethod(selectors.pairs_list)
    by_step = True

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


@extend_schema_view(
    get=extend_schema(
        tags=TAGS,
        summary="Saved research",
        parameters=[STEP_FILTER],
        responses=s.ResearchSerializer(many=True),
    ),
    post=extend_schema(
        tags=TAGS,
        summary="Save a search result",
        responses={201: s.ResearchSerializer},
        examples=examples.RESEARCH,
    ),
)
class ResearchView(WorkspaceListCreateView):
    serializer_class = s.ResearchSerializer
    selector = staticmethod(selectors.research_list)
    service = staticmethod(files.research_save)
    by_step = True


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
        files.research_delete(item=self.row(ResearchItem, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(
        tags=TAGS, summary="PDF exports of this journey", responses=s.ExportSerializer(many=True)
    )
)
class ExportsView(WorkspaceListView):
    serializer_class = s.ExportSerializer
    selector = staticmethod(selectors.exports_list)

    @extend_schema(
        tags=TAGS,
        summary="Export the journey as a PDF (made in the background)",
        request=None,
        responses={202: s.ExportSerializer},
    )
    def post(self, request, user_journey_id):
        export = exports.export_request(workspace=self.workspace, actor=request.user)
        export.refresh_from_db()
        return Response(self.get_serializer(export).data, status=status.HTTP_202_ACCEPTED)


class ExportView(WorkspaceAPIView):
    serializer_class = s.ExportSerializer

    @extend_schema(tags=TAGS, summary="An export's status")
    def get(self, request, user_journey_id, pk):
        return Response(self.get_serializer(self.row(Export, pk)).data)


class ExportDownloadView(WorkspaceAPIView):
    @extend_schema(
        tags=TAGS,
        summary="Download a finished export",
        responses={
            (200, "application/pdf"): bytes,
            409: REFUSED,
        },
    )
    def get(self, request, user_journey_id, pk):
        export = self.row(Export, pk)
        if export.status != Export.Status.READY:
            raise Conflict("The export is not ready.", current_state=export.status)
        return FileResponse(
            export.file.open("rb"),
            content_type="application/pdf",
            as_attachment=True,
            filename=export.file.name.rsplit("/", 1)[-1],
        )
