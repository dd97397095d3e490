"""Participant endpoints (``/api/v1/participants…``): create, read, update, and the
entity records rules read."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.examples import PARTICIPANT_EXISTS
from journeys.api.filters import EntityRecordFilterSet, ParticipantFilterSet
from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.participants import (
    EntityRecordSerializer,
    ParticipantSerializer,
    ParticipantUpdateSerializer,
)
from journeys.models import EntityRecord, Participant
from journeys.selectors.participants import participant_get, participants_list, records_list
from journeys.services.participants import participant_create, participant_update


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
