"""The template library's write side, and designing journeys from it.

A template is data (``journeys.models.templates``): staff create and edit its draft, publish it
(which freezes a numbered, immutable version), share it (private → staff → catalogue), review it,
and delete it (softly). ``journey_design`` makes a draft journey from a template's latest
published version (or the one asked for), with the caller's customisations applied, and the
journey records that version. The templates that ship with the product are files loaded into the
catalogue by bootstrap (``journeys.services.template_files``).
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from journeys.engine.validation import validate_definition
from journeys.errors import Conflict, DomainError, NotFound, ValidationFailed
from journeys.models import Journey, JourneyTemplate, TemplateReview, TemplateVersion
from journeys.models.journeys import JourneyType
from journeys.selectors import templates as selectors
from journeys.services.journeys import (
    JOURNEY_FIELDS,
    apply_customizations,
    journey_create,
    journey_name_taken,
)

# What a template's definition may set besides its steps (name, type and description are columns;
# a journey key is unique, so a template cannot carry one).
TEMPLATE_SETTINGS = tuple(
    f for f in JOURNEY_FIELDS if f not in {"name", "key", "description", "journey_type"}
)
TEMPLATE_FIELDS = ("key", "name", "journey_type", "description", "definition")
Visibility = JourneyTemplate.Visibility


class NotTheAuthor(DomainError):
    """Only a template's author (or a superuser) decides who sees it."""

    status_code = 403
    default_code = "permission_denied"


JOURNEY_TYPE_DESCRIPTIONS = {
    JourneyType.ONBOARDING: "Welcome and activate new participants.",
    JourneyType.ACTIVATION: "Lead participants to their first value moment.",
    JourneyType.RETENTION: "Keep active participants engaged.",
    JourneyType.RE_ENGAGEMENT: "Bring idle participants back.",
    JourneyType.DUNNING: "Recover failed payments.",
    JourneyType.CONTENT_MIGRATION: "Move content through upload, analysis, transformation, validation.",
    JourneyType.LIFECYCLE: "Follow a participant through lifecycle stages.",
    JourneyType.CUSTOM: "Anything else.",
}


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------
def template_definition_errors(definition: Any, *, for_publish: bool = False) -> dict[str, list[str]]:
    """Everything wrong with a template definition, keyed ``definition.<path>``; empty when fine.

    1. it is an object of known settings and ``steps`` (a list of objects);
    2. each setting is a valid value of the journey field it sets;
    3. the steps form a valid journey graph (publishing checks it as a journey publish would).
    """
    if not isinstance(definition, dict):
        return {"definition": ['An object of journey settings and "steps".']}
    errors: dict[str, list[str]] = {}
    for name in sorted(set(definition) - {*TEMPLATE_SETTINGS, "steps"}):
        errors[f"definition.{name}"] = [
            f"Not a template setting; known: {', '.join(TEMPLATE_SETTINGS)}, steps."
        ]
    settings = {k: v for k, v in definition.items() if k in TEMPLATE_SETTINGS}
    for name, value in settings.items():
        try:
            Journey._meta.get_field(name).clean(value, None)
        except DjangoValidationError as exc:
            errors[f"definition.{name}"] = list(exc.messages)
    steps = definition.get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        errors["definition.steps"] = ["A list of step objects."]
        return errors
    if for_publish and not steps:
        errors["definition.steps"] = ["A template needs at least one step to be published."]
    ordered = [{"order": i, **step} for i, step in enumerate(steps)]
    for path, messages in validate_definition(
        steps=ordered, journey=settings, for_publish=for_publish
    ).items():
        errors.setdefault(f"definition.{path}", []).extend(messages)
    return errors


