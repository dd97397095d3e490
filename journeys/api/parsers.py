"""Request body parsing: JSON that Postgres and the rest of the code can hold, or a clear 400.

Python's JSON reader accepts things the database or the interpreter cannot take further:
``1e999`` becomes ``inf`` (Postgres ``jsonb`` refuses it), ``\\u0000`` becomes a NUL character
(``text`` and ``jsonb`` refuse it) and thousands of nested arrays raise ``RecursionError``. Each
is refused here with a message naming where it is, before any view sees the data.
"""

import json
from typing import Any

from django.conf import settings
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

from journeys.json_limits import MAX_JSON_DEPTH, json_data_problems


def json_data_check(data: Any) -> Any:
    """``data`` unchanged, or a ``ValidationError`` (400) listing every problem by path."""
    problems = json_data_problems(data)
    if problems:
        raise serializers.ValidationError(problems)
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded: size, nesting depth, NUL characters, finite numbers."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        text = read_text(stream, parser_context)
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.") from None
        except ValueError as exc:  # also UnicodeDecodeError and over-long integers
            raise ParseError(f"JSON parse error - {exc}") from None
        return json_data_check(data)


def read_text(stream, parser_context: dict | None) -> str:
    """The body as text, at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (413 past it)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(raw) > limit:
        raise RequestTooLarge()
    encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"The body is not valid {encoding}: {exc.reason} at byte {exc.start}.") from None


class RequestTooLarge(ParseError):
    status_code = 413
    default_detail = "The request body is larger than the server accepts."
    default_code = "request_too_large"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number.")
