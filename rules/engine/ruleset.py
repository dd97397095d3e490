"""A rule set compiled for evaluation: each rule's conditions as a ``Node``, its actions as
flag decisions and events, the rules in evaluation order with the plan the hot loop runs."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rules.engine.compiler import compile_conditions
from rules.engine.nodes import Node, TimeWindow
from rules.engine.validation import MILESTONE_EVENT
from rules.engine.values import parse_duration


@dataclass(frozen=True, slots=True)
class FlagAction:
    flag: str
    clear: bool
    value: bool = True
    expires_in: timedelta | None = None


@dataclass(frozen=True, slots=True)
class EmitAction:
    event: str
    payload: dict[str, Any]
    index: int  # position in the rule's action list; part of the emitted event's idempotency key


@dataclass(frozen=True, slots=True)
class Branch:
    flag_actions: tuple[FlagAction, ...] = ()
    emits: tuple[EmitAction, ...] = ()
    milestone: tuple[str, dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule_id: str
    name: str
    flag: str
    priority: int
    version: int
    node: Node
    then: Branch
    otherwise: Branch
    pk: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    rule: CompiledRule
    action: FlagAction
    holds: bool


Decisions = tuple[tuple[str, Decision], ...]  # (flag, decision) per flag action of a branch


@dataclass(frozen=True)
class Ruleset:
    """Active rules in evaluation order, with what the scheduler and the fixpoint need to know."""

    token: str
    rules: tuple[CompiledRule, ...]
    reads_flags: bool
    windows: tuple[TimeWindow, ...]
    # (rule, its test, its decisions when it holds, its decisions when not): what the hot loop
    # needs, unpacked once; the decisions are built here, so evaluating allocates none
    plan: tuple[tuple[CompiledRule, Any, Decisions, Decisions], ...] = ()
    reads_participant: bool = True  # some condition may read attributes or tags

    @property
    def rule_ids(self) -> list[str]:
        return [r.rule_id for r in self.rules]


def compile_rule(definition: dict[str, Any], *, version: int = 1, pk: int | None = None) -> CompiledRule:
    """A validated, normalised definition → a ``CompiledRule`` (conditions become closures)."""
    return CompiledRule(
        rule_id=definition["rule_id"],
        name=definition["name"],
        flag=definition["flag"],
        priority=definition["priority"],
        version=version,
        node=compile_conditions(definition["conditions"]),
        then=_branch(definition["actions"], definition.get("milestone")),
        otherwise=_branch(definition.get("otherwise") or [], None),
        pk=pk,
    )


def _branch(actions: list[dict[str, Any]], milestone: Any) -> Branch:
    flag_actions: list[FlagAction] = []
    emits: list[EmitAction] = []
    named: tuple[str, dict[str, Any]] | None = None
    if milestone is not None:
        spec = {"name": milestone} if isinstance(milestone, str) else milestone
        named = (spec["name"], dict(spec.get("metadata") or {}))
    for index, action in enumerate(actions):
        kind = action["type"]
        if kind == "set_flag":
            expires = action.get("expires_in")
            flag_actions.append(
                FlagAction(
                    action["flag"],
                    clear=False,
                    value=action.get("value", True),
                    expires_in=parse_duration(expires) if expires else None,
                )
            )
        elif kind == "clear_flag":
            flag_actions.append(FlagAction(action["flag"], clear=True))
        elif action["event"] == MILESTONE_EVENT and named is None:
            # The seed's way of naming a milestone: recorded once, and the event emitted with it.
            payload = dict(action.get("payload") or {})
            named = (payload.pop("milestone"), payload)
        else:
            emits.append(EmitAction(action["event"], dict(action.get("payload") or {}), index))
    return Branch(tuple(flag_actions), tuple(emits), named)


def ruleset_build(rules: list[CompiledRule], *, token: str) -> Ruleset:
    ordered = tuple(sorted(rules, key=lambda r: (-r.priority, r.rule_id)))
    windows: dict[tuple, TimeWindow] = {}
    for rule in ordered:
        for window in rule.node.windows:
            windows.setdefault(window.key, window)
    return Ruleset(
        token=token,
        rules=ordered,
        reads_flags=any(r.node.reads_flags for r in ordered),
        reads_participant=any(r.node.reads_participant for r in ordered),
        windows=tuple(windows.values()),
        plan=tuple(
            (
                r,
                r.node.test,
                tuple((a.flag, Decision(r, a, True)) for a in r.then.flag_actions),
                tuple((a.flag, Decision(r, a, False)) for a in r.otherwise.flag_actions),
            )
            for r in ordered
        ),
    )
