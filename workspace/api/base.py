"""The base of every workspace view: the project's permissions, then the workspace policy."""

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from rest_framework.generics import GenericAPIView
from rest_framework.settings import api_settings

from journeys.errors import NotFound
from workspace.policy import Ability
from workspace.services.spaces import workspace_for


class WorkspaceAPIView(GenericAPIView):
    """A view inside one user journey's workspace (``user_journey_id`` in the URL).

    The project's permission classes run first (authentication, API key scope); then the
    workspace policy decides with the ability each method needs (``abilities``) before the
    handler runs, so no handler can forget it. Rows are always looked up inside the workspace.
    """

    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES]
    abilities: dict[str, Ability] = {
        "GET": Ability.VIEW,
        "HEAD": Ability.VIEW,
        "OPTIONS": Ability.VIEW,
        "POST": Ability.EDIT,
        "PUT": Ability.EDIT,
        "PATCH": Ability.EDIT,
        "DELETE": Ability.EDIT,
    }

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if getattr(self, "swagger_fake_view", False):
            return
        self.workspace = workspace_for(
            user_journey_id=kwargs["user_journey_id"],
            user=request.user,
            ability=self.abilities[request.method],
        )

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


def refuse(message: str) -> None:
    raise PermissionDenied(message)
