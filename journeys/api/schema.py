"""The OpenAPI schema documents the error answers every operation can give, not only its success.

Which errors an operation can answer follows from its shape, the same way for every app: a body
or parameters can be invalid (400), a body can be too large (413) or not JSON (415), a path can
name nothing (404), credentials can be missing (401) or insufficient (403), a client can be
throttled (429). Operations add what only they can answer (409 for a refused transition) with
``@extend_schema(responses=...)``; what they declare wins over these defaults.
"""

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every non-validation error: a sentence and a stable code, sometimes more."""

    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(required=False, help_text="A stable identifier, for a program.")


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Messages per field, keyed by dot path (`payload.note`, `steps.2.config.url`; an item's "
        "position for batches), `non_field_errors` for the whole body; or `detail` (and `code`) "
        "when the body or a parameter cannot be read at all."
    ),
    "additionalProperties": {},
    "example": {"type": ["This field is required."], "payload.note": ["NUL characters are not allowed."]},
}

BODY_METHODS = {"POST", "PUT", "PATCH"}


class StrictFilterExtension(DjangoFilterExtension):
    """A list without a ``filterset_class`` takes no filter parameters (only pagination's)."""

    target_class = "journeys.api.filters.StrictFilterBackend"
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs) -> list[dict]:
        if getattr(auto_schema.view, "filterset_class", None) is None:
            return []
        return super().get_schema_operation_parameters(auto_schema, *args, **kwargs)


class LocalTimeFieldExtension(OpenApiSerializerFieldExtension):
    """A time of day without a zone (``21:00:00``, read in the participant's time zone).

    OpenAPI's ``format: time`` is RFC 3339's, which requires an offset (``21:00:00Z``): the
    answers would contradict it. A pattern says what is sent and accepted.
    """

    target_class = "rest_framework.fields.TimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction) -> dict:
        return {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
            "example": "21:00:00",
        }


class ApiAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry) -> dict | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = {"$ref": self.resolve_serializer(ErrorSerializer, "response").ref["$ref"]}
        responses = operation.setdefault("responses", {})

        def add(code: str, description: str, schema: dict) -> None:
            responses.setdefault(
                code, {"content": {"application/json": {"schema": schema}}, "description": description}
            )

        for code, examples in self._error_examples().items():
            if code == "400":
                add(code, "Invalid input: messages per field.", VALIDATION_ERROR_SCHEMA)
            else:
                add(code, "Refused in the current state." if code == "409" else "Refused.", error)
            body = responses[code].get("content", {}).get("application/json")
            if body is not None:
                body.setdefault("examples", examples)

        parameters = operation.get("parameters", [])
        has_body = method in BODY_METHODS
        if has_body or parameters:
            add("400", "Invalid input: messages per field.", VALIDATION_ERROR_SCHEMA)
        add("401", "No valid credentials (JWT, API key or session).", error)
        if self.view.get_permissions():
            add("403", "The credentials do not allow this operation.", error)
        if any(parameter["in"] == "path" for parameter in parameters):
            add("404", "Nothing with this identifier.", error)
        if has_body:
            add("413", "The body is larger than the server accepts.", error)
            add("415", "The body is not in a supported media type.", error)
        if self.view.get_throttles():
            add("429", "Too many requests; retry after the Retry-After header's seconds.", error)
        return dict(operation, responses=dict(sorted(responses.items())))

    def _error_examples(self) -> dict[str, dict[str, dict]]:
        """Error answers the operation shows an example of are answers it documents."""
        found: dict[str, dict[str, dict]] = {}
        for example in self.get_examples():
            for code in example.status_codes or ():
                if str(code) >= "400" and example.response_only:
                    found.setdefault(str(code), {})[camelize(example.name)] = {
                        "value": example.value,
                        "summary": example.summary or example.name,
                    }
        return found


def camelize(name: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in name.split())
