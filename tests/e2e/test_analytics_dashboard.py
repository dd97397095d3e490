"""The analytics dashboard in a real browser: the charts draw from the app's own static files."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.analytics.factories import Step, linear_journey, make_run, refresh

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_dashboard_draws_its_charts_and_the_home_page_leads_with_the_figures(
    staff_page, live_server, tmp_path
):
    journey = linear_journey("upload", "review", "launch", name="Content Migration")
    now = timezone.now()
    ok = "succeeded"
    for day in range(5):
        started = now - timedelta(days=day, hours=1)
        make_run(
            journey,
            state="completed",
            started_at=started,
            duration=3000,
            variant="A",
            steps=[Step("upload", ok, 600), Step("review", ok, 1200), Step("launch", ok, 60)],
        )
        make_run(
            journey,
            state="cancelled",
            started_at=started,
            variant="B",
            steps=[Step("upload", ok, 300), Step("review", "cancelled")],
        )
    make_run(journey, state="active", started_at=now - timedelta(days=2), steps=[Step("upload", "scheduled")])
    refresh()
    page = staff_page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{live_server.url}/admin/analytics/dashboard/?journey={journey.pk}")
    for chart in ("chart-funnel", "chart-trend", "chart-durations", "chart-ab", "chart-stages"):
        page.wait_for_selector(f"#{chart}[data-drawn=true]")
    assert page.evaluate("() => typeof window.Chart") == "function"
    assert all(url.startswith(live_server.url) for url in requests), (
        "everything is served by the app (no CDN)"
    )
    assert "Content Migration" in page.locator("h2").first.inner_text()
    assert "loses" in page.locator(".analytics-advice").inner_text()
    assert page.locator("#overdue-list tbody tr").count() == 1
    page.screenshot(path=str(tmp_path / "analytics-dashboard.png"), full_page=True)
    assert (tmp_path / "analytics-dashboard.png").stat().st_size > 10_000

    page.goto(f"{live_server.url}/admin/")
    rows = page.locator("#live-journeys tbody tr")
    assert rows.count() == 1
    assert rows.first.inner_text().split("\t")[:4] == ["Content Migration", "signup", "11", "5"]
    page.screenshot(path=str(tmp_path / "admin-home.png"), full_page=True)
