"""Validation of a journey definition as a whole, with an error path for every problem.

Paths name what staff must fix: ``steps.2.config.url``, ``steps.0.next_steps.1.step``,
``trigger_conditions.all.0.op``. Saving a draft checks each step on its own (action configs,
conditions, targets); publishing also checks the graph: it has steps, every step is reachable
from the first, and every cycle passes through a step that waits.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from journeys.actions.schemas import config_schema_errors
from journeys.engine.conditions import condition_errors
from journeys.engine.definition import WAITING_KINDS, Definition, normalise_next_steps
from journeys.engine.timing import parse_duration, parse_time_of_day
from journeys.models.journeys import STEP_KEY_VALIDATOR, Step
from journeys.registries import FieldErrors, action_types

KINDS = {choice.value for choice in Step.Kind}
ON_FAILURE = {choice.value for choice in Step.OnFailure}
MAX_ATTEMPTS_LIMIT = 20
MAX_STEPS = 200  # per journey; a bigger graph is unreadable in the builder anyway


def _add(errors: FieldErrors, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def _condition(errors: FieldErrors, spec: Any, path: str) -> None:
    if spec in (None, {}):
        return
    errors.update({k: errors.get(k, []) + v for k, v in condition_errors(spec, path=path).items()})


def _check_target(errors: FieldErrors, keys: set[str], target: Any, path: str) -> None:
    if not isinstance(target, str) or not target:
        _add(errors, path, "The key of a step of this journey is required.")
    elif target not in keys:
        _add(errors, path, f"No step with key {target!r} in this journey.")


@dataclass(frozen=True)
class _StepCheck:
    """One step under check: where its errors go, and the keys its targets may name."""

    errors: FieldErrors
    at: str  # "steps.3"
    keys: set[str]

    def add(self, sub: str, message: str) -> None:
        _add(self.errors, f"{self.at}.{sub}", message)

    def target(self, target: Any, sub: str) -> None:
        _check_target(self.errors, self.keys, target, f"{self.at}.{sub}")

    def condition(self, spec: Any, sub: str) -> None:
        _condition(self.errors, spec, f"{self.at}.{sub}")


def _step_errors(errors: FieldErrors, index: int, step: dict[str, Any], keys: set[str]) -> None:
    check = _StepCheck(errors, f"steps.{index}", keys)
    kind = step.get("kind")
    config = step.get("config")
    if kind not in KINDS:
        check.add("kind", f"Use one of {', '.join(sorted(KINDS))}.")
        return
    if not isinstance(config, dict):
        check.add("config", "Must be a JSON object.")
        return
    if not step.get("name"):
        check.add("name", "This field is required.")
    check.condition(step.get("condition"), "condition")
    next_steps = _next_steps_errors(check, step.get("next_steps"))
    _settings_errors(check, kind, step)
    kind_check = KIND_CHECKS.get(kind)
    if kind_check is not None:
        kind_check(check, step, config, next_steps)
    unconditional = [e for e in next_steps if isinstance(e, dict) and e.get("condition") in (None, {})]
    if len(unconditional) > 1 and kind not in {"manual", "branch", "end"}:
        # Several next steps without a condition are the participant's choice, made when a
        # manual step is advanced; any other step would have to pick one silently.
        check.add(
            "next_steps",
            "Several next steps without a condition are a choice only a manual step can offer; "
            "give all but one a condition.",
        )


def _next_steps_errors(check: _StepCheck, next_steps: Any) -> list[Any]:
    """Check the next steps; the list (empty when it is not one)."""
    if not isinstance(next_steps, list):
        check.add("next_steps", 'A list of step keys or {"step": key, "condition": {...}}.')
        return []
    for j, entry in enumerate(next_steps):
        if not isinstance(entry, dict) or set(entry) - {"step", "condition"}:
            check.add(f"next_steps.{j}", 'A step key or {"step": key, "condition": {...}}.')
            continue
        check.target(entry.get("step"), f"next_steps.{j}.step")
        check.condition(entry.get("condition"), f"next_steps.{j}.condition")
    return next_steps


def _settings_errors(check: _StepCheck, kind: str, step: dict[str, Any]) -> None:
    """The settings every kind has: delay, attempts, what to do on failure."""
    delay = step.get("delay_minutes", 0)
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        check.add("delay_minutes", "A whole number of minutes, 0 or more.")
    elif delay and kind in WAITING_KINDS:
        check.add("delay_minutes", f"A {kind} step waits by itself; use its config instead.")
    attempts = step.get("max_attempts", 3)
    if not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
        check.add("max_attempts", f"Between 1 and {MAX_ATTEMPTS_LIMIT}.")
    if step.get("on_failure", "fail") not in ON_FAILURE:
        check.add("on_failure", f"Use one of {', '.join(sorted(ON_FAILURE))}.")


def _action_errors(check: _StepCheck, step: dict[str, Any], config: dict[str, Any], next_steps: list) -> None:
    name = step.get("action_type")
    action = action_types.get(name) if isinstance(name, str) else None
    if action is None:
        check.add("action_type", f"Unknown action type {name!r} (known: {', '.join(action_types)}).")
        return
    # The declared schema speaks first; the action's own checks add what it cannot say,
    # on fields the schema found nothing wrong with (one message per problem).
    schema = action.config_schema
    found = config_schema_errors(schema, config) if schema else {}
    for field, messages in found.items():
        for message in messages:
            check.add(f"config.{field}", message)
    flagged = {field.split(".")[0] for field in found}
    for field, messages in (action.validate_config(config) or {}).items():
        if field.split(".")[0] in flagged:
            continue
        for message in messages:
            check.add(f"config.{field}", message)
    if name == "schedule_next" and "step" in config:
        check.target(config.get("step"), "config.step")


def _wait_errors(check: _StepCheck, step: dict[str, Any], config: dict[str, Any], next_steps: list) -> None:
    given = [k for k in ("duration", "minutes", "until") if k in config]
    if len(given) != 1 or set(config) - {"duration", "minutes", "until"}:
        check.add("config", 'Give one of "duration" ("2 hours"), "minutes" or "until" ("09:00").')
        return
    parse = parse_time_of_day if given[0] == "until" else parse_duration
    try:
        parse(config[given[0]])
    except ValueError as exc:
        check.add(f"config.{given[0]}", str(exc))


def _wait_for_event_errors(
    check: _StepCheck, step: dict[str, Any], config: dict[str, Any], next_steps: list
) -> None:
    if set(config) - {"event", "condition", "timeout", "timeout_step"}:
        check.add("config", "Allowed settings: event, condition, timeout, timeout_step.")
    event = config.get("event")
    if not isinstance(event, str) or not event or len(event) > 200:
        check.add("config.event", "The event type to wait for is required.")
    check.condition(config.get("condition"), "config.condition")
    try:
        parse_duration(config.get("timeout") or "")
    except ValueError as exc:
        check.add("config.timeout", f"A timeout is required: {exc}")
    check.target(config.get("timeout_step"), "config.timeout_step")


def _branch_errors(check: _StepCheck, step: dict[str, Any], config: dict[str, Any], next_steps: list) -> None:
    if not next_steps:
        check.add("next_steps", "A branch needs next steps with conditions and a default.")
    elif not isinstance(next_steps[-1], dict) or next_steps[-1].get("condition") not in (None, {}):
        check.add("next_steps", "A branch needs a default: a last entry without a condition.")


def _split_errors(check: _StepCheck, step: dict[str, Any], config: dict[str, Any], next_steps: list) -> None:
    variants = config.get("variants")
    if not isinstance(variants, list) or len(variants) < 2:
        check.add("config.variants", 'At least two {"name", "weight", "step"} variants.')
        return
    names = set()
    for j, variant in enumerate(variants):
        if not isinstance(variant, dict):
            check.add(f"config.variants.{j}", 'A {"name", "weight", "step"} object.')
            continue
        name = variant.get("name")
        if not isinstance(name, str) or not name or name in names:
            check.add(f"config.variants.{j}.name", "A unique variant name is required.")
        names.add(name)
        weight = variant.get("weight", 1)
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
            check.add(f"config.variants.{j}.weight", "A positive number.")
        check.target(variant.get("step"), f"config.variants.{j}.step")


def _end_errors(check: _StepCheck, step: dict[str, Any], config: dict[str, Any], next_steps: list) -> None:
    if next_steps:
        check.add("next_steps", "An end step has no next steps.")


KIND_CHECKS: dict[str, Callable[[_StepCheck, dict[str, Any], dict[str, Any], list], None]] = {
    "action": _action_errors,
    "wait": _wait_errors,
    "wait_for_event": _wait_for_event_errors,
    "branch": _branch_errors,
    "split": _split_errors,
    "end": _end_errors,
}


def _graph_errors(errors: FieldErrors, steps: list[dict[str, Any]]) -> None:
    """``steps`` in input order (error paths use it); the graph follows ``order``."""
    index = {step["key"]: i for i, step in enumerate(steps)}
    definition = Definition({"steps": sorted(steps, key=lambda s: s["order"])})
    reachable = definition.reachable_from(definition.entry)
    for key in definition.order:
        if key not in reachable:
            _add(errors, f"steps.{index[key]}.key", f"Step {key!r} cannot be reached from the first step.")

    # A cycle through steps that all run at once would spin forever: find one among non-waiting steps.
    instant = {k for k, s in definition.steps.items() if not s.waits}
    colour: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(key: str, path: list[str]) -> list[str] | None:
        colour[key] = 1
        for nxt in definition.successors(key):
            if nxt not in instant:
                continue
            if colour.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt] if nxt in path else [key, nxt]
            if nxt not in colour:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        colour[key] = 2
        return None

    for key in definition.order:
        if key in instant and key not in colour:
            cycle = visit(key, [key])
            if cycle:
                _add(
                    errors,
                    f"steps.{index[cycle[0]]}.next_steps",
                    "A cycle without a wait: " + " → ".join(cycle) + ". Put a wait or a delay in it.",
                )
                return


def validate_definition(
    *, steps: list[Any], journey: dict[str, Any] | None = None, for_publish: bool = False
) -> FieldErrors:
    """Every problem of a journey (``journey``: its own fields) and its steps, by path.

    ``steps`` are Step rows or dicts with Step's fields; the result is empty when all is well.
    """
    from journeys.engine.definition import step_as_dict

    errors: FieldErrors = {}
    journey = journey or {}
    _condition(errors, journey.get("trigger_conditions"), "trigger_conditions")
    if bool(journey.get("quiet_hours_start")) != bool(journey.get("quiet_hours_end")):
        _add(errors, "quiet_hours_end", "Give both the start and the end of quiet hours, or neither.")

    normalised = []
    for raw in steps:
        step = step_as_dict(raw)
        step["next_steps"] = normalise_next_steps(step["next_steps"])
        normalised.append(step)
    if len(normalised) > MAX_STEPS:
        _add(errors, "steps", f"At most {MAX_STEPS} steps.")
    keys: set[str] = set()
    for i, step in enumerate(normalised):
        key = step.get("key")
        if not isinstance(key, str) or not key:
            _add(errors, f"steps.{i}.key", "This field is required.")
            continue
        try:
            STEP_KEY_VALIDATOR(key)
        except Exception as exc:
            _add(errors, f"steps.{i}.key", " ".join(getattr(exc, "messages", [str(exc)])))
        if key in keys:
            _add(errors, f"steps.{i}.key", f"Another step already has the key {key!r}.")
        keys.add(key)
    for i, step in enumerate(normalised):
        _step_errors(errors, i, step, keys)

    if for_publish:
        if not normalised:
            _add(errors, "steps", "A journey needs at least one step to be published.")
        elif not errors:
            _graph_errors(errors, normalised)
    return errors


def implicit_transitions(steps: list[Any]) -> FieldErrors:
    """Where a draft goes on without saying so, by path (``steps.3.next_steps``), in words.

    A step without next steps that is not an ``end`` (nor marked as completing the journey)
    continues with the next step *by order*, or, being the last, ends the journey. Both are
    legal and old journeys rely on them, but they surprise: the step a branch leads to quietly
    running on into whatever happens to be listed after it. These notes are shown next to the
    validation errors and on the canvas, so that every transition is visible before publishing.
    """
    from journeys.engine.definition import step_as_dict

    rows = [step_as_dict(raw) for raw in steps]
    if not all(isinstance(row.get("key"), str) and isinstance(row.get("order"), int) for row in rows):
        return {}
    index = {row["key"]: i for i, row in enumerate(rows)}
    ordered = sorted(rows, key=lambda s: s["order"])
    branch_targets: dict[str, str] = {}
    for row in ordered:
        if row["kind"] == "branch" and isinstance(row["next_steps"], list):
            for entry in row["next_steps"]:
                if isinstance(entry, dict) and isinstance(entry.get("step"), str):
                    branch_targets.setdefault(entry["step"], row["key"])
    notes: FieldErrors = {}
    for position, row in enumerate(ordered):
        if row["kind"] in {"end", "split"} or row["next_steps"] or row["completion"]:
            continue
        path = f"steps.{index[row['key']]}.next_steps"
        after = ordered[position + 1]["key"] if position + 1 < len(ordered) else None
        via = branch_targets.get(row["key"])
        reached = f" (reached from branch {via!r})" if via else ""
        if after is None:
            _add(notes, path, f"No next step{reached}: the journey ends here. Make it an end step to say so.")
        else:
            _add(
                notes,
                path,
                f"No next step{reached}: it continues with {after!r}, the next step by order. "
                "Connect it explicitly, or end the path with an end step.",
            )
    return notes
