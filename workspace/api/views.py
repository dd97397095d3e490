"""The workspace API: the journeys a person can open, and a journey's workspace itself.

The rest of the workspace lives beside this module, one idea per module: ``file_views`` (files,
search, research, exports), ``decision_views`` (decisions and money), ``collaboration_views``
(people, comments, tasks, activity), ``conversation_views`` (chats). Each view validates input,
calls one service or selector, and renders; the base class has already resolved the workspace and
checked the caller's role.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from workspace.api import examples
from workspace.api import serializers as s
from workspace.api.base import TAGS, PersonAPIView, WorkspaceAPIView
from workspace.policy import Ability, role_of
from workspace.selectors import user_journeys_for
from workspace.services import spaces


class MyJourneysView(PersonAPIView):
    """The journeys the caller owns or that were shared with them, with their role."""

    serializer_class = s.MyJourneySerializer

    @extend_schema(tags=TAGS, summary="My journeys", examples=examples.MY_JOURNEYS)
    def get(self, request):
        page = self.paginate_queryset(user_journeys_for(user=request.user))
        for user_journey in page:
            workspace = getattr(user_journey, "workspace", None)
            user_journey.role = role_of(request.user, workspace) if workspace else "owner"
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class WorkspaceView(WorkspaceAPIView):
    serializer_class = s.WorkspaceSerializer
    abilities = {**WorkspaceAPIView.abilities, "DELETE": Ability.MANAGE}

    def _render(self, request):
        self.workspace.role = role_of(request.user, self.workspace)
        return Response(self.get_serializer(self.workspace).data)

    @extend_schema(tags=TAGS, summary="A journey's workspace")
    def get(self, request, user_journey_id):
        return self._render(request)

    @extend_schema(tags=TAGS, summary="Delete a journey (soft: staff can restore it)", responses={204: None})
    def delete(self, request, user_journey_id):
        spaces.workspace_delete(workspace=self.workspace, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
