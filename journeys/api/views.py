"""Views of the event spine. Each validates, calls one service or selector, renders."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle

from journeys.api.examples import PARTICIPANT_EXISTS
from journeys.api.filters import EntityRecordFilterSet, EventFilterSet, ParticipantFilterSet
from journeys.api.permissions import ApiPermissions
from journeys.api.serializers import (
    EntityMappingSerializer,
    EntityRecordSerializer,
    EventSerializer,
    IngestBatchResultSerializer,
    IngestResultSerializer,
    ParticipantSerializer,
    ParticipantUpdateSerializer,
    parse_event_batch,
)
from journeys.models import EntityMapping, EntityRecord, Event, Participant
from journeys.selectors.events import events_list
from journeys.selectors.participants import participant_get, participants_list, records_list
from journeys.services.events import events_ingest
from journeys.services.participants import participant_create, participant_update
from journeys.services.records import entity_mapping_delete, entity_mapping_save

EVENT_EXAMPLE = {
    "type": "kintell.session.completed",
    "user_id": "user-42",
    "payload": {"session_type": "language", "rating": 5},
    "occurred_at": "2026-01-15T10:30:00Z",
    "source": "kintell",
    "idempotency_key": "session-9876-completed",
}


class EventListCreateView(ApiPermissions, generics.GenericAPIView):
    """Ingest events and browse the event log."""

    queryset = Event.objects.all()
    serializer_class = EventSerializer
    allows_ingest_keys = True
    filterset_class = EventFilterSet
    # Services post events far more often than people browse: a budget of its own.
    throttle_classes = [AnonRateThrottle, ScopedRateThrottle]
    throttle_scope = "ingest"

    @extend_schema(
        operation_id="events_ingest",
        summary="Ingest one event or a batch of up to 1,000",
        description=(
            "Everything is validated before anything is written: one bad item refuses the whole "
            "batch (400, errors keyed by the item's position). A repeated idempotency key (per "
            "source) with the same event answers the original id with `duplicate: true`; with a "
            "different event it refuses the request (409 naming the key, nothing written). "
            "Processing happens after the 202."
        ),
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            202: PolymorphicProxySerializer(
                component_name="IngestAnswer",
                serializers=[IngestResultSerializer, IngestBatchResultSerializer],
                resource_type_field_name=None,
            ),
            409: OpenApiTypes.OBJECT,
        },
        examples=[
            OpenApiExample("One event", value=EVENT_EXAMPLE, request_only=True),
            OpenApiExample(
                "A batch", value=[EVENT_EXAMPLE, {"type": "signup", "user_id": "user-43"}], request_only=True
            ),
            OpenApiExample(
                "Accepted", value={"id": 101, "duplicate": False}, response_only=True, status_codes=["202"]
            ),
            OpenApiExample(
                "Batch accepted",
                response_only=True,
                status_codes=["202"],
                value={
                    "events": [{"id": 101, "duplicate": False}, {"id": 57, "duplicate": True}],
                    "accepted": 1,
                    "duplicates": 1,
                },
            ),
            OpenApiExample(
                "Idempotency key reused for another event",
                response_only=True,
                status_codes=["409"],
                value={
                    "detail": "The idempotency key 'session-9876-completed' was already used with a "
                    "different event; use a new key for a new event.",
                    "code": "idempotency_key_reused",
                    "idempotency_keys": ["session-9876-completed"],
                },
            ),
            OpenApiExample(
                "Bad item in a batch",
                response_only=True,
                status_codes=["400"],
                value={"1": {"type": ["This field is required."]}},
            ),
        ],
    )
    def post(self, request):
        inputs, is_list = parse_event_batch(request.data)
        results = events_ingest(events=inputs)
        if not is_list:
            return Response(IngestResultSerializer(results[0]).data, status=status.HTTP_202_ACCEPTED)
        duplicates = sum(r.duplicate for r in results)
        body = {
            "events": IngestResultSerializer(results, many=True).data,
            "accepted": len(results) - duplicates,
            "duplicates": duplicates,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="events_list",
        summary="Browse the event log (newest first, cursor pagination)",
        responses={200: EventSerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(events_list()))
        return self.get_paginated_response(EventSerializer(page, many=True).data)


class EventDetailView(ApiPermissions, generics.RetrieveAPIView):
    queryset = Event.objects.select_related("participant")
    serializer_class = EventSerializer

    @extend_schema(operation_id="events_retrieve", summary="One event with its processing state")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ParticipantListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = Participant.objects.all()
    serializer_class = ParticipantSerializer
    filterset_class = ParticipantFilterSet

    @extend_schema(
        operation_id="participants_list",
        summary="List participants (newest first)",
        responses={200: ParticipantSerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(participants_list()))
        return self.get_paginated_response(ParticipantSerializer(page, many=True).data)

    @extend_schema(
        operation_id="participants_create",
        summary="Create a participant",
        request=ParticipantSerializer,
        responses={201: ParticipantSerializer},
        examples=[
            PARTICIPANT_EXISTS,
            OpenApiExample(
                "New participant",
                request_only=True,
                value={
                    "user_id": "user-42",
                    "attributes": {"email": "ada@example.com", "timezone": "Europe/Oslo"},
                    "tags": ["beta"],
                },
            ),
        ],
    )
    def post(self, request):
        serializer = ParticipantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        participant = participant_create(**serializer.validated_data)
        return Response(ParticipantSerializer(participant).data, status=status.HTTP_201_CREATED)


class ParticipantDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = Participant.objects.all()
    serializer_class = ParticipantSerializer
    lookup_field = "user_id"
    lookup_value_regex = "[^/]+"

    @extend_schema(operation_id="participants_retrieve", summary="One participant")
    def get(self, request, user_id: str):
        return Response(ParticipantSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="participants_update",
        summary="Update attributes (merged) and tags (replaced)",
        request=ParticipantUpdateSerializer,
        responses={200: ParticipantSerializer},
        examples=[
            OpenApiExample(
                "Set the time zone, drop the phone",
                request_only=True,
                value={"attributes": {"timezone": "Asia/Tokyo", "phone": None}},
            )
        ],
    )
    def patch(self, request, user_id: str):
        serializer = ParticipantUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        participant = participant_update(participant=self.get_object(), **serializer.validated_data)
        return Response(ParticipantSerializer(participant).data)


class ParticipantRecordsView(ApiPermissions, generics.GenericAPIView):
    permission_model = Participant
    queryset = EntityRecord.objects.all()
    serializer_class = EntityRecordSerializer
    filterset_class = EntityRecordFilterSet

    @extend_schema(
        operation_id="participants_records",
        summary="The participant's entity records (the context rules read)",
        responses={200: EntityRecordSerializer(many=True)},
    )
    def get(self, request, user_id: str):
        participant = participant_get(user_id=user_id)
        records = self.filter_queryset(records_list(participant=participant))
        page = self.paginate_queryset(records)
        return self.get_paginated_response(EntityRecordSerializer(page, many=True).data)


class EntityMappingListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = EntityMapping.objects.all()
    serializer_class = EntityMappingSerializer

    @extend_schema(
        operation_id="entity_mappings_list",
        summary="List event → entity mappings",
        responses={200: EntityMappingSerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(EntityMappingSerializer(page, many=True).data)

    @extend_schema(
        operation_id="entity_mappings_create",
        summary="Map event types to an entity",
        responses={201: EntityMappingSerializer},
        examples=[
            OpenApiExample(
                "Keyed mapping",
                request_only=True,
                value={
                    "event_type": "program.enrollment.*",
                    "entity": "program_enrollments",
                    "key_field": "enrollment_id",
                },
            )
        ],
    )
    def post(self, request):
        serializer = EntityMappingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mapping = entity_mapping_save(mapping=EntityMapping(**serializer.validated_data))
        return Response(EntityMappingSerializer(mapping).data, status=status.HTTP_201_CREATED)


class EntityMappingDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = EntityMapping.objects.all()
    serializer_class = EntityMappingSerializer

    @extend_schema(operation_id="entity_mappings_retrieve", summary="One mapping")
    def get(self, request, pk: int):
        return Response(EntityMappingSerializer(self.get_object()).data)

    @extend_schema(operation_id="entity_mappings_update", summary="Change a mapping")
    def patch(self, request, pk: int):
        mapping = self.get_object()
        serializer = EntityMappingSerializer(mapping, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        for name, value in serializer.validated_data.items():
            setattr(mapping, name, value)
        return Response(EntityMappingSerializer(entity_mapping_save(mapping=mapping)).data)

    @extend_schema(operation_id="entity_mappings_delete", summary="Delete a mapping", responses={204: None})
    def delete(self, request, pk: int):
        entity_mapping_delete(mapping=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
