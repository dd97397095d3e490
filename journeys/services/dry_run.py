"""A dry run: the path a journey would take for one participant, without doing anything.

Staff ask "what would happen to this participant?" before publishing. The answer walks the
graph with the engine's own pieces — ``Definition`` (steps, successors, the next step by
order), ``evaluate`` (the condition language, with traces of actual values), ``split_bucket``
(the deterministic A/B choice) and the timing helpers — and the runner's rules for where a
step leads. It never executes an action: it shows what the action would do (a rendered
preview), and simulates only what later conditions could read from it (tags applied or
removed). Nothing is written: no participant is created, no run, no event, no email, no
webhook; the walk even runs in a transaction that is always rolled back, so a condition type
plug-in that writes could not leave anything behind either.

What cannot be known without running is chosen by the caller: whether awaited events arrive
(or the waits time out), and the results of steps (``step_results``: what a manual milestone
would be advanced with, what an awaited event would carry).
"""

import copy
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from journeys.actions.base import render, render_value
from journeys.engine.conditions import EvaluationContext, evaluate
from journeys.engine.definition import Definition, StepDef, build_definition, definition_for, step_as_dict
from journeys.engine.runner import split_bucket
from journeys.engine.timing import (
    next_local_time,
    parse_duration,
    parse_time_of_day,
    participant_zone,
    quiet_until,
)
from journeys.engine.validation import validate_definition
from journeys.errors import ValidationFailed
from journeys.models import Journey, JourneyVersion, Participant, UserJourney
from journeys.models.runs import LIVE_STATES
from journeys.registries import ActionContext, action_types

MAX_DRY_RUN_STEPS = 100  # steps shown; the runner's own fuse for one walk is the same size
MAX_VISITS_PER_STEP = 3  # a loop through a wait is shown this many times, then the walk stops
HIDDEN_CONFIG_KEYS = {"secret"}  # never shown in a preview


class EventWaits:
    ARRIVE = "arrive"
    TIMEOUT = "timeout"


