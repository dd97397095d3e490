"""The walk of a dry run: the engine's decisions on a participant held in memory.

``Simulation`` enters steps as the walker (``journeys.engine.runner``) does, one decision at a
time from ``journeys.engine.decisions``, and writes down what each step would do
(``DryRunStep``): the outcome, the trace the engine would store, notes on what was assumed, a
preview of the action. It never executes an action and never touches a row: the participant is
a copy in memory, whose tags change only as the actions predict (``ActionType.predict``).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from journeys.actions.base import render, render_value
from journeys.engine.conditions import EvaluationContext
from journeys.engine.decisions import (
    Does,
    Next,
    Wait,
    WalkContext,
    delay_decide,
    entry_decide,
    event_decide,
    next_decide,
    timeout_decide,
    variant_choose,
    wait_decide,
)
from journeys.engine.definition import Definition, StepDef
from journeys.engine.timing import parse_duration, participant_zone, quiet_until
from journeys.models import Journey, Participant
from journeys.registries import ActionContext, Detour

if TYPE_CHECKING:
    from journeys.services.dry_run import DryRun

MAX_DRY_RUN_STEPS = 100  # steps shown; the runner's own fuse for one walk is the same size
MAX_VISITS_PER_STEP = 3  # a loop through a wait is shown this many times, then the walk stops
HIDDEN_CONFIG_KEYS = {"secret"}  # never shown in a preview


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


class Simulation:
    """The walk itself: the engine's decisions (``journeys.engine.decisions``) on a participant
    held in memory, without touching a row."""

    def __init__(
        self,
        *,
        journey: Journey,
        definition: Definition,
        participant: Participant,
        now: datetime,
        payload: dict[str, Any],
        step_results: dict[str, Any],
        events_arrive: bool,
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
        self.events_arrive = events_arrive
        self.zone = participant_zone(participant.attributes)

    def walk_context(self, payload: dict[str, Any] | None = None) -> WalkContext:
        evaluation = EvaluationContext(
            payload=payload if payload is not None else self.context["payload"],
            attributes=self.participant.attributes,
            tags=list(self.tags),  # a copy: traces keep the tags as they were at this step
            steps=self.context["steps"],
            context=self.context,
            variant=self.variant,
            user_id=self.participant.user_id,
            participant=self.participant,
        )
        return WalkContext(evaluation=evaluation, journey_id=self.journey.pk, now=self.clock)

    def action_context(self, config: dict[str, Any]) -> ActionContext:
        """What the action would be given; its participant is a copy whose tags are the walk's."""
        return ActionContext(
            participant=Participant(
                user_id=self.participant.user_id, attributes=self.participant.attributes, tags=self.tags
            ),
            config=config,
            idempotency_key="dry-run",
            context={**self.context, "variant": self.variant},
            journey_id=self.journey.pk,
        )

    def preview(self, step: StepDef, notes: list[str]) -> dict[str, Any]:
        """What the action would do, rendered for this participant (templates only; no I/O)."""
        config = {k: v for k, v in step.config.items() if k not in HIDDEN_CONFIG_KEYS}
        action = self.action_context(config)
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

    def simulate_action(self, step: StepDef, record: DryRunStep) -> tuple[dict[str, Any], Detour | None]:
        """The step result later conditions may read, as far as the action can predict it, and
        where the action sends the walk."""
        action = step.action
        if action is None:
            record.notes.append(f"Unknown action type {step.action_type!r}: the real step would fail.")
            return {}, None
        record.preview = self.preview(step, record.notes)
        if action.channel:
            until = quiet_until(self.clock, self.definition.quiet_start, self.definition.quiet_end, self.zone)
            if until is not None:
                record.notes.append(
                    f"Inside quiet hours: the message would wait until {until:%Y-%m-%d %H:%M %Z}."
                )
                self.clock = until
        context = self.action_context(step.config)
        predicted = action.predict(context)
        self.tags = list(context.participant.tags)  # what the action did to them (tags)
        if predicted is None:
            if step.key not in self.step_results and not action.transactional:
                record.notes.append("Its result is not known in a dry run (conditions on it read nothing).")
            return {}, None
        detour = action.detour(step.config, predicted)
        if detour is not None and detour.step:
            after = _duration(detour.delay) if detour.delay else "no delay"
            record.notes.append(f"Jumps to {detour.step!r} after {after}.")
        return predicted, detour

    def run(self, result: "DryRun") -> None:
        nxt = Next(self.definition.entry)
        visits: Counter[str] = Counter()
        step = None
        while nxt.key is not None:
            if len(result.steps) >= MAX_DRY_RUN_STEPS:
                result.warnings.append(f"Stopped after {MAX_DRY_RUN_STEPS} steps.")
                return
            step = self.definition.steps.get(nxt.key)
            if step is None:
                result.warnings.append(f"No step with key {nxt.key!r}.")
                return
            visits[step.key] += 1
            if visits[step.key] > MAX_VISITS_PER_STEP:
                result.warnings.append(
                    f"The path loops back to {step.key!r}; stopped after {MAX_VISITS_PER_STEP} rounds."
                )
                return
            nxt = self.step(step, result, delay=nxt.delay)
        result.end = _end(step, result.steps[-1] if result.steps else None, nxt)

    def step(self, step: StepDef, result: "DryRun", *, delay: timedelta | None = None) -> Next:
        """Enter one step as the walker would (``enter`` + ``finish``); return where it leads."""
        delay = delay_decide(step, delay)
        if delay:
            self.clock += delay
        record = DryRunStep(
            key=step.key,
            name=step.name,
            kind=step.kind,
            action_type=step.action_type,
            outcome="would run",
            at=self.clock,
        )
        result.steps.append(record)
        if delay:
            record.notes.append(f"Entered {_duration(delay)} after the previous step.")
        entry = entry_decide(step, self.walk_context())
        record.trace.update(entry.trace)
        if entry.does == Does.SKIP:
            record.outcome = "skipped"
            record.trace["skipped"] = "condition false"
            return self.decided(record, next_decide(step, self.walk_context(), succeeded=False))
        if entry.does == Does.SPLIT:
            variant = variant_choose(step, self.walk_context())
            self.variant = self.variant or variant.name
            self.context["variants"] = {**self.context.get("variants", {}), step.key: variant.name}
            record.outcome = "chosen"
            record.trace.update(variant.trace)
            self.finish(step, {"variant": variant.name})
            return Next(variant.step)
        if entry.does == Does.END:
            record.outcome = "ends"
            self.finish(step, {})
            return Next(None, end_reason="end step")
        given = self.step_results.get(step.key)
        given = given if isinstance(given, dict) else None
        step_result: dict[str, Any] = {}
        detour = payload = chosen = None
        if entry.does == Does.ACT:
            step_result, detour = self.simulate_action(step, record)
        elif entry.does == Does.WAIT:
            record.outcome = "waits"
            wait = wait_decide(step, self.walk_context())
            record.trace.update(wait.trace)
            if step.kind == "wait_for_event":
                payload = (given or {}).get("payload", {})
                if not self.event_arrives(step, record, wait, payload):
                    self.finish(step, {"timed_out": True})
                    return self.decided(record, timeout_decide(step))
                step_result = {"event_type": step.config.get("event"), "payload": payload, "timed_out": False}
            else:
                step_result, chosen = self.waited(step, record, wait, given)
        if given:
            step_result = {**step_result, **given}
        self.finish(step, step_result)
        ctx = self.walk_context(payload)
        return self.decided(record, next_decide(step, ctx, chosen=chosen, detour=detour))

    def waited(
        self, step: StepDef, record: DryRunStep, wait: Wait, given: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str | None]:
        """A wait or a manual step passed: its result, and the next step a staff advance names."""
        if step.kind == "manual":
            record.notes.append(
                "Waits for a staff advance" + (" — with the step result given." if given else ".")
            )
            chosen = given.get("next_step") if given else None
            return {}, chosen if isinstance(chosen, str) else None
        until = wait.until or self.clock
        if "until" in step.config:
            record.notes.append(f"Waits until {until.astimezone(self.zone):%Y-%m-%d %H:%M} ({self.zone}).")
        else:
            record.notes.append(f"Waits {until - self.clock}.")
        self.clock = until
        return {"waited_until": until.isoformat()}, None

    def event_arrives(self, step: StepDef, record: DryRunStep, wait: Wait, payload: dict[str, Any]) -> bool:
        """Whether the awaited event ends the wait, as the caller chose (arrives, or times out)."""
        event = step.config.get("event")
        timeout = parse_duration(step.config.get("timeout", 0))
        if not self.events_arrive:
            self.clock = wait.until or self.clock
            record.notes.append(f"Assumed: no {event} within {timeout}; the wait times out.")
            return False
        record.notes.append(
            f"Assumed: {event} arrives before the {timeout} timeout"
            + (" with the payload given." if payload else " (with an empty payload).")
        )
        match = event_decide(step, self.walk_context(payload))
        if match.trace is not None:
            record.trace["event_condition"] = match.trace
        if not match.counts:
            record.notes.append(
                "That event's condition does not hold: it would be ignored; the wait times out."
            )
            self.clock = wait.until or self.clock
        return match.counts

    def decided(self, record: DryRunStep, nxt: Next) -> Next:
        record.trace.update(nxt.trace)
        return nxt

    def finish(self, step: StepDef, step_result: dict[str, Any]) -> None:
        self.context["steps"] = {**self.context["steps"], step.key: step_result}


def _duration(delay: timedelta) -> str:
    """``2 days``, ``3 hours``, ``90 min``: the largest unit that divides it."""
    minutes = int(delay.total_seconds() // 60)
    if minutes and minutes % 1440 == 0:
        return f"{minutes // 1440} day{'s' if minutes > 1440 else ''}"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60} hour{'s' if minutes > 60 else ''}"
    return f"{minutes} min" if minutes else str(delay)


def _end(step: StepDef | None, record: DryRunStep | None, nxt: Next) -> str:
    """How the walk ended, in words."""
    if nxt.end_reason == "end step":
        return "end step"
    if step is not None and step.completion and record is not None and record.outcome != "skipped":
        return f"completed by {step.key!r} (a completion step)"
    if nxt.end_reason == "no next step matched":
        return "no next step matched"
    return "completed (no next step)"
