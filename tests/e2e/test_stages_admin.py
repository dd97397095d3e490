"""Staff move a staged journey through its gate from the admin: evidence recorded in forms, the
promotion, a rollback with a reason; the pipeline's task table fits a 1,400-px window."""

import pytest
from playwright.sync_api import expect

from stages.models import PipelineStage, StagedJourney
from tests.stages.factories import agent, criteria_pipeline, satisfy, start, task

pytestmark = pytest.mark.django_db(transaction=True)

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def check_page(page, shots, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert page.evaluate(NO_OVERFLOW), f"{name}: the page scrolls sideways at 1,400 px ({width} px)"


def test_a_staged_journey_is_promoted_and_rolled_back_from_the_admin(staff_page, live_server, tmp_path):
    page = staff_page
    base = live_server.url
    agent("crawler", url="https://agents.example.com/crawl")
    criteria_pipeline()  # the default: the journey's units of work have nothing to do
    criteria_pipeline(
        slug="crawl",
        is_default=False,
        tasks={
            "sandbox": {
                "setup": [
                    task(
                        "provision_dataset",
                        agent_id="crawler",
                        params={"size": "small", "region": "eu-north"},
                    ),
                    task("index_documents", agent_id="crawler", depends_on=["provision_dataset"]),
                    task("review", intent="manual", depends_on=["index_documents"]),
                ]
            }
        },
    )
    stage = PipelineStage.objects.get(stage="sandbox", pipeline__slug="crawl")
    page.goto(f"{base}/admin/stages/pipelinestage/{stage.pk}/change/")
    check_page(page, tmp_path, "pipeline-stage")

    journey = satisfy(start("acme"), skip="demo_approved")
    page.goto(f"{base}/admin/stages/stagedjourney/{journey.pk}/change/")
    expect(page.locator(".stage-work")).to_contain_text("Current unit of work")
    check_page(page, tmp_path, "staged-journey")

    # The missing approval, recorded in the form; then the gate is checked and the journey promoted.
    page.select_option("#approval-key", "demo_approved")
    page.click(".stage-approve button")
    expect(page.locator(".messagelist")).to_contain_text("Recorded: demo_approved approved")
    page.click(".stage-validate")
    expect(page.locator(".messagelist")).to_contain_text("Checked now:")
    page.click("button[value=promote_to_pilot]")
    expect(page.locator(".messagelist")).to_contain_text("Done: the journey is now Pilot")
    assert StagedJourney.objects.get(pk=journey.pk).stage == "pilot"

    page.click("button[value=initiate_rollback]")
    page.fill("textarea[name=reason], input[name=reason]", "pilot users cannot sign in")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("Sandbox")
    journey.refresh_from_db()
    assert journey.stage == "sandbox" and journey.snapshots.get().stage == "pilot"
    check_page(page, tmp_path, "rolled-back")