@dataclass
class DryRunStep:
    key: str
    name: str
    kind: str
    action_type: str
    outcome: str  # would run | skipped | waits | chosen | ends
    at: datetime
    notes: list[str] = field(default_factory=list)
    trace: dict[str, Any] = field(default_factory=dict)  # the same shape as a StepRun's trace
    preview: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The run status the graph colours this step with."""
        return "skipped" if self.outcome == "skipped" else "succeeded"


@dataclass
class DryRun:
    journey: Journey
    source: str  # "draft" or "version N"
    user_id: str
    participant_exists: bool
    now: datetime
    trigger: dict[str, Any]
    entry: dict[str, Any]
    steps: list[DryRunStep] = field(default_factory=list)
    end: str = ""
    warnings: list[str] = field(default_factory=list)
    definition: Definition | None = None

    @property
    def highlight(self) -> dict[str, str]:
        marks: dict[str, str] = {}
        for step in self.steps:
            marks[step.key] = step.status if marks.get(step.key) != "succeeded" else "succeeded"
        return marks


def _definition(journey: Journey, version: JourneyVersion | None) -> tuple[Definition, str]:
    if version is not None:
        return definition_for(version), f"version {version.number}"
    steps = [step_as_dict(s) for s in journey.steps.all()]
    errors = validate_definition(
        steps=steps, journey={"trigger_conditions": journey.trigger_conditions}, for_publish=True
    )
    if errors:
        raise ValidationFailed(errors)
    return Definition(build_definition(journey=journey, steps=steps)), "draft"


class _Simulation:
    """The walk itself; mirrors ``journeys.engine.runner.Walker`` without touching a row."""

    def __init__(
        self,
        *,
        journey: Journey,
        definition: Definition,
        participant: Participant,
        now: datetime,
        payload: dict[str, Any],
        step_results: dict[str, Any],
        event_waits: str,
    ) -> None:
        self.journey = journey
        self.definition = definition
        self.participant = participant
        self.clock = now
        self.tags = list(participant.tags)
        self.context: dict[str, Any] = {
            "payload": payload,
            "steps": {},
            "journey": {"id": journey.pk, "name": journey.name},
        }
        self.variant = ""
        self.step_results = step_results
        self.event_waits = event_waits
        self.zone = participant_zone(participant.attributes)

    def eval_context(self, payload: dict[str, Any] | None = None) -> EvaluationContext:
        return EvaluationContext(
            payload=payload if payload is not None else self.context["payload"],
            attributes=self.participant.attributes,
            tags=list(self.tags),  # a copy: traces keep the tags as they were at this step
            steps=self.context["steps"],
            context=self.context,
            variant=self.variant,
            user_id=self.participant.user_id,
            participant=self.participant,
        )

    # The runner's ``resolve_next``: explicit next steps, first whose condition holds, else by order.
    def resolve_next(
        self,
        step: StepDef,
        trace: dict[str, Any],
        *,
        chosen: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> str | None:
        if step.kind == "end":
            return None
        entries = step.next_steps
        allowed = {e["step"] for e in entries} if entries else {step.default_next}
        if chosen is not None and chosen in allowed:
            trace["next"] = {"chosen": chosen, "by": "step_result"}
            return chosen
        if not entries:
            return step.default_next
        ctx = self.eval_context(payload)
        considered = []
        for entry in entries:
            ok, condition = evaluate(entry.get("condition"), ctx)
            considered.append(
                {"step": entry["step"], "result": ok, **({"condition": condition} if condition else {})}
            )
            if ok:
                trace["next"] = {"chosen": entry["step"], "considered": considered}
                return entry["step"]
        trace["next"] = {"chosen": None, "considered": considered}
        return None

    def preview(self, step: StepDef, notes: list[str]) -> dict[str, Any]:
        """What the action would do, rendered for this participant (templates only; no I/O)."""
        config = {k: v for k, v in step.config.items() if k not in HIDDEN_CONFIG_KEYS}
        action = ActionContext(
            participant=Participant(
                user_id=self.participant.user_id, attributes=self.participant.attributes, tags=self.tags
            ),
            config=config,
            idempotency_key="dry-run",
            context={**self.context, "variant": self.variant},
            journey_id=self.journey.pk,
        )
        try:
            rendered = render_value(config, action)
        except Exception as exc:  # a template that fails here would fail the real run too
            notes.append(f"The config cannot be rendered: {exc}")
            return config
        if step.action_type == "send_email":
            to = (
                render(config["to"], action).strip()
                if config.get("to")
                else self.participant.attributes.get("email")
            )
            rendered["to"] = to or None
            if not to or "@" not in str(to):
                notes.append("No email address: the real step would be skipped.")
        if (
            step.action_type == "send_telegram"
            and not config.get("chat_id")
            and not self.participant.attributes.get("telegram_chat_id")
        ):
            notes.append("No telegram_chat_id attribute: the real step may be skipped.")
        return rendered

    def simulate_action(self, step: StepDef, record: DryRunStep) -> dict[str, Any]:
        """The step result later conditions may read, as far as it can be known."""
        action = action_types.get(step.action_type)
        if action is None:
            record.notes.append(f"Unknown action type {step.action_type!r}: the real step would fail.")
            return {}
        record.preview = self.preview(step, record.notes)
        channel = getattr(action, "channel", "")
        if channel:
            until = quiet_until(self.clock, self.definition.quiet_start, self.definition.quiet_end, self.zone)
            if until is not None:
                record.notes.append(
                    f"Inside quiet hours: the message would wait until {until:%Y-%m-%d %H:%M %Z}."
                )
                self.clock = until
        if step.action_type in {"apply_tag", "remove_tag"}:
            names = list(step.config.get("tags") or [step.config.get("tag")])
            if step.action_type == "apply_tag":
                self.tags.extend(t for t in names if t not in self.tags)
                return {"applied": names}
            self.tags = [t for t in self.tags if t not in names]
            return {"removed": names}
        if step.key not in self.step_results and not getattr(action, "transactional", False):
            record.notes.append("Its result is not known in a dry run (conditions on it read nothing).")
        return {}

    def run(self, result: DryRun) -> None:
        key = self.definition.entry
        visits: Counter[str] = Counter()
        while key is not None:
            if len(result.steps) >= MAX_DRY_RUN_STEPS:
                result.warnings.append(f"Stopped after {MAX_DRY_RUN_STEPS} steps.")
                return
            step = self.definition.steps.get(key)
            if step is None:
                result.warnings.append(f"No step with key {key!r}.")
                return
            visits[key] += 1
            if visits[key] > MAX_VISITS_PER_STEP:
                result.warnings.append(
                    f"The path loops back to {key!r}; stopped after {MAX_VISITS_PER_STEP} rounds."
                )
                return
            key = self.step(step, result)
        result.end = result.end or "completed (no next step)"

    def step(self, step: StepDef, result: DryRun) -> str | None:
        """Enter one step (the runner's ``enter`` + ``finish``); return the next key."""
        if step.delay_minutes:
            self.clock += timedelta(minutes=step.delay_minutes)
        record = DryRunStep(
            key=step.key,
            name=step.name,
            kind=step.kind,
            action_type=step.action_type,
            outcome="would run",
            at=self.clock,
        )
        result.steps.append(record)
        if step.delay_minutes:
            record.notes.append(f"Entered {step.delay_minutes} min after the previous step.")
        trace = record.trace
        if step.condition:
            ok, condition = evaluate(step.condition, self.eval_context())
            trace["condition"] = condition
            if not ok:
                record.outcome = "skipped"
                trace["skipped"] = "condition false"
                return self.resolve_next(step, trace)

        given = self.step_results.get(step.key)
        payload = None
        chosen = None
        outcome_result: dict[str, Any] = {}
        if step.kind == "action":
            outcome_result = self.simulate_action(step, record)
            if step.action_type == "schedule_next":
                delay = step.config.get("delay") or step.config.get("delay_minutes") or 0
                self.clock += parse_duration(delay)
                if step.config.get("step"):
                    record.notes.append(f"Jumps to {step.config['step']!r} after {delay or 'no delay'}.")
                    self.finish(step, {**outcome_result, **(given or {})})
                    trace["next"] = {"chosen": step.config["step"], "by": "schedule_next"}
                    return self.after(step, step.config["step"], result)
        elif step.kind == "wait":
            record.outcome = "waits"
            if "until" in step.config:
                self.clock = next_local_time(self.clock, parse_time_of_day(step.config["until"]), self.zone)
                record.notes.append(
                    f"Waits until {self.clock.astimezone(self.zone):%Y-%m-%d %H:%M} ({self.zone})."
                )
            else:
                wait = parse_duration(step.config.get("duration", step.config.get("minutes", 0)))
                self.clock += wait
                record.notes.append(f"Waits {wait}.")
            outcome_result = {"waited_until": self.clock.isoformat()}
        elif step.kind == "wait_for_event":
            record.outcome = "waits"
            event = step.config.get("event")
            timeout = parse_duration(step.config.get("timeout", 0))
            if self.event_waits == EventWaits.TIMEOUT:
                self.clock += timeout
                record.notes.append(f"Assumed: no {event} within {timeout}; the wait times out.")
                self.finish(step, {"timed_out": True})
                trace["next"] = {"chosen": step.config.get("timeout_step"), "by": "timeout"}
                return self.after(step, step.config.get("timeout_step"), result)
            payload = (given or {}).get("payload", {}) if isinstance(given, dict) else {}
            record.notes.append(
                f"Assumed: {event} arrives before the {timeout} timeout"
                + (" with the payload given." if payload else " (with an empty payload).")
            )
            outcome_result = {"event_type": event, "payload": payload, "timed_out": False}
            if step.config.get("condition"):
                ok, condition = evaluate(step.config["condition"], self.eval_context(payload))
                trace["event_condition"] = condition
                if not ok:
                    record.notes.append(
                        "That event's condition does not hold: it would be ignored; the wait times out."
                    )
                    self.finish(step, {"timed_out": True})
                    trace["next"] = {"chosen": step.config.get("timeout_step"), "by": "timeout"}
                    return self.after(step, step.config.get("timeout_step"), result)
        elif step.kind == "manual":
            record.outcome = "waits"
            record.notes.append(
                "Waits for a staff advance" + (" — with the step result given." if given else ".")
            )
            if isinstance(given, dict) and isinstance(given.get("next_step"), str):
                chosen = given["next_step"]
        elif step.kind == "split":
            variants = step.config["variants"]
            total = sum(v.get("weight", 1) for v in variants)
            point = split_bucket(
                journey_id=self.journey.pk, step_key=step.key, user_id=self.participant.user_id, total=total
            )
            picked = variants[-1]
            for variant in variants:
                point -= variant.get("weight", 1)
                if point < 0:
                    picked = variant
                    break
            self.variant = self.variant or picked["name"]
            record.outcome = "chosen"
            trace["split"] = {
                "variant": picked["name"],
                "weights": {v["name"]: v.get("weight", 1) for v in variants},
            }
            self.finish(step, {"variant": picked["name"]})
            return self.after(step, picked["step"], result)
        elif step.kind == "end":
            record.outcome = "ends"
            self.finish(step, {})
            result.end = "end step"
            return None

        if isinstance(given, dict):
            outcome_result = {**outcome_result, **given}
        self.finish(step, outcome_result)
        nxt = self.resolve_next(step, trace, chosen=chosen, payload=payload)
        if step.completion:
            result.end = f"completed by {step.key!r} (a completion step)"
            return None
        if nxt is None and step.next_steps:
            result.end = "no next step matched"
        return nxt

    def finish(self, step: StepDef, step_result: dict[str, Any]) -> None:
        self.context["steps"] = {**self.context["steps"], step.key: step_result}

    def after(self, step: StepDef, nxt: str | None, result: DryRun) -> str | None:
        if step.completion:
            result.end = f"completed by {step.key!r} (a completion step)"
            return None
        return nxt


def _trigger(journey: Journey, participant: Participant, payload: dict[str, Any]) -> dict[str, Any]:
    ctx = EvaluationContext(
        payload=payload,
        attributes=participant.attributes,
        tags=participant.tags,
        user_id=participant.user_id,
        participant=participant,
    )
    holds, trace = evaluate(journey.trigger_conditions, ctx)
    return {"type": journey.trigger_type, "holds": holds, "trace": trace}


def _entry(journey: Journey, participant: Participant | None) -> dict[str, Any]:
    """Whether the participant could enter now (state and re-entry policy), and why not."""
    if journey.state != Journey.State.PUBLISHED:
        return {
            "allowed": False,
            "reason": f"The journey is {journey.state}: nobody enters it until it is published.",
        }
    if participant is None:
        return {"allowed": True, "reason": "A new participant: nothing stands in the way."}
    runs = UserJourney.objects.filter(journey=journey, participant=participant)
    if journey.re_entry == Journey.ReEntry.ONCE and runs.exists():
        return {
            "allowed": False,
            "reason": "Entered once already; this journey is entered once per participant.",
        }
    if journey.re_entry == Journey.ReEntry.AFTER_END and runs.filter(state__in=LIVE_STATES).exists():
        return {"allowed": False, "reason": "A run of this journey is still live; it must end first."}
    return {"allowed": True, "reason": f"Re-entry policy {journey.re_entry!r} allows it."}


def journey_dry_run(
    *,
    journey: Journey,
    user_id: str,
    payload: dict[str, Any] | None = None,
    step_results: dict[str, Any] | None = None,
    version: JourneyVersion | None = None,
    event_waits: str = EventWaits.ARRIVE,
    now: datetime | None = None,
) -> DryRun:
    """Simulate ``user_id`` entering ``journey`` (its draft, or ``version``) with ``payload``.

    Raises ``ValidationFailed`` when the draft has problems (a broken graph cannot be walked).
    """
    now = now or timezone.now()
    payload = copy.deepcopy(payload or {})
    definition, source = _definition(journey, version)
    with transaction.atomic():
        existing = Participant.objects.filter(user_id=user_id).first()
        participant = existing or Participant(user_id=user_id, attributes={}, tags=[])
        result = DryRun(
            journey=journey,
            source=source,
            user_id=user_id,
            participant_exists=existing is not None,
            now=now,
            trigger=_trigger(journey, participant, payload),
            entry=_entry(journey, existing),
            definition=definition,
        )
        if existing is None:
            result.warnings.append(
                f"No participant {user_id!r} yet: simulated with no attributes and no tags."
            )
        _Simulation(
            journey=journey,
            definition=definition,
            participant=participant,
            now=now,
            payload=payload,
            step_results=copy.deepcopy(step_results or {}),
            event_waits=event_waits,
        ).run(result)
        transaction.set_rollback(True)  # a dry run leaves nothing behind, whatever a plug-in did
    return result
