"""Journey definitions: create, edit, customise, publish (freeze a version), archive, delete."""

import copy
from typing import Any

from django.db import transaction
from django.utils import timezone

from journeys.engine.definition import SERVICE_FIELDS, STEP_FIELDS, build_definition, step_as_dict
from journeys.engine.validation import validate_definition
from journeys.errors import Conflict, ValidationFailed, transition_refused_as_conflict
from journeys.models import Journey, JourneyVersion, Step, UserJourney
from journeys.models.runs import LIVE_STATES
from journeys.registries import action_types
from journeys.services.webhook_secrets import config_with_kept_secret, secrets_revealed

JOURNEY_FIELDS = (
    "name",
    "key",
    "description",
    "journey_type",
    "trigger_type",
    "trigger_conditions",
    "priority",
    "re_entry",
    "goal_event",
    "exit_event",
    "quiet_hours_start",
    "quiet_hours_end",
    "cap_policy",
)
STEP_ROW_FIELDS = (*STEP_FIELDS, *SERVICE_FIELDS)  # the draft Step row holds a step's definition
DELETED_REASON = "journey deleted"  # the end reason of runs cancelled by deleting their journey


def journey_key_taken(key: str, *, exclude_pk: int | None = None) -> bool:
    journeys = Journey.objects.filter(key=key, deleted_at__isnull=True)
    if exclude_pk is not None:
        journeys = journeys.exclude(pk=exclude_pk)
    return journeys.exists()


def journey_name_taken(name: str, *, exclude_pk: int | None = None) -> bool:
    """Whether a journey that is not deleted has this name (a deleted one gives its name up)."""
    journeys = Journey.objects.filter(name=name, deleted_at__isnull=True)
    if exclude_pk is not None:
        journeys = journeys.exclude(pk=exclude_pk)
    return journeys.exists()


