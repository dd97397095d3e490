"""Event endpoints (``/api/v1/events…``): ingest one event or a batch, browse the log."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle

from journeys.api.examples import EVENT_EXAMPLE
from journeys.api.filters import EventFilterSet
from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.events import (
    EventSerializer,
    IngestBatchResultSerializer,
    IngestResultSerializer,
    parse_event_batch,
)
from journeys.models import Event
from journeys.selectors.events import events_list
from journeys.services.events import events_ingest


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
