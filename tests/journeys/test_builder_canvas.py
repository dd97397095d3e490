"""The canvas's endpoint: the draft as JSON (with action schemas and live numbers) and saving a
whole draft through the journey services, problems keyed by step and field."""

import pytest
from django.test import Client
from django.urls import reverse

from journeys.models import Journey
from journeys.registries import StepStats, step_stats_providers
from tests.journeys.factories import action, make_journey, tag_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def designer(make_user):
    user = make_user("designer", "journeys.view_journey", "journeys.change_journey")
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def analyst(make_user):
    user = make_user("analyst", "journeys.view_journey")
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def url(journey: Journey) -> str:
    return reverse("admin:journeys_journey_canvas", args=[journey.pk])


def test_the_canvas_loads_the_draft_with_the_schemas_and_hides_the_webhook_secret(designer):
    journey = make_journey(
        [tag_step("hello", "hi"), action("hook", "trigger_webhook", {"url": "https://example.com/h"})],
        publish=False,
    )
    data = designer.get(url(journey)).json()
    assert [s["key"] for s in data["steps"]] == ["hello", "hook"]
    hook = data["steps"][1]
    assert hook["config"] == {"url": "https://example.com/h"} and hook["secret_kept"] is True
    schemas = {a["name"]: a["schema"] for a in data["action_types"]}
    assert schemas["apply_tag"]["properties"]["tag"]["title"] == "Tag"
    assert data["notes"] == {
        "hello": {
            "next_steps": [
                "No next step: it continues with 'hook', the next step by order. "
                "Connect it explicitly, or end the path with an end step."
            ]
        },
        "hook": {"next_steps": ["No next step: the journey ends here. Make it an end step to say so."]},
    }
    assert data["stats"] == {}


def test_live_numbers_come_from_the_registered_provider(designer):
    journey = make_journey([tag_step("hello", "hi")])
    numbers = {"hello": StepStats(reached=4, waiting=1, completed=3), "gone": StepStats()}
    installed = step_stats_providers.get("default")  # the analytics app's, when installed
    step_stats_providers.register("default", lambda journey_id: numbers, replace=True)
    try:
        data = designer.get(url(journey)).json()
    finally:
        step_stats_providers.unregister("default")
        if installed is not None:
            step_stats_providers.register("default", installed)
    assert data["stats"] == {"hello": {"reached": 4, "waiting": 1, "completed": 3, "dropped": 0}}


def test_saving_numbers_the_steps_in_canvas_order_and_keeps_the_secret(designer):
    journey = make_journey(
        [action("hook", "trigger_webhook", {"url": "https://example.com/h"})], publish=False
    )
    secret = journey.steps.get().config["secret"]
    steps = [
        {
            "key": "hook",
            "name": "Hook",
            "kind": "action",
            "action_type": "trigger_webhook",
            "config": {"url": "https://example.com/new"},
            "next_steps": [{"step": "done", "condition": None}],
        },
        {"key": "done", "name": "Done", "kind": "end", "action_type": "apply_tag"},
    ]
    response = designer.post(url(journey), {"steps": steps}, content_type="application/json")
    assert response.status_code == 200, response.content
    rows = list(journey.steps.order_by("order"))
    assert [(s.key, s.order, s.action_type) for s in rows] == [
        ("hook", 1, "trigger_webhook"),
        ("done", 2, ""),
    ]
    assert rows[0].config == {"url": "https://example.com/new", "secret": secret}
    assert response.json()["notes"] == {}


def test_a_refused_draft_answers_every_problem_on_its_step_and_changes_nothing(designer):
    journey = make_journey([tag_step("hello", "hi")], publish=False)
    steps = [
        {
            "key": "hello",
            "name": "Hello",
            "kind": "action",
            "action_type": "apply_tag",
            "config": {"tag": ""},
            "next_steps": [{"step": "nowhere", "condition": None}],
        },
        {"key": "wait", "name": "Wait", "kind": "wait_for_event", "config": {"timeout": "1 day"}},
    ]
    response = designer.post(url(journey), {"steps": steps}, content_type="application/json")
    assert response.status_code == 400
    problems = response.json()["problems"]["steps"]
    assert problems["hello"]["config.tag"] == ["This field is required."]
    assert problems["hello"]["next_steps.0.step"] == ["No step with key 'nowhere' in this journey."]
    assert problems["wait"]["config.event"] == ["The event type to wait for is required."]
    assert [s.key for s in journey.steps.all()] == ["hello"]
    assert journey.steps.get().config == {"tag": "hi"}


def test_bad_bodies_are_refused_with_a_message(designer):
    journey = make_journey([tag_step("hello", "hi")], publish=False)
    assert designer.post(url(journey), "{", content_type="application/json").status_code == 400
    response = designer.post(url(journey), {"steps": "hello"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["problems"]["journey"] == {"steps": ["A list of steps."]}


def test_only_staff_who_may_change_journeys_can_save_and_archived_ones_are_frozen(analyst, designer):
    journey = make_journey([tag_step("hello", "hi")])
    body = {"steps": [tag_step("other", "x")]}
    assert analyst.get(url(journey)).status_code == 200
    assert analyst.post(url(journey), body, content_type="application/json").status_code == 403
    Journey.objects.filter(pk=journey.pk).update(state=Journey.State.ARCHIVED)
    assert designer.post(url(journey), body, content_type="application/json").status_code == 409
    assert [s.key for s in journey.steps.all()] == ["hello"]
