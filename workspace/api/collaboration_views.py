"""The workspace API, people's side: sharing, invitations, comments, tasks and the activity feed."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from workspace import selectors
from workspace.api import examples
from workspace.api import serializers as s
from workspace.api.base import (
    STEP_FILTER,
    TAGS,
    PersonAPIView,
    WorkspaceAPIView,
    WorkspaceListCreateView,
    WorkspaceListView,
    refuse,
)
from workspace.models import Collaborator, Comment, Task
from workspace.policy import Ability, can_delete_comment
from workspace.services import collaboration


@extend_schema_view(
    get=extend_schema(
        tags=TAGS, summary="People the journey is shared with", responses=s.CollaboratorSerializer(many=True)
    )
)
class CollaboratorsView(WorkspaceListView):
    serializer_class = s.CollaboratorSerializer
    selector = staticmethod(selectors.collaborators_list)


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
        page = self.paginate_queryset(selectors.invitations_list(workspace=self.workspace))
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


@extend_schema_view(
    get=extend_schema(
        tags=TAGS,
        summary="Comments, oldest first",
        parameters=[STEP_FILTER],
        responses=s.CommentSerializer(many=True),
    )
)
class CommentsView(WorkspaceListView):
    serializer_class = s.CommentSerializer
    abilities = {**WorkspaceAPIView.abilities, "POST": Ability.COMMENT}
    selector = staticmethod(selectors.comments_list)
    by_step = True

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


@extend_schema_view(
    get=extend_schema(
        tags=TAGS,
        summary="Tasks",
        parameters=[
            OpenApiParameter("status", str, enum=list(Task.Status.values)),
            OpenApiParameter("assignee", str),
        ],
        responses=s.TaskSerializer(many=True),
    ),
    post=extend_schema(
        tags=TAGS, summary="Create a task", responses={201: s.TaskSerializer}, examples=examples.TASK
    ),
)
class TasksView(WorkspaceListCreateView):
    serializer_class = s.TaskSerializer
    selector = staticmethod(selectors.tasks_list)
    service = staticmethod(collaboration.task_create)

    def narrow(self, rows):
        if task_status := self.request.query_params.get("status"):
            rows = rows.filter(status=task_status)
        if assignee := self.request.query_params.get("assignee"):
            rows = rows.filter(assignee__username=assignee)
        return rows


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
        collaboration.task_delete(task=self.row(Task, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(
        tags=TAGS, summary="Everything that happened, newest first", responses=s.ActivitySerializer(many=True)
    )
)
class ActivityView(WorkspaceListView):
    serializer_class = s.ActivitySerializer
    selector = staticmethod(selectors.activity_list)
