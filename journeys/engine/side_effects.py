"""Phase 3 of a dispatch: the side effects of claimed runs (email, webhooks, push, Telegram).

They run outside any transaction, in threads when the action touches no database, after quiet
hours and frequency caps are checked. A webhook's request is frozen before it is first sent, so
a retry or a redelivery after a crash sends the same bytes.
"""

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings

from journeys.actions.base import ActionSkipped
from journeys.engine.batch import bulk_update, versions_load
from journeys.engine.definition import definition_for
from journeys.engine.resuming import ActionOutcome
from journeys.engine.runner import action_context
from journeys.engine.timing import parse_duration, participant_zone, quiet_until
from journeys.errors import DomainError
from journeys.log_context import step_run_logging
from journeys.models import StepRun
from journeys.registries import action_types

logger = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _caps(raw: tuple[tuple[str, str], ...]) -> dict[str, tuple[int, timedelta]]:
    caps = {}
    for channel, rule in raw:
        count, _, period = str(rule).partition("/")
        period = period.strip() or "day"
        caps[channel] = (int(count), parse_duration(period if period[0].isdigit() else f"1 {period}"))
    return caps


def frequency_caps() -> dict[str, tuple[int, timedelta]]:
    """``JOURNEY_FREQUENCY_CAPS`` (``{"email": "3/day"}``) as channel → (count, window)."""
    return _caps(tuple(sorted(settings.JOURNEY_FREQUENCY_CAPS.items())))


def _gate(run: StepRun, now: datetime, sent_in_batch: Counter) -> ActionOutcome | None:
    """Hold a message back for quiet hours, or skip/defer it over a frequency cap."""
    if not run.channel:
        return None
    definition = definition_for(run.user_journey.version)
    zone = participant_zone(run.participant.attributes)
    until = quiet_until(now, definition.quiet_start, definition.quiet_end, zone)
    if until is not None:
        return ActionOutcome(
            deferred_until=until,
            trace={
                "reason": "quiet hours",
                "at": now.isoformat(),
                "until": until.isoformat(),
                "zone": str(zone),
            },
        )
    cap = frequency_caps().get(run.channel)
    if cap is None:
        return None
    limit, window = cap
    key = (run.participant_id, run.channel)
    recent = list(
        StepRun.objects.filter(
            participant_id=run.participant_id,
            channel=run.channel,
            status=StepRun.Status.SUCCEEDED,
            finished_at__gte=now - window,
        )
        .exclude(pk=run.pk)
        .order_by("finished_at")
        .values_list("finished_at", flat=True)[: limit + sent_in_batch[key]]
    )
    count = len(recent) + sent_in_batch[key]
    if count < limit:
        sent_in_batch[key] += 1
        return None
    trace = {
        "reason": "frequency cap",
        "channel": run.channel,
        "limit": limit,
        "window_seconds": window.total_seconds(),
        "sent": count,
    }
    if definition.cap_policy == "skip":
        return ActionOutcome(skipped=f"frequency cap: {limit} {run.channel} per {window}", trace=trace)
    oldest = recent[count - limit] if count - limit < len(recent) else now
    until = max(oldest + window, now) + timedelta(seconds=1)
    return ActionOutcome(deferred_until=until, trace={**trace, "until": until.isoformat()})


# ----------------------------------------------------------------------------------------------
# Executing
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.STEP_EXECUTION_THREADS, thread_name_prefix="step-action")


def _perform(action, context) -> ActionOutcome:
    try:
        with step_run_logging(context):
            result = action.execute(context)
    except ActionSkipped as skip:
        return ActionOutcome(skipped=skip.reason)
    except DomainError as exc:
        return ActionOutcome(error=f"{type(exc).__name__}: {exc.message}", permanent=True)
    except Exception as exc:
        with step_run_logging(context):
            logger.warning("action %s failed", action.name, exc_info=True)
        return ActionOutcome(error=f"{type(exc).__name__}: {exc}")
    return ActionOutcome(result=result or {}, side_effect_done=True)


def _freeze_requests(prepared: list[tuple[StepRun, Any, Any]]) -> None:
    """Give each action that freezes its request (a webhook's body) the request of its first
    attempt: stored ones are reused; new ones are stored, in one statement, before anything is
    sent, so a retry or a redelivery after a crash sends the same bytes.

    The statement only fills empty ones: if another worker froze a run meanwhile (its lease ran
    out under us), its request is read back and sent instead of ours.
    """
    new: dict[int, str] = {}
    frozen_now: list[StepRun] = []
    for run, action, context in prepared:
        if run.request_body:
            context.frozen_request = run.request_body
            continue
        try:
            body = action.freeze(context)
        except Exception:  # e.g. a template error: ``execute`` meets it again and records it
            logger.warning("could not build the request of step run %s", run.pk, exc_info=True)
            continue
        if body is not None:
            new[run.pk] = context.frozen_request = run.request_body = body
            frozen_now.append(run)
    if not new:
        return
    stored = bulk_update(StepRun, frozen_now, ["request_body"], only_empty="request_body")
    if stored < len(new):
        frozen = dict(StepRun.objects.filter(pk__in=new).values_list("pk", "request_body"))
        for run, _, context in prepared:
            if run.pk in new and frozen.get(run.pk):
                context.frozen_request = frozen[run.pk]


def _side_effects(runs: list[StepRun], now: datetime) -> dict[int, ActionOutcome]:
    outcomes: dict[int, ActionOutcome] = {}
    sent_in_batch: Counter = Counter()
    futures = {}
    prepared: list[tuple[StepRun, Any, Any]] = []
    for run in runs:
        gated = _gate(run, now, sent_in_batch)
        if gated is not None:
            outcomes[run.pk] = gated
            continue
        uj = run.user_journey
        step = definition_for(uj.version)[run.step_key]
        context = action_context(run=run, step=step, user_journey=uj, participant=run.participant)
        prepared.append((run, step.action, context))
    _freeze_requests(prepared)
    for run, action, context in prepared:
        if action.concurrent and len(runs) > 1:
            futures[run.pk] = _pool().submit(_perform, action, context)
        else:
            outcomes[run.pk] = _perform(action, context)
    for pk, future in futures.items():
        outcomes[pk] = future.result()
    return outcomes


def has_side_effect(run: StepRun) -> bool:
    """An entered action step whose action runs outside the transaction (HTTP, SMTP…)."""
    if not run.entered or run.step_kind != "action":
        return False
    action = action_types.get(run.action_type)
    return action is not None and not action.transactional


def side_effects_perform(claimed: list[StepRun], now: datetime) -> dict[int, ActionOutcome]:
    """Phase 3 for the claimed runs whose action has side effects (read again, with their user
    journeys and participants, now that the claim has committed)."""
    tokens = {run.pk: run.attempts for run in claimed}
    runs = [
        run
        for run in StepRun.objects.filter(pk__in=tokens, status=StepRun.Status.RUNNING)
        .select_related("participant", "user_journey")
        .order_by("user_journey_id", "seq")
        if run.attempts == tokens[run.pk]
    ]
    versions_load(run.user_journey for run in runs)
    for run in runs:
        run.user_journey.participant = run.participant
    # A run claimed again and again (its workers keep dying mid-step) stops being tried.
    exhausted = {run.pk for run in runs if run.attempts > run.max_attempts}
    outcomes = _side_effects([run for run in runs if run.pk not in exhausted], now)
    for pk in exhausted:
        outcomes[pk] = ActionOutcome(
            error="Abandoned by its worker more often than max attempts.", permanent=True
        )
    return outcomes
