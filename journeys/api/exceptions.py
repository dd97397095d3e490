"""One exception handler for the whole API: domain errors become 4xx (services turn the state
machine's refusals into ``Conflict``), and a database that cannot answer (down, connection
dropped, a deadlock retried out) a JSON 503 with ``Retry-After``: the client should try again,
and nothing of its request was kept."""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from journeys.errors import DomainError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5  # what a client is told to wait when the database cannot answer


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable for %s: %s", context.get("request"), exc)
        return Response(
            {"detail": "The service cannot reach its database; try again shortly.", "code": "unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
