"""/metrics: Prometheus text that prometheus_client's parser reads, for the token or allowed
networks only; the engine's counters move when journeys run."""

import logging

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from analytics.logs import QuietPeriodicTicks
from tests.journeys.factories import ParticipantFactory, make_journey, tag_step

pytestmark = pytest.mark.django_db


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_anonymous_scrapers_are_refused_and_the_token_is_accepted(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"journey_started", "journey_step_fired", "events_ingested", "rule_evaluations"} <= names
    assert "django_http_requests_before_middlewares" in names  # django-prometheus's own


def test_an_allowed_network_needs_no_token(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.168.1.9").get("/metrics").status_code == 401


def test_staff_without_the_analytics_permission_are_refused(client, make_user):
    client.force_login(make_user("nobody"))
    assert client.get("/metrics").status_code == 401
    client.force_login(make_user("analyst", "analytics.view_analytics"))
    assert client.get("/metrics").status_code == 200


def test_starting_a_journey_counts_it_and_its_steps_under_the_seed_labels(
    client, settings, django_capture_on_commit_callbacks
):
    from journeys.services.enrolment import user_journey_enrol

    settings.METRICS_TOKEN = "t"
    journey = make_journey([tag_step("welcome_tag", "welcomed", name="Welcome Tag")], name="Metrics Flow")
    before = _samples(client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        user_journey_enrol(journey=journey, user_id=ParticipantFactory().user_id)
    after = _samples(client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode())
    started = ("journey_started_total", (("name", "Metrics Flow"),))
    fired = ("journey_step_fired_total", (("name", "Metrics Flow"), ("step", "Welcome Tag")))
    assert after[started] - before.get(started, 0) == 1
    assert after[fired] - before.get(fired, 0) == 1


def test_the_once_a_second_dispatcher_tick_is_not_logged_at_info():
    quiet = QuietPeriodicTicks()

    def record(level, msg, args=()):
        return logging.LogRecord("celery.beat", level, __file__, 1, msg, args, None)

    assert not quiet.filter(
        record(logging.INFO, "Scheduler: Sending due task %s (%s)", ("x", "journeys.step_runs_dispatch"))
    )
    assert quiet.filter(
        record(logging.INFO, "Scheduler: Sending due task %s (%s)", ("x", "rules.evaluate_due"))
    )
    assert quiet.filter(record(logging.ERROR, "journeys.step_runs_dispatch raised"))


def test_a_kept_metric_child_is_the_one_its_labels_name():
    from journeys.metrics import JOURNEY_STEP_FIRED, labelled

    child = labelled(JOURNEY_STEP_FIRED, "Kept Flow", "Kept Step")
    assert child is JOURNEY_STEP_FIRED.labels(name="Kept Flow", step="Kept Step")
    assert labelled(JOURNEY_STEP_FIRED, "Kept Flow", "Kept Step") is child
