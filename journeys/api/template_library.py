"""The template library (``/api/v1/templates``): CRUD, publish, share, versions, reviews, files,
and journeys designed from a template. Each view validates, calls one service or selector, and
renders. A template the caller may not see answers 404, as one that does not exist."""

from django.db.models import Q
from django.http import HttpResponse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from journeys.api import template_library_examples as examples
from journeys.api.parsers import JSONParser
from journeys.api.permissions import PUBLISH_JOURNEY, ApiPermissions, require_permission
from journeys.api.serializers.journeys import JourneySerializer
from journeys.api.serializers.templates import (
    JourneyFromTemplateInSerializer,
    JourneyTemplateInSerializer,
    JourneyTemplateSerializer,
    JourneyTemplateUpdateSerializer,
    TemplateExportQuerySerializer,
    TemplateImportInSerializer,
    TemplatePublishInSerializer,
    TemplateReviewInSerializer,
    TemplateReviewSerializer,
    TemplateShareInSerializer,
    TemplateVersionSerializer,
)
from journeys.models import Journey, JourneyTemplate, TemplateReview, TemplateVersion
from journeys.selectors import templates as selectors
from journeys.selectors.journeys import journey_get
from journeys.services import template_files
from journeys.services import templates as services

PUBLISH = "journeys.publish_journeytemplate"
CONTENT_TYPES = {"yaml": "application/yaml", "json": "application/json"}


class TemplateFilterSet(filters.FilterSet):
    journey_type = filters.ChoiceFilter(choices=JourneyTemplate._meta.get_field("journey_type").choices)
    visibility = filters.ChoiceFilter(choices=JourneyTemplate.Visibility.choices)
    search = filters.CharFilter(method="filter_search", help_text="In the key, name and description.")

    class Meta:
        model = JourneyTemplate
        fields = ["journey_type", "visibility", "search"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(key__icontains=value) | Q(name__icontains=value) | Q(description__icontains=value)
        )


def _template(request, key: str) -> JourneyTemplate:
    return selectors.template_get(key=key, user=request.user)


class TemplateListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = JourneyTemplate.objects.all()
    serializer_class = JourneyTemplateSerializer
    filterset_class = TemplateFilterSet

    def get_queryset(self):
        return selectors.templates_visible_to(self.request.user)

    @extend_schema(
        operation_id="templates_list",
        summary="Templates the caller may see: their own, staff-shared (for staff) and the catalogue",
        responses={200: JourneyTemplateSerializer(many=True)},
        examples=[examples.TEMPLATE_PAGE],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(JourneyTemplateSerializer(page, many=True).data)

    @extend_schema(
        operation_id="templates_create",
        summary="Create a template (a private draft until published and shared)",
        request=JourneyTemplateInSerializer,
        responses={201: JourneyTemplateSerializer},
        examples=[examples.TEMPLATE_CREATE, examples.TEMPLATE_CREATED, examples.TEMPLATE_INVALID],
    )
    def post(self, request):
        serializer = JourneyTemplateInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_create(data=serializer.validated_data, actor=request.user)
        shown = selectors.template_get(key=template.key, user=request.user)
        return Response(JourneyTemplateSerializer(shown).data, status=status.HTTP_201_CREATED)


class TemplateDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = JourneyTemplate.objects.all()
    serializer_class = JourneyTemplateSerializer

    @extend_schema(
        operation_id="templates_retrieve",
        summary="One template, by key",
        examples=[examples.TEMPLATE_SHOWN],
    )
    def get(self, request, key: str):
        return Response(JourneyTemplateSerializer(_template(request, key)).data)

    @extend_schema(
        operation_id="templates_update",
        summary="Change a template's draft (published versions do not change)",
        request=JourneyTemplateUpdateSerializer,
        examples=[examples.TEMPLATE_UPDATE, examples.TEMPLATE_SHOWN, examples.TEMPLATE_INVALID],
    )
    def patch(self, request, key: str):
        serializer = JourneyTemplateUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        template = services.template_update(
            template=_template(request, key), data=serializer.validated_data, actor=request.user
        )
        return Response(
            JourneyTemplateSerializer(selectors.template_get(key=template.key, user=request.user)).data
        )

    @extend_schema(
        operation_id="templates_delete", summary="Delete a template (softly)", responses={204: None}
    )
    def delete(self, request, key: str):
        services.template_delete(template=_template(request, key), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatePublishView(ApiPermissions, generics.GenericAPIView):
    permission_model = JourneyTemplate
    required_permission = PUBLISH
    serializer_class = TemplatePublishInSerializer

    @extend_schema(
        operation_id="templates_publish",
        summary="Freeze the draft as the next version (immutable from now on)",
        request=TemplatePublishInSerializer,
        responses={201: TemplateVersionSerializer},
        examples=[examples.TEMPLATE_PUBLISH, examples.TEMPLATE_VERSION, examples.TEMPLATE_UNCHANGED],
    )
    def post(self, request, key: str):
        serializer = TemplatePublishInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.template_publish(
            template=_template(request, key),
            changelog=serializer.validated_data["changelog"],
            actor=request.user,
        )
        return Response(TemplateVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class TemplateShareView(ApiPermissions, generics.GenericAPIView):
    permission_model = JourneyTemplate
    required_permission = PUBLISH
    serializer_class = TemplateShareInSerializer

    @extend_schema(
        operation_id="templates_share",
        summary="Make a template private, shared with staff, or part of the catalogue",
        request=TemplateShareInSerializer,
        responses={200: JourneyTemplateSerializer},
        examples=[examples.TEMPLATE_SHARE, examples.TEMPLATE_SHOWN],
    )
    def post(self, request, key: str):
        serializer = TemplateShareInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_share(
            template=_template(request, key),
            visibility=serializer.validated_data["visibility"],
            actor=request.user,
        )
        return Response(
            JourneyTemplateSerializer(selectors.template_get(key=template.key, user=request.user)).data
        )


class TemplateVersionListView(ApiPermissions, generics.GenericAPIView):
    queryset = TemplateVersion.objects.all()
    serializer_class = TemplateVersionSerializer
    pagination_class = None

    @extend_schema(
        operation_id="templates_versions_list",
        summary="A template's published versions, newest first",
        responses={200: TemplateVersionSerializer(many=True)},
        examples=[examples.TEMPLATE_VERSIONS],
    )
    def get(self, request, key: str):
        versions = selectors.template_versions(template=_template(request, key))
        return Response(TemplateVersionSerializer(versions, many=True).data)


class TemplateVersionDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = TemplateVersion.objects.all()
    serializer_class = TemplateVersionSerializer

    @extend_schema(
        operation_id="templates_versions_retrieve",
        summary="One published version",
        examples=[examples.TEMPLATE_VERSION],
    )
    def get(self, request, key: str, number: int):
        version = selectors.template_version_get(template=_template(request, key), number=number)
        return Response(TemplateVersionSerializer(version).data)


class TemplateReviewListView(ApiPermissions, generics.GenericAPIView):
    queryset = TemplateReview.objects.all()
    serializer_class = TemplateReviewSerializer

    @extend_schema(
        operation_id="templates_reviews_list",
        summary="A template's reviews, newest first",
        responses={200: TemplateReviewSerializer(many=True)},
        examples=[examples.REVIEW_PAGE],
    )
    def get(self, request, key: str):
        page = self.paginate_queryset(selectors.template_reviews(template=_template(request, key)))
        return self.get_paginated_response(TemplateReviewSerializer(page, many=True).data)

    @extend_schema(
        operation_id="templates_reviews_create",
        summary="Rate and review a template (one review per person: posting again replaces it)",
        request=TemplateReviewInSerializer,
        responses={201: TemplateReviewSerializer},
        examples=[examples.REVIEW_IN, examples.REVIEW_OUT],
    )
    def post(self, request, key: str):
        serializer = TemplateReviewInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = services.template_review(
            template=_template(request, key), user=request.user, **serializer.validated_data
        )
        return Response(TemplateReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class TemplateExportView(ApiPermissions, generics.GenericAPIView):
    permission_model = JourneyTemplate
    serializer_class = TemplateExportQuerySerializer

    @extend_schema(
        operation_id="templates_export",
        summary="The template as a file (YAML or JSON) with its published versions",
        parameters=[TemplateExportQuerySerializer],
        responses={
            (200, "application/yaml"): OpenApiTypes.OBJECT,
            (200, "application/json"): OpenApiTypes.OBJECT,
        },
    )
    def get(self, request, key: str):
        query = TemplateExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        file_format = query.validated_data["file_format"]
        document = template_files.template_document(template=_template(request, key))
        response = HttpResponse(
            template_files.template_dumps(document, file_format=file_format),
            content_type=CONTENT_TYPES[file_format],
        )
        response["Content-Disposition"] = f'attachment; filename="{document["key"]}.{file_format}"'
        return response


class TemplateImportView(ApiPermissions, generics.GenericAPIView):
    permission_model = JourneyTemplate
    required_permission = "journeys.add_journeytemplate"
    serializer_class = TemplateImportInSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]  # JSON: only to be told what is missing

    @extend_schema(
        operation_id="templates_import",
        summary="Import a template file (private to the importer; its versions as they were)",
        request={"multipart/form-data": TemplateImportInSerializer},
        responses={201: JourneyTemplateSerializer},
        examples=[examples.TEMPLATE_CREATED, examples.IMPORT_INVALID],
    )
    def post(self, request):
        serializer = TemplateImportInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        file_format = serializer.validated_data.get("file_format") or (
            "json" if upload.name.lower().endswith(".json") else "yaml"
        )
        try:
            text = upload.read(template_files.MAX_FILE_BYTES + 1).decode()
        except UnicodeDecodeError:
            text = "\0"  # refused below as a file that does not parse
        document = template_files.template_loads(text, file_format=file_format)
        template = template_files.template_import(document=document, actor=request.user)
        shown = selectors.template_get(key=template.key, user=request.user)
        return Response(JourneyTemplateSerializer(shown).data, status=status.HTTP_201_CREATED)


class TemplateJourneyCreateView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    required_permission = "journeys.add_journey"
    serializer_class = JourneyFromTemplateInSerializer

    @extend_schema(
        operation_id="templates_journeys_create",
        summary="Design a journey from this template (its latest version unless told), with customisations",
        request=JourneyFromTemplateInSerializer,
        responses={201: JourneySerializer},
        examples=[examples.JOURNEY_FROM_TEMPLATE],
    )
    def post(self, request, key: str):
        serializer = JourneyFromTemplateInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["publish"]:
            require_permission(request, PUBLISH_JOURNEY)
        template = _template(request, key)
        journey = services.journey_design(
            template=template.key, actor=request.user, **serializer.validated_data
        )
        shown = JourneySerializer(
            journey_get(pk=journey.pk),
            context={"revealed_secrets": journey.revealed_secrets},
        )
        return Response(shown.data, status=status.HTTP_201_CREATED)
