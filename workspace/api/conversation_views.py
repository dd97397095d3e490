"""The workspace API's chats: conversations linked to a journey, their messages, and what a chat
needs to pick up where the person left off."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from journeys.errors import NotFound
from workspace import selectors
from workspace.api import examples
from workspace.api import serializers as s
from workspace.api.base import TAGS, WorkspaceAPIView, WorkspaceListView
from workspace.api.examples import REFUSED
from workspace.models import Conversation
from workspace.services import conversations


@extend_schema_view(
    get=extend_schema(
        tags=TAGS, summary="Chats linked to this journey", responses=s.ConversationSerializer(many=True)
    )
)
class ConversationsView(WorkspaceListView):
    serializer_class = s.ConversationSerializer
    selector = staticmethod(selectors.conversations_list)

    @extend_schema(
        tags=TAGS,
        summary="Link a chat's conversation id to this journey",
        responses={
            201: s.ConversationSerializer,
            409: REFUSED,
        },
        examples=examples.CONVERSATION,
    )
    def post(self, request, user_journey_id):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversations.conversation_link(
            workspace=self.workspace,
            actor=request.user,
            external_id=data.validated_data["external_id"],
            channel=data.validated_data.get("channel", ""),
        )
        return Response(self.get_serializer(conversation).data, status=status.HTTP_201_CREATED)


class MessagesView(WorkspaceAPIView):
    serializer_class = s.MessageSerializer

    @extend_schema(
        tags=TAGS, summary="Messages of a linked conversation", responses=s.MessageSerializer(many=True)
    )
    def get(self, request, user_journey_id, conversation_id):
        conversation = Conversation.objects.filter(
            workspace=self.workspace, external_id=conversation_id
        ).first()
        if conversation is None:
            raise NotFound(f"Conversation {conversation_id!r} is not linked to this journey.")
        page = self.paginate_queryset(conversation.messages.select_related("workspace"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Keep a chat message with the journey",
        responses={201: s.MessageSerializer},
        examples=examples.MESSAGE,
    )
    def post(self, request, user_journey_id, conversation_id):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = conversations.message_post(
            workspace=self.workspace,
            actor=request.user,
            external_id=conversation_id,
            data=data.validated_data,
        )
        return Response(self.get_serializer(message).data, status=status.HTTP_201_CREATED)


class ResumeView(WorkspaceAPIView):
    serializer_class = s.ResumeSerializer

    @extend_schema(tags=TAGS, summary="What a chat needs to pick up where the person left off")
    def get(self, request, user_journey_id):
        return Response(self.get_serializer(conversations.journey_resume(workspace=self.workspace)).data)
