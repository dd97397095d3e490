"""Nobody reaches what they were not given, whatever the credential, on every operation of the
schema: the permission base is on every API view and cannot be dropped by a view."""

import pytest
from django.contrib.auth.models import Group
from django.urls import URLResolver, get_resolver
from rest_framework import generics, permissions, serializers
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from journeys.api.permissions import BASE_PERMISSION_CLASSES, ApiKeyScope, ApiPermissions, ModelPermissions
from journeys.models import ApiKey, EntityMapping, Journey
from journeys.services.journeys import journey_archive
from journeys.services.roles import STAFF_ROLES, staff_roles_load
from rules.models import Rule
from tests.journeys.api_sweep import (
    INGEST_OPERATION,
    PUBLIC_OPERATIONS,
    api_key_client,
    jwt_client,
    outsider_refused,
    schema_operations,
    sweep,
    world,
)
from tests.journeys.factories import make_journey, tag_step

__all__ = ["world"]

pytestmark = pytest.mark.django_db

# Views under /api/ that answer without credentials, by their class's dotted path.
PUBLIC_VIEWS = {
    "rest_framework_simplejwt.views.TokenObtainPairView",  # exchanges a username and password
    "rest_framework_simplejwt.views.TokenRefreshView",  # exchanges a refresh token
    "drf_spectacular.views.SpectacularAPIView",  # the schema
    "drf_spectacular.views.SpectacularSwaggerView",  # its viewers
    "drf_spectacular.views.SpectacularRedocView",
}


def api_views() -> dict[str, type]:
    """Every view class routed under ``/api/``, by route."""
    found: dict[str, type] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif route.startswith("api/"):
                found[route] = getattr(pattern.callback, "view_class", None)

    walk(get_resolver().url_patterns, "")
    return found


# ----------------------------------------------------------------------------------------------
# The base is on every view and cannot be replaced
# ----------------------------------------------------------------------------------------------
def test_every_api_view_checks_the_key_scope_and_model_permissions_first():
    views = api_views()
    assert len(views) > 40  # the walk found the API
    unprotected = []
    for route, view_class in views.items():
        name = f"{view_class.__module__}.{view_class.__qualname__}" if view_class else repr(view_class)
        if name in PUBLIC_VIEWS:
            continue
        if view_class is None or not issubclass(view_class, ApiPermissions):
            unprotected.append(f"{route}: {name} does not extend ApiPermissions")
            continue
        checks = [type(p) for p in view_class().get_permissions()]
        if tuple(checks[: len(BASE_PERMISSION_CLASSES)]) != BASE_PERMISSION_CLASSES:
            unprotected.append(f"{route}: {name} checks {checks}")
    assert unprotected == []


def test_the_schema_asks_for_credentials_everywhere_but_the_token_exchanges():
    anonymous = {str(op) for op in schema_operations() if op.anonymous}
    assert anonymous == PUBLIC_OPERATIONS


def test_a_view_adding_a_permission_keeps_the_base_before_it():
    class ReadOnlyRules(ApiPermissions, generics.GenericAPIView):
        permission_classes = [permissions.AllowAny, ModelPermissions]

    assert [type(p) for p in ReadOnlyRules().get_permissions()] == [
        permissions.IsAuthenticated,
        ApiKeyScope,
        ModelPermissions,
        permissions.AllowAny,
    ]


def test_a_view_cannot_replace_the_base():
    with pytest.raises(TypeError, match="overrides get_permissions"):

        class Open(ApiPermissions, generics.GenericAPIView):
            def get_permissions(self):
                return []

    with pytest.raises(TypeError, match="before the other bases"):

        class Misordered(generics.GenericAPIView, ApiPermissions):
            pass


class NotArchived(permissions.BasePermission):
    """An object permission a view might add: archived journeys are off limits."""

    def has_object_permission(self, request, view, obj) -> bool:
        return obj.state != Journey.State.ARCHIVED


class JourneyNameSerializer(serializers.ModelSerializer):
    class Meta:
        model = Journey
        fields = ["id", "name"]


class LiveJourneyView(ApiPermissions, generics.RetrieveAPIView):
    queryset = Journey.objects.all()
    serializer_class = JourneyNameSerializer
    permission_classes = [NotArchived]


def test_an_object_permission_a_view_adds_is_checked_after_the_base(make_user):
    live = make_journey([tag_step("tag", "seen")])
    archived = journey_archive(journey=make_journey([tag_step("tag", "seen")]))
    view = LiveJourneyView.as_view()

    def get(journey, user):
        request = APIRequestFactory().get(f"/x/{journey.pk}")
        force_authenticate(request, user=user)
        return view(request, pk=journey.pk)

    reader = make_user("", "journeys.view_journey")
    assert get(live, reader).status_code == 200
    assert get(archived, reader).status_code == 403
    assert get(live, make_user()).status_code == 403  # no view_journey: the base refuses first


# ----------------------------------------------------------------------------------------------
# Every operation of the schema, one credential after another
# ----------------------------------------------------------------------------------------------
def refused_except_ingest(operation, status: int) -> bool:
    return status == 202 if str(operation) == INGEST_OPERATION else status == 403


def test_an_ingest_key_of_a_superuser_reaches_only_the_event_intake(world, make_user):
    client = api_key_client(make_user(superuser=True), scope=ApiKey.Scope.INGEST)
    assert sweep(client, world, refused_except_ingest) == []


def test_an_ingest_key_of_a_staff_member_in_every_role_reaches_only_the_event_intake(world, make_user):
    staff_roles_load()
    staff = make_user()
    staff.is_staff = True
    staff.save()
    staff.groups.add(*Group.objects.filter(name__in=STAFF_ROLES))
    client = api_key_client(staff, scope=ApiKey.Scope.INGEST)
    assert sweep(client, world, refused_except_ingest) == []


def test_anonymous_requests_are_asked_to_authenticate_everywhere(world):
    wrong = sweep(APIClient(), world, lambda operation, status: status == 401)
    assert wrong == []


def test_a_user_without_permissions_is_refused_everywhere(world, make_user):
    outsider = make_user()
    assert sweep(jwt_client(outsider), world, outsider_refused) == []


def test_a_full_key_of_a_user_without_permissions_is_refused_everywhere(world, make_user):
    client = api_key_client(make_user(), scope=ApiKey.Scope.FULL)
    assert sweep(client, world, outsider_refused) == []


def test_an_ingest_key_of_a_superuser_deletes_nothing_and_is_told_why(world, make_user):
    client = api_key_client(make_user(superuser=True), scope=ApiKey.Scope.INGEST)
    journey, rule, mapping = world["journeys/{id}"], world["{rule_id}"], world["entity-mappings/{id}"]
    for path in [
        f"/api/v1/journeys/{journey}",
        f"/api/v1/journey/rules/{rule}",
        f"/api/v1/entity-mappings/{mapping}",
    ]:
        response = client.delete(path)
        assert response.status_code == 403, path
        assert "may only ingest events" in response.json()["detail"]
    assert Journey.objects.filter(pk=journey).exists()
    assert Rule.objects.filter(rule_id=rule).exists()
    assert EntityMapping.objects.filter(pk=mapping).exists()
