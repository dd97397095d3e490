"""The analytics API: who may read it, what it answers, and 4xx for bad input."""

import pytest
from django.contrib.auth.models import Group

from journeys.services.roles import staff_roles_load
from tests.analytics.factories import Step, linear_journey, make_run, refresh
from tests.journeys.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

JOURNEY_ENDPOINTS = [
    "metrics",
    "completion-rate",
    "average-duration",
    "drop-off-points",
    "funnel",
    "performance",
    "recommendations",
    "variants",
    "trend",
]


@pytest.fixture
def journey():
    journey = linear_journey("a", "b", name="Welcome")
    make_run(
        journey,
        state="completed",
        duration=300,
        steps=[Step("a", "succeeded", 60), Step("b", "succeeded", 60)],
    )
    make_run(journey, state="cancelled", steps=[Step("a", "succeeded", 60), Step("b", "cancelled")])
    refresh()
    return journey


@pytest.fixture
def cast(make_user, client_for):
    """A member of each staff role, and an outsider (authenticated, no permission)."""
    staff_roles_load()

    def member(role):
        user = make_user(f"{role or 'outsider'}-user")
        if role:
            user.groups.add(Group.objects.get(name=role))
        return client_for(user)

    return {role or "outsider": member(role) for role in ("designer", "operator", "analyst", None)}


def _all_urls(journey, uj_id) -> list[str]:
    base = "/api/v1/analytics/"
    urls = [f"{base}journeys/{journey.pk}/{name}" for name in JOURNEY_ENDPOINTS]
    other = linear_journey("x")
    return [
        *urls,
        f"{base}journeys/compare?ids={journey.pk},{other.pk}",
        f"{base}benchmarks",
        f"{base}milestones/{journey.pk}/a",
        f"{base}user-journeys/{uj_id}/progress",
        f"{base}stages",
        f"{base}rules",
        f"{base}overdue",
    ]


def test_every_staff_role_reads_analytics_and_an_outsider_is_refused(journey, cast, api_client):
    uj = journey.user_journeys.first()
    for url in _all_urls(journey, uj.pk):
        for role in ("designer", "operator", "analyst"):
            response = cast[role].get(url)
            assert response.status_code == 200, (role, url, response.content)
        assert cast["outsider"].get(url).status_code == 403, url
        assert api_client.get(url).status_code in (401, 403), url


def test_an_ingest_key_cannot_read_analytics(journey):
    from rest_framework.test import APIClient

    key = ApiKeyFactory()
    key.user.is_superuser = True
    key.user.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory.full_key(key)}")
    assert client.get(f"/api/v1/analytics/journeys/{journey.pk}/metrics").status_code == 403


def test_metrics_and_funnel_answer_the_figures(journey, admin_api):
    metrics = admin_api.get(f"/api/v1/analytics/journeys/{journey.pk}/metrics").json()
    assert (metrics["started"], metrics["completed"], metrics["cancelled"]) == (2, 1, 1)
    assert metrics["completion_rate"] == 0.5
    assert metrics["duration"]["average_seconds"] == 300.0
    funnel = admin_api.get(f"/api/v1/analytics/journeys/{journey.pk}/funnel").json()
    assert funnel["started"] == 2
    assert [(s["step_key"], s["reached"], s["completed"], s["dropped"]) for s in funnel["steps"]] == [
        ("a", 2, 2, 0),
        ("b", 2, 1, 1),
    ]
    drop = admin_api.get(f"/api/v1/analytics/journeys/{journey.pk}/drop-off-points").json()
    assert drop["drop_off_points"] == [
        {"step_key": "b", "position": 1, "reached": 2, "dropped": 1, "drop_off_rate": 0.5, "rank": 1}
    ]
    rate = admin_api.get(f"/api/v1/analytics/journeys/{journey.pk}/completion-rate?version=1").json()
    assert rate["completion_rate"] == 0.5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=2026-02-01&until=2026-01-01", "until"),
        ("since=yesterday", "since"),
        ("version=7", "version"),
        ("version=0", "version"),
        ("color=blue", "color"),
    ],
)
def test_bad_query_parameters_answer_400_naming_the_field(journey, admin_api, query, field):
    response = admin_api.get(f"/api/v1/analytics/journeys/{journey.pk}/metrics?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_compare_checks_its_ids(journey, admin_api):
    url = "/api/v1/analytics/journeys/compare"
    assert "ids" in admin_api.get(f"{url}?ids=a,b").json()
    assert "ids" in admin_api.get(f"{url}?ids={journey.pk}").json()
    assert admin_api.get(f"{url}?ids={journey.pk},999999").json() == {"ids": ["No journey with id 999999."]}
    other = linear_journey("z")
    body = admin_api.get(f"{url}?ids={other.pk},{journey.pk}").json()
    assert [j["journey_id"] for j in body["journeys"]] == [other.pk, journey.pk]
    # Without ids: the journeys with the most starts.
    assert [j["journey_id"] for j in admin_api.get(url).json()["journeys"]] == [journey.pk]


def test_unknown_journeys_milestones_and_user_journeys_answer_404(journey, admin_api):
    assert admin_api.get("/api/v1/analytics/journeys/999999/funnel").status_code == 404
    assert admin_api.get(f"/api/v1/analytics/milestones/{journey.pk}/nope").status_code == 404
    assert admin_api.get("/api/v1/analytics/user-journeys/999999/progress").status_code == 404
