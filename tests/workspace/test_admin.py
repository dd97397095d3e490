"""Staff see a workspace beside its journey's steps, and moderate (soft delete, restore)."""

from tests.workspace.conftest import image_bytes
from tests.workspace.test_uploads import upload
from workspace.models import Comment, Workspace


def test_the_workspace_page_shows_steps_decisions_costs_and_comments(
    client, admin_user, client_as, owner, base_url, workspace
):
    api = client_as(owner)
    api.post(f"{base_url}/decisions", {"question": "Countertop", "chosen": "Quartz"})
    api.put(f"{base_url}/budget", {"category": "cabinets", "amount": "100.00", "currency": "EUR"})
    api.post(f"{base_url}/comments", {"body": "Lovely colour"})
    image = upload(api, base_url, image_bytes(), "wall.png").json()
    client.force_login(admin_user)

    page = client.get(f"/admin/workspace/workspace/{workspace.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    expected_texts = ["Steps of Kitchen renovation", "design", "Countertop", "Quartz", "cabinets"]
    for expected in [*expected_texts, "Lovely colour", "Decided Countertop: Quartz"]:
        assert expected in html, expected
    thumbnail = client.get(f"/admin/workspace/attachment/{image['id']}/thumbnail/")
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"
    assert client.get("/admin/workspace/attachment/").status_code == 200


def test_staff_moderate_comments_with_soft_delete_and_restore(client, admin_user, client_as, owner, base_url):
    comment = client_as(owner).post(f"{base_url}/comments", {"body": "spam"}).json()["id"]
    client.force_login(admin_user)
    changelist = "/admin/workspace/comment/"

    client.post(changelist, {"action": "soft_delete", "_selected_action": [comment]})
    assert Comment.objects.get(pk=comment).deleted_at is not None
    assert client_as(owner).get(f"{base_url}/comments").json()["results"] == []
    client.post(changelist, {"action": "restore", "_selected_action": [comment]})
    assert Comment.objects.get(pk=comment).deleted_at is None


def test_a_deleted_journey_disappears_for_its_people_until_staff_restore_it(
    client, admin_user, client_as, owner, base_url, workspace
):
    assert client_as(owner).delete(f"{base_url}/workspace").status_code == 204
    assert client_as(owner).get(f"{base_url}/workspace").status_code == 404
    assert client_as(owner).get("/api/v1/me/journeys").json()["results"] == []
    client.force_login(admin_user)
    client.post("/admin/workspace/workspace/", {"action": "restore", "_selected_action": [workspace.pk]})
    assert Workspace.objects.get(pk=workspace.pk).deleted_at is None
    assert client_as(owner).get(f"{base_url}/workspace").json()["role"] == "owner"
