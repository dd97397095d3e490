"""The staged journey page's tools: check the gate, record measurements and approvals (through the
services, so they can promote), and the current unit of work's task graph."""

import pytest

from stages.models import Measurement
from tests.stages.factories import criteria_pipeline, start, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def page(client, journey) -> str:
    return client.get(f"/admin/stages/stagedjourney/{journey.pk}/change/").content.decode()


def messages_after(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_page_offers_the_current_stages_criteria_as_evidence_forms(staff):
    criteria_pipeline()
    journey = start("client-1")
    text = page(staff, journey)
    assert "Evidence for the Sandbox gate" in text
    assert 'name="measure_key"' in text and '<option value="search_quality">' in text
    assert 'name="approval_key"' in text


def test_recording_a_measurement_and_an_approval_goes_through_the_services(staff):
    criteria_pipeline()
    journey = start("client-1")
    url = f"/admin/stages/stagedjourney/{journey.pk}"

    response = staff.post(
        f"{url}/measure/", {"measure_key": "search_quality", "measure_value": "0.91"}, follow=True
    )
    assert "Recorded search_quality = 0.91; the journey is Sandbox." in messages_after(response)
    row = Measurement.objects.get(journey=journey, key="search_quality")
    assert (row.value, row.actor, row.source) == (0.91, "root", "admin")

    approval = Measurement.objects.filter(kind="approval").count()
    key = journey.pipeline.stages.get(stage="sandbox").criteria.filter(kind="approval").first().key
    response = staff.post(f"{url}/approve/", {"approval_key": key, "approval_decision": "yes"}, follow=True)
    assert f"Recorded: {key} approved; the journey is Sandbox." in messages_after(response)
    assert Measurement.objects.filter(kind="approval").count() == approval + 1


def test_bad_evidence_is_a_message_and_nothing_is_written(staff):
    criteria_pipeline()
    journey = start("client-1")
    url = f"/admin/stages/stagedjourney/{journey.pk}"
    response = staff.post(
        f"{url}/measure/", {"measure_key": "search_quality", "measure_value": "lots"}, follow=True
    )
    assert "Measurement refused: the value must be a number." in messages_after(response)
    response = staff.post(f"{url}/measure/", {"measure_key": "nope", "measure_value": "1"}, follow=True)
    assert any(m.startswith("Measurement refused: values.nope:") for m in messages_after(response))
    assert not Measurement.objects.exists()
    assert staff.get(f"{url}/measure/").status_code == 403  # a write needs a POST


def test_checking_the_gate_says_how_many_checks_pass(staff):
    criteria_pipeline()
    journey = start("client-1")
    response = staff.post(f"/admin/stages/stagedjourney/{journey.pk}/validate/", follow=True)
    (message,) = messages_after(response)
    assert message.startswith("Checked now: ") and "not ready to promote" in message


def test_the_current_unit_of_work_is_drawn_with_its_task_states(staff):
    criteria_pipeline(tasks={"sandbox": {"setup": [task("approve", intent="manual")]}})
    journey = start("client-1")
    text = page(staff, journey)
    assert "Current unit of work" in text and "<svg" in text.split("Current unit of work")[1]
    graph = staff.get(f"/admin/stages/stagedjourney/{journey.pk}/work-graph/")
    assert graph.status_code == 200 and "<svg" in graph.content.decode()
    assert graph["X-Unit-Live"] in {"0", "1"}
