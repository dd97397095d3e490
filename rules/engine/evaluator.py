"""Pure evaluation: a compiled rule set, a participant context and the stored flags in; the flag
changes, events and milestones that should follow out. No database here.

**Order and conflicts.** Rules run by priority, highest first; equal priorities run in
``rule_id`` order. A rule whose conditions hold contributes its ``actions``; one whose conditions
do not hold contributes its ``otherwise`` actions (if any). When several rules decide the same
flag, the first in that order wins and the others' decisions on that flag are ignored.

**Flags reading flags.** Rules see the flags as they stand. When a rule reads a flag another rule
decides, evaluation repeats with the decided values until nothing moves (at most ``MAX_PASSES``),
so one evaluation reaches the state a second one would confirm: evaluation is idempotent.

**What counts as a change.** Setting a flag to the value it already has (unexpired) changes
nothing, not even its expiry. A flag past its ``expires_at`` counts as absent; if no rule sets it
again it is removed (reason ``expired``). A rule *fires* when one of its flag decisions changed a
stored flag; only then do its ``emit_event`` actions emit, and its milestone (top-level
``milestone``, or an ``emit_event`` of ``orchestration.milestone.reached`` with
``payload.milestone``) is recorded when a flag became true and the milestone was not reached yet.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.engine.nodes import EvalState
from rules.engine.ruleset import CompiledRule, Decision, Decisions, EmitAction, Ruleset
from rules.engine.values import ParticipantContext

logger = logging.getLogger(__name__)

MAX_PASSES = 10  # evaluation rounds when rules read flags other rules decide


@dataclass(frozen=True, slots=True)
class StoredFlag:
    """What the evaluation reads of a stored flag (not when it was set: nothing decides by that)."""

    value: bool
    set_by_rule: str
    expires_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(slots=True)
class FlagChange:
    flag: str
    previous: bool | None
    value: bool | None  # None: removed
    reason: str  # "rule", "cleared" or "expired"
    set_by_rule: str
    expires_at: datetime | None
    rule: CompiledRule | None
    holds: bool = False


@dataclass
class Outcome:
    matched: list[CompiledRule]
    changes: list[FlagChange]
    emits: list[tuple[CompiledRule, EmitAction]]
    milestones: list[tuple[CompiledRule, str, dict[str, Any]]]
    flags: dict[str, bool]  # what the flags are after the changes (unexpired values)
    next_check_at: datetime | None
    passes: int
    converged: bool
    traces: list[dict[str, Any]] | None = field(default=None)

    @property
    def fired(self) -> list[str]:
        return list(dict.fromkeys(c.rule.rule_id for c in self.changes if c.rule is not None))


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------
def evaluate(
    ruleset: Ruleset,
    context: ParticipantContext,
    stored: dict[str, StoredFlag],
    *,
    now: datetime,
    reached_milestones: set[str] | frozenset[str] = frozenset(),
    trace: bool = False,
) -> Outcome:
    """Decide every flag, then work out what changes. See the module docstring for the rules.

    1. Evaluate all rules against the live flags; collect the winning decision per flag.
    2. If any rule reads flags and the decisions moved a flag, evaluate again with the decided
       values (until stable or ``MAX_PASSES``).
    3. Compare the decisions with the stored flags: changes, then fired rules, their events and
       milestones, and when time alone can next change anything.
    """
    live = {name: f.value for name, f in stored.items() if f.expires_at is None or f.expires_at > now}
    state = EvalState(context=context, flags=live, now=now)
    matched, decisions, passes, converged = _settle(ruleset, state, live)
    changes = _changes(decisions, stored, now)
    emits, milestones = _consequences(ruleset, changes, reached_milestones)
    after = state.flags if ruleset.reads_flags else _apply(live, decisions)
    traces = None
    if trace:
        traces = [_trace(rule, state, decisions) for rule in ruleset.rules]
    return Outcome(
        matched=matched,
        changes=changes,
        emits=emits,
        milestones=milestones,
        flags=after,
        next_check_at=next_check_at(ruleset, context, stored, changes, now=now),
        passes=passes,
        converged=converged,
        traces=traces,
    )


def _settle(
    ruleset: Ruleset, state: EvalState, live: dict[str, bool]
) -> tuple[list[CompiledRule], dict[str, Decision], int, bool]:
    """Passes over the rules until the flags they decide stop moving: the rules that hold, the
    decisions, the number of passes and whether they settled. ``state.flags`` ends as decided
    when rules read flags."""
    passes = 0
    while True:
        passes += 1
        matched, decisions = _pass(ruleset.plan, state)
        if not ruleset.reads_flags:
            return matched, decisions, passes, True
        decided = _apply(live, decisions)
        if decided == state.flags:
            return matched, decisions, passes, True
        if passes >= MAX_PASSES:
            logger.warning(
                "rules for participant %s did not settle after %d passes (flags read each other in a "
                "cycle); keeping the last pass",
                state.context.user_id,
                passes,
            )
            state.flags = decided
            return matched, decisions, passes, False
        state.flags = decided


def _consequences(
    ruleset: Ruleset, changes: list[FlagChange], reached_milestones: set[str] | frozenset[str]
) -> tuple[list[tuple[CompiledRule, EmitAction]], list[tuple[CompiledRule, str, dict[str, Any]]]]:
    """The events the rules that fired emit, and the milestones they reach for the first time."""
    changes_of: dict[str, list[FlagChange]] = {}
    for change in changes:
        if change.rule is not None:
            changes_of.setdefault(change.rule.rule_id, []).append(change)
    emits: list[tuple[CompiledRule, EmitAction]] = []
    milestones: list[tuple[CompiledRule, str, dict[str, Any]]] = []
    seen_milestones = set(reached_milestones)
    for rule in ruleset.rules if changes_of else ():
        own = changes_of.get(rule.rule_id)
        if not own:
            continue
        branch = rule.then if own[0].holds else rule.otherwise
        emits.extend((rule, emit) for emit in branch.emits)
        became_true = any(c.value is True for c in own)
        if branch.milestone and became_true and branch.milestone[0] not in seen_milestones:
            seen_milestones.add(branch.milestone[0])
            milestones.append((rule, *branch.milestone))
    return emits, milestones


def _pass(
    plan: tuple[tuple[CompiledRule, Any, Decisions, Decisions], ...], state: EvalState
) -> tuple[list[CompiledRule], dict[str, Decision]]:
    """One round over the rules, highest priority first: the rules that hold, and the first
    decision on each flag (a lower-priority rule never overrides it)."""
    matched: list[CompiledRule] = []
    decisions: dict[str, Decision] = {}
    setdefault = decisions.setdefault
    for rule, test, then_decisions, otherwise_decisions in plan:
        if test(state):
            matched.append(rule)
            for flag, decision in then_decisions:
                setdefault(flag, decision)
        else:
            for flag, decision in otherwise_decisions:
                setdefault(flag, decision)
    return matched, decisions


def _apply(live: dict[str, bool], decisions: dict[str, Decision]) -> dict[str, bool]:
    flags = dict(live)
    for name, decision in decisions.items():
        if decision.action.clear:
            flags.pop(name, None)
        else:
            flags[name] = decision.action.value
    return flags


def _changes(
    decisions: dict[str, Decision], stored: dict[str, StoredFlag], now: datetime
) -> list[FlagChange]:
    """The stored flags the decisions change, and the expired ones nobody set again, by name."""
    changes: list[FlagChange] = []
    for name, decision in decisions.items():
        action = decision.action
        current = stored.get(name)
        live = current is not None and (current.expires_at is None or current.expires_at > now)
        if not action.clear:
            if live and current.value is action.value:
                continue
            changes.append(
                FlagChange(
                    flag=name,
                    previous=current.value if live else None,
                    value=action.value,
                    reason="rule",
                    set_by_rule=decision.rule.rule_id,
                    expires_at=now + action.expires_in if action.expires_in else None,
                    rule=decision.rule,
                    holds=decision.holds,
                )
            )
        elif live:
            changes.append(
                FlagChange(
                    name,
                    current.value,
                    None,
                    "cleared",
                    decision.rule.rule_id,
                    None,
                    decision.rule,
                    decision.holds,
                )
            )
        elif current is not None:
            changes.append(FlagChange(name, current.value, None, "expired", current.set_by_rule, None, None))
    for name, current in stored.items():
        if current.expires_at is not None and current.expires_at <= now and name not in decisions:
            changes.append(FlagChange(name, current.value, None, "expired", current.set_by_rule, None, None))
    if len(changes) > 1:
        changes.sort(key=_by_flag)
    return changes


def _by_flag(change: FlagChange) -> str:
    return change.flag


def next_check_at(
    ruleset: Ruleset,
    context: ParticipantContext,
    stored: dict[str, StoredFlag],
    changes: list[FlagChange],
    *,
    now: datetime,
) -> datetime | None:
    """The earliest future moment a ``time_since`` window closes or a flag expires."""
    candidates: list[datetime] = []
    for window in ruleset.windows:
        at = window.flips_at(context)
        if at is not None and at > now:
            candidates.append(at)
    changed = {c.flag: c for c in changes}
    for name, flag in stored.items():
        if name in changed:
            continue
        if flag.expires_at is not None and flag.expires_at > now:
            candidates.append(flag.expires_at)
    candidates.extend(c.expires_at for c in changes if c.expires_at is not None)
    return min(candidates) if candidates else None


def _trace(rule: CompiledRule, state: EvalState, decisions: dict[str, Decision]) -> dict[str, Any]:
    explained = rule.node.explain(state)
    branch = rule.then if explained["holds"] else rule.otherwise
    return {
        "rule_id": rule.rule_id,
        "priority": rule.priority,
        "holds": explained["holds"],
        "actions": [
            {
                "flag": a.flag,
                "action": "clear_flag" if a.clear else "set_flag",
                "value": None if a.clear else a.value,
                "applied": decisions.get(a.flag) is not None and decisions[a.flag].rule is rule,
                "overridden_by": (
                    decisions[a.flag].rule.rule_id
                    if a.flag in decisions and decisions[a.flag].rule is not rule
                    else None
                ),
            }
            for a in branch.flag_actions
        ],
        "condition": explained,
    }
