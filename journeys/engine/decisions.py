"""The engine's decisions, apart from what it does about them.

Each function reads a step (``StepDef``) and a ``WalkContext`` (what the walk knows at that
moment) and returns a frozen decision with its trace: the part stored on the step run to say
why. The walker (``journeys.engine.runner``) acts on the decisions and the dry run
(``journeys.services.dry_run``) shows them; neither decides by itself, so a prediction cannot
drift from what the engine does. Nothing here reads or writes the database (a registered
condition type may read it).

* ``delay_decide``: how long before a step is entered;
* ``entry_decide``: what entering a step does: its condition, then act, wait, split, end or pass;
* ``wait_decide``: until when, and for what, a waiting step waits;
* ``event_decide``: whether an awaited event counts (the wait's own condition);
* ``variant_choose``: which variant of an A/B split a participant takes, the same every time;
* ``next_decide``: where a finished step leads (a step result's choice, the first next step
  whose condition holds, the next by order, the action's detour, a completion step);
* ``timeout_decide``: where a wait for an event leads when it times out.
"""

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from journeys.engine.conditions import EvaluationContext, evaluate
from journeys.engine.definition import StepDef
from journeys.engine.timing import next_local_time, parse_duration, parse_time_of_day, participant_zone
from journeys.registries import Detour

Trace = dict[str, Any]


@dataclass(frozen=True)
class WalkContext:
    """What a decision may read: the condition context, the journey and the walk's clock."""

    evaluation: EvaluationContext
    journey_id: int | None
    now: datetime

    def with_payload(self, payload: dict[str, Any] | None) -> "WalkContext":
        """The same moment, with an event's payload in place of the trigger's."""
        if payload is None:
            return self
        return replace(self, evaluation=replace(self.evaluation, payload=payload))


class Does:
    """What entering a step does."""

    SKIP = "skip"  # its condition is false: skipped, on to the next step
    ACT = "act"  # an action step: run its action
    WAIT = "wait"  # wait, wait_for_event, manual
    SPLIT = "split"
    END = "end"
    PASS = "pass"  # a branch: nothing to do, the next-step resolution chooses


_DOES_BY_KIND = {
    "action": Does.ACT,
    "wait": Does.WAIT,
    "wait_for_event": Does.WAIT,
    "manual": Does.WAIT,
    "split": Does.SPLIT,
    "end": Does.END,
}


@dataclass(frozen=True)
class Entry:
    does: str
    trace: Trace = field(default_factory=dict)  # {"condition": …} when the step has one


@dataclass(frozen=True)
class Wait:
    until: datetime | None  # None: only what ``waiting_for`` names ends the wait
    waiting_for: str = ""  # an event type, or "manual"
    trace: Trace = field(default_factory=dict)


@dataclass(frozen=True)
class EventMatch:
    counts: bool
    trace: Trace | None = None  # the wait's condition, evaluated on the event's payload


@dataclass(frozen=True)
class Variant:
    name: str
    step: str
    trace: Trace = field(default_factory=dict)


@dataclass(frozen=True)
class Next:
    """Where a finished step leads: a step (after an optional delay), or the end."""

    key: str | None
    delay: timedelta | None = None
    end_reason: str = "completed"
    trace: Trace = field(default_factory=dict)  # {"next": …} when there was a choice


def delay_decide(step: StepDef, delay: timedelta | None = None) -> timedelta | None:
    """The delay before ``step`` is entered: the one the previous step asked for, else its own."""
    return delay or (timedelta(minutes=step.delay_minutes) if step.delay_minutes else None)


def entry_decide(step: StepDef, ctx: WalkContext, *, condition_checked: bool = False) -> Entry:
    """Entering ``step``: its condition (unless already found true), then what its kind does."""
    if step.condition and not condition_checked:
        ok, trace = evaluate(step.condition, ctx.evaluation)
        if not ok:
            return Entry(Does.SKIP, {"condition": trace})
        return Entry(_DOES_BY_KIND.get(step.kind, Does.PASS), {"condition": trace})
    return Entry(_DOES_BY_KIND.get(step.kind, Does.PASS))


