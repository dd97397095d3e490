"""Outbound HTTP for side effects: Standard Webhooks signing and the SSRF guard.

Every request the product makes to an address a user typed (journey webhooks, push and
Telegram providers, stage agent endpoints) goes through ``http_post``: the target's resolved
addresses must be public unless the host or its network is allow-listed in
``WEBHOOK_ALLOWED_HOSTS``; redirects are not followed (a redirect could point inside).

Known limit: the address is checked, then httpx resolves the name again to connect. A DNS answer
that changes in between (rebinding) is not caught; deployments that fear it should also deny
internal ranges at the network edge.
"""

import base64
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from standardwebhooks import Webhook

from journeys.errors import DomainError

MAX_RESPONSE_EXCERPT = 2000  # characters of a response body kept for the step run's record


class TargetRefused(DomainError):
    """The URL may not be called (scheme, or an internal address not allow-listed). Not retryable."""

    default_code = "target_refused"


class DeliveryFailed(Exception):
    """The request was made but failed (network error, timeout, non-2xx). Retryable."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Delivery:
    status_code: int
    body: str
    duration_ms: float

    def as_result(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "body": self.body, "duration_ms": round(self.duration_ms, 1)}


def webhook_secret_generate() -> str:
    """A new signing secret in the Standard Webhooks form ``whsec_<base64>``."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@lru_cache(maxsize=1)
def _allow_list(raw: tuple[str, ...]) -> tuple[frozenset[str], tuple[ipaddress._BaseNetwork, ...]]:
    hosts: set[str] = set()
    networks: list[ipaddress._BaseNetwork] = []
    for entry in raw:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry)
    return frozenset(hosts), tuple(networks)


def target_check(url: str) -> None:
    """Raise ``TargetRefused`` unless ``url`` is http(s) and reaches only allowed addresses."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TargetRefused(f"Only http(s) URLs with a host can be called, not {url!r}.")
    host = parts.hostname.lower()
    hosts, networks = _allow_list(tuple(settings.WEBHOOK_ALLOWED_HOSTS))
    if host in hosts:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise TargetRefused(f"The host {host!r} does not resolve ({exc}).") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if any(address in network for network in networks):
            continue
        if not address.is_global or address.is_multicast:
            raise TargetRefused(
                f"{host!r} resolves to {address}, an internal address; allow it with "
                "WEBHOOK_ALLOWED_HOSTS if it is meant to be called."
            )


@lru_cache(maxsize=1)
def _client() -> httpx.Client:
    """One client per process, shared by the dispatcher's threads (httpx clients are thread-safe),
    so connections to an endpoint are reused across step runs. It keeps at least one idle
    connection per execution thread: a batch of webhooks to one endpoint runs on warm
    connections instead of opening a new one per request."""
    threads = settings.STEP_EXECUTION_THREADS
    limits = httpx.Limits(
        max_connections=max(100, 2 * threads),
        max_keepalive_connections=max(20, threads),
        keepalive_expiry=30.0,  # seconds; a dispatcher ticks every second
    )
    return httpx.Client(
        follow_redirects=False, headers={"User-Agent": "journey-orchestrator/1.0"}, limits=limits
    )


def http_post(
    *, url: str, body: str, headers: dict[str, str] | None = None, timeout: float | None = None
) -> Delivery:
    """POST ``body`` (JSON text) to a checked target; 2xx or ``DeliveryFailed``."""
    target_check(url)
    started = time.perf_counter()
    try:
        response = _client().post(
            url,
            content=body.encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=timeout or settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    delivery = Delivery(
        status_code=response.status_code,
        body=response.text[:MAX_RESPONSE_EXCERPT],
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(
            f"{url} answered {response.status_code}: {delivery.body[:200]}", status_code=response.status_code
        )
    return delivery


def webhook_send(
    *,
    url: str,
    payload: dict[str, Any] | str,
    secret: str,
    message_id: str,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Delivery:
    """Deliver a signed webhook (Standard Webhooks: ``webhook-id``, ``-timestamp``, ``-signature``).

    ``message_id`` is the idempotency key (e.g. the step run id): a retry sends the same id, so
    the receiver can drop what it has already handled. ``payload`` given as text is sent as is.
    """
    body = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"), default=str)
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, now, body)
    signed = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "Idempotency-Key": message_id,
        **(headers or {}),
    }
    return http_post(url=url, body=body, headers=signed, timeout=timeout)
