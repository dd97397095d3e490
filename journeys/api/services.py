"""The service directory (``/api/v1/services``): list, create (the signing secret shown once),
retrieve, change, rotate the secret, check health; and what milestones asked of the services
(``/api/v1/service-calls``)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.examples import (
    SERVICE_CALL_EXAMPLE,
    SERVICE_CREATE_REQUEST,
    SERVICE_CREATED_EXAMPLE,
    SERVICE_EXAMPLE,
    SERVICE_REFUSED,
)
from journeys.api.filters import ServiceCallFilterSet, ServiceFilterSet
from journeys.api.pagination import IdCursorPagination
from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.services import (
    ServiceCallSerializer,
    ServiceInSerializer,
    ServiceSerializer,
    ServiceUpdateSerializer,
)
from journeys.models import Service, ServiceCall
from journeys.services import directory


class ServicePagination(IdCursorPagination):
    ordering = "key"


class ServiceListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = Service.objects.all()
    serializer_class = ServiceSerializer
    pagination_class = ServicePagination
    filterset_class = ServiceFilterSet

    @extend_schema(
        operation_id="services_list",
        summary="The service directory (by key; secrets masked)",
        responses={200: ServiceSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Services",
                response_only=True,
                value={"next": None, "previous": None, "results": [SERVICE_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(Service.objects.order_by("key")))
        return self.get_paginated_response(ServiceSerializer(page, many=True).data)

    @extend_schema(
        operation_id="services_create",
        summary="Add a service; its signing secret is in this answer only",
        description=(
            "`kind` http (default) POSTs calls to `endpoint_url`, signed per Standard Webhooks; "
            "`built-in` is answered by a local `handler` of this project. Internal addresses are "
            "refused unless allow-listed in `WEBHOOK_ALLOWED_HOSTS`."
        ),
        request=ServiceInSerializer,
        responses={201: ServiceSerializer},
        examples=[
            SERVICE_CREATE_REQUEST,
            OpenApiExample(
                "Created", response_only=True, status_codes=["201"], value=SERVICE_CREATED_EXAMPLE
            ),
            SERVICE_REFUSED,
        ],
    )
    def post(self, request):
        serializer = ServiceInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        service, _ = directory.service_create(data=serializer.validated_data)
        shown = ServiceSerializer(service, context={"reveal_secret": True})
        return Response(shown.data, status=status.HTTP_201_CREATED)


class ServiceDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = Service.objects.all()
    serializer_class = ServiceSerializer

    def service(self) -> Service:
        return get_object_or_404(Service, key=self.kwargs["key"])

    @extend_schema(
        operation_id="services_retrieve",
        summary="One service (secret masked)",
        examples=[OpenApiExample("Service", response_only=True, value=SERVICE_EXAMPLE)],
    )
    def get(self, request, key: str):
        return Response(ServiceSerializer(self.service()).data)

    @extend_schema(
        operation_id="services_update",
        summary="Change a service; stage tasks waiting for its configuration run once it can be called",
        request=ServiceUpdateSerializer,
        responses={200: ServiceSerializer},
        examples=[
            OpenApiExample(
                "New endpoint", request_only=True, value={"endpoint_url": "https://gateway.example.com/v2"}
            ),
            SERVICE_REFUSED,
        ],
    )
    def patch(self, request, key: str):
        serializer = ServiceUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        service = directory.service_update(service=self.service(), data=serializer.validated_data)
        return Response(ServiceSerializer(service).data)


class ServiceSecretRotateView(ApiPermissions, generics.GenericAPIView):
    permission_model = Service
    required_permission = "journeys.change_service"
    serializer_class = ServiceSerializer

    @extend_schema(
        operation_id="services_rotate_secret",
        summary="Give a service a new signing secret, shown in this answer only",
        request=None,
        responses={200: ServiceSerializer},
        examples=[OpenApiExample("Rotated", response_only=True, value=SERVICE_CREATED_EXAMPLE)],
    )
    def post(self, request, key: str):
        service = get_object_or_404(Service, key=key)
        directory.service_secret_rotate(service=service)
        service.refresh_from_db()
        return Response(ServiceSerializer(service, context={"reveal_secret": True}).data)


class ServiceHealthCheckView(ApiPermissions, generics.GenericAPIView):
    permission_model = Service
    required_permission = "journeys.change_service"
    serializer_class = ServiceSerializer

    @extend_schema(
        operation_id="services_health_check",
        summary="Check a service's health now (GET its health-check URL) and record the result",
        request=None,
        responses={200: ServiceSerializer},
        examples=[OpenApiExample("Checked", response_only=True, value=SERVICE_EXAMPLE)],
    )
    def post(self, request, key: str):
        service = directory.service_health_check(service=get_object_or_404(Service, key=key))
        return Response(ServiceSerializer(service).data)


class ServiceCallListView(ApiPermissions, generics.GenericAPIView):
    queryset = ServiceCall.objects.all()
    serializer_class = ServiceCallSerializer
    filterset_class = ServiceCallFilterSet

    @extend_schema(
        operation_id="service_calls_list",
        summary="Calls milestones made to directory services, newest first, with every try",
        responses={200: ServiceCallSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Calls",
                response_only=True,
                value={"next": None, "previous": None, "results": [SERVICE_CALL_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        calls = ServiceCall.objects.select_related("service").prefetch_related("attempt_log")
        page = self.paginate_queryset(self.filter_queryset(calls))
        return self.get_paginated_response(ServiceCallSerializer(page, many=True).data)
