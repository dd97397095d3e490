"""Everything under ``/api/`` answers JSON, even before or outside a DRF view.

``ApiRequestGuardMiddleware`` refuses what no view can handle (a body over the upload limit, a
NUL character in the path or query string: Postgres cannot store or compare it) and the
``handler*`` views replace Django's HTML error pages for API paths (an unknown URL, a refused
request, a crash).
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


class ApiRequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request):
            refused = self.refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    @staticmethod
    def refusal(request: HttpRequest) -> HttpResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"detail": "Content-Length is not a number.", "code": "parse_error"}, status=400
            )
        if limit is not None and length > limit:
            return JsonResponse(
                {
                    "detail": f"The request body is larger than {limit} bytes.",
                    "code": "request_too_large",
                },
                status=413,
            )
        if "\x00" in request.path:
            return JsonResponse(
                {"detail": "NUL characters (%00) are not allowed in the path.", "code": "invalid"}, status=400
            )
        bad = sorted(
            {
                key.replace("\x00", "%00")
                for key, values in request.GET.lists()
                if "\x00" in key or any("\x00" in value for value in values)
            }
        )
        if bad:
            return JsonResponse({name: ["NUL characters (%00) are not allowed."] for name in bad}, status=400)
        return None


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action.", "code": "permission_denied"},
            status=403,
        )
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse(
            {"detail": f"No API endpoint at {request.path}.", "code": "not_found"}, status=404
        )
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse(
            {"detail": "Internal server error; it has been logged.", "code": "server_error"}, status=500
        )
    return defaults.server_error(request)
