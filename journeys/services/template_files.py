"""Templates as files: export to and import from YAML or JSON, and the bundled templates.

One file holds one template::

    format: journey-template/1
    key: onboarding
    name: Onboarding Flow
    journey_type: onboarding
    description: …
    definition: {trigger_type: signup, …, steps: [...]}     # the draft
    versions:                                               # published, oldest first
    - {number: 1, published_at: '2026-01-18T12:00:00+00:00', changelog: …, definition: {…}}

Exporting, importing and exporting again gives the same bytes: keys inside definitions are
written sorted, times in UTC. Sharing (visibility) and people are not part of a file: an imported
template is private to whoever imported it (bootstrap puts the bundled ones in the catalogue).
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from journeys.errors import ValidationFailed
from journeys.json_limits import json_data_problems
from journeys.models import Journey, JourneyTemplate, TemplateVersion
from journeys.services.journeys import journey_delete
from journeys.services.templates import (
    Visibility,
    template_create,
    template_definition_errors,
    template_publish,
    template_share,
)

FORMAT = "journey-template/1"
FILE_FORMATS = ("yaml", "json")
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled_templates"
BUNDLED_CHANGELOG = "Ships with the product."
MAX_FILE_BYTES = 1024 * 1024  # 1 MiB per template file; the biggest bundled one is ~1.5 KB


def _sorted(value: Any) -> Any:
    """``value`` with every object's keys sorted (lists keep their order)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def template_document(*, template: JourneyTemplate) -> dict[str, Any]:
    """The file form of a template (see the module docstring)."""
    return {
        "format": FORMAT,
        "key": template.key,
        "name": template.name,
        "journey_type": template.journey_type,
        "description": template.description,
        "definition": _sorted(template.definition),
        "versions": [
            {
                "number": v.number,
                "published_at": _timestamp(v.published_at),
                "changelog": v.changelog,
                "definition": _sorted(v.definition),
            }
            for v in template.versions.order_by("number")
        ],
    }


def template_dumps(document: dict[str, Any], *, file_format: str = "yaml") -> str:
    if file_format == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def template_loads(text: str, *, file_format: str = "yaml") -> dict[str, Any]:
    """Parse a template file; a file that does not parse is a ``file`` field error."""
    if file_format not in FILE_FORMATS:
        raise ValidationFailed({"file_format": [f"One of: {', '.join(FILE_FORMATS)}."]})
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ValidationFailed({"file": [f"At most {MAX_FILE_BYTES} bytes."]})
    try:
        document = json.loads(text) if file_format == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationFailed({"file": [f"Not valid {file_format.upper()}: {exc}"]}) from None
    if not isinstance(document, dict):
        raise ValidationFailed({"file": ["A template file holds one object (format, key, name, …)."]})
    problems = json_data_problems(document)  # YAML can say .inf or hold NUL; the database cannot
    if problems:
        raise ValidationFailed(problems)
    return document


def _version_errors(versions: Any) -> dict[str, list[str]]:
    if not isinstance(versions, list):
        return {"versions": ["A list of published versions, oldest first."]}
    errors: dict[str, list[str]] = {}
    for i, version in enumerate(versions):
        path = f"versions.{i}"
        if not isinstance(version, dict):
            errors[path] = ["An object: number, published_at, changelog, definition."]
            continue
        if version.get("number") != i + 1:
            errors[f"{path}.number"] = [f"Versions are numbered from 1 without gaps; expected {i + 1}."]
        try:
            datetime.fromisoformat(str(version.get("published_at")))
        except ValueError:
            errors[f"{path}.published_at"] = ["An ISO 8601 date and time with its offset."]
        if not isinstance(version.get("changelog", ""), str):
            errors[f"{path}.changelog"] = ["Text."]
        if not isinstance(version.get("definition"), dict):
            errors[f"{path}.definition"] = ["The frozen definition (an object)."]
        for name in sorted(set(version) - {"number", "published_at", "changelog", "definition"}):
            errors[f"{path}.{name}"] = ["Not a version field."]
    return errors


