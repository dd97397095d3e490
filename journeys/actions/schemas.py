"""JSON Schemas of the built-in action types' configs, and the checker every definition goes through.

An action type declares ``config_schema`` (JSON Schema, draft 2020-12). The same schema is used
twice: ``journeys.engine.validation`` checks a step's config against it whenever a journey is
saved (admin, canvas or API), and the builder's canvas renders its side-panel form from it.
Besides the standard keywords, the builder reads a few annotations:

* ``x-widget``: ``textarea`` (long text), ``json`` (a nested value edited as JSON), ``step`` (the
  key of another step of the journey, picked from a list), ``secret`` (kept, never shown);
* ``x-order``: the order of the fields in the form (the schema's property order otherwise).

What a schema cannot say well (``tag`` or ``tags``; a template name that must exist; Django
template syntax) stays in the action's ``validate_config``; messages from both end up on the
field they are about, the schema's first.
"""

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from journeys.registries import FieldErrors

TEMPLATE_HINT = "Text; may use {{ attributes.first_name }}, {{ payload.plan }}, {{ steps.<key>.<field> }}."
_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object of names to values",
}


def _text(title: str, description: str = TEMPLATE_HINT, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "title": title, "description": description, **extra}


def _object(properties: dict[str, Any], *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


JSON_OBJECT = {"type": "object", "x-widget": "json"}

SEND_EMAIL = _object(
    {
        "subject": _text(
            "Subject", minLength=1, examples=["Welcome, {{ attributes.first_name|default:'there' }}!"]
        ),
        "template": _text(
            "Template",
            "A shipped body (templates/journeys/email/<name>.txt) used instead of Body.",
            examples=["welcome", "we_miss_you", "payment_failed"],
        ),
        "body": _text("Body", **{"x-widget": "textarea", "examples": ["Hi {{ attributes.first_name }}, …"]}),
        "html": _text("HTML body", "Optional HTML alternative (escaped values).", **{"x-widget": "textarea"}),
        "to": _text("To", "Default: the participant's email attribute.", examples=["{{ attributes.email }}"]),
        "from_email": _text("From", "Default: DEFAULT_FROM_EMAIL.", examples=["hello@example.com"]),
        "reply_to": _text("Reply to", "An address for replies.", examples=["support@example.com"]),
    },
    required=("subject",),
)
SEND_TELEGRAM = _object(
    {
        "message": _text(
            "Message", **{"x-widget": "textarea", "examples": ["Welcome, {{ attributes.first_name }}!"]}
        ),
        "text": _text("Text", "Same as Message (the Bot API's name for it).", **{"x-widget": "textarea"}),
        "chat_id": _text("Chat id", "Default: the participant's telegram_chat_id attribute."),
        "parse_mode": {
            "type": "string",
            "title": "Parse mode",
            "description": "How Telegram reads the message's formatting.",
            "enum": ["", "HTML", "MarkdownV2", "Markdown"],
        },
    }
)
SEND_PUSH = _object(
    {
        "title": _text("Title", examples=["Your trial ends soon"]),
        "body": _text("Body", **{"x-widget": "textarea", "examples": ["Upgrade to keep your projects."]}),
        "message": _text("Message", "Same as Body.", **{"x-widget": "textarea"}),
        "data": {
            **JSON_OBJECT,
            "title": "Data",
            "description": "Extra JSON for the app (values may be templates).",
        },
    }
)
TAGS = _object(
    {
        "tag": {
            "type": "string",
            "title": "Tag",
            "description": "One tag name (or give several under Tags).",
            "maxLength": 100,
            "examples": ["onboarded"],
        },
        "tags": {
            "type": "array",
            "title": "Tags",
            "description": "Several tag names, one a line.",
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
            "minItems": 1,
        },
    }
)
SCHEDULE_NEXT = _object(
    {
        "step": {
            "type": "string",
            "title": "Jump to step",
            "description": "Default: the step that would follow anyway.",
            "minLength": 1,
            "x-widget": "step",
        },
        "delay": _text("Delay", "How long to wait first: 30 minutes, 2 hours, 3 days.", examples=["2 days"]),
        "delay_minutes": {"type": "integer", "title": "Delay (minutes)", "minimum": 0},
    }
)
GRANT_REWARD = _object(
    {
        "reward": {
            "type": "string",
            "title": "Reward",
            "minLength": 1,
            "maxLength": 100,
            "examples": ["welcome_bonus"],
        },
        "amount": {"type": "number", "title": "Amount", "minimum": 0, "examples": [100]},
        "unit": {"type": "string", "title": "Unit", "maxLength": 20, "examples": ["points", "EUR"]},
        "metadata": {**JSON_OBJECT, "title": "Metadata", "description": "Kept on the ledger row."},
    },
    required=("reward",),
)
TRIGGER_WEBHOOK = _object(
    {
        "url": {
            "type": "string",
            "title": "URL",
            "description": "Where to POST (http or https). Internal addresses need WEBHOOK_ALLOWED_HOSTS.",
            "minLength": 1,
            "examples": ["https://example.com/hooks/journey"],
        },
        "payload": {
            **JSON_OBJECT,
            "title": "Payload",
            "description": "The body's data (values may be templates). Default: the trigger's payload.",
        },
        "headers": {
            **JSON_OBJECT,
            "title": "Headers",
            "description": "Extra request headers, names to text values.",
            "additionalProperties": {"type": "string"},
        },
        "timeout_seconds": {
            "type": "number",
            "title": "Timeout (seconds)",
            "exclusiveMinimum": 0,
            "maximum": 60,
        },
        "secret": {
            "type": "string",
            "title": "Signing secret",
            "description": "Generated when saved; give a whsec_… value to replace it.",
            "x-widget": "secret",
        },
    },
    required=("url",),
)
EMIT_EVENT = _object(
    {
        "type": {
            "type": "string",
            "title": "Event type",
            "description": "Letters, digits and . _ - : only.",
            "pattern": "^[A-Za-z0-9_.:-]{1,200}$",
            "x-message": "An event type: letters, digits and . _ - : only.",
            "examples": ["onboarding.completed"],
        },
        "payload": {
            **JSON_OBJECT,
            "title": "Payload",
            "description": "The event's payload (values may be templates).",
        },
    },
    required=("type",),
)


@lru_cache(maxsize=64)
def _validator(schema_text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_text))