def _check_fields(data: dict[str, Any], *, template: JourneyTemplate | None = None) -> None:
    errors: dict[str, list[str]] = {}
    for name in ("key", "name"):
        if name in data:
            try:
                JourneyTemplate._meta.get_field(name).clean(data[name], None)
            except DjangoValidationError as exc:
                errors[name] = list(exc.messages)
    key = data.get("key")
    if key is not None and "key" not in errors:
        live = JourneyTemplate.objects.filter(key=key, deleted_at__isnull=True)
        if template is not None:
            live = live.exclude(pk=template.pk)
        if live.exists():
            errors["key"] = [f"A template with the key {key!r} exists."]
    if "journey_type" in data and data["journey_type"] not in JourneyType.values:
        errors["journey_type"] = [f"One of: {', '.join(JourneyType.values)}."]
    if "definition" in data:
        errors.update(template_definition_errors(data["definition"]))
    if errors:
        raise ValidationFailed(errors)


# ----------------------------------------------------------------------------------------------
# Create, edit, publish, share, delete, review
# ----------------------------------------------------------------------------------------------
@transaction.atomic
def template_create(
    *, data: dict[str, Any], actor=None, visibility: str = Visibility.PRIVATE
) -> JourneyTemplate:
    """A new template with a draft definition, private to its author unless told otherwise."""
    data = {"definition": {"steps": []}, **{k: v for k, v in data.items() if k in TEMPLATE_FIELDS}}
    _check_fields(data)
    return JourneyTemplate.objects.create(
        **data, visibility=visibility, author=actor if getattr(actor, "pk", None) else None
    )


@transaction.atomic
def template_update(*, template: JourneyTemplate, data: dict[str, Any], actor=None) -> JourneyTemplate:
    """Change a template's draft (published versions stay as they are)."""
    template = JourneyTemplate.objects.select_for_update().get(pk=template.pk)
    changes = {k: v for k, v in data.items() if k in TEMPLATE_FIELDS}
    _check_fields(changes, template=template)
    for name, value in changes.items():
        setattr(template, name, value)
    template.save(update_fields=[*changes, "updated_at"])
    return template


def _frozen(template: JourneyTemplate) -> dict[str, Any]:
    return {
        "name": template.name,
        "journey_type": template.journey_type,
        "description": template.description,
        **template.definition,
    }