def template_document_errors(document: dict[str, Any]) -> dict[str, list[str]]:
    """Everything wrong with a parsed template file, by field path; empty when it can be imported."""
    errors: dict[str, list[str]] = {}
    if document.get("format") != FORMAT:
        errors["format"] = [f"Expected {FORMAT!r}."]
    for name in ("key", "name"):
        if not isinstance(document.get(name), str) or not document[name].strip():
            errors[name] = ["This field is required."]
    if (
        "key" not in errors
        and JourneyTemplate.objects.filter(key=document["key"], deleted_at__isnull=True).exists()
    ):
        errors["key"] = [f"A template with the key {document['key']!r} exists."]
    if not isinstance(document.get("description", ""), str):
        errors["description"] = ["Text."]
    unknown = set(document) - {
        "format",
        "key",
        "name",
        "journey_type",
        "description",
        "definition",
        "versions",
    }
    for name in sorted(unknown):
        errors[name] = ["Not a template file field."]
    errors.update(template_definition_errors(document.get("definition", {"steps": []})))
    errors.update(_version_errors(document.get("versions", [])))
    return errors


@transaction.atomic
def template_import(
    *, document: dict[str, Any], actor=None, visibility: str = Visibility.PRIVATE
) -> JourneyTemplate:
    """Create a template from a parsed file, its published versions as they were."""
    errors = template_document_errors(document)
    if errors:
        raise ValidationFailed(errors)
    template = template_create(
        data={
            "key": document["key"],
            "name": document["name"],
            "journey_type": document.get("journey_type", Journey.journey_type.field.default),
            "description": document.get("description", ""),
            "definition": document.get("definition", {"steps": []}),
        },
        actor=actor,
        visibility=Visibility.STAFF,  # until its versions are in; then as asked, checked
    )
    TemplateVersion.objects.bulk_create(
        TemplateVersion(
            template=template,
            number=v["number"],
            published_at=datetime.fromisoformat(v["published_at"]),
            changelog=v.get("changelog", ""),
            definition=v["definition"],
        )
        for v in document.get("versions", [])
    )
    return template_share(template=template, visibility=visibility, actor=actor)


def templates_bundled() -> list[dict[str, Any]]:
    """The template files that ship with the product, in file name order."""
    return [template_loads(p.read_text(), file_format="yaml") for p in sorted(BUNDLED_DIR.glob("*.yaml"))]


def templates_bundled_load() -> str:
    """Bootstrap: put the bundled templates in the catalogue (idempotent).

    A bundled template whose key is taken (loaded before, or staff made one with that key) is
    left alone. Untouched template drafts older installs loaded as journeys are retired.
    """
    loaded = 0
    for document in templates_bundled():
        with transaction.atomic():
            if JourneyTemplate.objects.filter(key=document["key"], deleted_at__isnull=True).exists():
                continue
            template = template_import(document=document, visibility=Visibility.STAFF)
            if not document.get("versions"):
                template_publish(template=template, changelog=BUNDLED_CHANGELOG)
            template_share(template=template, visibility=Visibility.CATALOGUE)
            loaded += 1
    retired = _template_drafts_retire()
    return f"{loaded} bundled templates put in the catalogue; {retired} old template drafts retired"


def _template_drafts_retire() -> int:
    """Delete (softly) the template drafts older installs loaded as journeys.

    Only drafts nobody touched: made by bootstrap (no author) from a template under its name,
    never published, never entered. Anything staff worked on stays; all of it is restorable.
    """
    retired = 0
    for document in templates_bundled():
        drafts = Journey.objects.filter(
            name=document["name"],
            template_name=document["key"],
            created_by__isnull=True,
            template_version__isnull=True,
            state=Journey.State.DRAFT,
            deleted_at__isnull=True,
            versions__isnull=True,
            user_journeys__isnull=True,
        )
        for journey in drafts:
            journey_delete(journey=journey)
            retired += 1
    return retired
