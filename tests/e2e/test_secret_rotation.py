"""Staff rotate signing secrets in the admin: confirm, copy the new secret shown once, and find
it masked afterwards."""

import pytest
from playwright.sync_api import expect

from journeys.crypto import secret_decrypt, secret_mask
from stages.models import Agent
from tests.journeys.factories import action, make_journey

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_rotate_a_webhook_steps_secret_from_the_builder(staff_page, live_server):
    journey = make_journey([action("notify", "trigger_webhook", {"url": "https://crm.example.com/hook"})])
    old = secret_decrypt(journey.steps.get().config["secret"])
    page = staff_page
    page.goto(f"{live_server.url}/admin/journeys/journey/{journey.pk}/change/")
    secrets = page.locator(".field-signing_secrets")
    expect(secrets.locator("code", has_text=secret_mask(old))).to_be_visible()
    assert old not in page.content()

    secrets.locator("a.rotate-secret").click()
    page.click("input[value='Yes, rotate']")

    shown = page.locator("code.new-secret").inner_text()
    assert shown == secret_decrypt(journey.steps.get().config["secret"]) != old
    page.click("text=Done")
    expect(page.locator(".field-signing_secrets code", has_text=secret_mask(shown))).to_be_visible()
    assert shown not in page.content()


def test_staff_rotate_an_agents_secret_and_see_it_once(staff_page, live_server):
    agent = Agent.objects.create(key="dataops", name="Data ops")
    old = agent.secret
    page = staff_page
    page.goto(f"{live_server.url}/admin/stages/agent/{agent.pk}/change/")
    expect(page.locator("code", has_text=secret_mask(old))).to_be_visible()

    page.click("a.rotate-secret")
    expect(page.locator("text=The current secret stops working at once")).to_be_visible()
    page.click("input[value='Yes, rotate']")

    shown = page.locator("code.new-secret").inner_text()
    assert shown == Agent.objects.get().secret != old
    page.goto(f"{live_server.url}/admin/stages/agent/{agent.pk}/change/")
    expect(page.locator("code", has_text=secret_mask(shown))).to_be_visible()
    assert shown not in page.content()
