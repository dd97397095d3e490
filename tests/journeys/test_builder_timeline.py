"""A run's timeline reads in the order steps ran, with the time each ran, attempts only where a
step can be retried, and log entries in words."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from journeys.models import StepRun, UserJourneyLog
from journeys.services.enrolment import user_journey_enrol
from tests.journeys.factories import ParticipantFactory, make_journey, tag_step

pytestmark = pytest.mark.django_db

STEPS = [
    tag_step("start", "started"),
    {"key": "route", "name": "Route", "kind": "branch", "next_steps": ["wait"]},
    {"key": "wait", "name": "Wait a day", "kind": "wait", "config": {"duration": "1 day"}},
]


@pytest.fixture
def page(client, admin_user, django_capture_on_commit_callbacks):
    client.force_login(admin_user)
    ParticipantFactory(user_id="ada")
    journey = make_journey(STEPS, name="Timeline")
    with django_capture_on_commit_callbacks(execute=True):
        run = user_journey_enrol(journey=journey, user_id="ada", context={})
    # Rows made in another order than they ran (a re-dispatch): the timeline follows execution.
    first = StepRun.objects.get(user_journey=run, step_key="start")
    StepRun.objects.filter(pk=first.pk).update(created_at=timezone.now())
    UserJourneyLog.objects.create(
        user_journey=run, at=timezone.now(), action="note", detail={"reason": "goal_event", "by_api": True}
    )
    response = client.get(reverse("admin:journeys_userjourney_change", args=[run.pk]))
    return response.content.decode().split('id="timeline"')[1]


def test_runs_are_listed_in_the_order_they_ran(page):
    order = re.findall(r'class="timeline-run[^"]*" data-step="(\w+)"', page)
    assert order == ["start", "route", "wait"]


def test_attempts_are_shown_for_actions_only_and_waiting_steps_have_not_run_yet(page):
    rows = dict(re.findall(r'data-step="(\w+)" data-status="\w+">(.*?)</tr>', page, re.S))
    assert "attempt 1 of 3" in rows["start"]
    assert "attempt" not in rows["route"]
    assert "not yet" in rows["wait"]


def test_log_details_read_as_words(page):
    assert "reason: goal_event" in page and "by api: True" in page
    assert "{&#x27;reason&#x27;" not in page
