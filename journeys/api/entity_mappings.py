"""Entity mapping endpoints (``/api/v1/entity-mappings…``): which events feed which entity records."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.entity_mappings import EntityMappingSerializer
from journeys.models import EntityMapping
from journeys.services.records import entity_mapping_delete, entity_mapping_save


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
