"""The journey as a PDF: made by a task, downloadable when ready, with its timeline, decisions,
costs and before/after pictures — opened and rendered here to check."""

import io
from datetime import timedelta

import pypdfium2
import pytest
from django.utils import timezone
from pypdf import PdfReader

from journeys.services.user_journeys import user_journey_advance
from tests.helpers import wait_for
from tests.workspace.conftest import image_bytes
from tests.workspace.test_uploads import upload
from workspace.models import Comment, Decision, Export, Workspace
from workspace.services.maintenance import pending_sweep
from workspace.services.spaces import workspace_purge_deleted


def _fill(client, base_url):
    client.post(
        f"{base_url}/decisions", {"question": "Countertop", "chosen": "Quartz", "reasoning": "Durable"}
    )
    client.put(f"{base_url}/budget", {"category": "cabinets", "amount": "8000.00", "currency": "EUR"})
    client.post(
        f"{base_url}/costs",
        {
            "category": "cabinets",
            "description": "Oak",
            "amount": "9100.00",
            "currency": "EUR",
            "spent_on": "2026-04-01",
        },
    )
    before = upload(client, base_url, image_bytes(color=(120, 90, 60)), "old.png", step_key="build").json()
    after = upload(
        client, base_url, image_bytes(color=(240, 240, 250), pattern=False), "new.png", step_key="build"
    )
    client.post(
        f"{base_url}/before-after", {"before": before["id"], "after": after.json()["id"], "note": "New"}
    )


def test_an_export_is_rendered_and_downloaded(
    client_as, owner, base_url, user_journey, django_capture_on_commit_callbacks
):
    client = client_as(owner)
    user_journey_advance(user_journey=user_journey, step_result={"style": "nordic"})
    _fill(client, base_url)

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"{base_url}/exports")
    assert started.status_code == 202
    export = client.get(f"{base_url}/exports/{started.json()['id']}").json()
    assert export["status"] == "ready" and export["pages"] >= 2
    assert export["download"].endswith(f"/exports/{export['id']}/download")

    download = client.get(export["download"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    content = b"".join(download.streaming_content)
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    sections = ["Kitchen renovation", "Timeline", "design", "Countertop", "Quartz"]
    for expected in [*sections, "9100.00", "OVER BUDGET", "Before and after"]:
        assert expected in text, expected
    assert reader.metadata.title == "Kitchen renovation"

    pdf = pypdfium2.PdfDocument(content)
    first = pdf[0].render(scale=1).to_pil()
    assert first.width > 500 and len(first.convert("L").getcolors()) > 2  # drawn, not blank
    gallery = pdf[len(pdf) - 1].render(scale=1).to_pil().convert("RGB")
    assert len(gallery.getcolors(maxcolors=1_000_000)) > 10  # the pictures are on the page


def test_an_export_asked_twice_while_pending_is_made_once(client_as, owner, base_url):
    client = client_as(owner)
    first = client.post(f"{base_url}/exports").json()  # on_commit never runs here: stays pending
    second = client.post(f"{base_url}/exports").json()
    assert first["id"] == second["id"] and first["status"] == "pending"
    not_ready = client.get(f"{base_url}/exports/{first['id']}/download")
    assert not_ready.status_code == 409 and not_ready.json()["current_state"] == "pending"


def test_an_export_whose_message_was_lost_is_rendered_by_the_sweep(
    client_as, owner, base_url, django_capture_on_commit_callbacks
):
    started = client_as(owner).post(f"{base_url}/exports")  # its message never runs: lost
    assert started.status_code == 202
    export = Export.objects.get(pk=started.json()["id"])
    assert export.status == Export.Status.PENDING

    assert pending_sweep() == 0  # a fresh export is left to its own message
    Export.objects.filter(pk=export.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert pending_sweep() == 1

    export.refresh_from_db()
    assert export.status == Export.Status.READY and export.pages >= 1


@pytest.mark.worker
def test_a_real_worker_renders_the_export(celery_worker, client_as, owner, base_url):
    client = client_as(owner)
    client.post(f"{base_url}/decisions", {"question": "Tiles", "chosen": "Terracotta"})
    celery_worker()
    export_id = client.post(f"{base_url}/exports").json()["id"]

    wait_for(
        lambda: Export.objects.get(pk=export_id).status == "ready", timeout=60, message="export not rendered"
    )
    body = b"".join(client.get(f"{base_url}/exports/{export_id}/download").streaming_content)
    assert "Terracotta" in PdfReader(io.BytesIO(body)).pages[0].extract_text()


def test_soft_deleted_rows_are_purged_after_the_retention_period(
    client_as, owner, base_url, workspace, settings
):
    settings.WORKSPACE_RETENTION_DAYS = 30
    client = client_as(owner)
    old = client.post(f"{base_url}/comments", {"body": "old"}).json()["id"]
    recent = client.post(f"{base_url}/comments", {"body": "recent"}).json()["id"]
    decision = client.post(f"{base_url}/decisions", {"question": "q", "chosen": "a"}).json()["id"]
    client.post(f"{base_url}/decisions/{decision}/revisit", {"chosen": "b"})
    client.delete(f"{base_url}/comments/{old}")
    client.delete(f"{base_url}/comments/{recent}")
    client.delete(f"{base_url}/decisions/{decision}")
    long_ago = timezone.now() - timedelta(days=31)
    Comment.objects.filter(pk=old).update(deleted_at=long_ago)
    Decision.objects.filter(pk=decision).update(deleted_at=long_ago)

    purged = workspace_purge_deleted()

    assert purged["comment"] == 1 and purged["decision"] == 1
    assert list(Comment.objects.values_list("pk", flat=True)) == [recent]  # restorable still
    assert Decision.objects.filter(question="q").count() == 1  # the revisit stays
    assert Workspace.objects.filter(pk=workspace.pk).exists()