@transaction.atomic
def template_publish(*, template: JourneyTemplate, changelog: str = "", actor=None) -> TemplateVersion:
    """Freeze the draft as the next version; refused when invalid or unchanged since the last one."""
    template = JourneyTemplate.objects.select_for_update().get(pk=template.pk)
    errors = template_definition_errors(template.definition, for_publish=True)
    if errors:
        raise ValidationFailed(errors)
    latest = template.versions.order_by("-number").first()
    frozen = _frozen(template)
    if latest is not None and latest.definition == frozen:
        raise Conflict(
            f"Nothing changed since version {latest.number}; edit the draft first.",
            current_version=latest.number,
        )
    return TemplateVersion.objects.create(
        template=template,
        number=(latest.number + 1) if latest else 1,
        definition=frozen,
        changelog=changelog,
        published_at=timezone.now(),
        published_by=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def template_share(*, template: JourneyTemplate, visibility: str, actor=None) -> JourneyTemplate:
    """Make a template private, shared with staff, or part of the catalogue (needs a version)."""
    template = JourneyTemplate.objects.select_for_update().get(pk=template.pk)
    is_author = getattr(actor, "pk", None) == template.author_id or getattr(actor, "is_superuser", False)
    if actor is not None and template.author_id is not None and not is_author:
        raise NotTheAuthor("Only its author shares a template.")
    if visibility not in Visibility.values:
        raise ValidationFailed({"visibility": [f"One of: {', '.join(Visibility.values)}."]})
    if visibility == Visibility.CATALOGUE and not template.versions.exists():
        raise ValidationFailed(
            {"visibility": ["Publish a version before putting the template in the catalogue."]}
        )
    if visibility == Visibility.PRIVATE and template.author_id is None:
        raise ValidationFailed({"visibility": ["A template without an author cannot be private to one."]})
    template.visibility = visibility
    template.save(update_fields=["visibility", "updated_at"])
    return template


@transaction.atomic
def template_delete(*, template: JourneyTemplate, actor=None) -> JourneyTemplate:
    """Soft delete: the template leaves the library; journeys keep the version they came from."""
    template = JourneyTemplate.objects.select_for_update().get(pk=template.pk)
    template.deleted_at = timezone.now()
    template.deleted_by = actor if getattr(actor, "pk", None) else None
    template.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
    return template


@transaction.atomic
def template_review(*, template: JourneyTemplate, user, rating: Any, text: str = "") -> TemplateReview:
    """The user's review of a template (one per user: reviewing again replaces it)."""
    errors: dict[str, list[str]] = {}
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors["rating"] = ["A whole number from 1 to 5."]
    if template.author_id is not None and template.author_id == user.pk:
        errors["non_field_errors"] = ["Authors do not review their own templates."]
    if errors:
        raise ValidationFailed(errors)
    review, _ = TemplateReview.objects.update_or_create(
        template=template, user=user, defaults={"rating": rating, "text": text}
    )
    return review


# ----------------------------------------------------------------------------------------------
# Journey types and designing journeys from templates (seed 000)
# ----------------------------------------------------------------------------------------------
def journey_types() -> list[dict[str, Any]]:
    """Journey types with their description and the catalogue templates of each."""
    by_type: dict[str, list[str]] = {}
    for template in selectors.catalogue_templates():
        by_type.setdefault(template.journey_type, []).append(template.key)
    return [
        {
            "journey_type": value,
            "label": label,
            "description": JOURNEY_TYPE_DESCRIPTIONS.get(value, ""),
            "templates": by_type.get(value, []),
        }
        for value, label in JourneyType.choices
    ]


def journey_template_get(*, name: str, user=None, version: int | None = None) -> dict[str, Any]:
    """A template's published definition by its key or name, as journeys are designed from it."""
    template = selectors.template_get(key=name, user=user)
    frozen = selectors.template_version_get(template=template, number=version)
    steps = [
        {"order": i, "kind": "action", **step} for i, step in enumerate(frozen.definition.get("steps", []))
    ]
    return {"template": template.key, "version": frozen.number, **frozen.definition, "steps": steps}


def _template_for_type(journey_type: str) -> str:
    """The template a journey type is designed from: the first catalogue template of the type."""
    candidates = selectors.catalogue_templates()
    found = candidates.filter(journey_type=journey_type).first()
    if found is not None:
        return found.key
    offered = sorted({t.journey_type for t in candidates})
    raise ValidationFailed(
        {
            "journey_type": [
                f"No template for {journey_type!r} yet; types with one: {', '.join(offered) or 'none'}."
            ]
        }
    )


def _free_name(name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``… when journeys have taken it."""
    candidate, n = name, 1
    while journey_name_taken(candidate):
        n += 1
        candidate = f"{name} ({n})"
    return candidate


@transaction.atomic
def journey_design(
    *,
    template: str | None = None,
    journey_type: str | None = None,
    customizations: dict[str, Any] | None = None,
    version: int | None = None,
    actor=None,
    publish: bool = False,
) -> Journey:
    """A new journey from a template version, with customisations (the 000 ``design_journey``).

    Give the template (key or name; one the actor may see), or the ``journey_type`` whose
    catalogue template to use. A name given in the customisations must be free; without one, the
    template's name is numbered if taken. The journey records the template version it came from.
    """
    try:
        source = journey_template_get(
            name=template or _template_for_type(journey_type or ""), user=actor, version=version
        )
    except NotFound as exc:
        if version is not None:
            raise ValidationFailed({"version": [exc.message]}) from None
        raise
    values = {k: v for k, v in source.items() if k not in {"steps", "template", "version"}}
    values, steps = apply_customizations(values, source["steps"], customizations or {})
    if "name" in (customizations or {}):
        if journey_name_taken(values["name"]):
            raise ValidationFailed(
                {"name": [f"A journey named {values['name']!r} exists; give the new one another name."]}
            )
    else:
        values["name"] = _free_name(values["name"])
    journey = journey_create(
        data={**values, "template_name": source["template"]}, steps=steps, actor=actor, publish=publish
    )
    journey.template_version = TemplateVersion.objects.get(
        template__key=source["template"], template__deleted_at__isnull=True, number=source["version"]
    )
    journey.save(update_fields=["template_version"])
    return journey
