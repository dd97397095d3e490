"""The workspace API, people's side: sharing, comments, tasks, activity, chat, resume, exports."""

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from journeys.errors import Conflict, NotFound
from workspace.api import examples
from workspace.api import serializers as s
from workspace.api.base import PersonAPIView, WorkspaceAPIView, refuse
from workspace.api.examples import REFUSED
from workspace.models import Activity, Collaborator, Comment, Conversation, Export, Invitation, Task
from workspace.policy import Ability, can_delete_comment
from workspace.services import collaboration, conversations, exports

TAGS = ["workspace"]


class CollaboratorsView(WorkspaceAPIView):
    serializer_class = s.CollaboratorSerializer

    @extend_schema(
        tags=TAGS, summary="People the journey is shared with", responses=s.CollaboratorSerializer(many=True)
    )
    def get(self, request, user_journey_id):
        page = self.paginate_queryset(
            Collaborator.objects.filter(workspace=self.workspace).select_related("user")
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CollaboratorView(WorkspaceAPIView):
    serializer_class = s.CollaboratorSerializer
    abilities = {**WorkspaceAPIView.abilities, "PATCH": Ability.MANAGE, "DELETE": Ability.MANAGE}

    @extend_schema(tags=TAGS, summary="Change someone's role", request=s.RoleInputSerializer)
    def patch(self, request, user_journey_id, pk):
        data = s.RoleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        collaborator = collaboration.collaborator_change_role(
            collaborator=self.row(Collaborator, pk), actor=request.user, role=data.validated_data["role"]
        )
        return Response(self.get_serializer(collaborator).data)

    @extend_schema(tags=TAGS, summary="Stop sharing with someone", responses={204: None})
    def delete(self, request, user_journey_id, pk):
        collaboration.collaborator_remove(collaborator=self.row(Collaborator, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationsView(WorkspaceAPIView):
    serializer_class = s.InvitationSerializer
    abilities = {**WorkspaceAPIView.abilities, "GET": Ability.MANAGE, "POST": Ability.MANAGE}

    @extend_schema(tags=TAGS, summary="Invitations sent", responses=s.InvitationListSerializer(many=True))
    def get(self, request, user_journey_id):
        page = self.paginate_queryset(Invitation.objects.filter(workspace=self.workspace, revoked_at=None))
        return self.get_paginated_response(s.InvitationListSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Invite someone (the token is shown once and mailed)",
        request=s.InvitationInputSerializer,
        responses={201: s.InvitationSerializer},
        examples=examples.INVITATION,
    )
    def post(self, request, user_journey_id):
        data = s.InvitationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = collaboration.invitation_create(
            workspace=self.workspace, actor=request.user, **data.validated_data
        )
        invitation.token = token
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationAcceptView(PersonAPIView):
    """Accept an invitation as the signed-in user; the journey then appears in their list."""

    serializer_class = s.InvitationAcceptSerializer

    @extend_schema(tags=TAGS, summary="Accept an invitation", responses={201: s.CollaboratorSerializer})
    def post(self, request):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        collaborator = collaboration.invitation_accept(token=data.validated_data["token"], user=request.user)
        body = {
            **s.CollaboratorSerializer(collaborator).data,
            "user_journey": collaborator.workspace.user_journey_id,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class CommentsView(WorkspaceAPIView):
    serializer_class = s.CommentSerializer
    abilities = {**WorkspaceAPIView.abilities, "POST": Ability.COMMENT}

    @extend_schema(
        tags=TAGS,
        summary="Comments, oldest first",
        parameters=[OpenApiParameter("step_key", str)],
        responses=s.CommentSerializer(many=True),
    )
    def get(self, request, user_journey_id):
        rows = Comment.objects.alive().filter(workspace=self.workspace)
        if (step_key := request.query_params.get("step_key")) is not None:
            rows = rows.filter(step_key=step_key)
        rows = rows.select_related("created_by").prefetch_related("mentions__user").order_by("id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Comment (or reply); @username notifies them",
        request=s.CommentInputSerializer,
        responses={201: s.CommentSerializer},
        examples=examples.COMMENT,
    )
    def post(self, request, user_journey_id):
        data = s.CommentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = collaboration.comment_post(
            workspace=self.workspace,
            actor=request.user,
            body=data.validated_data["body"],
            step_key=data.validated_data["step_key"],
            parent_id=data.validated_data["parent"],
        )
        return Response(self.get_serializer(comment).data, status=status.HTTP_201_CREATED)


class CommentView(WorkspaceAPIView):
    serializer_class = s.CommentSerializer
    abilities = {**WorkspaceAPIView.abilities, "DELETE": Ability.COMMENT}

    @extend_schema(
        tags=TAGS, summary="Delete a comment (soft; authors their own, owners any)", responses={204: None}
    )
    def delete(self, request, user_journey_id, pk):
        comment = self.row(Comment, pk)
        if not can_delete_comment(request.user, self.workspace, comment):
            refuse("Only its author or the journey's owner may delete this comment.")
        collaboration.comment_delete(comment=comment, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TasksView(WorkspaceAPIView):
    serializer_class = s.TaskSerializer

    @extend_schema(
        tags=TAGS,
        summary="Tasks",
        parameters=[
            OpenApiParameter("status", str, enum=list(Task.Status.values)),
            OpenApiParameter("assignee", str),
        ],
        responses=s.TaskSerializer(many=True),
    )
    def get(self, request, user_journey_id):
        rows = Task.objects.alive().filter(workspace=self.workspace).select_related("assignee")
        if task_status := request.query_params.get("status"):
            rows = rows.filter(status=task_status)
        if assignee := request.query_params.get("assignee"):
            rows = rows.filter(assignee__username=assignee)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=TAGS, summary="Create a task", responses={201: s.TaskSerializer}, examples=examples.TASK
    )
    def post(self, request, user_journey_id):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = collaboration.task_create(
            workspace=self.workspace, actor=request.user, data=data.validated_data
        )
        return Response(self.get_serializer(task).data, status=status.HTTP_201_CREATED)


class TaskView(WorkspaceAPIView):
    serializer_class = s.TaskSerializer

    @extend_schema(tags=TAGS, summary="Update a task (status, assignee, due date, …)")
    def patch(self, request, user_journey_id, pk):
        task = self.row(Task, pk)
        data = self.get_serializer(task, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        task = collaboration.task_update(task=task, actor=request.user, data=data.validated_data)
        return Response(self.get_serializer(task).data)

    @extend_schema(tags=TAGS, summary="Delete a task (soft)", responses={204: None})
    def delete(self, request, user_journey_id, pk):
        task = self.row(Task, pk)
        task.soft_delete()
        task.save(update_fields=["deleted_at"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActivityView(WorkspaceAPIView):
    serializer_class = s.ActivitySerializer

    @extend_schema(
        tags=TAGS, summary="Everything that happened, newest first", responses=s.ActivitySerializer(many=True)
    )
    def get(self, request, user_journey_id):
        page = self.paginate_queryset(
            Activity.objects.filter(workspace=self.workspace).select_related("actor")
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


# ---------------------------------------------------------------------------------------------
# Conversations
# ---------------------------------------------------------------------------------------------
class ConversationsView(WorkspaceAPIView):
    serializer_class = s.ConversationSerializer

    @extend_schema(
        tags=TAGS, summary="Chats linked to this journey", responses=s.ConversationSerializer(many=True)
    )
    def get(self, request, user_journey_id):
        page = self.paginate_queryset(Conversation.objects.filter(workspace=self.workspace))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

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


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------
class ExportsView(WorkspaceAPIView):
    serializer_class = s.ExportSerializer

    @extend_schema(tags=TAGS, summary="PDF exports of this journey", responses=s.ExportSerializer(many=True))
    def get(self, request, user_journey_id):
        page = self.paginate_queryset(
            Export.objects.filter(workspace=self.workspace).select_related("workspace")
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

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