def wait_decide(step: StepDef, ctx: WalkContext) -> Wait:
    """A ``wait`` ends at a local time of day or after a duration; a ``wait_for_event`` at its
    event or its timeout; a ``manual`` step when staff advance it."""
    config = step.config
    if step.kind == "wait_for_event":
        since = ctx.now.isoformat()
        return Wait(
            until=ctx.now + parse_duration(config.get("timeout", 0)),
            waiting_for=config["event"],
            trace={"wait": {"event": config["event"], "since": since}},
        )
    if step.kind == "manual":
        return Wait(until=None, waiting_for="manual")
    if "until" in config:
        zone = participant_zone(ctx.evaluation.attributes)
        return Wait(until=next_local_time(ctx.now, parse_time_of_day(config["until"]), zone))
    return Wait(until=ctx.now + parse_duration(config.get("duration", config.get("minutes", 0))))


def event_decide(step: StepDef, ctx: WalkContext) -> EventMatch:
    """Whether an awaited event (its payload in ``ctx``) ends the wait."""
    condition = step.config.get("condition")
    if not condition:
        return EventMatch(True)
    ok, trace = evaluate(condition, ctx.evaluation)
    return EventMatch(ok, trace)


def split_bucket(*, journey_id: int | None, step_key: str, user_id: str, total: float) -> float:
    """A participant's stable point in [0, total): the same variant every time, on every machine."""
    digest = hashlib.sha256(f"{journey_id}:{step_key}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * total


def variant_choose(step: StepDef, ctx: WalkContext) -> Variant:
    """Weighted, deterministic A/B choice: the participant's point falls in one variant's share."""
    variants = step.config["variants"]
    point = split_bucket(
        journey_id=ctx.journey_id,
        step_key=step.key,
        user_id=ctx.evaluation.user_id,
        total=sum(v.get("weight", 1) for v in variants),
    )
    chosen = variants[-1]
    for variant in variants:
        point -= variant.get("weight", 1)
        if point < 0:
            chosen = variant
            break
    weights = {v["name"]: v.get("weight", 1) for v in variants}
    return Variant(chosen["name"], chosen["step"], {"split": {"variant": chosen["name"], "weights": weights}})


def _resolve(step: StepDef, ctx: WalkContext, chosen: str | None) -> Next:
    """1. An end step ends. 2. A step result naming an allowed next step goes there.
    3. Without explicit next steps, the next by order. 4. Else the first whose condition holds;
    none holding ends the journey."""
    if step.kind == "end":
        return Next(None, end_reason="end step")
    entries = step.next_steps
    allowed = {e["step"] for e in entries} if entries else {step.default_next}
    if chosen is not None and chosen in allowed:
        return Next(chosen, trace={"next": {"chosen": chosen, "by": "step_result"}})
    if not entries:
        return Next(step.default_next)
    considered = []
    for entry in entries:
        ok, trace = evaluate(entry.get("condition"), ctx.evaluation)
        considered.append({"step": entry["step"], "result": ok, **({"condition": trace} if trace else {})})
        if ok:
            return Next(entry["step"], trace={"next": {"chosen": entry["step"], "considered": considered}})
    return Next(
        None, end_reason="no next step matched", trace={"next": {"chosen": None, "considered": considered}}
    )


def next_decide(
    step: StepDef,
    ctx: WalkContext,
    *,
    succeeded: bool = True,
    chosen: str | None = None,
    detour: Detour | None = None,
) -> Next:
    """Where ``step`` leads once finished (its result already in ``ctx``). A step that succeeded
    follows its action's ``detour`` (``schedule_next``), and a completion step ends the journey."""
    nxt = _resolve(step, ctx, chosen)
    if not succeeded:
        return nxt
    if detour is not None:
        nxt = replace(nxt, key=detour.step or nxt.key, delay=detour.delay)
    if step.completion:
        nxt = replace(nxt, key=None, delay=None, end_reason="completed")
    return nxt


def timeout_decide(step: StepDef) -> Next:
    """A wait for an event that timed out goes to its ``timeout_step``."""
    target = step.config.get("timeout_step")
    return Next(target, trace={"next": {"chosen": target, "by": "timeout"}})
