"""One exception handler for the whole API: domain errors and FSM refusals become 4xx."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django_fsm import TransitionNotAllowed
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from journeys.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, TransitionNotAllowed):
        instance = getattr(exc, "object", None)
        state = getattr(instance, "state", None) or getattr(instance, "status", None)
        return Response(
            {
                "detail": str(exc) or "This transition is not allowed now.",
                "code": "invalid_transition",
                "current_state": state,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
