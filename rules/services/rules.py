"""Rules as data: create, change, (de)activate, delete; load and export YAML/JSON folders.

Every write validates the whole definition first (``rules.engine.validation``), bumps the rule's
``version`` when anything changed, and invalidates the cached rule set when the transaction
commits. Loading a folder is idempotent: rules are upserted by ``rule_id`` and an unchanged
definition writes nothing.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from django.db import transaction

from journeys.errors import ValidationFailed
from journeys.json_limits import json_data_problems
from journeys.models import EntityMapping
from journeys.services.records import entity_mapping_save
from rules.cache import rules_invalidate
from rules.engine.validation import rule_definition_validate
from rules.models import Rule
from rules.yaml_io import yaml_load, yaml_load_all

DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "defaults"
RULE_FILE_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_MAPPINGS = [
    {
        "event_type": "q2q.*",
        "entity": "q2q_assessments",
        "key_field": "",
        "description": "Q2Q assessments (language_comfort and other scores, 0 to 1); the newest counts.",
    },
]
EXPORT_KEY_ORDER = (
    "rule_id",
    "name",
    "description",
    "flag",
    "priority",
    "active",
    "milestone",
    "conditions",
    "actions",
    "otherwise",
)


def known_entities() -> set[str]:
    """Entities some event mapping feeds: the names a condition may use."""
    return set(EntityMapping.objects.values_list("entity", flat=True).distinct())


def rule_definition_parse(text: str) -> Any:
    """Parse YAML or JSON (JSON is YAML) into plain JSON data; dates become ISO strings."""
    try:
        data = yaml_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationFailed({"definition": [f"Not valid YAML or JSON{where}: {problem}"]}) from None
    data = json.loads(json.dumps(data, default=str))
    problems = json_data_problems(data)
    if problems:
        raise ValidationFailed({f"definition.{path}": messages for path, messages in problems.items()})
    return data


def rule_definition_check(raw: Any) -> dict[str, Any]:
    """The normalised definition, or ``ValidationFailed`` with every problem by field path."""
    definition, errors = rule_definition_validate(raw, known_entities=known_entities())
    if errors:
        raise ValidationFailed(errors)
    return definition


def rule_definition(rule: Rule) -> dict[str, Any]:
    """The rule as a definition (what the API shows, what export writes), keys in a fixed order."""
    config = {**rule.rule_config, "active": rule.active, "priority": rule.priority}
    return {key: config[key] for key in EXPORT_KEY_ORDER if key in config}


def _apply(rule: Rule, definition: dict[str, Any]) -> None:
    rule.rule_id = definition["rule_id"]
    rule.name = definition["name"]
    rule.description = definition["description"]
    rule.flag = definition["flag"]
    rule.priority = definition["priority"]
    rule.active = definition["active"]
    rule.rule_config = definition


@transaction.atomic
def rule_create(*, definition: Any) -> Rule:
    definition = rule_definition_check(definition)
    if Rule.objects.filter(rule_id=definition["rule_id"]).exists():
        raise ValidationFailed(
            {"rule_id": [f"A rule {definition['rule_id']!r} exists already; update it instead."]}
        )
    rule = Rule()
    _apply(rule, definition)
    rule.save()
    rules_invalidate()
    return rule


@transaction.atomic
def rule_update(*, rule: Rule, definition: Any, partial: bool = False) -> Rule:
    """Replace the definition (``partial``: merge the given top-level keys into it first).

    ``rule_id`` never changes; give it (or ``id``) only with the rule's own value.
    """
    if not isinstance(definition, dict):
        raise ValidationFailed({"non_field_errors": ["A rule definition must be an object."]})
    given = dict(definition)
    for key in ("rule_id", "id"):
        if key in given and given[key] != rule.rule_id:
            raise ValidationFailed({key: [f"rule_id cannot change (this rule is {rule.rule_id!r})."]})
        given.pop(key, None)
    merged = {**rule_definition(rule), **given} if partial else given
    merged["rule_id"] = rule.rule_id
    checked = rule_definition_check(merged)
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    if checked == rule_definition(rule) and rule.rule_config == checked:
        return rule
    _apply(rule, checked)
    rule.version += 1
    rule.save()
    rules_invalidate()
    return rule


def rule_activate(*, rule: Rule) -> Rule:
    return _set_active(rule, True)


def rule_deactivate(*, rule: Rule) -> Rule:
    return _set_active(rule, False)


@transaction.atomic
def _set_active(rule: Rule, active: bool) -> Rule:
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    if rule.active is active:
        return rule
    rule.active = active
    rule.rule_config = {**rule.rule_config, "active": active}
    rule.version += 1
    rule.save(update_fields=["active", "rule_config", "version", "updated_at"])
    rules_invalidate()
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule) -> None:
    """Delete the rule. Flags it set stay (with their history); nothing re-decides them."""
    rule.delete()
    rules_invalidate()


# ----------------------------------------------------------------------------------------------
# Folders of YAML/JSON files
# ----------------------------------------------------------------------------------------------
@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"


def rule_files_read(folder: Path) -> list[tuple[str, Any]]:
    """Every definition in the folder's ``.yaml``/``.yml``/``.json`` files, as ``(label, data)``.

    A file holds one rule, a list of rules, or several YAML documents.
    """
    if not folder.is_dir():
        raise ValidationFailed({"folder": [f"{folder} is not a folder."]})
    found: list[tuple[str, Any]] = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in RULE_FILE_SUFFIXES):
        text = path.read_text(encoding="utf-8")
        try:
            documents = [json.loads(json.dumps(d, default=str)) for d in yaml_load_all(text)]
        except yaml.YAMLError as exc:
            raise ValidationFailed({path.name: [f"Not valid YAML or JSON: {exc}"]}) from None
        problems = json_data_problems(documents)
        if problems:
            raise ValidationFailed({f"{path.name}.{where}": messages for where, messages in problems.items()})
        items = [
            item for doc in documents if doc is not None for item in (doc if isinstance(doc, list) else [doc])
        ]
        for index, item in enumerate(items):
            found.append((path.name if len(items) == 1 else f"{path.name}[{index}]", item))
    return found


@transaction.atomic
def rules_load(*, definitions: Iterable[tuple[str, Any]], create_only: bool = False) -> LoadReport:
    """Upsert definitions by ``rule_id``, all or nothing: every error of every file is reported
    (``{"<file>.<field path>": [...]}``) before anything is written. ``create_only`` leaves rules
    that exist alone (bootstrap must not undo what staff changed)."""
    entities = known_entities()
    checked: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for label, raw in definitions:
        definition, problems = rule_definition_validate(raw, known_entities=entities)
        for path, messages in problems.items():
            errors[f"{label}: {path}"] = messages
        if problems:
            continue
        if definition["rule_id"] in seen:
            errors[f"{label}: rule_id"] = [
                f"{definition['rule_id']!r} is also defined in {seen[definition['rule_id']]}."
            ]
            continue
        seen[definition["rule_id"]] = label
        checked.append(definition)
    if errors:
        raise ValidationFailed(errors)
    report = LoadReport()
    existing = {r.rule_id: r for r in Rule.objects.select_for_update().filter(rule_id__in=list(seen))}
    for definition in checked:
        rule = existing.get(definition["rule_id"])
        if rule is None:
            rule = Rule()
            _apply(rule, definition)
            rule.save()
            report.created.append(rule.rule_id)
        elif create_only or rule_definition(rule) == definition:
            report.unchanged.append(rule.rule_id)
        else:
            _apply(rule, definition)
            rule.version += 1
            rule.save()
            report.updated.append(rule.rule_id)
    if report.created or report.updated:
        rules_invalidate()
    return report


def rules_load_folder(*, folder: Path) -> LoadReport:
    return rules_load(definitions=rule_files_read(folder))


def rules_load_defaults() -> str:
    """Bootstrap step: the default rules shipped in ``rules/defaults``, created when missing,
    with the entity mappings they read that journeys does not ship (Q2Q assessments)."""
    for spec in DEFAULT_MAPPINGS:
        if not EntityMapping.objects.filter(event_type=spec["event_type"], entity=spec["entity"]).exists():
            entity_mapping_save(mapping=EntityMapping(**spec))
    return rules_load(definitions=rule_files_read(DEFAULTS_DIR), create_only=True).summary()


def rule_yaml(rule: Rule) -> str:
    return yaml.safe_dump(rule_definition(rule), sort_keys=False, allow_unicode=True, width=100)


def rules_export(*, rules: Iterable[Rule], folder: Path | None = None, stream: TextIO | None = None) -> int:
    """Write each rule as ``<rule_id>.yaml`` in ``folder``, or all as YAML documents to ``stream``."""
    count = 0
    for rule in rules:
        if folder is not None:
            (folder / f"{rule.rule_id}.yaml").write_text(rule_yaml(rule), encoding="utf-8")
        elif stream is not None:
            stream.write("---\n" + rule_yaml(rule))
        count += 1
    return count
