"""Outbound HTTP for side effects: Standard Webhooks signing and the SSRF guard.

Every request the product makes to an address a user typed (journey webhooks, push and
Telegram providers, stage agent endpoints) goes through ``http_post``: the target's resolved
addresses must be public unless the host or its network is allow-listed in
``WEBHOOK_ALLOWED_HOSTS``; redirects are not followed (a redirect could point inside). IPv6
forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address, and
deprecated ranges (IPv4-compatible, site-local) are refused. The same check runs when a target
is saved (``target_refusal``), so a forbidden URL is refused with a field error up front.

Known limit: the address is checked, then the name is resolved again to connect. A DNS answer
that changes in between (rebinding) is not caught; deployments that fear it should also deny
internal ranges at the network edge.
"""

import base64
import email.message
import ipaddress
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
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
            hosts.add(entry.rstrip("."))
    return frozenset(hosts), tuple(networks)


NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translators
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")  # RFC 3056: the IPv4 address is bits 16-48
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291 §2.5.5.1, deprecated
TEREDO = ipaddress.ip_network("2001::/32")  # RFC 4380: the client address is obfuscated


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one
    (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002:AABB:CCDD::``)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in SIX_TO_FOUR:
        return address.sixtofour
    return None


def _ipv6_refusal(address: ipaddress.IPv6Address) -> str | None:
    """Steps 1 and 2 of ``address_refusal`` for an IPv6 address: a reason, ``""`` when the
    IPv4 address it carries is public (nothing more to judge), ``None`` to go on to step 3."""
    if address.scope_id:
        address = ipaddress.IPv6Address(address.compressed.partition("%")[0])
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    embedded = embedded_ipv4(address)
    if embedded is not None:
        reason = address_refusal(embedded)
        return f"it carries {embedded}, {reason}" if reason else ""
    if address in IPV4_COMPATIBLE:
        return "an IPv4-compatible IPv6 address (deprecated)"
    if address.is_site_local:
        return "a site-local IPv6 address (deprecated)"
    if address in TEREDO:
        return "a Teredo address"
    if address in NAT64_LOCAL_USE:
        return "a local-use NAT64 address"
    return None


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address may not be called (``None``: a public unicast address).

    1. An IPv6 form that carries an IPv4 address is judged by that address (``::ffff:127.0.0.1``
       and ``64:ff9b::7f00:1`` are loopback, ``2002:a9fe:a9fe::`` is the metadata service).
    2. Deprecated or opaque IPv6 ranges are refused whatever they carry: IPv4-compatible
       (``::a.b.c.d``), site-local (``fec0::/10``), Teredo, the local-use NAT64 prefix.
    3. Everything else must be global (``ipaddress.is_global``: not loopback, private,
       link-local, shared 100.64/10, documentation, benchmarking, reserved…) and not multicast.
    """
    if isinstance(address, ipaddress.IPv6Address):
        verdict = _ipv6_refusal(address)
        if verdict is not None:
            return verdict or None
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if address.is_private:
        return "a private address"
    if address.is_multicast:
        return "a multicast address"
    if not address.is_global:
        return "not a public address"
    return None


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks) -> bool:
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and (embedded := embedded_ipv4(address)):
        candidates.append(embedded)
    return any(candidate in network for candidate in candidates for network in networks)


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL with a host (and parses at all)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range raises here
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def target_refusal(url: str, *, unresolvable_ok: bool = False) -> str | None:
    """Why ``url`` may not be called, or ``None`` (see ``_judged``)."""
    return _judged(url, unresolvable_ok=unresolvable_ok)[1]


def _judged(url: str, *, unresolvable_ok: bool = False) -> tuple[httpx.URL | None, str | None]:
    """``url`` parsed as it will be called, and why it may not be (``None``: it may).

    Only http(s) URLs with a host; every address the host resolves to must pass
    ``address_refusal`` unless the host, or a network holding the address, is allow-listed
    (``WEBHOOK_ALLOWED_HOSTS``). Numeric hosts in any notation (``2130706433``, ``0177.0.0.1``,
    ``0x7f.1``) are resolved the way the connection will resolve them, so they are judged by the
    address they reach. ``unresolvable_ok`` lets a name that does not resolve (yet) pass: it is
    how targets are checked when saved; the check before each call refuses it.
    """
    try:
        # The host as the HTTP client will connect to it (its parser, IDNA-encoded), so a URL
        # that two parsers read differently is judged by what is actually called.
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
        if ":" in host:  # an IPv6 literal; a zone (fe80::1%25eth0) does not change what it is
            host = host.partition("%")[0]
    except (httpx.InvalidURL, UnicodeError, ValueError, TypeError) as exc:
        return None, f"{url!r} is not a valid URL ({exc})."
    if parsed.scheme not in {"http", "https"} or not host:
        return parsed, f"Only http(s) URLs with a host can be called, not {url!r}."
    hosts, networks = _allow_list(tuple(settings.WEBHOOK_ALLOWED_HOSTS))
    if host in hosts:
        return parsed, None
    try:
        infos = socket.getaddrinfo(
            host, parsed.port or (443 if parsed.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError, OverflowError, ValueError) as exc:
        if unresolvable_ok and ":" not in host:
            return parsed, None
        return parsed, f"The host {host!r} does not resolve ({exc})."
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _allowed(address, networks):
            continue
        reason = address_refusal(address)
        if reason:
            return parsed, (
                f"{host!r} resolves to {address}, {reason}; internal addresses are refused "
                "unless allow-listed in WEBHOOK_ALLOWED_HOSTS."
            )
    return parsed, None


def validate_public_target(url: str) -> None:
    """Model and form validator: refuse a forbidden target when it is saved."""
    if url and (refusal := target_refusal(url, unresolvable_ok=True)):
        raise ValidationError(refusal)


def target_check(url: str) -> httpx.URL:
    """Raise ``TargetRefused`` unless ``url`` is http(s) and reaches only allowed addresses;
    returns it parsed, as it is to be called."""
    parsed, refusal = _judged(url)
    if refusal:
        raise TargetRefused(refusal)
    return parsed


_pools = threading.local()
USER_AGENT = "journey-orchestrator/1.0"
KEPT_CONNECTIONS = 20  # idle connections kept per endpoint and execution thread


def _pool_manager() -> urllib3.PoolManager:
    """One connection pool manager per thread, kept for the life of the process, so connections
    to an endpoint are reused across step runs. Not one shared manager: the dispatcher's
    execution threads would queue on its pools' locks.

    urllib3 rather than httpx: a request to a fast receiver cost 700 µs of CPU through httpx
    and 390 µs through urllib3, and the dispatcher sends hundreds a second from one process.
    """
    manager = getattr(_pools, "manager", None)
    if manager is None:
        manager = _pools.manager = urllib3.PoolManager(
            maxsize=KEPT_CONNECTIONS, retries=False, ca_certs=certifi.where()
        )
    return manager


def _checked_request(
    method: str, url: str, *, body: bytes | None, headers: dict[str, str], timeout: float
) -> urllib3.BaseHTTPResponse:
    """Send to the address the guard judged: the target is parsed once, by the guard, and the
    connection is made to that host and port, so no second parser can read
    the URL differently. Credentials in the URL go as Basic auth; the fragment stays here."""
    parsed = target_check(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    headers = {"User-Agent": USER_AGENT, **headers}
    if parsed.userinfo:
        headers.update(urllib3.make_headers(basic_auth=f"{parsed.username}:{parsed.password}"))
    pool = _pool_manager().connection_from_host(host, port, scheme=parsed.scheme)
    return pool.urlopen(
        method,
        parsed.raw_path.decode("ascii"),
        body=body,
        headers=headers,
        redirect=False,
        retries=False,
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
    )


def _text(response: urllib3.BaseHTTPResponse) -> str:
    """The body as text, in the charset the response names (UTF-8 when it names none)."""
    charset = email.message.Message()
    charset["Content-Type"] = response.headers.get("Content-Type", "")
    encoding = charset.get_content_charset() or "utf-8"
    try:
        return response.data.decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know
        return response.data.decode("utf-8", errors="replace")


def http_request(
    *,
    method: str,
    url: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Delivery:
    """Make a request to a checked target (``TargetRefused`` otherwise); the answer, whatever
    its status, or ``DeliveryFailed`` when none came (network error, timeout)."""
    started = time.perf_counter()
    try:
        response = _checked_request(
            method,
            url,
            body=None if body is None else body.encode(),
            headers=headers or {},
            timeout=timeout or settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    return Delivery(
        status_code=response.status,
        body=_text(response)[:MAX_RESPONSE_EXCERPT],
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def http_post(
    *, url: str, body: str, headers: dict[str, str] | None = None, timeout: float | None = None
) -> Delivery:
    """POST ``body`` (JSON text) to a checked target; 2xx or ``DeliveryFailed``."""
    delivery = http_request(
        method="POST",
        url=url,
        body=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=timeout,
    )
    if not 200 <= delivery.status_code < 300:
        raise DeliveryFailed(
            f"{url} answered {delivery.status_code}: {delivery.body[:200]}", status_code=delivery.status_code
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
