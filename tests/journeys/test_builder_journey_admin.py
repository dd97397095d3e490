"""The journey builder in the admin: editing a journey with its steps, validation next to each
field, publish / archive / restore through the services, read-only versions."""

import json

import pytest
from django.urls import reverse

from journeys.crypto import secret_decrypt
from journeys.models import Journey, JourneyVersion, Step
from journeys.services.enrolment import user_journey_enrol
from tests.journeys.builder_helpers import add_step, form_data, messages_of, step_index
from tests.journeys.factories import action, make_journey, tag_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def designer(client, make_user):
    """Staff who build and publish journeys."""
    user = make_user(
        "designer",
        "journeys.view_journey",
        "journeys.add_journey",
        "journeys.change_journey",
        "journeys.delete_journey",
        "journeys.publish_journey",
        "journeys.view_journeyversion",
        "journeys.view_step",
        "journeys.add_step",
        "journeys.change_step",
        "journeys.delete_step",
    )
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


def manual(key: str) -> dict:
    return {"key": key, "name": key.title(), "kind": "manual"}


def add_page(client) -> dict:
    response = client.get(reverse("admin:journeys_journey_add"))
    assert response.status_code == 200
    return form_data(response)


def change_page(client, journey: Journey):
    response = client.get(reverse("admin:journeys_journey_change", args=[journey.pk]))
    assert response.status_code == 200
    return response


def step_errors(response, index: int) -> dict[str, list[str]]:
    formset = next(
        f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "steps"
    )
    return {name: list(errors) for name, errors in formset.forms[index].errors.items()}


