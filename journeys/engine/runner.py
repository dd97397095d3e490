"""The runner: walks one user journey through its steps, inside one transaction, with its row locked.

A walk enters steps one after another, at once, until one must wait:

1. A step with a delay (``delay_minutes``), or any step while the journey is paused, becomes a
   run that is not yet *entered*, due at the end of the delay.
2. Entering evaluates the step's condition (false: skipped, on to the next); then
   ``wait``/``wait_for_event``/``manual`` start waiting (a ``scheduled`` run, with ``due_at``
   and/or ``waiting_for``); ``branch``/``split``/``end`` decide at once; an action that only
   writes to the database runs in a savepoint; any other action becomes a ``pending`` run that a
   worker executes outside the transaction (``kick`` lists them for dispatch after commit).
3. A finished step records its result in the context and names the next step (explicit
   ``next_steps`` with conditions, else the next by order); no next step ends the journey.

Every caller holds the user journey's row lock (``select_for_update``): the bus waking a
waiting run, the dispatcher timing it out, staff advancing it. Whoever takes the lock first
wins; the other finds the run no longer waiting. ``(user_journey, seq)`` is unique, so two
walkers can never both create the next step.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from journeys import journey_events, metrics
from journeys.actions.base import ActionSkipped
from journeys.engine.batch import USER_JOURNEY_FIELDS, Writes
from journeys.engine.conditions import EvaluationContext, evaluate
from journeys.engine.definition import Definition, StepDef, definition_for
from journeys.engine.timing import next_local_time, parse_duration, parse_time_of_day, participant_zone
from journeys.errors import DomainError
from journeys.log_context import step_run_logging
from journeys.models import Event, StepRun, UserJourney, UserJourneyLog
from journeys.queue import Backoff
from journeys.registries import ActionContext, action_types

logger = logging.getLogger(__name__)

MAX_INLINE_STEPS = 100  # steps entered in one walk; validation forbids instant cycles, this is a fuse
ERROR_MAX_CHARS = 4000
LIVE_RUN_STATUSES = (StepRun.Status.PENDING, StepRun.Status.SCHEDULED, StepRun.Status.RUNNING)


@dataclass
class Next:
    """Where a finished step leads: a step (after an optional delay), or the end."""

    key: str | None
    delay: timedelta | None = None
    end_reason: str = "completed"


def action_of(step: StepDef):
    return action_types.get(step.action_type) if step.kind == "action" else None


def channel_of(step: StepDef) -> str:
    action = action_of(step)
    return getattr(action, "channel", "") or "" if action else ""


# When a failed run is tried again (the step runs queue's backoff, ``journeys.queue``).
STEP_RETRY = Backoff(
    base=lambda: settings.STEP_RETRY_BASE_SECONDS, cap=lambda: settings.STEP_RETRY_MAX_SECONDS
)


def split_bucket(*, journey_id: int, step_key: str, user_id: str, total: float) -> float:
    """A participant's stable point in [0, total): the same variant every time, on every machine."""
    digest = hashlib.sha256(f"{journey_id}:{step_key}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * total


def log(
    user_journey: UserJourney, action: str, *, at: datetime, from_state: str = "", actor=None, **detail: Any
) -> None:
    UserJourneyLog.objects.create(
        user_journey=user_journey,
        at=at,
        action=action,
        from_state=from_state,
        to_state=user_journey.state,
        step_key=detail.pop("step_key", user_journey.current_step),
        actor=actor if getattr(actor, "pk", None) else None,
        detail=detail,
    )


class Walker:
    """Moves one locked user journey forward. Collects pending runs to dispatch in ``kick``.

    With ``writes`` (set-based callers: the dispatcher's batches, the enrolment of a batch), the
    walker changes rows in memory and ``writes.flush()`` writes the whole batch at once; a run
    an action needs by id is inserted at once.
    """

    UJ_FIELDS = USER_JOURNEY_FIELDS

    def __init__(
        self, user_journey: UserJourney, *, now: datetime | None = None, writes: Writes | None = None
    ) -> None:
        self.uj = user_journey
        self.participant = user_journey.participant
        self.definition: Definition = definition_for(user_journey.version)
        self.now = now or timezone.now()
        self.kick: list[int] = []
        self.writes = writes

    # ------------------------------------------------------------------------------------------
    # Context
    # ------------------------------------------------------------------------------------------
    def eval_context(self, payload: dict[str, Any] | None = None) -> EvaluationContext:
        context = self.uj.context
        return EvaluationContext(
            payload=payload if payload is not None else context.get("payload", {}),
            attributes=self.participant.attributes,
            tags=self.participant.tags,
            steps=context.get("steps", {}),
            context=context,
            variant=self.uj.variant,
            user_id=self.participant.user_id,
            participant=self.participant,
        )

    def save(self) -> None:
        if self.writes is not None:
            self.uj.updated_at = self.now
            self.writes.journey(self.uj)
            return
        self.uj.save(update_fields=self.UJ_FIELDS)

    def _save_run(self, run: StepRun, *, fields: list[str] | None = None) -> None:
        if self.writes is not None:
            self.writes.run(run)
        else:
            run.save(update_fields=fields)

    def _log(self, action: str, *, from_state: str = "", **detail: Any) -> None:
        if self.writes is None:
            log(self.uj, action, at=self.now, from_state=from_state, **detail)
            return
        self.writes.log(
            UserJourneyLog(
                user_journey=self.uj,
                at=self.now,
                action=action,
                from_state=from_state,
                to_state=self.uj.state,
                step_key=detail.pop("step_key", self.uj.current_step),
                detail=detail,
            )
        )

    def publish(self, events: list) -> None:
        """Journey events go on the bus with the batch's writes, or at once without a batch."""
        if self.writes is not None:
            self.writes.journey_events.extend(events)
        else:
            journey_events.journey_events_publish(events)

    def _milestone_event(self, run: StepRun, type: str, *, key: str, **payload: Any) -> None:
        if run.step_key in journey_events.milestone_keys(self.definition):
            event = journey_events.journey_event(
                self.uj, type, key=key, user_id=self.participant.user_id, milestone=run.step_key, **payload
            )
            self.publish([event])

    def _park(self, run: StepRun, *, kick: bool = False) -> None:
        """Write the run the walk stops on (now, or with the batch's writes)."""
        self._save_run(run)
        if kick:
            if self.writes is not None:
                self.writes.kick.append(run)
            else:
                self.kick.append(run.pk)

    # ------------------------------------------------------------------------------------------
    # Walking
    # ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Enter the first step of a new user journey."""
        self.walk(Next(self.definition.entry))

    def walk(self, nxt: Next) -> None:
        """Enter steps from ``nxt`` until one waits or the journey ends; saves the journey."""
        for _ in range(MAX_INLINE_STEPS):
            if nxt.key is None:
                self.end(nxt.end_reason)
                break
            run = self._new_run(self.definition[nxt.key], delay=nxt.delay)
            if not run.entered:
                break
            step_next = self.enter(run)
            if step_next is None:
                break
            nxt = step_next
        else:  # the fuse: continue in a later transaction rather than loop here for ever
            logger.error(
                "user journey %s walked %d steps at once; pausing the walk", self.uj.pk, MAX_INLINE_STEPS
            )
        self.save()

    def _new_run(self, step: StepDef, *, delay: timedelta | None = None) -> StepRun:
        self.uj.last_seq += 1
        self.uj.current_step = step.key
        delay = delay or (timedelta(minutes=step.delay_minutes) if step.delay_minutes else None)
        entered_now = not delay and self.uj.state == UserJourney.State.ACTIVE
        run = StepRun(
            user_journey=self.uj,
            participant_id=self.uj.participant_id,
            seq=self.uj.last_seq,
            step_key=step.key,
            step_kind=step.kind,
            action_type=step.action_type,
            channel=channel_of(step),
            max_attempts=step.max_attempts,
            entered=entered_now,
            status=StepRun.Status.SCHEDULED if delay else StepRun.Status.PENDING,
            due_at=self.now + (delay or timedelta()),
        )
        self._milestone_event(
            run, journey_events.MILESTONE_STARTED, key=f"{self.uj.pk}:{run.seq}", seq=run.seq
        )
        if not entered_now:
            self._park(run)
        return run

    def enter(self, run: StepRun) -> Next | None:
        """Enter ``run``'s step: condition, then the kind's behaviour. ``None``: it waits."""
        step = self.definition[run.step_key]
        if run.status == StepRun.Status.RUNNING:
            run.attempts = max(run.attempts - 1, 0)  # claimed to be entered: not a try of its action
        run.entered = True
        if step.condition and "condition" not in run.trace:
            ok, trace = evaluate(step.condition, self.eval_context())
            run.trace = {**run.trace, "condition": trace}
            if not ok:
                return self.finish(run, {"skipped": "condition false"}, status=StepRun.Status.SKIPPED)

        if step.kind == "action":
            action = action_of(step)
            if action is None:
                return self.fail_run(run, f"Unknown action type {step.action_type!r}.", permanent=True)
            if getattr(action, "transactional", False):
                run.attempts += 1
                run.executed_at = self.now
                return self.execute_inline(run, action)
            run.status = StepRun.Status.PENDING
            run.due_at = self.now
            self._park(run, kick=True)
            return None
        if step.kind == "wait":
            return self._wait(run, self._wait_until(step))
        if step.kind == "wait_for_event":
            timeout = parse_duration(step.config.get("timeout", 0))
            run.waiting_for = step.config["event"]
            run.trace = {**run.trace, "wait": {"event": run.waiting_for, "since": self.now.isoformat()}}
            return self._wait(run, self.now + timeout)
        if step.kind == "manual":
            run.waiting_for = "manual"
            return self._wait(run, None)
        if step.kind == "split":
            return self._split(run, step)
        if step.kind == "end":
            self.finish(run, {})
            return Next(None, end_reason="end step")
        return self.finish(run, {})  # branch: the choice is made by the next-step resolution

    def _wait(self, run: StepRun, until: datetime | None) -> None:
        run.status = StepRun.Status.SCHEDULED
        run.due_at = until
        self._park(run)
        return None

    def _wait_until(self, step: StepDef) -> datetime:
        config = step.config
        if "until" in config:
            zone = participant_zone(self.participant.attributes)
            return next_local_time(self.now, parse_time_of_day(config["until"]), zone)
        return self.now + parse_duration(config.get("duration", config.get("minutes", 0)))

    def _split(self, run: StepRun, step: StepDef) -> Next:
        variants = step.config["variants"]
        total = sum(v.get("weight", 1) for v in variants)
        point = split_bucket(
            journey_id=self.uj.journey_id, step_key=step.key, user_id=self.participant.user_id, total=total
        )
        chosen = variants[-1]
        for variant in variants:
            point -= variant.get("weight", 1)
            if point < 0:
                chosen = variant
                break
        if not self.uj.variant:
            self.uj.variant = chosen["name"]
        self.uj.context = {
            **self.uj.context,
            "variants": {**self.uj.context.get("variants", {}), step.key: chosen["name"]},
        }
        run.trace = {
            **run.trace,
            "split": {
                "variant": chosen["name"],
                "weights": {v["name"]: v.get("weight", 1) for v in variants},
            },
        }
        self._record(run, StepRun.Status.SUCCEEDED, {"variant": chosen["name"]})
        return Next(chosen["step"])

    # ------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------
    def action_context(self, run: StepRun, step: StepDef) -> ActionContext:
        return ActionContext(
            participant=self.participant,
            config=step.config,
            idempotency_key=run.idempotency_key,
            context={**self.uj.context, "variant": self.uj.variant},
            step_run_id=run.pk,
            journey_id=self.uj.journey_id,
            user_journey_id=self.uj.pk,
        )

    def execute_inline(self, run: StepRun, action) -> Next | None:
        """Run a database-only action in a savepoint: its writes and the run's record commit together.

        In a batch that holds the participant's row, an action with ``execute_locked`` (tags)
        changes the participant in memory instead; the batch writes it once.
        """
        step = self.definition[run.step_key]
        in_memory = (
            self.writes is not None
            and hasattr(action, "execute_locked")
            and self.writes.holds(self.participant)
        )
        if run.pk is None or run.status != StepRun.Status.RUNNING:  # a claimed run is already running
            run.status = StepRun.Status.RUNNING
            if not in_memory:
                run.save()  # the ledger and emitted events reference the run by id
        context = self.action_context(run, step)
        try:
            with step_run_logging(context):
                if in_memory:
                    result = action.execute_locked(context)
                else:
                    with transaction.atomic():
                        result = action.execute(context)
        except ActionSkipped as skip:
            return self.finish(run, {"skipped": skip.reason}, status=StepRun.Status.SKIPPED)
        except DomainError as exc:
            return self.fail_run(run, f"{type(exc).__name__}: {exc.message}", permanent=True)
        except Exception as exc:
            with step_run_logging(context):
                logger.warning("step run %s (%s) failed", run.pk, step.action_type, exc_info=True)
            return self.fail_run(run, f"{type(exc).__name__}: {exc}")
        return self.finish(run, result or {})

    def complete_action(self, run: StepRun, outcome: "ActionOutcome") -> None:
        """Record the outcome of an action executed outside the transaction, and walk on."""
        if outcome.deferred_until is not None:
            run.status = StepRun.Status.SCHEDULED
            run.due_at = outcome.deferred_until
            run.attempts = max(run.attempts - 1, 0)  # waiting for a window is not a failed try
            run.lease_until = None
            run.trace = {**run.trace, "deferred": [*run.trace.get("deferred", []), outcome.trace]}
            self._save_run(run)
            return
        if outcome.skipped is not None:
            if outcome.trace:
                run.trace = {**run.trace, "skipped": outcome.trace}
            nxt = self.finish(run, {"skipped": outcome.skipped}, status=StepRun.Status.SKIPPED)
        elif outcome.error is not None:
            nxt = self.fail_run(run, outcome.error, permanent=outcome.permanent)
        else:
            nxt = self.finish(run, outcome.result or {})
        if nxt is not None:
            self.walk(nxt)
        else:
            self.save()

    # ------------------------------------------------------------------------------------------
    # Finishing a step
    # ------------------------------------------------------------------------------------------
    def _record(self, run: StepRun, status: str, result: dict[str, Any]) -> None:
        run.status = status
        run.result = result
        run.finished_at = self.now
        run.lease_until = None
        if run.due_at is None:
            run.due_at = self.now
        self._save_run(run)
        metrics.step_recorded(self.uj, run, self.definition)
        if status == StepRun.Status.SUCCEEDED:
            self._milestone_event(
                run, journey_events.MILESTONE_COMPLETED, key=f"{self.uj.pk}:{run.seq}", seq=run.seq
            )
        elif status == StepRun.Status.SKIPPED:
            self._milestone_event(
                run, journey_events.MILESTONE_SKIPPED, key=f"{self.uj.pk}:{run.seq}", seq=run.seq
            )

    def finish(
        self,
        run: StepRun,
        result: dict[str, Any],
        *,
        status: str = StepRun.Status.SUCCEEDED,
        chosen: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Next:
        """Record the run as finished and resolve where the journey goes next."""
        step = self.definition[run.step_key]
        if status == StepRun.Status.SUCCEEDED:
            steps = {**self.uj.context.get("steps", {}), step.key: result}
            self.uj.context = {**self.uj.context, "steps": steps}
        nxt = self.resolve_next(run, step, chosen=chosen, payload=payload)
        if status == StepRun.Status.SUCCEEDED and step.action_type == "schedule_next":
            delay = timedelta(seconds=result.get("delay_seconds") or 0)
            nxt = Next(result.get("jump_to") or nxt.key, delay or None, end_reason=nxt.end_reason)
        if step.completion and status == StepRun.Status.SUCCEEDED:
            nxt = Next(None, end_reason="completed")
        self._record(run, status, result)
        return nxt

    def resolve_next(
        self, run: StepRun, step: StepDef, *, chosen: str | None = None, payload: dict[str, Any] | None = None
    ) -> Next:
        if step.kind == "end":
            return Next(None, end_reason="end step")
        entries = step.next_steps
        allowed = {e["step"] for e in entries} if entries else {step.default_next}
        if chosen is not None and chosen in allowed:
            run.trace = {**run.trace, "next": {"chosen": chosen, "by": "step_result"}}
            return Next(chosen)
        if not entries:
            return Next(step.default_next)
        ctx = self.eval_context(payload)
        considered = []
        for entry in entries:
            ok, trace = evaluate(entry.get("condition"), ctx)
            considered.append(
                {"step": entry["step"], "result": ok, **({"condition": trace} if trace else {})}
            )
            if ok:
                run.trace = {**run.trace, "next": {"chosen": entry["step"], "considered": considered}}
                return Next(entry["step"])
        run.trace = {**run.trace, "next": {"chosen": None, "considered": considered}}
        return Next(None, end_reason="no next step matched")

    def fail_run(self, run: StepRun, error: str, *, permanent: bool = False) -> Next | None:
        """A failed try: retry later with backoff, or dead-letter and apply the step's policy."""
        step = self.definition[run.step_key]
        run.error = error[:ERROR_MAX_CHARS]
        run.lease_until = None
        if not permanent and run.attempts < run.max_attempts:
            run.status = StepRun.Status.SCHEDULED
            run.due_at = self.now + STEP_RETRY.delay(run.attempts)
            self._save_run(run)
            return None
        run.status = StepRun.Status.FAILED
        run.finished_at = self.now
        run.dead_lettered_at = self.now
        if run.due_at is None:
            run.due_at = self.now
        self._save_run(run)
        metrics.step_dead_lettered(self.uj, run, self.definition)
        self._milestone_event(
            run,
            journey_events.MILESTONE_FAILED,
            key=f"{self.uj.pk}:{run.seq}:{run.attempts}",
            seq=run.seq,
            error=run.error,
        )
        if step.on_failure == "continue":
            return self.resolve_next(run, step)
        if self.uj.is_live:
            before = self.uj.state
            self.uj.fail(
                at=self.now,
                reason=f"Step {step.key!r} failed after {run.attempts} attempt(s): {error}"[:2000],
            )
            if run.pk is None:
                run.save()  # the log names the run
            self._log("failed", from_state=before, step_key=step.key, step_run=run.pk)
            self.publish(
                journey_events.journey_ended_events(
                    self.uj, journey_events.FAILED, user_id=self.participant.user_id, milestone=step.key
                )
            )
        return None

    # ------------------------------------------------------------------------------------------
    # Waking, timing out, advancing
    # ------------------------------------------------------------------------------------------
    def wake(self, run: StepRun, event: Event) -> bool:
        """An awaited event arrived: finish the wait with it (when its condition holds)."""
        step = self.definition[run.step_key]
        condition = step.config.get("condition")
        if condition:
            ok, trace = evaluate(condition, self.eval_context(event.payload))
            if not ok:
                run.trace = {
                    **run.trace,
                    "ignored": [*run.trace.get("ignored", [])[-9:], {"event": event.pk, "condition": trace}],
                }
                self._save_run(run, fields=["trace"])
                return False
        result = {
            "event_id": event.pk,
            "event_type": event.type,
            "payload": event.payload,
            "timed_out": False,
        }
        self.walk(self.finish(run, result, payload=event.payload))
        return True

    def time_out(self, run: StepRun) -> None:
        """A wait_for_event run fell due. An event that arrived meanwhile but whose wake-up has
        not run yet still counts: the log is checked under the row lock, so none is lost."""
        step = self.definition[run.step_key]
        since = run.trace.get("wait", {}).get("since")
        candidates = Event.objects.filter(participant_id=self.uj.participant_id, type=run.waiting_for)
        if since:
            candidates = candidates.filter(received_at__gte=since)
        condition = step.config.get("condition")
        for event in candidates.order_by("id")[:50]:
            if not condition or evaluate(condition, self.eval_context(event.payload))[0]:
                self.wake(run, event)
                return
        result = {"timed_out": True}
        run.trace = {**run.trace, "next": {"chosen": step.config["timeout_step"], "by": "timeout"}}
        self._record(run, StepRun.Status.SUCCEEDED, result)
        self.uj.context = {**self.uj.context, "steps": {**self.uj.context.get("steps", {}), step.key: result}}
        self.walk(Next(step.config["timeout_step"]))

    def run_due(self, run: StepRun) -> None:
        """A claimed run whose body is database-only: enter it, or finish its wait, or retry it."""
        step = self.definition[run.step_key]
        if not run.entered:
            nxt = self.enter(run)
            if nxt is not None:
                self.walk(nxt)
            else:
                self.save()
            return
        if step.kind == "wait_for_event":
            self.time_out(run)
        elif step.kind == "wait":
            self.walk(self.finish(run, {"waited_until": run.due_at.isoformat() if run.due_at else None}))
        elif step.kind == "action":
            action = action_of(step)
            if action is None:
                self.fail_run(run, f"Unknown action type {step.action_type!r}.", permanent=True)
                self.save()
                return
            nxt = self.execute_inline(run, action)
            if nxt is not None:
                self.walk(nxt)
            else:
                self.save()
        else:  # a manual step is never due by time; anything else finishes as it enters
            nxt = self.enter(run)
            if nxt is not None:
                self.walk(nxt)
            else:
                self.save()

    def end(self, reason: str, *, converted: bool = False) -> None:
        if not self.uj.is_live:
            return
        before = self.uj.state
        self.uj.complete(at=self.now, reason=reason, converted=converted)
        self._log("converted" if converted else "completed", from_state=before, reason=reason)
        self.publish(
            journey_events.journey_ended_events(
                self.uj, journey_events.COMPLETED, user_id=self.participant.user_id
            )
        )


@dataclass
class ActionOutcome:
    """What happened when a side-effecting action ran outside the transaction."""

    result: dict[str, Any] | None = None
    error: str | None = None
    permanent: bool = False
    skipped: str | None = None
    deferred_until: datetime | None = None
    trace: dict[str, Any] | None = None
    side_effect_done: bool = False


def cancel_live_runs(user_journey: UserJourney, *, now: datetime, reason: str) -> int:
    """Cancel the runs still waiting; a running one finishes, but its walk stops (journey not live)."""
    return StepRun.objects.filter(
        user_journey=user_journey, status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED]
    ).update(status=StepRun.Status.CANCELLED, finished_at=now, error=reason, lease_until=None)


def lock_user_journey(user_journey_id: int) -> UserJourney | None:
    return (
        UserJourney.objects.select_for_update(of=("self",))
        .select_related("participant", "version")
        .filter(pk=user_journey_id)
        .first()
    )
