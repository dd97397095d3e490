"""Agents through the API: list, create (the signing secret shown once), change, rotate the secret.

Agents are the service directory's entries (``/api/v1/services``) under the names stages uses:
``agent_id`` is a service's key. Both APIs read and write the same rows."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.pagination import IdCursorPagination
from journeys.api.permissions import ApiPermissions
from stages.api.examples import AGENT_CREATED_EXAMPLE, AGENT_EXAMPLE, AGENT_REFUSED_EXAMPLE
from stages.api.serializers import AgentInSerializer, AgentSerializer, AgentUpdateSerializer
from stages.models import Agent
from stages.services import agents as agent_services


class AgentPagination(IdCursorPagination):
    ordering = "key"


class AgentListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = Agent.objects.all()
    serializer_class = AgentSerializer
    pagination_class = AgentPagination

    @extend_schema(
        operation_id="stages_agents_list",
        summary="List agents (by agent_id; secrets masked)",
        responses={200: AgentSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Agents",
                response_only=True,
                value={"next": None, "previous": None, "results": [AGENT_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(Agent.objects.order_by("key"))
        return self.get_paginated_response(AgentSerializer(page, many=True).data)

    @extend_schema(
        operation_id="stages_agents_create",
        summary="Create an agent; its signing secret is in this answer only",
        description=(
            "The secret is generated, stored encrypted and shown in full this once (masked after; "
            "rotate it to get a new one). `endpoint_url` must not reach an internal address unless "
            "allow-listed in `WEBHOOK_ALLOWED_HOSTS`."
        ),
        request=AgentInSerializer,
        responses={201: AgentSerializer},
        examples=[
            OpenApiExample("Created", response_only=True, status_codes=["201"], value=AGENT_CREATED_EXAMPLE),
            AGENT_REFUSED_EXAMPLE,
        ],
    )
    def post(self, request):
        serializer = AgentInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent, _ = agent_services.agent_create(data=serializer.validated_data)
        shown = AgentSerializer(agent, context={"reveal_secret": True})
        return Response(shown.data, status=status.HTTP_201_CREATED)


class AgentDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = Agent.objects.all()
    serializer_class = AgentSerializer

    def agent(self) -> Agent:
        return get_object_or_404(Agent, key=self.kwargs["agent_id"])

    @extend_schema(
        operation_id="stages_agents_retrieve",
        summary="One agent (secret masked)",
        examples=[OpenApiExample("Agent", response_only=True, value=AGENT_EXAMPLE)],
    )
    def get(self, request, agent_id: str):
        return Response(AgentSerializer(self.agent()).data)

    @extend_schema(
        operation_id="stages_agents_update",
        summary="Change an agent's name, endpoint, activity or description",
        request=AgentUpdateSerializer,
        responses={200: AgentSerializer},
        examples=[
            OpenApiExample(
                "New endpoint", request_only=True, value={"endpoint_url": "https://agents.example.com/v2"}
            ),
            AGENT_REFUSED_EXAMPLE,
        ],
    )
    def patch(self, request, agent_id: str):
        serializer = AgentUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        agent = agent_services.agent_update(agent=self.agent(), data=serializer.validated_data)
        return Response(AgentSerializer(agent).data)


class AgentSecretRotateView(ApiPermissions, generics.GenericAPIView):
    permission_model = Agent
    required_permission = "stages.change_agent"
    serializer_class = AgentSerializer

    @extend_schema(
        operation_id="stages_agents_rotate_secret",
        summary="Give an agent a new signing secret, shown in this answer only",
        request=None,
        responses={200: AgentSerializer},
        examples=[OpenApiExample("Rotated", response_only=True, value=AGENT_CREATED_EXAMPLE)],
    )
    def post(self, request, agent_id: str):
        agent = get_object_or_404(Agent, key=agent_id)
        agent_services.agent_secret_rotate(agent=agent)
        agent.refresh_from_db()
        return Response(AgentSerializer(agent, context={"reveal_secret": True}).data)
