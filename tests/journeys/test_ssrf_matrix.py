"""The SSRF guard against a matrix of internal targets, at send time and when a journey is saved.

A canary HTTP server on 127.0.0.1 stands for whatever lives inside the network: every loopback
form of the matrix points at its port, and it must never be reached. The controls prove the
harness can see a hit (the canary answers when allow-listed) and that the guard does not refuse
public addresses written in the same forms.
"""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from journeys.crypto import secret_decrypt
from journeys.models import Journey, StepRun
from journeys.webhooks import (
    DeliveryFailed,
    TargetRefused,
    target_refusal,
    webhook_secret_generate,
    webhook_send,
)
from tests.journeys.factories import action, make_journey


class Canary:
    """Records every request it receives, whatever the method; answers ``status`` (and, for a
    redirect, ``location``)."""

    def __init__(self, status: int = 200, location: str = "") -> None:
        canary = self
        self.hits: list[tuple[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                canary.hits.append((self.command, self.path))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def canary_server():
    server = Canary()
    yield server
    server.close()


@pytest.fixture
def canary(canary_server, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    canary_server.hits.clear()
    return canary_server


# Loopback in every notation, aimed at the canary's port.
LOOPBACK = [
    "http://127.0.0.1:{port}/",
    "http://127.0.0.2:{port}/",
    "http://127.1:{port}/",
    "http://2130706433:{port}/",  # decimal
    "http://0177.0.0.1:{port}/",  # octal
    "http://017700000001:{port}/",  # octal, one number
    "http://0x7f.1:{port}/",  # hex
    "http://0x7f000001:{port}/",  # hex, one number
    "http://localhost:{port}/",  # a name resolving to loopback
    "http://LOCALHOST:{port}/",
    "http://localhost.:{port}/",  # the absolute name
    "http://[::1]:{port}/",
    "http://[0:0:0:0:0:0:0:1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",  # IPv4-mapped
    "http://[::ffff:7f00:1]:{port}/",  # IPv4-mapped, hex
    "http://[64:ff9b::7f00:1]:{port}/",  # NAT64
    "http://[64:ff9b::127.0.0.1]:{port}/",  # NAT64, dotted
    "http://[2002:7f00:1::]:{port}/",  # 6to4
    "http://[::127.0.0.1]:{port}/",  # IPv4-compatible (deprecated)
    "http://0.0.0.0:{port}/",  # unspecified: Linux connects it to loopback
    "http://0:{port}/",
    "http://[::]:{port}/",
    "http://user@127.0.0.1:{port}/",  # credentials in front of the host
    "http://127.0.0.1:{port}#@example.com/",  # a fragment that looks like a host
    "https://127.0.0.1:{port}/",
]
# Metadata services, link-local, private, shared and reserved ranges, in their IPv6 disguises.
INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/latest/meta-data/",  # cloud metadata over IPv6
    "http://2852039166/latest/meta-data/",  # 169.254.169.254, decimal
    "http://0xa9fea9fe/latest/meta-data/",  # hex
    "http://0251.0376.0251.0376/latest/meta-data/",  # octal
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",  # link-local with a zone
    "http://10.0.0.7/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "http://[fc00::1]/",  # unique local
    "http://[fec0::1]/",  # site-local (deprecated)
    "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::a00:1]/",
    "http://[2002:c0a8:101::1]/",
    "http://[::10.0.0.1]/",
    "http://[64:ff9b:1::a00:1]/",  # local-use NAT64
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",
    "http://255.255.255.255/",  # broadcast
    "http://198.18.0.1/",  # benchmarking
    "http://240.0.0.1/",  # reserved
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/",
]
MATRIX = LOOPBACK + INTERNAL


def aimed(target: str, canary: Canary) -> str:
    return target.format(port=canary.port)


def send(url: str):
    return webhook_send(url=url, payload={"probe": True}, secret=webhook_secret_generate(), message_id="m-1")


def test_the_matrix_is_large_enough():
    assert len(MATRIX) >= 40 and len(set(MATRIX)) == len(MATRIX)


# ------------------------------------------------------------------------------------------------
# At send time
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", MATRIX)
def test_an_internal_target_is_refused_before_any_request_is_made(canary, target):
    with pytest.raises(TargetRefused):
        send(aimed(target, canary))
    assert canary.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/",
        "http://134744072/",  # 8.8.8.8, decimal
        "http://[::ffff:8.8.8.8]/",
        "http://[64:ff9b::808:808]/",  # NAT64 of a public address
        "http://[2002:808:808::1]/",  # 6to4 of a public address
        "http://[2606:4700:4700::1111]/",
    ],
)
def test_public_addresses_pass_the_guard_in_every_notation(settings, url):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    assert target_refusal(url) is None


def test_a_name_resolving_to_an_internal_address_is_refused_even_among_public_ones(canary, monkeypatch):
    # The resolver is the edge of the world here: names the test network cannot serve.
    answers = {"intranet.example.test": ["10.0.0.5"], "mixed.example.test": ["93.184.216.34", "127.0.0.1"]}
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    for host in answers:
        with pytest.raises(TargetRefused, match="resolves to"):
            send(f"http://{host}:{canary.port}/")
    assert canary.hits == []


