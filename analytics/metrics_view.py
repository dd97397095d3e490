"""``/metrics``: Prometheus text format, for a scraper holding the token or on an allowed network.

Counters live in process (prometheus_client); with ``PROMETHEUS_MULTIPROC_DIR`` set, every
gunicorn and Celery process writes its own files there and a scrape merges them. Nothing here
touches the database.
"""

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

VIEW_ANALYTICS = "analytics.view_analytics"


def _bearer_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _network_ok(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS
    )


def metrics_allowed(request: HttpRequest) -> bool:
    """The token, an allowed network, or a signed-in member of staff who may read analytics."""
    user = getattr(request, "user", None)
    staff = bool(user and user.is_authenticated and user.has_perm(VIEW_ANALYTICS))
    return _bearer_ok(request) or _network_ok(request) or staff


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return merged
    return REGISTRY


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        response = HttpResponse("Metrics need a bearer token or an allowed network.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
