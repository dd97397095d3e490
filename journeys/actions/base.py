"""What the built-in action types share: templating and config checks.

Every action type subclasses ``journeys.registries.ActionType``, which declares what the engine,
the dry run and the builder read of it (``transactional``, ``concurrent``, ``channel``,
``runs_in_memory``, ``config_schema``, ``config_example``, ``prepare_config``, ``freeze``,
``predict``, ``detour``…) with their defaults.

``execute`` may raise ``ActionSkipped`` (nothing to do: no address, capped…) to end the step as
skipped; a ``journeys.errors.DomainError`` is a permanent failure (no retry); any other exception
is retried with backoff.
"""

from functools import lru_cache
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError

from journeys.registries import ActionContext, FieldErrors


class ActionSkipped(Exception):
    """The action has nothing to do for this participant; the step is skipped, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Plain text (subjects, bodies, payload values) is not HTML-escaped; HTML bodies are.
_engine = Engine(autoescape=False, app_dirs=True)
_html_engine = Engine(autoescape=True, app_dirs=True)


@lru_cache(maxsize=2048)
def _template(text: str, html: bool = False):
    return (_html_engine if html else _engine).from_string(text)


def template_context(action: ActionContext) -> dict[str, Any]:
    """What ``{{ … }}`` in an action's config can read."""
    participant = action.participant
    context = action.context or {}
    return {
        "participant": {
            "user_id": participant.user_id,
            "attributes": participant.attributes,
            "tags": participant.tags,
        },
        "user_id": participant.user_id,
        "attributes": participant.attributes,
        "payload": context.get("payload", {}),
        "steps": context.get("steps", {}),
        "variant": context.get("variant", ""),
        "journey": context.get("journey", {}),
        "personalization": context.get("personalization", {}),  # a milestone's personalization answer
        "services": context.get("services", {}),  # milestones' directory service answers
        "user_journey_id": action.user_journey_id,
        "step_run_id": action.step_run_id,
    }


def render_file(name: str, action: ActionContext, *, html: bool = False) -> str:
    """Render a template file shipped with an app (``journeys/email/welcome.txt``)."""
    template = (_html_engine if html else _engine).get_template(name)
    return template.render(Context(template_context(action), autoescape=html))


def template_exists(name: str) -> bool:
    from django.template import TemplateDoesNotExist

    try:
        _engine.get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


def render(text: str, action: ActionContext, *, html: bool = False) -> str:
    if "{" not in text:
        return text
    return _template(text, html).render(Context(template_context(action), autoescape=html))


def render_value(value: Any, action: ActionContext) -> Any:
    """Render every string inside a JSON value (a webhook payload, an emitted event's payload)."""
    if isinstance(value, str):
        return render(value, action)
    if isinstance(value, dict):
        return {k: render_value(v, action) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, action) for v in value]
    return value


def check_template(config: dict[str, Any], name: str, errors: FieldErrors, *, required: bool) -> None:
    value = config.get(name)
    if value in (None, ""):
        if required:
            errors.setdefault(name, []).append("This field is required.")
        return
    if not isinstance(value, str):
        errors.setdefault(name, []).append("Must be text (it may use {{ participant.attributes.name }}).")
        return
    try:
        _template(value)
    except TemplateSyntaxError as exc:
        errors.setdefault(name, []).append(f"Template error: {exc}")


def check_templates_in(value: Any, name: str, errors: FieldErrors) -> None:
    if isinstance(value, str):
        try:
            _template(value)
        except TemplateSyntaxError as exc:
            errors.setdefault(name, []).append(f"Template error: {exc}")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_templates_in(item, f"{name}.{key}", errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_templates_in(item, f"{name}.{index}", errors)


def unknown_keys(config: dict[str, Any], allowed: set[str], errors: FieldErrors) -> None:
    for key in sorted(set(config) - allowed):
        errors.setdefault(key, []).append(f"Unknown setting (allowed: {', '.join(sorted(allowed))}).")
