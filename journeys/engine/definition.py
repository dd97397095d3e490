"""A journey's step graph as data: normalised from Step rows, frozen into versions, walked by the runner.

The frozen form (``JourneyVersion.definition``)::

    {"entry": "welcome",
     "steps": [{"key": "welcome", "name": "Welcome", "order": 0, "kind": "action",
                "action_type": "send_email", "config": {...}, "condition": null,
                "next_steps": [{"step": "wait", "condition": null}], "delay_minutes": 0,
                "is_milestone": false, "completion": false, "max_attempts": 3,
                "on_failure": "fail"}, ...],
     "goal_event": "", "exit_event": "", "quiet_hours": {"start": "21:00", "end": "08:00"} | null,
     "cap_policy": "defer"}

Without ``next_steps``, a step is followed by the next one by order (the 003 linear journey).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from typing import Any

from journeys.engine.timing import parse_time_of_day
from journeys.registries import ActionType, action_types

STEP_FIELDS = (
    "key",
    "name",
    "order",
    "kind",
    "action_type",
    "config",
    "condition",
    "next_steps",
    "delay_minutes",
    "is_milestone",
    "completion",
    "max_attempts",
    "on_failure",
)
# The services a milestone names (the journey realm's definition). They are part of a step's
# frozen form only when set, so versions published before they existed compare equal.
SERVICE_FIELDS = ("experience_api", "personalization", "session_tracking")
WAITING_KINDS = frozenset({"wait", "wait_for_event", "manual"})


def normalise_next_steps(raw: Any) -> list[dict[str, Any]]:
    """``["a", {"step": "b", "condition": {...}}]`` → a list of ``{"step", "condition"}``.

    Entries that are neither are kept as they are so validation can point at them.
    """
    if not isinstance(raw, list):
        return raw
    entries = []
    for item in raw:
        if isinstance(item, str):
            entries.append({"step": item, "condition": None})
        elif isinstance(item, dict) and ("step" in item or "milestone_id" in item):
            entries.append(
                {"step": item.get("step", item.get("milestone_id")), "condition": item.get("condition")}
            )
        else:
            entries.append(item)
    return entries


def step_as_dict(step: Any) -> dict[str, Any]:
    """A Step row (or a dict of its fields) in the frozen form."""
    get = step.get if isinstance(step, dict) else lambda name, default=None: getattr(step, name, default)
    services = {name: get(name) for name in SERVICE_FIELDS if get(name)}
    return {
        "key": get("key"),
        "name": get("name") or get("key"),
        "order": get("order", 0) or 0,
        "kind": get("kind") or "action",
        "action_type": get("action_type") or "",
        "config": get("config") or {},
        "condition": get("condition") or None,
        "next_steps": normalise_next_steps(get("next_steps") or []),
        "delay_minutes": get("delay_minutes", 0) or 0,
        "is_milestone": bool(get("is_milestone", False)),
        "completion": bool(get("completion", False)),
        "max_attempts": get("max_attempts", 3) or 3,
        "on_failure": get("on_failure") or "fail",
        **services,
    }


def build_definition(*, journey: Any, steps: Iterable[Any]) -> dict[str, Any]:
    ordered = sorted((step_as_dict(s) for s in steps), key=lambda s: (s["order"],))
    quiet = None
    if journey.quiet_hours_start and journey.quiet_hours_end:
        quiet = {
            "start": journey.quiet_hours_start.strftime("%H:%M"),
            "end": journey.quiet_hours_end.strftime("%H:%M"),
        }
    return {
        "entry": ordered[0]["key"] if ordered else None,
        "steps": ordered,
        "goal_event": journey.goal_event or "",
        "exit_event": journey.exit_event or "",
        "quiet_hours": quiet,
        "cap_policy": journey.cap_policy,
    }


@dataclass(frozen=True)
class StepDef:
    key: str
    name: str
    order: int
    kind: str
    action_type: str
    config: dict[str, Any]
    condition: Any
    next_steps: tuple[dict[str, Any], ...]
    delay_minutes: int
    is_milestone: bool
    completion: bool
    max_attempts: int
    on_failure: str
    default_next: str | None  # the next step by order, used when next_steps is empty
    services: tuple[tuple[str, str], ...] = ()  # (role, service operation) the milestone calls

    @property
    def action(self) -> ActionType | None:
        """The registered action type of an action step (``None``: not an action, or unknown)."""
        return action_types.get(self.action_type) if self.kind == "action" else None

    @property
    def waits(self) -> bool:
        """Whether passing through this step takes time (what breaks a cycle)."""
        if self.kind in WAITING_KINDS or self.delay_minutes > 0:
            return True
        action = self.action
        return action is not None and action.takes_time(self.config)


class Definition:
    """A loaded definition: steps by key, in order, with their successors."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        raw_steps = data.get("steps") or []
        self.order: list[str] = [s["key"] for s in raw_steps]
        self.steps: dict[str, StepDef] = {}
        for index, raw in enumerate(raw_steps):
            following = self.order[index + 1] if index + 1 < len(self.order) else None
            self.steps[raw["key"]] = StepDef(
                key=raw["key"],
                name=raw.get("name") or raw["key"],
                order=raw.get("order", index),
                kind=raw.get("kind", "action"),
                action_type=raw.get("action_type", ""),
                config=raw.get("config") or {},
                condition=raw.get("condition"),
                next_steps=tuple(raw.get("next_steps") or ()),
                delay_minutes=raw.get("delay_minutes", 0) or 0,
                is_milestone=raw.get("is_milestone", False),
                completion=raw.get("completion", False),
                max_attempts=raw.get("max_attempts", 3) or 3,
                on_failure=raw.get("on_failure", "fail"),
                default_next=following,
                services=tuple((name, raw[name]) for name in SERVICE_FIELDS if raw.get(name)),
            )
        self.entry: str | None = data.get("entry") or (self.order[0] if self.order else None)
        self.goal_event: str = data.get("goal_event", "")
        self.exit_event: str = data.get("exit_event", "")
        self.cap_policy: str = data.get("cap_policy", "defer")
        quiet = data.get("quiet_hours") or None
        self.quiet_start: time | None = parse_time_of_day(quiet["start"]) if quiet else None
        self.quiet_end: time | None = parse_time_of_day(quiet["end"]) if quiet else None

    def __getitem__(self, key: str) -> StepDef:
        return self.steps[key]

    def milestones(self) -> list[StepDef]:
        """Steps that count toward progress: those marked as milestones, or every step but
        routing ones (branch, split, end) when none is marked."""
        marked = [s for s in self.steps.values() if s.is_milestone]
        if marked:
            return marked
        return [s for s in self.steps.values() if s.kind not in {"branch", "split", "end"}]

    def successors(self, key: str) -> list[str]:
        """Every step this one can lead to (for reachability and cycle checks)."""
        step = self.steps[key]
        targets: list[str] = []
        if step.kind == "end":
            return targets
        targets.extend(entry.get("step") for entry in step.next_steps if isinstance(entry, dict))
        if step.kind == "split":
            targets.extend(v.get("step") for v in step.config.get("variants", []) if isinstance(v, dict))
        if step.kind == "wait_for_event" and step.config.get("timeout_step"):
            targets.append(step.config["timeout_step"])
        if step.action is not None:
            targets.extend(step.action.leads_to(step.config))
        if not step.next_steps and step.kind != "split" and step.default_next and not step.completion:
            targets.append(step.default_next)
        return [t for t in targets if isinstance(t, str)]

    def reachable_from(self, start: str | None) -> set[str]:
        """Every step the journey can reach from ``start`` (itself included; none without a start)."""
        seen: set[str] = set()
        stack = [start] if start else []
        while stack:
            key = stack.pop()
            if key in seen or key not in self.steps:
                continue
            seen.add(key)
            stack.extend(self.successors(key))
        return seen


_cache: dict[tuple[int, Any], Definition] = {}
_CACHE_MAX = 512  # versions kept loaded per process


def definition_for(version: Any) -> Definition:
    """The loaded definition of a version.

    Versions never change, so it is cached by id and publication time (ids alone can repeat in
    a test database that rolls back), and by when a webhook secret was last rotated in it.
    """
    key = (version.pk, version.published_at, getattr(version, "secrets_rotated_at", None))
    definition = _cache.get(key)
    if definition is None:
        definition = Definition(version.definition)
        if len(_cache) >= _CACHE_MAX:
            _cache.pop(next(iter(_cache)))
        _cache[key] = definition
    return definition