def _prepared(steps: list[dict[str, Any]], previous: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Steps in their stored form, with action defaults filled in (a webhook's secret, encrypted).

    ``previous`` maps the keys of the steps being replaced to their configs: a webhook step that
    leaves its secret out (or sends back the masked one) keeps the secret it has.
    """
    prepared = []
    for raw in steps:
        step = step_as_dict(raw)
        if previous and isinstance(step["key"], str):
            step["config"] = config_with_kept_secret(step, previous.get(step["key"]))
        action = action_types.get(step["action_type"]) if step["kind"] == "action" else None
        if action is not None and isinstance(step["config"], dict):
            step["config"] = action.prepare_config(step["config"])
        prepared.append(step)
    return prepared


def _journey_values(journey: Journey) -> dict[str, Any]:
    return {name: getattr(journey, name) for name in JOURNEY_FIELDS}


def _check(journey_values: dict[str, Any], steps: list[dict[str, Any]], *, for_publish: bool) -> None:
    errors = validate_definition(steps=steps, journey=journey_values, for_publish=for_publish)
    if errors:
        raise ValidationFailed(errors)


def _replace_steps(journey: Journey, steps: list[dict[str, Any]]) -> None:
    journey.steps.all().delete()
    Step.objects.bulk_create(
        [Step(journey=journey, **{name: step.get(name, "") for name in STEP_ROW_FIELDS}) for step in steps]
    )


@transaction.atomic
def journey_create(
    *, data: dict[str, Any], steps: list[dict[str, Any]] | None = None, actor=None, publish: bool = False
) -> Journey:
    """Create a journey with its steps (validated as a whole); publish it at once if asked."""
    if journey_name_taken(data.get("name")):
        raise ValidationFailed({"name": ["A journey with this name already exists."]})
    if data.get("key") and journey_key_taken(data["key"]):
        raise ValidationFailed({"key": [f"A journey with the key {data['key']!r} already exists."]})
    steps = _prepared(steps or [])
    revealed = secrets_revealed(steps, {})
    values = {name: data[name] for name in JOURNEY_FIELDS if name in data}
    _check({**_journey_values(Journey()), **values}, steps, for_publish=False)
    journey = Journey.objects.create(
        **values,
        template_name=data.get("template_name", ""),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _replace_steps(journey, steps)
    if publish:
        journey = journey_publish(journey=journey, actor=actor)
    journey.revealed_secrets = revealed  # shown once, in the answer to this request
    return journey


@transaction.atomic
def journey_update(
    *, journey: Journey, data: dict[str, Any], steps: list[dict[str, Any]] | None = None, actor=None
) -> Journey:
    """Change a journey's settings and (when given) replace its draft steps.

    Runs in flight are not affected: they run their version. Changed steps of a published
    journey take effect when it is published again.
    """
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.state == Journey.State.ARCHIVED:
        raise Conflict("An archived journey cannot be edited; restore it first.", current_state=journey.state)
    if "name" in data and journey_name_taken(data["name"], exclude_pk=journey.pk):
        raise ValidationFailed({"name": ["A journey with this name already exists."]})
    if data.get("key") and journey_key_taken(data["key"], exclude_pk=journey.pk):
        raise ValidationFailed({"key": [f"A journey with the key {data['key']!r} already exists."]})
    values = {**_journey_values(journey), **{k: data[k] for k in JOURNEY_FIELDS if k in data}}
    previous = {s.key: s.config for s in journey.steps.all()}
    new_steps = (
        _prepared(steps, previous) if steps is not None else [step_as_dict(s) for s in journey.steps.all()]
    )
    _check(values, new_steps, for_publish=False)
    changed = [name for name in JOURNEY_FIELDS if name in data and getattr(journey, name) != data[name]]
    for name in changed:
        setattr(journey, name, data[name])
    journey.save(update_fields=[*changed, "updated_at"])
    journey.revealed_secrets = {}
    if steps is not None:
        _replace_steps(journey, new_steps)
        journey.revealed_secrets = secrets_revealed(new_steps, previous)
    return journey


def has_unpublished_changes(journey: Journey) -> bool:
    """Whether the draft (settings and steps) differs from the live version."""
    if journey.live_version_id is None:
        return True
    draft = build_definition(journey=journey, steps=journey.steps.all())
    return draft != journey.live_version.definition


@transaction.atomic
def journey_publish(*, journey: Journey, actor=None) -> Journey:
    """Validate the whole definition and freeze it as a new version (none if nothing changed)."""
    journey = (
        Journey.objects.select_for_update(of=("self",)).select_related("live_version").get(pk=journey.pk)
    )
    steps = [step_as_dict(s) for s in journey.steps.all()]
    _check(_journey_values(journey), steps, for_publish=True)
    definition = build_definition(journey=journey, steps=steps)
    version = journey.live_version
    if version is None or version.definition != definition:
        number = (journey.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        version = JourneyVersion.objects.create(
            journey=journey,
            number=number,
            definition=definition,
            goal_event=definition["goal_event"],
            exit_event=definition["exit_event"],
            published_by=actor if getattr(actor, "pk", None) else None,
        )
    with transition_refused_as_conflict():
        journey.publish(version)
    journey.save(update_fields=["state", "live_version", "updated_at"])
    return journey


@transaction.atomic
def journey_archive(*, journey: Journey, actor=None) -> Journey:
    """No new enrolments; runs in flight go on with their version."""
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    with transition_refused_as_conflict():
        journey.archive()
    journey.save(update_fields=["state", "updated_at"])
    return journey


@transaction.atomic
def journey_restore(*, journey: Journey, actor=None) -> Journey:
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    with transition_refused_as_conflict():
        journey.restore()
    journey.save(update_fields=["state", "updated_at"])
    return journey


@transaction.atomic
def journey_delete(*, journey: Journey, actor=None) -> Journey:
    """Delete softly: hide the journey, stop new enrolments, cancel its runs in flight.

    1. Lock the journey; deleting one already deleted changes nothing.
    2. A published journey is archived, so no trigger enrols anyone into it any more.
    3. Every live run (active or paused) is cancelled with the reason ``journey deleted``, under
       its own row lock, through the same service staff use; finished runs keep their history.
    4. ``deleted_at`` hides it from lists and the API; ``journey_undelete`` brings it back.
    """
    from journeys.services.user_journeys import user_journey_cancel

    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.deleted_at is not None:
        return journey
    if journey.state == Journey.State.PUBLISHED:
        journey.archive()
    for run in UserJourney.objects.filter(journey=journey, state__in=LIVE_STATES).order_by("pk"):
        user_journey_cancel(user_journey=run, actor=actor, reason=DELETED_REASON)
    journey.deleted_at = timezone.now()
    journey.deleted_by = actor if getattr(actor, "pk", None) else None
    journey.save(update_fields=["state", "deleted_at", "deleted_by", "updated_at"])
    return journey


@transaction.atomic
def journey_undelete(*, journey: Journey, actor=None) -> Journey:
    """Bring a deleted journey back (archived if it was live; restore or publish it to use it).

    Its name must be free: a journey created meanwhile may have taken it.
    """
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.deleted_at is None:
        return journey
    if journey_name_taken(journey.name, exclude_pk=journey.pk):
        raise ValidationFailed(
            {"name": [f"A journey named {journey.name!r} exists now; rename one of them first."]}
        )
    journey.deleted_at = None
    journey.deleted_by = None
    journey.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
    return journey


def apply_customizations(
    values: dict[str, Any], steps: list[dict[str, Any]], customizations: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Apply the 000 ``customize`` body to journey values and steps (pure; validated later).

    ``{"name", "description", "priority", …: journey fields,
       "steps": {"<key>": {"name": …, "config": {merged}, …}},
       "add_steps": [step, …], "remove_steps": ["<key>", …]}``
    """
    errors: dict[str, list[str]] = {}
    values = {**values, **{k: v for k, v in customizations.items() if k in JOURNEY_FIELDS}}
    steps = copy.deepcopy(steps)
    by_key = {s["key"]: s for s in steps}
    for key, changes in (customizations.get("steps") or {}).items():
        if key not in by_key:
            errors.setdefault(f"steps.{key}", []).append(f"No step with key {key!r}.")
            continue
        if not isinstance(changes, dict):
            errors.setdefault(f"steps.{key}", []).append("An object of step fields to change.")
            continue
        for name, value in changes.items():
            if name == "config" and isinstance(value, dict) and isinstance(by_key[key].get("config"), dict):
                by_key[key]["config"] = {**by_key[key]["config"], **value}
            elif name in STEP_ROW_FIELDS and name != "key":
                by_key[key][name] = value
            else:
                errors.setdefault(f"steps.{key}.{name}", []).append("Not a step field that can be changed.")
    removed = set(customizations.get("remove_steps") or [])
    for key in removed - set(by_key):
        errors.setdefault("remove_steps", []).append(f"No step with key {key!r}.")
    steps = [s for s in steps if s["key"] not in removed]
    added = customizations.get("add_steps") or []
    if not isinstance(added, list):
        errors.setdefault("add_steps", []).append("A list of steps.")
        added = []
    steps.extend(step_as_dict(s) if isinstance(s, dict) else s for s in added)
    unknown = set(customizations) - {*JOURNEY_FIELDS, "steps", "add_steps", "remove_steps"}
    for name in sorted(unknown):
        errors.setdefault(name, []).append("Not something a customisation can change.")
    if errors:
        raise ValidationFailed(errors)
    return values, steps


@transaction.atomic
def journey_customize(*, journey: Journey, customizations: dict[str, Any], actor=None) -> Journey:
    """Change a journey's draft with a customisation body (see ``apply_customizations``)."""
    values, steps = apply_customizations(
        _journey_values(journey), [step_as_dict(s) for s in journey.steps.all()], customizations
    )
    return journey_update(journey=journey, data=values, steps=steps, actor=actor)
