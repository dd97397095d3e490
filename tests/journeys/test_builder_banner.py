"""What the journey page says about its draft: order numbers that never tie, paths nobody wrote
down, and "valid" only when there is a draft to publish."""

import pytest
from django.urls import reverse

from journeys.models import Journey
from tests.journeys.builder_helpers import add_step, form_data
from tests.journeys.factories import make_journey, tag_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def designer(client, admin_user):
    client.force_login(admin_user)
    return client


def page_text(client, journey: Journey) -> str:
    response = client.get(reverse("admin:journeys_journey_change", args=[journey.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_new_steps_added_in_the_form_get_order_numbers_in_the_order_listed(designer):
    data = form_data(designer.get(reverse("admin:journeys_journey_add")))
    data.update(name="Ordered", trigger_type="signup")
    for key in ("first", "second", "third"):
        add_step(data, key=key, name=key.title(), action_type="apply_tag", config={"tag": key}, order=0)
    response = designer.post(reverse("admin:journeys_journey_add"), data)
    assert response.status_code == 302
    steps = Journey.objects.get(name="Ordered").steps.order_by("order")
    assert [(s.key, s.order) for s in steps] == [("first", 1), ("second", 2), ("third", 3)]


def test_a_branch_target_running_on_by_order_is_named_on_the_page(designer):
    journey = make_journey(
        [
            {
                "key": "route",
                "name": "Route",
                "kind": "branch",
                "next_steps": [
                    {"step": "pro", "condition": {"field": "plan", "op": "eq", "value": "pro"}},
                    "free",
                ],
            },
            tag_step("pro", "pro"),
            tag_step("free", "free", next_steps=["done"]),
            {"key": "done", "name": "Done", "kind": "end"},
        ],
        publish=False,
    )
    text = page_text(designer, journey)
    assert "The draft is valid and can be published." in text
    assert (
        'class="button journey-top-publish" name="_transition" value="publish"' in text
    )  # not only at the bottom
    assert "Paths the draft does not state" in text
    assert (
        "Step &quot;pro&quot; &gt; next_steps: No next step (reached from branch &#x27;route&#x27;): "
        "it continues with &#x27;free&#x27;, the next step by order." in text
    )


def test_a_published_journey_without_changes_is_live_not_a_valid_draft(designer):
    journey = make_journey(
        [tag_step("a", "a", next_steps=["done"]), {"key": "done", "name": "Done", "kind": "end"}]
    )
    text = page_text(designer, journey)
    assert "Live as v1; the draft has no unpublished changes." in text
    assert "The draft is valid" not in text
    assert "Paths the draft does not state" not in text


def test_a_journey_without_steps_is_never_called_valid(designer):
    journey = make_journey([], publish=False)
    text = page_text(designer, journey)
    assert "A journey needs at least one step to be published." in text
    assert "The draft is valid" not in text


def test_the_add_page_says_where_the_steps_are_built(designer):
    text = designer.get(reverse("admin:journeys_journey_add")).content.decode()
    assert "to build its steps on the canvas" in text
