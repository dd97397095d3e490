"""The base of every workspace view: the project's permission base, then the workspace policy."""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from journeys.api.permissions import ApiPermissions
from journeys.errors import NotFound
from journeys.models import ApiKey
from workspace.policy import Ability
from workspace.services.spaces import workspace_for

TAGS = ["workspace"]  # the schema's tag of participants' operations
STEP_FILTER = OpenApiParameter("step_key", str, description="Only rows of this journey step.")


class WorkspaceRole(BasePermission):
    """The caller's role in the workspace of the URL's user journey grants the method's ability.

    Resolves the workspace once and keeps it on the view. No role: 404 (ids reveal nothing);
    a role without the ability: 403.
    """

    def has_permission(self, request, view) -> bool:
        ability = view.abilities.get(request.method)
        if ability is None:
            raise MethodNotAllowed(request.method)
        view.workspace = workspace_for(
            user_journey_id=view.kwargs["user_journey_id"], user=request.user, ability=ability
        )
        return True


class IsPerson(BasePermission):
    """People only (JWT or session): an API key is a service's credential, not a participant's."""

    message = "Sign in as a person (JWT); API keys do not own or share journeys."

    def has_permission(self, request, view) -> bool:
        return not isinstance(request.auth, ApiKey)


class WorkspaceAPIView(ApiPermissions, GenericAPIView):
    """A view inside one user journey's workspace (``user_journey_id`` in the URL).

    The project's base runs first (authentication, API key scope); participants hold no model
    permissions, so the workspace policy decides, with the ability each method needs
    (``abilities``), before any handler runs. Rows are always looked up inside the workspace.
    """

    model_permissions = False
    permission_classes = [WorkspaceRole]
    abilities: dict[str, Ability] = {
        "GET": Ability.VIEW,
        "HEAD": Ability.VIEW,
        "OPTIONS": Ability.VIEW,
        "POST": Ability.EDIT,
        "PUT": Ability.EDIT,
        "PATCH": Ability.EDIT,
        "DELETE": Ability.EDIT,
    }

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "workspace": getattr(self, "workspace", None)}

    def row(self, model: type[Model], pk: int, *, alive: bool = True):
        """A row of this workspace by id, or 404 (another journey's id is simply not found)."""
        rows = model.objects.filter(workspace=self.workspace, pk=pk)
        if alive and hasattr(model, "deleted_at"):
            rows = rows.filter(deleted_at__isnull=True)
        found = rows.first()
        if found is None:
            raise NotFound(f"{model._meta.verbose_name.capitalize()} {pk} not found in this journey.")
        return found


# The list/create shape most workspace endpoints share. (Comments, not docstrings: the schema
# describes an operation with its view's docstring, and these are about code, not the API.)
#
# ``WorkspaceListView`` answers GET with a page of this workspace's rows. A subclass names
# ``selector`` (``staticmethod``: ``workspace=`` → queryset), sets ``by_step`` when ``?step_key=``
# narrows the rows to one journey step, and overrides ``narrow`` for its own query parameters;
# it documents its operations with ``extend_schema_view``.
class WorkspaceListView(WorkspaceAPIView):
    selector: Callable[..., QuerySet]
    by_step: bool = False

    def narrow(self, rows: QuerySet) -> QuerySet:
        return rows

    def get(self, request, user_journey_id):
        rows = self.selector(workspace=self.workspace)
        step_key = request.query_params.get("step_key")
        if self.by_step and step_key is not None:
            rows = rows.filter(step_key=step_key)
        page = self.paginate_queryset(self.narrow(rows))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


# ``WorkspaceListCreateView`` adds POST: validate with the view's serializer, call ``service``
# (``staticmethod``: ``workspace``, ``actor``, ``data`` → the new row), answer 201 with the row.
class WorkspaceListCreateView(WorkspaceListView):
    service: Callable[..., Model]

    def post(self, request, user_journey_id):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = self.service(workspace=self.workspace, actor=request.user, data=data.validated_data)
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)


class PersonAPIView(ApiPermissions, GenericAPIView):
    """A view about the caller themselves (their journeys, invitations they accept)."""

    model_permissions = False
    permission_classes = [IsPerson]


def refuse(message: str) -> None:
    raise PermissionDenied(message)
