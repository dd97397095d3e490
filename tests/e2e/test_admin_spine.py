import pytest

from journeys.models import ApiKey

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_create_an_api_key_and_see_it_once(staff_page, live_server):
    page = staff_page
    page.goto(f"{live_server.url}/admin/journeys/apikey/add/")
    page.fill("#id_name", "crm")
    page.click(".select2-selection")  # the user field is an autocomplete box
    page.fill(".select2-search__field", "root")
    page.click(".select2-results__option >> text=root")
    page.select_option("#id_scope", "ingest")
    page.click("input[name=_save]")

    message = page.locator(".messagelist").inner_text()
    assert "shown only this once" in message
    prefix = ApiKey.objects.get(name="crm").prefix
    assert f"jo_{prefix}." in message
    page.reload()
    assert f"jo_{prefix}." not in page.content()