# ------------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------------
def test_staff_build_a_journey_with_steps_and_it_is_saved_through_the_services(designer):
    data = add_page(designer)
    data.update(name="Onboarding", trigger_type="signup", priority="5", re_entry="once")
    data["trigger_conditions"] = json.dumps({"field": "payload.plan", "op": "eq", "value": "pro"})
    add_step(
        data,
        key="welcome",
        name="Welcome",
        action_type="send_email",
        config={"subject": "Hi {{ attributes.first_name }}", "body": "Welcome!"},
    )
    add_step(
        data,
        key="notify",
        name="Notify CRM",
        action_type="trigger_webhook",
        config={"url": "https://crm.example.com/hooks"},
    )
    add_step(data, key="done", name="Done", kind="end", config={})

    response = designer.post(reverse("admin:journeys_journey_add"), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    journey = Journey.objects.get(name="Onboarding")
    assert journey.state == Journey.State.DRAFT
    assert journey.trigger_conditions == {"field": "payload.plan", "op": "eq", "value": "pro"}
    steps = list(journey.steps.order_by("order").values_list("key", "kind", "action_type"))
    assert steps == [
        ("welcome", "action", "send_email"),
        ("notify", "action", "trigger_webhook"),
        ("done", "end", ""),
    ]
    # The service filled in the webhook's signing secret, as it does for the API.
    stored = journey.steps.get(key="notify").config["secret"]
    assert stored.startswith("fernet:") and secret_decrypt(stored).startswith("whsec_")


def test_an_action_config_its_type_refuses_is_shown_next_to_the_step_field(designer):
    data = add_page(designer)
    data.update(name="Broken")
    add_step(data, key="welcome", name="Welcome", action_type="send_email", config={"body": "no subject"})
    add_step(data, key="hook", name="Hook", action_type="trigger_webhook", config={"url": "ftp://nope"})

    response = designer.post(reverse("admin:journeys_journey_add"), data)

    assert response.status_code == 200
    assert step_errors(response, 0) == {"config": ["subject: This field is required."]}
    assert step_errors(response, 1) == {"config": ["url: An http(s) URL with a host is required."]}
    assert "subject: This field is required." in response.content.decode()
    assert not Journey.objects.filter(name="Broken").exists()


def test_json_that_does_not_parse_and_unknown_next_steps_are_refused(designer):
    data = add_page(designer)
    data.update(name="Typos")
    add_step(data, key="first", name="First", action_type="apply_tag", config='{"tag": "a",}')
    add_step(
        data,
        key="second",
        name="Second",
        action_type="apply_tag",
        config={"tag": "b"},
        next_steps=["nowhere"],
    )
    add_step(data, key="third", name="Third", kind="action", action_type="", config={})

    response = designer.post(reverse("admin:journeys_journey_add"), data)

    assert response.status_code == 200
    assert step_errors(response, 0) == {"config": ["Enter a valid JSON."]}
    assert step_errors(response, 2) == {"action_type": ["Choose what this action step does."]}
    # Once the JSON parses, the whole definition is checked: a next step must exist.
    data["steps-0-config"] = '{"tag": "a"}'
    data["steps-2-action_type"] = "apply_tag"
    data["steps-2-config"] = '{"tag": "c"}'
    response = designer.post(reverse("admin:journeys_journey_add"), data)
    assert step_errors(response, 1) == {"next_steps": ["0.step: No step with key 'nowhere' in this journey."]}
    assert Journey.objects.count() == 0


def test_a_bad_trigger_condition_is_shown_on_the_journey_field(designer):
    data = add_page(designer)
    data.update(name="Bad trigger", trigger_type="signup")
    data["trigger_conditions"] = json.dumps({"field": "payload.plan", "op": "like", "value": "x"})
    add_step(data, key="tag", name="Tag", action_type="apply_tag", config={"tag": "t"})

    response = designer.post(reverse("admin:journeys_journey_add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["trigger_conditions"]
    assert errors == [
        "op: Use one of eq (=, ==), ne (!=), gt (>), gte (>=), lt (<), lte (<=), in, contains, "
        "exists (not 'like')."
    ]


def test_editing_steps_replaces_the_draft_and_keeps_a_webhook_secret_hidden(designer):
    journey = make_journey(
        [action("hook", "trigger_webhook", {"url": "https://crm.example.com/a"}), tag_step("tag", "t")],
        publish=False,
    )
    secret = journey.steps.get(key="hook").config["secret"]
    response = change_page(designer, journey)
    assert secret not in response.content.decode()  # the signing secret never reaches the page

    data = form_data(response)
    i = step_index(data, "hook")
    data[f"steps-{i}-config"] = json.dumps({"url": "https://crm.example.com/b"})
    data[f"steps-{step_index(data, 'tag')}-DELETE"] = "on"
    add_step(data, key="tag2", name="Tag again", action_type="apply_tag", config={"tag": "t2"})
    response = designer.post(reverse("admin:journeys_journey_change", args=[journey.pk]), data)

    assert response.status_code == 302
    assert list(journey.steps.values_list("key", flat=True)) == ["hook", "tag2"]
    config = journey.steps.get(key="hook").config
    assert config == {"url": "https://crm.example.com/b", "secret": secret}


# ------------------------------------------------------------------------------------------------
# Lifecycle
# ------------------------------------------------------------------------------------------------
def test_publish_refuses_an_invalid_graph_and_says_why(designer):
    journey = make_journey(
        [tag_step("a", "a", next_steps=["c"]), tag_step("b", "b"), tag_step("c", "c")], publish=False
    )
    page = change_page(designer, journey)
    assert "Step &quot;b&quot; &gt; key: Step &#x27;b&#x27; cannot be reached from the first step." in (
        page.content.decode()
    )

    response = designer.post(
        reverse("admin:journeys_journey_change", args=[journey.pk]),
        {**form_data(page), "_transition": "publish"},
        follow=True,
    )

    assert response.status_code == 200
    shown = messages_of(response)
    assert "Not published: fix these problems first." in shown
    assert "Step \"b\" > key: Step 'b' cannot be reached from the first step." in shown
    journey.refresh_from_db()
    assert journey.state == Journey.State.DRAFT and not JourneyVersion.objects.exists()


def test_publish_freezes_a_version_and_edits_wait_for_the_next_publish(designer):
    journey = make_journey([tag_step("a", "a"), tag_step("b", "b")], publish=False)
    page = change_page(designer, journey)
    assert 'value="publish"' in page.content.decode()

    response = designer.post(
        reverse("admin:journeys_journey_change", args=[journey.pk]),
        {**form_data(page), "_transition": "publish"},
        follow=True,
    )
    assert any("Published as v1" in m for m in messages_of(response))
    journey.refresh_from_db()
    assert journey.state == Journey.State.PUBLISHED and journey.live_version.number == 1

    # An edit of a live journey is a draft: runs and new participants keep v1 until it is published.
    data = form_data(change_page(designer, journey))
    data[f"steps-{step_index(data, 'b')}-config"] = json.dumps({"tag": "b2"})
    designer.post(reverse("admin:journeys_journey_change", args=[journey.pk]), data)
    page = change_page(designer, journey)
    assert "The draft differs from the live version" in page.content.decode()
    assert ">Publish changes<" in page.content.decode()
    journey.refresh_from_db()
    assert journey.live_version.definition["steps"][1]["config"] == {"tag": "b"}

    response = designer.post(
        reverse("admin:journeys_journey_change", args=[journey.pk]),
        {**form_data(page), "_transition": "publish"},
        follow=True,
    )
    journey.refresh_from_db()
    assert journey.live_version.number == 2
    assert journey.live_version.definition["steps"][1]["config"] == {"tag": "b2"}

    # Publishing again with nothing changed makes no new version.
    response = designer.post(
        reverse("admin:journeys_journey_change", args=[journey.pk]),
        {**form_data(change_page(designer, journey)), "_transition": "publish"},
        follow=True,
    )
    assert "Nothing changed since v2; it stays live." in messages_of(response)
    assert journey.versions.count() == 2


def test_archive_makes_the_journey_read_only_and_restore_brings_the_draft_back(designer):
    journey = make_journey([tag_step("a", "a")])
    url = reverse("admin:journeys_journey_change", args=[journey.pk])
    response = designer.post(
        url, {**form_data(change_page(designer, journey)), "_transition": "archive"}, follow=True
    )
    assert "Archived: " + journey.name + " is now archived." in messages_of(response)
    journey.refresh_from_db()
    assert journey.state == Journey.State.ARCHIVED

    page = change_page(designer, journey)
    assert 'name="name"' not in page.content.decode()  # nothing to edit while archived
    assert 'name="steps-0-key"' not in page.content.decode()
    assert 'value="archive"' not in page.content.decode() and 'value="restore"' in page.content.decode()

    response = designer.post(url, {**form_data(page), "_transition": "restore"}, follow=True)
    assert f"Restored to draft: {journey.name} is now draft." in messages_of(response)
    journey.refresh_from_db()
    assert journey.state == Journey.State.DRAFT
    assert list(journey.steps.values_list("key", flat=True)) == ["a"]


def test_staff_without_the_publish_permission_see_no_buttons_and_cannot_publish(client, make_user):
    user = make_user(
        "editor",
        "journeys.view_journey",
        "journeys.change_journey",
        "journeys.view_step",
        "journeys.change_step",
        "journeys.view_journeyversion",
    )
    user.is_staff = True
    user.save()
    client.force_login(user)
    journey = make_journey([tag_step("a", "a")], publish=False)
    page = change_page(client, journey)
    assert 'name="_transition"' not in page.content.decode()

    response = client.post(
        reverse("admin:journeys_journey_change", args=[journey.pk]),
        {**form_data(page), "_transition": "publish"},
        follow=True,
    )
    assert "You may not publish or archive journeys." in messages_of(response)
    journey.refresh_from_db()
    assert journey.state == Journey.State.DRAFT


def test_an_impossible_transition_is_a_message_not_an_error_page(designer):
    journey = make_journey([tag_step("a", "a")], publish=False)
    url = reverse("admin:journeys_journey_change", args=[journey.pk])
    response = designer.post(
        url, {**form_data(change_page(designer, journey)), "_transition": "restore"}, follow=True
    )
    assert response.status_code == 200
    assert "Cannot restore a journey that is draft." in messages_of(response)


# ------------------------------------------------------------------------------------------------
# Lists, versions, deletion
# ------------------------------------------------------------------------------------------------
def test_the_list_shows_state_trigger_priority_live_version_and_active_runs(designer):
    live = make_journey([tag_step("a", "a"), manual("w")], name="Live one", priority=7)
    make_journey([tag_step("a", "a")], publish=False, name="Draft one", trigger_type="payment_fail")
    user_journey_enrol(journey=live, user_id="u-1")
    user_journey_enrol(journey=live, user_id="u-2")

    response = designer.get(reverse("admin:journeys_journey_changelist"))

    rows = {r[1]: r for r in _rows(response.content.decode())}
    assert rows["Live one"][2:8] == ["Published", "Custom", "signup", "7", "v1", "2"]
    assert rows["Draft one"][2:8] == ["Draft", "Custom", "payment_fail", "0", "—", "0"]


def _rows(html: str) -> list[list[str]]:
    import re

    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        if len(cells) > 2:
            rows.append(cells)
    return rows


def test_versions_are_read_only_and_drawn(designer):
    journey = make_journey([tag_step("a", "a"), tag_step("b", "b")])
    version = journey.live_version
    url = reverse("admin:journeys_journeyversion_change", args=[version.pk])
    page = designer.get(url)
    assert page.status_code == 200
    assert 'data-step="a"' in page.content.decode() and "<svg" in page.content.decode()
    assert designer.post(url, {"number": 9}).status_code == 403
    assert designer.get(reverse("admin:journeys_journeyversion_add")).status_code == 403
    assert designer.get(reverse("admin:journeys_journeyversion_delete", args=[version.pk])).status_code == 403


def test_deleting_a_journey_in_the_admin_is_soft_and_cancels_its_runs(designer):
    journey = make_journey([tag_step("a", "a"), manual("m")])
    run = user_journey_enrol(journey=journey, user_id="u-1")
    url = reverse("admin:journeys_journey_delete", args=[journey.pk])
    assert designer.get(url).status_code == 200

    response = designer.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert Journey.objects.get(pk=journey.pk).deleted_at is not None
    assert Step.objects.filter(journey=journey).exists()
    run.refresh_from_db()
    assert (run.state, run.end_reason) == ("cancelled", "journey deleted")
