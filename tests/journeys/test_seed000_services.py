"""Seed 000's journey composed of services, end to end: the documented definition calls two
local HTTP services through the service directory (a real Celery worker, real servers), branches
on their answers, and a webhook subscription receives its milestone events once per key."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from standardwebhooks import Webhook

from journeys.models import Event, ServiceCall, StepRun
from tests.seed_docs import python_literal

NEEDS_TRANSFORM = {
    "field": "context.services.analyze.experience_api.needs_transform",
    "op": "eq",
    "value": True,
}


class ServiceServer:
    """A local service: answers each signed POST with ``answer(body)`` as JSON, recording it."""

    def __init__(self, answer: Callable[[dict], dict]) -> None:
        server = self
        self.requests: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append(
                    {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": raw}
                )
                reply = json.dumps(answer(json.loads(raw))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/call"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def gateway_answer(body: dict) -> dict:
    """The gateway finds data to transform for ada only, and echoes the personalization it got."""
    return {
        "operation": body["operation"],
        "needs_transform": body["user_id"] == "ada",
        "greeted": (body.get("personalization") or {}).get("display_name"),
    }


def experience_answer(body: dict) -> dict:
    return {"display_name": body["participant"]["attributes"].get("name", body["user_id"]).upper()}


@pytest.fixture
def services(settings) -> Iterator[tuple[ServiceServer, ServiceServer]]:
    settings.WEBHOOK_ALLOWED_HOSTS = [*settings.WEBHOOK_ALLOWED_HOSTS, "127.0.0.1"]
    gateway, experience = ServiceServer(gateway_answer), ServiceServer(experience_answer)
    try:
        yield gateway, experience
    finally:
        gateway.close()
        experience.close()


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def waiting_at(run_id: int, step_key: str) -> Callable[[], bool]:
    return lambda: StepRun.objects.filter(
        user_journey_id=run_id, step_key=step_key, status="scheduled", waiting_for="manual"
    ).exists()


def test_a_seed_000_journey_calls_directory_services_and_branches_on_their_answers(
    admin_api, celery_worker, webhook_sink, services
):
    gateway, experience = services
    call_command("bootstrap", "--no-admin", "--no-demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
    celery_worker(extra_env={"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"})
    for key, server in (("FrontendGateway", gateway), ("UserExperience", experience)):
        changed = admin_api.patch(
            f"/api/v1/services/{key}", {"kind": "http", "endpoint_url": server.url}, format="json"
        )
        assert changed.status_code == 200, changed.json()
    secrets = {
        key: admin_api.post(f"/api/v1/services/{key}/rotate-secret").json()["secret"]
        for key in ("FrontendGateway", "UserExperience")
    }
    subscription = admin_api.post(
        "/api/v1/webhook-subscriptions",
        {"name": "sink", "url": webhook_sink.url, "event_types": ["journey.milestone.*"]},
        format="json",
    ).json()
    definition = python_literal("000", '"journey_id": "content_migration_001"')
    analyze = definition["milestones"][1]
    analyze["next_steps"] = [{"step": "transform", "condition": NEEDS_TRANSFORM}, {"step": "validate"}]
    journey = admin_api.post("/api/v1/journeys", definition, format="json").json()
    assert admin_api.post(f"/api/v1/journeys/{journey['id']}/publish").status_code == 200
    runs = {}
    for user_id in ("ada", "bob"):
        admin_api.post(
            "/api/v1/participants", {"user_id": user_id, "attributes": {"name": user_id}}, format="json"
        )
        runs[user_id] = admin_api.post(
            f"/api/v1/journeys/{journey['id']}/enroll", {"user_id": user_id}, format="json"
        ).json()["id"]

    for user_id, run_id in runs.items():
        wait_for(waiting_at(run_id, "upload"))
        assert admin_api.post(f"/api/v1/user-journeys/{run_id}/advance", {}, format="json").status_code == 200
        wait_for(waiting_at(run_id, "analyze"))
        advanced = admin_api.post(f"/api/v1/user-journeys/{run_id}/advance", {}, format="json").json()
        branch = "transform" if user_id == "ada" else "validate"
        assert advanced["current_step"] == branch
        wait_for(waiting_at(run_id, branch))

    ada = admin_api.get(f"/api/v1/user-journeys/{runs['ada']}").json()
    assert ada["context"]["services"]["analyze"]["experience_api"] == {
        "operation": "handle_insights_request",
        "needs_transform": True,
        "greeted": "ADA",
    }
    assert ada["context"]["personalization"] == {"display_name": "ADA"}
    tracked = ada["context"]["services"]["upload"]["session_tracking"]
    assert tracked["tracked"] is True and tracked["state"]["milestone"] == "upload"
    # Each call was signed with its service's secret and says whose context it carries.
    called = {}
    for server, key in ((gateway, "FrontendGateway"), (experience, "UserExperience")):
        bodies = [Webhook(secrets[key]).verify(r["body"], r["headers"]) for r in server.requests]
        called[key] = sorted((b["user_id"], b["milestone"]) for b in bodies)
    assert called["UserExperience"] == [
        ("ada", "analyze"),
        ("ada", "upload"),
        ("bob", "analyze"),
        ("bob", "upload"),
    ]
    assert called["FrontendGateway"] == sorted(
        [*called["UserExperience"], ("ada", "transform"), ("bob", "validate")]
    )
    calls = admin_api.get("/api/v1/service-calls", {"user_journey": runs["bob"]}).json()["results"]
    assert {(c["step_key"], c["role"], c["status"]) for c in calls} >= {
        ("analyze", "experience_api", "succeeded"),
        ("upload", "personalization", "succeeded"),
    }
    assert all(len(c["attempt_log"]) == 1 for c in calls)

    milestone_events = Event.objects.filter(type__startswith="journey.milestone.")
    wait_for(lambda: len(webhook_sink.requests) >= milestone_events.count())
    time.sleep(1)
    keys = sorted(milestone_events.values_list("idempotency_key", flat=True))
    assert sorted(r["headers"]["webhook-id"] for r in webhook_sink.requests) == keys  # once per key
    delivered = [
        Webhook(subscription["secret"]).verify(r["body"], r["headers"]) for r in webhook_sink.requests
    ]
    assert sorted(
        b["data"]["milestone"] for b in delivered if b["type"] == "journey.milestone.completed"
    ) == [
        "analyze",
        "analyze",
        "upload",
        "upload",
    ]
    # Two milestones with three services, then one with two (no personalization), per participant.
    assert ServiceCall.objects.filter(status="succeeded").count() == 16
