"""Permissions: Django's model permissions (staff roles are groups) and API key scopes."""

from rest_framework import permissions

from journeys.models import ApiKey


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
    plain CRUD can name the permission they need with ``required_permission`` (``app.codename``).
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


def _is_ingest_key_on_ingest_view(request, view) -> bool:
    api_key = request.auth
    return (
        isinstance(api_key, ApiKey)
        and api_key.scope == ApiKey.Scope.INGEST
        and getattr(view, "allows_ingest_keys", False)
        and request.method == "POST"
    )
