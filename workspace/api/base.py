"""The base of every workspace view: the project's permission base, then the workspace policy."""

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission

from journeys.api.permissions import ApiPermissions
from journeys.errors import NotFound
from journeys.models import ApiKey
from workspace.policy import Ability
from workspace.services.spaces import workspace_for


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


class PersonAPIView(ApiPermissions, GenericAPIView):
    """A view about the caller themselves (their journeys, invitations they accept)."""

    model_permissions = False
    permission_classes = [IsPerson]


def refuse(message: str) -> None:
    raise PermissionDenied(message)
