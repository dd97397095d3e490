"""Saved research, and searching through the configured provider (a real local HTTP server)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.workspace.conftest import image_bytes
from tests.workspace.test_uploads import upload


@pytest.fixture
def search_provider(settings):
    """A provider answering two results for any query; it records the queries it was asked."""
    asked: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            asked.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = {
                "results": [
                    {
                        "title": "Nordic Kitchens AS",
                        "url": "https://example.com/nordic",
                        "snippet": "Fitters",
                    },
                    {"title": "no url, dropped"},
                    {"title": "Oak worktops", "url": "https://example.com/oak", "snippet": "Solid oak"},
                ]
            }
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.WEBHOOK_ALLOWED_HOSTS = [*settings.WEBHOOK_ALLOWED_HOSTS, "127.0.0.1"]
    settings.WORKSPACE_SEARCH_PROVIDER_URL = f"http://127.0.0.1:{server.server_address[1]}/search"
    yield asked
    server.shutdown()
    server.server_close()


def test_results_from_the_provider_are_saved_to_a_step(client_as, owner, base_url, search_provider):
    client = client_as(owner)
    found = client.get(f"{base_url}/research/search", {"q": "kitchen fitters"})

    assert found.status_code == 200
    assert [r["title"] for r in found.json()] == ["Nordic Kitchens AS", "Oak worktops"]
    assert search_provider == [{"query": "kitchen fitters", "limit": 10}]
    saved = client.post(
        f"{base_url}/research", {**found.json()[0], "step_key": "quotes", "note": "Call them"}
    )
    assert saved.status_code == 201
    listed = client.get(f"{base_url}/research", {"step_key": "quotes"}).json()["results"]
    assert [(r["title"], r["note"]) for r in listed] == [("Nordic Kitchens AS", "Call them")]


def test_without_a_provider_research_is_saved_by_hand(client_as, owner, base_url, settings):
    settings.WORKSPACE_SEARCH_PROVIDER_URL = ""
    client = client_as(owner)
    refused = client.get(f"{base_url}/research/search", {"q": "tiles"})
    assert refused.status_code == 400 and "by hand" in refused.json()["q"][0]
    bad = client.post(f"{base_url}/research", {"title": "x", "url": "not a url"})
    assert bad.status_code == 400 and "url" in bad.json()


def test_a_provider_that_does_not_answer_is_a_503(client_as, owner, base_url, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = [*settings.WEBHOOK_ALLOWED_HOSTS, "127.0.0.1"]
    settings.WORKSPACE_SEARCH_PROVIDER_URL = "http://127.0.0.1:9/search"  # nothing listens there
    response = client_as(owner).get(f"{base_url}/research/search", {"q": "tiles"})
    assert response.status_code == 503 and response.json()["code"] == "provider_unavailable"


def test_uploads_are_rate_limited_per_person(client_as, owner, base_url, collaborator):
    from rest_framework.throttling import ScopedRateThrottle

    original = ScopedRateThrottle.THROTTLE_RATES  # read once by DRF, at import
    ScopedRateThrottle.THROTTLE_RATES = {**original, "uploads": "2/min"}
    try:
        mine = [upload(client_as(owner), base_url, image_bytes(), f"{n}.png").status_code for n in range(3)]
        theirs = upload(client_as(collaborator("editor")), base_url, image_bytes(), "x.png").status_code
    finally:
        ScopedRateThrottle.THROTTLE_RATES = original
    assert mine == [201, 201, 429]
    assert theirs == 201  # another person's budget
