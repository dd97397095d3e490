"""Read side of the rules engine: flags, history, milestones, rules, previews and backtests."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from journeys.errors import NotFound
from journeys.models import Participant
from rules.cache import context_build, context_get, context_records_load
from rules.engine.nodes import EvalState
from rules.engine.ruleset import compile_rule
from rules.models import Flag, FlagHistory, Milestone, Rule
from rules.services.rules import rule_definition

BACKTEST_CHUNK = 500  # participants whose records are loaded per query
BACKTEST_DEFAULT_LIMIT = 10_000  # participants examined by default (the request may ask for more)
BACKTEST_SAMPLE = 20  # matching user_ids returned as examples


def live_flags(*, participant: Participant, now: datetime | None = None) -> QuerySet[Flag]:
    """The participant's flags that have not expired (an expired flag counts as absent)."""
    now = now or timezone.now()
    return Flag.objects.filter(participant=participant).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def flag_history(*, participant: Participant) -> QuerySet[FlagHistory]:
    return FlagHistory.objects.filter(participant=participant).order_by("-id")


def milestones(*, participant: Participant) -> QuerySet[Milestone]:
    return Milestone.objects.filter(participant=participant).order_by("reached_at", "id")


def rules_list() -> QuerySet[Rule]:
    """In evaluation order; filtered by ``rules.api.filters.RuleFilterSet``."""
    return Rule.objects.all()


def rule_get(*, rule_id: str) -> Rule:
    try:
        return Rule.objects.get(rule_id=rule_id)
    except Rule.DoesNotExist:
        raise NotFound(f"No rule with rule_id {rule_id!r}.") from None


def _live_flag_values(flags: list[Flag], now: datetime) -> dict[str, bool]:
    return {f.flag: f.value for f in flags if f.expires_at is None or f.expires_at > now}


def rule_preview(
    *, rule: Rule, participant: Participant, definition: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Does this rule (or an unsaved ``definition``) hold for the participant now, and why."""
    compiled = compile_rule(definition or rule_definition(rule), version=rule.version, pk=rule.pk)
    now = timezone.now()
    state = EvalState(
        context=context_get(participant),
        flags=_live_flag_values(list(Flag.objects.filter(participant=participant)), now),
        now=now,
    )
    explained = compiled.node.explain(state)
    return {
        "rule_id": compiled.rule_id,
        "user_id": participant.user_id,
        "holds": explained["holds"],
        "condition": explained,
        "timestamp": now,
    }


@dataclass
class Backtest:
    rule_id: str
    participants_evaluated: int
    matched: int
    truncated: bool
    sample_user_ids: list[str]
    timestamp: datetime


def rule_backtest(
    *, rule: Rule, definition: dict[str, Any] | None = None, limit: int = BACKTEST_DEFAULT_LIMIT
) -> Backtest:
    """How many participants the rule's conditions would match now (at most ``limit`` examined,
    oldest participants first). Reads records in chunks; writes nothing."""
    compiled = compile_rule(definition or rule_definition(rule), version=rule.version, pk=rule.pk)
    now = timezone.now()
    examined = matched = 0
    sample: list[str] = []
    last_pk = 0
    while examined < limit:
        chunk = list(
            Participant.objects.filter(pk__gt=last_pk).order_by("pk")[: min(BACKTEST_CHUNK, limit - examined)]
        )
        if not chunk:
            break
        last_pk = chunk[-1].pk
        ids = [p.pk for p in chunk]
        records = context_records_load(participant_ids=ids)
        flags: dict[int, list[Flag]] = defaultdict(list)
        for row in Flag.objects.filter(participant_id__in=ids):
            flags[row.participant_id].append(row)
        for participant in chunk:
            state = EvalState(
                context=context_build(participant, records.get(participant.pk, {})),
                flags=_live_flag_values(flags[participant.pk], now),
                now=now,
            )
            if compiled.node.test(state):
                matched += 1
                if len(sample) < BACKTEST_SAMPLE:
                    sample.append(participant.user_id)
        examined += len(chunk)
    truncated = examined >= limit and Participant.objects.filter(pk__gt=last_pk).exists()
    return Backtest(compiled.rule_id, examined, matched, truncated, sample, now)