def test_a_name_that_does_not_resolve_is_refused_when_called(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(TargetRefused, match="does not resolve"):
        send("http://no-such-host.invalid/")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_an_internal_target_is_not_followed(canary, settings, status):
    redirector = Canary(status=status, location=f"http://127.0.0.1:{canary.port}/internal")
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost"]  # the redirector, by name; not the canary's address
    try:
        with pytest.raises(DeliveryFailed) as failure:
            send(f"http://localhost:{redirector.port}/hook")
    finally:
        redirector.close()
    assert failure.value.status_code == status
    assert redirector.hits == [("POST", "/hook")]
    assert canary.hits == []


# ------------------------------------------------------------------------------------------------
# The allow-list keeps working (and proves the canary would have seen a request)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("allowed", "target"),
    [
        (["127.0.0.1"], "http://127.0.0.1:{port}/hook"),
        (["127.0.0.0/8"], "http://2130706433:{port}/hook"),
        (["127.0.0.0/8"], "http://0x7f.1:{port}/hook"),
        (["localhost"], "http://localhost:{port}/hook"),
    ],
)
def test_an_allow_listed_internal_target_is_called(canary, settings, allowed, target):
    settings.WEBHOOK_ALLOWED_HOSTS = allowed
    assert send(aimed(target, canary)).status_code == 200
    assert canary.hits == [("POST", "/hook")]


# ------------------------------------------------------------------------------------------------
# When a journey is saved, and when a saved journey runs
# ------------------------------------------------------------------------------------------------
def webhook_journey(url: str) -> dict:
    return {
        "name": "Probe",
        "trigger_type": "signup",
        "steps": [{"key": "hook", "name": "Hook", "action_type": "trigger_webhook", "config": {"url": url}}],
    }


@pytest.mark.django_db
def test_every_internal_target_is_refused_when_a_journey_is_saved_through_the_api(admin_api, canary):
    accepted = {}
    for target in MATRIX:
        response = admin_api.post("/api/v1/journeys", webhook_journey(aimed(target, canary)), format="json")
        if response.status_code != 400 or list(response.json()) != ["steps.0.config.url"]:
            accepted[target] = (response.status_code, response.content[:200])

    assert accepted == {}
    assert not Journey.objects.exists()
    assert canary.hits == []


@pytest.mark.django_db
def test_an_internal_target_is_refused_when_a_journeys_steps_are_replaced(admin_api, canary):
    journey = make_journey([action("hook", "trigger_webhook", {"url": "https://crm.example.com/a"})])
    body = {"steps": webhook_journey("http://169.254.169.254/latest/meta-data/")["steps"]}

    response = admin_api.patch(f"/api/v1/journeys/{journey.pk}", body, format="json")

    assert response.status_code == 400
    assert "169.254.169.254" in response.json()["steps.0.config.url"][0]
    assert journey.steps.get().config["url"] == "https://crm.example.com/a"


@pytest.mark.django_db
def test_a_public_target_that_does_not_resolve_yet_can_be_saved(admin_api, canary):
    response = admin_api.post(
        "/api/v1/journeys", webhook_journey("https://hooks.example.invalid/x"), format="json"
    )
    assert response.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target", ["http://0x7f.1:{port}/", "http://[::ffff:127.0.0.1]:{port}/", "http://0.0.0.0:{port}/"]
)
def test_a_step_run_whose_target_became_forbidden_fails_without_reaching_it(canary, settings, emit, target):
    # Saved while allow-listed; the check before the call sees the list as it is now.
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8", "0.0.0.0/32"]
    make_journey([action("hook", "trigger_webhook", {"url": aimed(target, canary)})])
    settings.WEBHOOK_ALLOWED_HOSTS = []

    emit("signup")

    run = StepRun.objects.get()
    assert run.status == StepRun.Status.FAILED and "TargetRefused" in run.error
    assert canary.hits == []


@pytest.mark.django_db
def test_an_allow_listed_step_reaches_the_canary_signed(canary, settings, emit):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    journey = make_journey([action("hook", "trigger_webhook", {"url": f"http://127.0.0.1:{canary.port}/h"})])
    emit("signup")
    assert StepRun.objects.get().status == StepRun.Status.SUCCEEDED
    assert canary.hits == [("POST", "/h")]
    assert secret_decrypt(journey.steps.get().config["secret"]).startswith("whsec_")


def test_a_provider_url_the_guard_would_refuse_is_reported_at_start_up(settings):
    from journeys.checks import provider_targets_check

    settings.WEBHOOK_ALLOWED_HOSTS = []
    settings.PUSH_PROVIDER_URL = "http://[::ffff:10.0.0.5]/push"
    settings.TELEGRAM_API_BASE = "https://api.telegram.org"
    [warning] = provider_targets_check()
    assert warning.id == "journeys.W001" and "PUSH_PROVIDER_URL" in warning.msg and "10.0.0.5" in warning.msg

    settings.WEBHOOK_ALLOWED_HOSTS = ["10.0.0.0/8"]
    assert provider_targets_check() == []
