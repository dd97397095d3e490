"""Staff build a rule's conditions with the condition builder (no YAML typed), save it, and it
fires for a participant; the test page shows the trace as a tree."""

import re

import pytest
from playwright.sync_api import expect

from journeys.models import Participant
from rules.models import Flag, Rule
from rules.services.evaluation import participant_evaluate

pytestmark = pytest.mark.django_db(transaction=True)

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def test_a_rule_built_with_the_condition_builder_fires(staff_page, live_server, tmp_path):
    page = staff_page
    page.goto(f"{live_server.url}/admin/rules/rule/add/")
    builder = page.locator("#rule-condition-builder")
    first = builder.locator(".rb-condition").first
    first.locator("select").first.select_option("any_of")
    group = first.locator(".rb-nested")
    group.get_by_role("button", name="Add a condition").click()
    group.get_by_role("button", name="Add a condition").click()
    plan, country = group.locator(".rb-condition").nth(0), group.locator(".rb-condition").nth(1)
    plan.locator("select").first.select_option("attribute")
    plan.get_by_label("field", exact=True).fill("plan")
    plan.get_by_label("value", exact=True).fill("pro")
    country.locator("select").first.select_option("attribute")
    country.get_by_label("field", exact=True).fill("country")
    country.get_by_label("value", exact=True).fill("NO")
    expect(page.locator("#id_definition")).to_have_value(
        re.compile(r"type: any_of[\s\S]*field: plan[\s\S]*value: pro[\s\S]*field: country")
    )
    page.screenshot(path=str(tmp_path / "rule-builder.png"), full_page=True)
    assert page.evaluate(NO_OVERFLOW)
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    rule = Rule.objects.get(rule_id="my_rule_001")
    assert rule.rule_config["conditions"][0]["type"] == "any_of"
    ada = Participant.objects.create(user_id="ada", attributes={"plan": "pro", "country": "SE"})
    participant_evaluate(participant=ada)
    assert Flag.objects.get(participant=ada, flag="my_flag").value is True

    page.goto(f"{live_server.url}/admin/rules/rule/{rule.pk}/test/?user_id=ada")
    expect(page.locator("#trace .verdict-true").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "rule-test.png"), full_page=True)
    assert page.evaluate(NO_OVERFLOW)
