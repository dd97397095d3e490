"""The analytics pages of the admin: the dashboard, the home page, the overdue list."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from journeys.models import StepRun, UserJourney
from journeys.services.roles import staff_roles_load
from tests.analytics.factories import Step, linear_journey, make_run, refresh

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/analytics/dashboard/"
OVERDUE = "/admin/analytics/overduesteprun/"


@pytest.fixture
def analyst(client, make_user):
    staff_roles_load()
    user = make_user("ana")
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name="analyst"))
    client.force_login(user)
    return client


@pytest.fixture
def journey():
    journey = linear_journey("upload", "review", name="Content Migration")
    make_run(
        journey, state="completed", steps=[Step("upload", "succeeded", 60), Step("review", "succeeded", 60)]
    )
    make_run(journey, state="cancelled", steps=[Step("upload", "cancelled")])
    refresh()
    return journey


def test_the_dashboard_shows_the_journeys_figures_to_an_analyst(analyst, journey):
    page = analyst.get(f"{DASHBOARD}?journey={journey.pk}&since=2026-01-01").content.decode()
    assert "Content Migration" in page
    assert 'id="chart-funnel"' in page and "analytics/vendor/chart.umd.min.js" in page
    assert "Step `upload` loses 50% of participants" in page


def test_a_bad_filter_is_a_form_error_not_a_500(analyst, journey):
    response = analyst.get(f"{DASHBOARD}?journey={journey.pk}&version=9&since=2026-02-01&until=2026-01-01")
    assert response.status_code == 200
    body = response.content.decode()
    assert "has no version 9" in body and "Must be on or after the first day." in body


def test_staff_without_the_analytics_permission_cannot_open_the_dashboard(client, make_user):
    user = make_user("nobody")
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(DASHBOARD).status_code == 403
    assert "overdue timers" not in client.get("/admin/").content.decode()


def test_the_home_page_is_a_dashboard(analyst, journey):
    page = analyst.get("/admin/").content.decode()
    assert "overdue timers" in page and "dead letters" in page and "events waiting" in page
    assert 'id="live-journeys"' in page and "Content Migration" in page


def test_an_operator_runs_overdue_steps_now_skips_or_cancels_in_bulk(client, make_user):
    staff_roles_load()
    operator = make_user("op")
    operator.is_staff = True
    operator.save()
    operator.groups.add(Group.objects.get(name="operator"))
    client.force_login(operator)
    journey = linear_journey("upload", "review")
    now = timezone.now()
    late = [
        make_run(
            journey, state="active", started_at=now - timedelta(days=2), steps=[Step("upload", "scheduled")]
        )
        for _ in range(2)
    ]
    page = client.get(OVERDUE).content.decode()
    assert all(f"#{uj.pk}" in page for uj in late)
    runs = [StepRun.objects.get(user_journey=uj).pk for uj in late]
    response = client.post(OVERDUE, {"action": "cancel_journey", "_selected_action": [runs[0]]}, follow=True)
    assert "Cancelled 1 step run(s)." in response.content.decode()
    assert UserJourney.objects.get(pk=late[0].pk).state == "cancelled"
    response = client.post(OVERDUE, {"action": "skip_step", "_selected_action": [runs[1]]}, follow=True)
    assert "Skipped 1 step run(s)." in response.content.decode()
    assert StepRun.objects.get(pk=runs[1]).status == "skipped"
