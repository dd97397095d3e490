"""Journey endpoints (``/api/v1/journeys…``): create, read, change, delete; publish, archive,
restore; the published versions."""

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.examples import CREATE_EXAMPLE, INVALID_TRANSITION, JOURNEY_EXAMPLE, VALIDATION_EXAMPLE
from journeys.api.filters import JourneyFilterSet
from journeys.api.permissions import PUBLISH_JOURNEY, ApiPermissions, require_permission
from journeys.api.serializers.journeys import (
    JourneyInSerializer,
    JourneySerializer,
    JourneyUpdateSerializer,
    JourneyVersionSerializer,
)
from journeys.models import Journey
from journeys.selectors.journeys import journey_get, journeys_list
from journeys.services import journeys as journey_services


class JourneyListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = Journey.objects.all()
    serializer_class = JourneySerializer
    filterset_class = JourneyFilterSet

    @extend_schema(
        operation_id="journeys_list",
        summary="List journeys (filters: trigger_type, is_active, state)",
        responses={200: JourneySerializer(many=True)},
        examples=[
            OpenApiExample(
                "Journeys",
                response_only=True,
                value={"next": None, "previous": None, "results": [JOURNEY_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(journeys_list()))
        return self.get_paginated_response(JourneySerializer(page, many=True).data)

    @extend_schema(
        operation_id="journeys_create",
        summary="Create a journey with its steps",
        description=(
            "The whole definition is validated (action configs, conditions, next steps); with "
            "`is_active: true` it is published at once, which also checks the graph (reachability, "
            "cycles without a wait) and needs the publish permission. A webhook step's signing "
            "secret (`config.secret`, generated when left out) is in full in this answer only and "
            "masked after; a target that reaches an internal address is refused (`steps.N.config.url`)."
        ),
        request=JourneyInSerializer,
        responses={201: JourneySerializer},
        examples=[
            OpenApiExample("The 003 onboarding journey", request_only=True, value=CREATE_EXAMPLE),
            OpenApiExample("Created", response_only=True, status_codes=["201"], value=JOURNEY_EXAMPLE),
            VALIDATION_EXAMPLE,
        ],
    )
    def post(self, request):
        serializer = JourneyInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        steps = data.pop("steps", [])
        publish = data.pop("is_active", False)
        if publish:
            require_permission(request, PUBLISH_JOURNEY)
        journey = journey_services.journey_create(data=data, steps=steps, actor=request.user, publish=publish)
        shown = JourneySerializer(
            journey_get(pk=journey.pk), context={"revealed_secrets": journey.revealed_secrets}
        )
        return Response(shown.data, status=status.HTTP_201_CREATED)


class JourneyDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = Journey.objects.all()
    serializer_class = JourneySerializer

    @extend_schema(
        operation_id="journeys_retrieve",
        summary="One journey with its draft steps",
        examples=[OpenApiExample("Journey", response_only=True, value=JOURNEY_EXAMPLE)],
    )
    def get(self, request, pk: int):
        return Response(JourneySerializer(journey_get(pk=pk)).data)

    @extend_schema(
        operation_id="journeys_update",
        summary="Change a journey (and replace its draft steps when given)",
        description=(
            "Runs in flight keep their version. `steps` replaces the draft steps; changes to a "
            "published journey take effect when it is published again (`has_unpublished_changes`). "
            "`is_active: true` publishes, `false` archives."
        ),
        request=JourneyUpdateSerializer,
        responses={200: JourneySerializer},
        examples=[
            OpenApiExample("Raise the priority", request_only=True, value={"priority": 20}),
            OpenApiExample("Deactivate", request_only=True, value={"is_active": False}),
            VALIDATION_EXAMPLE,
            INVALID_TRANSITION,
        ],
    )
    def patch(self, request, pk: int):
        journey = journey_get(pk=pk)
        serializer = JourneyUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        steps = data.pop("steps", None)
        is_active = data.pop("is_active", None)
        if is_active is not None:
            require_permission(request, PUBLISH_JOURNEY)
        revealed: dict[str, str] = {}
        with transaction.atomic():
            if data or steps is not None:
                journey = journey_services.journey_update(
                    journey=journey, data=data, steps=steps, actor=request.user
                )
                revealed = journey.revealed_secrets
            if is_active is True:
                journey = journey_services.journey_publish(journey=journey, actor=request.user)
            elif is_active is False and journey.state != Journey.State.ARCHIVED:
                journey = journey_services.journey_archive(journey=journey, actor=request.user)
        shown = JourneySerializer(journey_get(pk=pk), context={"revealed_secrets": revealed})
        return Response(shown.data)

    @extend_schema(
        operation_id="journeys_delete",
        summary="Delete a journey (softly: restorable from the admin)",
        description=(
            "The journey leaves lists and the API at once and enrols nobody any more; its runs in "
            "flight are cancelled with the end reason `journey deleted`; finished runs and all "
            "history stay. Staff restore it from the admin (Journeys, filter *Deleted*)."
        ),
        responses={204: None},
    )
    def delete(self, request, pk: int):
        journey_services.journey_delete(journey=journey_get(pk=pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _JourneyTransitionView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    required_permission = PUBLISH_JOURNEY
    serializer_class = JourneySerializer
    service = None

    def post(self, request, pk: int):
        type(self).service(journey=journey_get(pk=pk), actor=request.user)
        return Response(JourneySerializer(journey_get(pk=pk)).data)


class JourneyPublishView(_JourneyTransitionView):
    service = staticmethod(journey_services.journey_publish)

    @extend_schema(
        operation_id="journeys_publish",
        summary="Publish: validate the whole definition and freeze it as a new version",
        request=None,
        responses={200: JourneySerializer},
        examples=[
            OpenApiExample("Published", response_only=True, value=JOURNEY_EXAMPLE),
            VALIDATION_EXAMPLE,
            INVALID_TRANSITION,
        ],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class JourneyArchiveView(_JourneyTransitionView):
    service = staticmethod(journey_services.journey_archive)

    @extend_schema(
        operation_id="journeys_archive",
        summary="Archive: no new enrolments; runs in flight go on",
        request=None,
        responses={200: JourneySerializer},
        examples=[
            OpenApiExample(
                "Archived",
                response_only=True,
                value={**JOURNEY_EXAMPLE, "state": "archived", "is_active": False},
            ),
            INVALID_TRANSITION,
        ],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class JourneyRestoreView(_JourneyTransitionView):
    service = staticmethod(journey_services.journey_restore)

    @extend_schema(
        operation_id="journeys_restore",
        summary="Restore an archived journey as a draft",
        request=None,
        responses={200: JourneySerializer},
        examples=[
            OpenApiExample(
                "Restored",
                response_only=True,
                value={**JOURNEY_EXAMPLE, "state": "draft", "is_active": False},
            ),
            INVALID_TRANSITION,
        ],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class JourneyVersionsView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    serializer_class = JourneyVersionSerializer
    pagination_class = None

    @extend_schema(
        operation_id="journeys_versions",
        summary="The published versions of a journey, newest first",
        responses={200: JourneyVersionSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Versions",
                response_only=True,
                value=[
                    {
                        "number": 2,
                        "published_at": "2026-02-01T09:00:00Z",
                        "published_by": "designer",
                        "definition": {
                            "entry": "welcome_email",
                            "steps": [],
                            "goal_event": "",
                            "exit_event": "",
                            "quiet_hours": None,
                            "cap_policy": "defer",
                        },
                    }
                ],
            )
        ],
    )
    def get(self, request, pk: int):
        journey = journey_get(pk=pk)
        versions = self.filter_queryset(journey.versions.select_related("published_by").order_by("-number"))
        return Response(JourneyVersionSerializer(versions, many=True).data)
