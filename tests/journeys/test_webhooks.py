import base64
import json

import pytest
from standardwebhooks import Webhook

from journeys.webhooks import DeliveryFailed, TargetRefused, webhook_secret_generate, webhook_send


def test_a_webhook_is_signed_per_standard_webhooks_and_carries_the_idempotency_key(webhook_sink):
    secret = webhook_secret_generate()
    webhook_send(
        url=f"{webhook_sink.url}/hook", payload={"hello": "world"}, secret=secret, message_id="step-run-7"
    )

    [request] = webhook_sink.requests
    assert request["headers"]["webhook-id"] == "step-run-7"
    assert request["headers"]["idempotency-key"] == "step-run-7"
    assert Webhook(secret).verify(request["body"], request["headers"]) == {"hello": "world"}
    assert json.loads(request["body"]) == {"hello": "world"}


def test_the_request_goes_to_the_path_and_query_given_with_credentials_as_basic_auth(webhook_sink):
    host = webhook_sink.url.removeprefix("http://")
    url = f"http://hooks:p%40ss%2541@{host}/in/bound?source=journeys#not-sent"
    delivery = webhook_send(url=url, payload={"a": 1}, secret=webhook_secret_generate(), message_id="m")

    [request] = webhook_sink.requests
    assert request["path"] == "/in/bound?source=journeys"
    assert request["headers"]["authorization"] == "Basic " + base64.b64encode(b"hooks:p@ss%41").decode()
    assert request["headers"]["user-agent"] == "journey-orchestrator/1.0"
    assert (delivery.status_code, json.loads(delivery.body)) == (200, {"ok": True})


def test_a_non_2xx_answer_is_a_retryable_failure(webhook_sink):
    webhook_sink.status = 503
    with pytest.raises(DeliveryFailed) as failure:
        webhook_send(url=webhook_sink.url, payload={}, secret=webhook_secret_generate(), message_id="m")
    assert failure.value.status_code == 503


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "ftp://example.com/file",
    ],
)
def test_internal_and_non_http_targets_are_refused(url, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(TargetRefused):
        webhook_send(url=url, payload={}, secret=webhook_secret_generate(), message_id="m")


def test_an_allow_listed_network_may_be_called(webhook_sink, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    webhook_send(url=webhook_sink.url, payload={"a": 1}, secret=webhook_secret_generate(), message_id="m")
    assert webhook_sink.json_bodies() == [{"a": 1}]