def _message(error: Any) -> str:
    """A jsonschema error in the words the rest of the builder uses."""
    keyword, schema = error.validator, error.schema
    if "x-message" in schema and keyword not in {"required", "additionalProperties"}:
        return schema["x-message"]
    if keyword == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return "Must be " + " or ".join(_TYPE_WORDS.get(t, t) for t in wanted) + "."
    if keyword == "enum":
        return "Use one of: " + ", ".join(repr(v) for v in error.validator_value if v != "") + "."
    if keyword == "minLength" and error.validator_value == 1:
        return "This field is required."
    if keyword == "maxLength":
        return f"At most {error.validator_value} characters."
    if keyword == "minItems":
        return f"At least {error.validator_value} item{'s' if error.validator_value != 1 else ''}."
    if keyword == "minimum":
        return f"At least {error.validator_value}."
    if keyword == "maximum":
        return f"At most {error.validator_value}."
    if keyword == "exclusiveMinimum":
        return f"More than {error.validator_value}."
    return error.message


def config_schema_errors(schema: dict[str, Any], config: Any) -> FieldErrors:
    """Every way ``config`` breaks ``schema``, by dot path (``url``, ``tags.1``), in plain words."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors: FieldErrors = {}
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in (error.instance or {})]
            for name in missing:
                errors.setdefault(f"{path}.{name}" if path else name, []).append("This field is required.")
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for name in sorted(set(error.instance) - set(allowed)):
                where = f"{path}.{name}" if path else name
                if allowed:
                    errors.setdefault(where, []).append(f"Unknown setting (allowed: {', '.join(allowed)}).")
            if allowed:
                continue
        errors.setdefault(path or "config", []).append(_message(error))
    return errors
