"""The API's permission base: who may call a view, checked in one fixed order for every view.

Every API view mixes in ``ApiPermissions`` (first among its bases). Its checks cannot be dropped:

1. ``IsAuthenticated`` — anonymous requests answer 401;
2. ``ApiKeyScope`` — an ``ingest`` key reaches ``POST`` on views that declare
   ``allows_ingest_keys = True`` (the event intake) and nothing else, whatever its user may do;
3. ``ModelPermissions`` — Django's model permissions (reads need ``view_*``; staff roles are
   groups, see ``journeys.services.roles``). Views that people outside staff use (a
   participant's own journey) set ``model_permissions = False`` and must then add the object
   permission that decides instead;
4. whatever the view adds in ``permission_classes`` (e.g. an object permission), after the above.

DRF lets a view *replace* its permission list, and a view that set
``permission_classes = [ModelPermissions]`` once silently lost the key-scope check, so an ingest
key could read, change and delete everything. Here ``permission_classes`` only adds: the base is
prepended by ``get_permissions``, and a view class that overrides ``get_permissions`` or puts
another base before this one is refused when its module is imported.
"""

from rest_framework import permissions
from rest_framework.exceptions import PermissionDenied

from journeys.models import ApiKey

PUBLISH_JOURNEY = "journeys.publish_journey"
OPERATE_USER_JOURNEY = "journeys.operate_userjourney"


class ApiKeyScope(permissions.BasePermission):
    """An ``ingest`` key reaches only views that declare ``allows_ingest_keys = True``."""

    message = "This API key may only ingest events (POST /api/v1/events)."

    def has_permission(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey) or api_key.scope == ApiKey.Scope.FULL:
            return True
        return _is_ingest_key_on_ingest_view(request, view)


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django's model permissions, with ``view`` required for reads (DRF leaves reads open).

    Views without a queryset name their model with ``permission_model``; actions that are not
    plain CRUD can name the permission they need with ``required_permission`` (``app.codename``,
    or a dict of method → ``app.codename``).
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if getattr(view, "model_permissions", True) is False:
            return True  # an object permission the view adds decides (enforced by ApiPermissions)
        if _is_ingest_key_on_ingest_view(request, view):
            return True  # the key's scope is its permission
        required = getattr(view, "required_permission", None)
        if required:
            if isinstance(required, dict):
                required = required.get(request.method)
            if required:
                return request.user.has_perm(required)
        model = getattr(view, "permission_model", None)
        if model is not None:
            perms = self.get_required_permissions(request.method, model)
            return request.user.has_perms(perms)
        return super().has_permission(request, view)


BASE_PERMISSION_CLASSES: tuple[type[permissions.BasePermission], ...] = (
    permissions.IsAuthenticated,
    ApiKeyScope,
    ModelPermissions,
)


class ApiPermissions:
    """Mixin for every API view: the base checks, then the view's own ``permission_classes``.

    Use it as the first base: ``class RuleListView(ApiPermissions, APIView)``. A view adds
    checks (say an object permission) with ``permission_classes = [...]``; it cannot remove the
    base ones.
    """

    permission_classes: tuple | list = ()  # checks this view adds after the base
    model_permissions: bool = True  # False: the added object permission decides instead

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.model_permissions is False and not cls.permission_classes:
            raise TypeError(
                f"{cls.__qualname__} turns model permissions off without adding the object "
                "permission that decides instead."
            )
        if "get_permissions" in vars(cls):
            raise TypeError(
                f"{cls.__qualname__} overrides get_permissions(); add checks with permission_classes "
                "instead, so the API key scope and model permissions still apply."
            )
        if cls.get_permissions is not ApiPermissions.get_permissions:
            raise TypeError(
                f"{cls.__qualname__}: put ApiPermissions before the other bases, otherwise the "
                "API key scope and model permissions are not applied."
            )

    def get_permissions(self) -> list[permissions.BasePermission]:
        extra = [p for p in self.permission_classes if p not in BASE_PERMISSION_CLASSES]
        return [permission() for permission in (*BASE_PERMISSION_CLASSES, *extra)]


def require_permission(request, perm: str) -> None:
    """For a permission only some requests to a view need (publishing along with a change)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"This needs the {perm} permission.")


def _is_ingest_key_on_ingest_view(request, view) -> bool:
    api_key = request.auth
    return (
        isinstance(api_key, ApiKey)
        and api_key.scope == ApiKey.Scope.INGEST
        and getattr(view, "allows_ingest_keys", False)
        and request.method == "POST"
    )
