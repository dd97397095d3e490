"""Staff build a branching journey on the canvas (no JSON typed), publish it, dry-run it and watch
a participant's run; every page is photographed and checked for horizontal overflow at 1,400 px."""

import re

import pytest
from playwright.sync_api import expect

from journeys.models import Journey, UserJourney
from journeys.registries import StepStats, step_stats_providers
from journeys.services.events import event_emit

pytestmark = pytest.mark.django_db(transaction=True)

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def check_page(page, shots, name: str) -> None:
    """A screenshot of the page, and no horizontal scrolling at the window's 1,400 px."""
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert page.evaluate(NO_OVERFLOW), f"{name}: the page scrolls sideways at 1,400 px"


def node(page, key: str):
    return page.locator(f'.react-flow__node[data-id="{key}"]')


def panel(page):
    return page.locator(".jc-panel")


def add_from_palette(page, *, action: str = "", kind: str = "") -> None:
    selector = f"button[data-action={action}]" if action else f"button[data-kind={kind}]"
    page.click(f".jc-palette {selector}")


def name_step(page, key: str, name: str) -> None:
    """Rename the selected step (key and name) in the side panel."""
    page.fill("#jc-step-name", name)
    page.fill("#jc-step-key", key)
    page.locator("#jc-step-key").blur()
    expect(node(page, key)).to_be_visible()


def timeline_row(page, step_key: str):
    return page.locator(f'#timeline tr.timeline-run[data-step="{step_key}"]')


@pytest.fixture
def shots(tmp_path):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


@pytest.fixture
def live_numbers():
    """Per-step numbers as the analytics app would provide them (registered for this test only)."""
    numbers = {"welcome": StepStats(reached=7, waiting=0, completed=7, dropped=0)}
    installed = step_stats_providers.get("default")  # the analytics app's, when installed
    step_stats_providers.register("default", lambda journey_id: numbers, replace=True)
    yield numbers
    step_stats_providers.unregister("default")
    if installed is not None:
        step_stats_providers.register("default", installed)


