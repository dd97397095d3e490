"""The admin as a product: its own name, no link to a site that does not exist, one search box."""

import pytest
from django.test import Client
from django.urls import reverse

from journeys.models import Participant
from rules.models import Rule
from tests.journeys.factories import make_journey, tag_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_admin_carries_the_product_name_and_no_view_site_link(root):
    text = root.get(reverse("admin:journeys_journey_changelist")).content.decode()
    assert "Journey Orchestrator" in text
    assert "Django administration" not in text and "Django site admin" not in text
    assert "View site" not in text
    assert 'action="/admin/search/"' in text


def test_one_search_finds_participants_journeys_and_rules(root):
    Participant.objects.create(user_id="ada-lovelace")
    journey = make_journey([tag_step("hello", "hi")], name="Ada onboarding")
    Rule.objects.create(rule_id="ada_ready", name="Ada is ready", flag="ready", rule_config={})
    Participant.objects.create(user_id="grace")

    response = root.get(reverse("admin-search"), {"q": "ada"})

    text = response.content.decode()
    assert response.status_code == 200
    assert "ada-lovelace" in text and "grace" not in text
    assert reverse("admin:journeys_journey_change", args=[journey.pk]) in text
    assert "ada_ready" in text
    assert 'data-kind="staged-journeys"' not in text  # no match: no empty section
    assert 'data-kind="participants"' in text


def test_search_shows_only_what_the_user_may_see(make_user):
    user = make_user("viewer", "journeys.view_journey")
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    Participant.objects.create(user_id="ada-lovelace")
    make_journey([tag_step("hello", "hi")], name="Ada onboarding")

    text = client.get(reverse("admin-search"), {"q": "ada"}).content.decode()

    assert "Ada onboarding" in text and "ada-lovelace" not in text


def test_a_too_short_or_unmatched_query_says_so(root):
    assert "at least two characters" in root.get(reverse("admin-search"), {"q": "a"}).content.decode()
    assert "Nothing matches" in root.get(reverse("admin-search"), {"q": "zzzz"}).content.decode()


def test_yes_no_columns_that_are_neither_good_nor_bad_are_words_not_icons(root):
    from rules.services.rules import rule_create

    make_journey([tag_step("hello", "hi")], name="Versioned")
    rule_create(
        definition={
            "rule_id": "quiet_rule",
            "name": "Quiet",
            "flag": "quiet",
            "active": False,
            "conditions": [{"type": "attribute", "field": "plan", "operator": "=", "value": "pro"}],
            "actions": [{"type": "set_flag", "flag": "quiet", "value": True}],
        }
    )
    for url in ("/admin/journeys/journeyversion/", "/admin/rules/rule/"):
        text = root.get(url).content.decode()
        assert "icon-yes.svg" not in text and "icon-no.svg" not in text, url
    assert ">inactive<" in root.get("/admin/rules/rule/").content.decode()
    assert ">live<" in root.get("/admin/journeys/journeyversion/").content.decode()
