"""Staff build a journey in the admin, publish it, and watch a participant's run on its timeline."""

import json
import re

import pytest
from playwright.sync_api import expect

from journeys.models import Journey, UserJourney
from journeys.services.events import event_emit

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = [
    {
        "key": "welcome",
        "name": "Welcome tag",
        "kind": "action",
        "action_type": "apply_tag",
        "config": {"tag": "welcomed"},
    },
    {
        "key": "route",
        "name": "Route by plan",
        "kind": "branch",
        "next_steps": [
            {"step": "pro", "condition": {"field": "payload.plan", "op": "eq", "value": "pro"}},
            "wait_paid",
        ],
    },
    {"key": "pro", "name": "Pro tag", "kind": "action", "action_type": "apply_tag", "config": {"tag": "pro"}},
    {
        "key": "wait_paid",
        "name": "Wait for payment",
        "kind": "wait_for_event",
        "config": {"event": "paid", "timeout": "1 day", "timeout_step": "done"},
        "next_steps": ["done"],
    },
    {"key": "done", "name": "Done", "kind": "end"},
]


def add_step(page, index: int, step: dict) -> None:
    page.click("#steps-group .add-row a")
    prefix = f"#id_steps-{index}"
    expect(page.locator(f"{prefix}-key")).to_be_visible()
    page.fill(f"{prefix}-key", step["key"])
    page.fill(f"{prefix}-name", step["name"])
    page.fill(f"{prefix}-order", str(index))
    page.select_option(f"{prefix}-kind", step["kind"])
    if "action_type" in step:
        page.select_option(f"{prefix}-action_type", step["action_type"])
    for field in ("config", "next_steps"):
        if field in step:
            page.fill(f"{prefix}-{field}", json.dumps(step[field]))


def timeline_row(page, step_key: str):
    return page.locator(f'#timeline tr.timeline-run[data-step="{step_key}"]')


def test_staff_build_publish_and_watch_a_journey(staff_page, live_server):
    page = staff_page

    # Build: the journey and its steps, in the admin.
    page.goto(f"{live_server.url}/admin/journeys/journey/add/")
    page.fill("#id_name", "Browser onboarding")
    page.fill("#id_trigger_type", "signup")
    for index, step in enumerate(STEPS):
        add_step(page, index, step)
    # The JSON editor checks what is typed before anything is sent.
    page.fill("#id_steps-0-config", '{"tag": ')
    expect(page.locator("#id_steps-0-config + .json-status")).to_have_class(re.compile("bad"))
    page.fill("#id_steps-0-config", '{"tag": "welcomed"}')
    expect(page.locator("#id_steps-0-config + .json-status")).to_have_text("✓ JSON")
    page.click("input[name=_continue]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator(".publish-ready")).to_contain_text("can be published")
    graph = page.locator("#journey-graph svg")
    for step in STEPS:
        expect(graph.locator(f'g[data-step="{step["key"]}"]')).to_have_count(1)
    expect(graph.locator('g[data-step="route"]')).to_have_class(re.compile("kind-branch"))

    # Publish.
    page.click(".journey-top-publish")  # next to "valid", not at the bottom of the page
    expect(page.locator(".messagelist")).to_contain_text("Published as v1")
    journey = Journey.objects.get(name="Browser onboarding")
    assert journey.state == Journey.State.PUBLISHED

    # A participant signs up: the trigger event enrols them and the first steps run.
    event_emit(type="signup", user_id="e2e-ada", payload={"plan": "pro"})
    user_journey = UserJourney.objects.get(journey=journey, participant__user_id="e2e-ada")

    page.goto(f"{live_server.url}/admin/journeys/userjourney/?journey__id__exact={journey.pk}")
    page.click(f'#result_list a[href*="/userjourney/{user_journey.pk}/change/"]')
    for key in ("welcome", "route", "pro"):
        expect(timeline_row(page, key)).to_have_attribute("data-status", "succeeded")
    expect(timeline_row(page, "wait_paid")).to_have_attribute("data-status", "scheduled")
    expect(timeline_row(page, "route")).to_contain_text("went to pro")
    expect(timeline_row(page, "route")).to_contain_text('payload.plan = "pro"')

    # The awaited event arrives: the run moves on and ends.
    event_emit(type="paid", user_id="e2e-ada", payload={"amount": 10})
    page.reload()
    expect(timeline_row(page, "wait_paid")).to_have_attribute("data-status", "succeeded")
    expect(timeline_row(page, "done")).to_have_attribute("data-status", "succeeded")
    expect(page.locator(".fieldBox.field-state .readonly")).to_have_text("Completed")
    expect(page.locator('#run-graph g[data-step="done"]')).to_have_class(re.compile("status-succeeded"))