def test_staff_build_a_branching_journey_on_the_canvas_and_watch_it_run(
    staff_page, live_server, shots, live_numbers
):
    page = staff_page
    base = live_server.url

    # The journey's settings in the form; its steps on the canvas.
    page.goto(f"{base}/admin/journeys/journey/add/")
    page.fill("#id_name", "Canvas onboarding")
    page.fill("#id_trigger_type", "signup")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator(".jc-palette")).to_be_visible()
    expect(page.locator(".publish-ready")).to_have_count(0)  # no steps: nothing valid to publish

    # welcome: an action from the palette, its config through the form of its schema.
    add_from_palette(page, action="apply_tag")
    name_step(page, "welcome", "Welcome tag")
    panel(page).get_by_label("Tag", exact=True).fill("welcomed")

    # route: a branch added after welcome (so connected to it).
    add_from_palette(page, kind="branch")
    name_step(page, "route", "Route by plan")

    # wait_paid: the branch's default path.
    add_from_palette(page, kind="wait_for_event")
    name_step(page, "wait_paid", "Wait for payment")
    # Saving now is refused: the awaited event is missing, and the node says so.
    page.click(".jc-save")
    expect(node(page, "wait_paid").locator(".jc-node-problems")).to_be_visible()
    expect(panel(page).locator('[data-field="event"] .jc-problems')).to_contain_text("required")
    check_page(page, shots, "canvas-refused")
    panel(page).get_by_label("Event type").fill("paid")
    panel(page).get_by_label("Give up after").fill("1 day")

    # done: the end, after wait_paid; the wait's timeout path goes there too.
    add_from_palette(page, kind="end")
    name_step(page, "done", "Done")
    node(page, "wait_paid").click()
    panel(page).get_by_label("Timeout path goes to").select_option("done")

    # pro: a second path of the branch, with a condition chosen in the panel.
    node(page, "route").click()
    add_from_palette(page, action="apply_tag")
    name_step(page, "pro", "Pro tag")
    panel(page).get_by_label("Tag", exact=True).fill("pro")
    node(page, "route").click()
    first_path = panel(page).locator('.jc-path[data-path="0"]')
    expect(first_path.locator("select").first).to_have_value("pro")
    first_path.get_by_label("Field").fill("payload.plan")
    first_path.get_by_label("Value").fill("pro")
    expect(panel(page).locator('.jc-path[data-path="1"]')).to_contain_text("otherwise")

    # pro → done by dragging from pro's handle to done.
    node(page, "pro").locator(".react-flow__handle.source").drag_to(
        node(page, "done").locator(".react-flow__handle.target")
    )
    expect(page.locator('.react-flow__edge[aria-label^="Path from pro to done"]')).to_have_count(1)
    check_page(page, shots, "canvas-built")
    with page.expect_navigation():  # saved: the page reloads with the saved draft
        page.click(".jc-save")

    # Saved through the services: the banner says the draft is valid and states no hidden path.
    expect(page.locator(".publish-ready")).to_contain_text("can be published")
    expect(page.locator(".implicit-paths")).to_have_count(0)
    journey = Journey.objects.get(name="Canvas onboarding")
    steps = {s.key: s for s in journey.steps.all()}
    in_order = list(journey.steps.order_by("order"))
    assert [s.key for s in in_order] == ["welcome", "route", "wait_paid", "done", "pro"]
    assert [s.order for s in in_order] == [1, 2, 3, 4, 5]
    assert steps["welcome"].config == {"tag": "welcomed"}
    assert steps["welcome"].next_steps == [{"step": "route", "condition": None}]
    assert steps["route"].next_steps == [
        {"step": "pro", "condition": {"field": "payload.plan", "op": "eq", "value": "pro"}},
        {"step": "wait_paid", "condition": None},
    ]
    assert steps["wait_paid"].config == {"event": "paid", "timeout": "1 day", "timeout_step": "done"}
    assert steps["pro"].next_steps == [{"step": "done", "condition": None}]
    assert steps["route"].action_type == ""
    # Live numbers from the registered provider sit on their node.
    expect(node(page, "welcome").locator(".jc-node-stats")).to_contain_text("reached 7")
    check_page(page, shots, "journey-change")

    # Publish, then the dry run for a pro participant.
    page.click(".journey-top-publish")  # next to "valid", not at the bottom of the page
    expect(page.locator(".messagelist")).to_contain_text("Published as v1")
    expect(page.locator(".publish-live")).to_contain_text("Live as v1")
    expect(page.locator(".publish-ready")).to_have_count(0)
    page.click(".dry-run-link")
    page.fill("#id_user_id", "e2e-grace")
    page.fill("#id_payload", '{"plan": "pro"}')
    page.click(".dry-run-form input[type=submit]")
    expect(page.locator('.dry-run-step[data-step="pro"]')).to_be_visible()
    check_page(page, shots, "dry-run")

    # A participant signs up and pays: the run goes welcome → route → pro → done.
    event_emit(type="signup", user_id="e2e-grace", payload={"plan": "pro"})
    user_journey = UserJourney.objects.get(journey=journey, participant__user_id="e2e-grace")
    page.goto(f"{base}/admin/journeys/userjourney/{user_journey.pk}/change/")
    for key in ("welcome", "route", "pro", "done"):
        expect(timeline_row(page, key)).to_have_attribute("data-status", "succeeded")
    expect(timeline_row(page, "route")).to_contain_text("went to pro")
    expect(page.locator(".fieldBox.field-state .readonly")).to_have_text("Completed")
    expect(page.locator('#run-graph g[data-step="done"]')).to_have_class(re.compile("status-succeeded"))
    check_page(page, shots, "run-timeline")


def test_the_canvas_works_from_the_keyboard(staff_page, live_server):
    from tests.journeys.factories import make_journey, tag_step

    page = staff_page
    journey = make_journey(
        [tag_step("hello", "hi", next_steps=["bye"]), tag_step("bye", "bye")], publish=False
    )
    page.goto(f"{live_server.url}/admin/journeys/journey/{journey.pk}/change/")

    # The list of steps is the way in: Enter on a step opens it in the side panel.
    page.locator(".jc-step-list button", has_text="Bye").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".jc-step-panel")).to_have_attribute("data-step", "bye")
    # A focused node is selected with Enter too.
    node(page, "hello").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".jc-step-panel")).to_have_attribute("data-step", "hello")
    # The palette is buttons: an end step after the selected one; Ctrl+S saves the draft.
    node(page, "bye").focus()
    page.keyboard.press("Enter")
    page.locator('.jc-palette button[data-kind="end"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator(".jc-step-panel")).to_have_attribute("data-step", "end_1")
    with page.expect_navigation():
        page.keyboard.press("Control+s")
    expect(page.locator(".publish-ready")).to_contain_text("can be published")
    expect(page.locator(".implicit-paths")).to_have_count(0)
    assert journey.steps.get(key="bye").next_steps == [{"step": "end_1", "condition": None}]
    assert journey.steps.get(key="end_1").kind == "end"
