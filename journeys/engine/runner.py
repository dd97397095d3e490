"""The runner: walks one user journey through its steps, inside one transaction, with its row locked.

A walk enters steps one after another, at once, until one must wait:

1. A step with a delay (``delay_minutes``), or any step while the journey is paused, becomes a
   run that is not yet *entered*, due at the end of the delay.
2. Entering evaluates the step's condition (false: skipped, on to the next), calls the
   milestone's directory services (``journeys.services.milestone_calls``: at once when built-in,
   else the run waits for them and is entered again when they have answered); then
   ``wait``/``wait_for_event``/``manual`` start waiting (a ``scheduled`` run, with ``due_at``
   and/or ``waiting_for``); ``branch``/``split``/``end`` decide at once; an action that only
   writes to the database runs in a savepoint; any other action becomes a ``pending`` run that a
   worker executes outside the transaction (``kick`` lists them for dispatch after commit).
3. A finished step records its result in the context and names the next step (explicit
   ``next_steps`` with conditions, else the next by order); no next step ends the journey.

What each step does is decided by the pure functions of ``journeys.engine.decisions`` (the dry
run calls the same ones); the walker acts on their decisions, through ``journeys.engine.writes``
(at once, or with a batch). How a stopped walk resumes (an event, a timeout, a claimed run, an
action's outcome) is ``journeys.engine.resuming``.

Every caller holds the user journey's row lock (``select_for_update``): the bus waking a
waiting run, the dispatcher timing it out, staff advancing it. Whoever takes the lock first
wins; the other finds the run no longer waiting. ``(user_journey, seq)`` is unique, so two
walkers can never both create the next step.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from journeys import journey_events, metrics
from journeys.actions.base import ActionSkipped
from journeys.engine.batch import unsaved
from journeys.engine.conditions import EvaluationContext
from journeys.engine.decisions import (
    Does,
    Next,
    WalkContext,
    delay_decide,
    entry_decide,
    next_decide,
    variant_choose,
    wait_decide,
)
from journeys.engine.definition import Definition, StepDef, definition_for
from journeys.engine.resuming import Resuming
from journeys.engine.writes import ImmediateWrites, Writes, log_entry
from journeys.errors import DomainError
from journeys.log_context import step_run_logging
from journeys.models import Participant, StepRun, UserJourney
from journeys.queue import Backoff
from journeys.registries import ActionContext, ActionType
from journeys.services.milestone_calls import milestone_services_gate

logger = logging.getLogger(__name__)

MAX_INLINE_STEPS = 100  # steps entered in one walk; validation forbids instant cycles, this is a fuse
ERROR_MAX_CHARS = 4000


# When a failed run is tried again (the step runs queue's backoff, ``journeys.queue``).
STEP_RETRY = Backoff(
    base=lambda: settings.STEP_RETRY_BASE_SECONDS, cap=lambda: settings.STEP_RETRY_MAX_SECONDS
)


def action_context(
    *, run: StepRun, step: StepDef, user_journey: UserJourney, participant: Participant
) -> ActionContext:
    """What ``run``'s action is given."""
    return ActionContext(
        participant=participant,
        config=step.config,
        idempotency_key=run.idempotency_key,
        context={**user_journey.context, "variant": user_journey.variant},
        step_run_id=run.pk,
        journey_id=user_journey.journey_id,
        user_journey_id=user_journey.pk,
    )


class Walker(Resuming):
    """Moves one locked user journey forward, deciding with ``journeys.engine.decisions`` and
    writing through ``writes``: at once by default (``kick`` lists the runs to dispatch after
    commit), or with a batch (``BatchWrites``: the dispatcher's batches, the enrolment of a
    batch), which ``flush`` writes at once.
    """

    def __init__(
        self, user_journey: UserJourney, *, now: datetime | None = None, writes: Writes | None = None
    ) -> None:
        self.uj = user_journey
        self.participant = user_journey.participant
        self.definition: Definition = definition_for(user_journey.version)
        self.now = now or timezone.now()
        self.writes: Writes = writes if writes is not None else ImmediateWrites()

    @property
    def kick(self) -> list[int]:
        """Runs made pending, to dispatch after commit (a batch returns them from ``flush``)."""
        return self.writes.kicked

    # ------------------------------------------------------------------------------------------
    # Context and writes
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

    def walk_context(self, payload: dict[str, Any] | None = None) -> WalkContext:
        return WalkContext(evaluation=self.eval_context(payload), journey_id=self.uj.journey_id, now=self.now)

    def save(self) -> None:
        self.writes.journey(self.uj, now=self.now)

    def _log(self, action: str, *, from_state: str = "", **detail: Any) -> None:
        self.writes.log(log_entry(self.uj, action, at=self.now, from_state=from_state, **detail))

    def _milestone_event(self, run: StepRun, type: str, *, key: str, **payload: Any) -> None:
        if run.step_key in journey_events.milestone_keys(self.definition):
            event = journey_events.journey_event(
                self.uj, type, key=key, user_id=self.participant.user_id, milestone=run.step_key, **payload
            )
            self.writes.publish([event])

    def _trace(self, run: StepRun, trace: dict[str, Any] | None) -> None:
        if trace:
            run.trace = {**run.trace, **trace}

    def _step_result(self, step: StepDef, result: dict[str, Any]) -> None:
        self.uj.context = {**self.uj.context, "steps": {**self.uj.context.get("steps", {}), step.key: result}}

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

    def _walk_on(self, nxt: Next | None) -> None:
        if nxt is not None:
            self.walk(nxt)
        else:
            self.save()

    def _new_run(self, step: StepDef, *, delay: timedelta | None = None) -> StepRun:
        self.uj.last_seq += 1
        self.uj.current_step = step.key
        delay = delay_decide(step, delay)
        action = step.action
        run = unsaved(
            StepRun,
            user_journey=self.uj,
            participant_id=self.uj.participant_id,
            seq=self.uj.last_seq,
            step_key=step.key,
            step_kind=step.kind,
            action_type=step.action_type,
            channel=action.channel if action is not None else "",
            max_attempts=step.max_attempts,
            entered=not delay and self.uj.state == UserJourney.State.ACTIVE,
            due_at=self.now + (delay or timedelta()),
        )
        if delay:
            run.schedule(until=run.due_at)
        self._milestone_event(
            run, journey_events.MILESTONE_STARTED, key=f"{self.uj.pk}:{run.seq}", seq=run.seq
        )
        if not run.entered:
            self.writes.run(run)
        return run

    def enter(self, run: StepRun) -> Next | None:
        """Enter ``run``'s step: condition, then the kind's behaviour. ``None``: it waits."""
        step = self.definition[run.step_key]
        if run.status == StepRun.Status.RUNNING:
            run.attempts = max(run.attempts - 1, 0)  # claimed to be entered: not a try of its action
        run.entered = True
        entry = entry_decide(step, self.walk_context(), condition_checked="condition" in run.trace)
        self._trace(run, entry.trace)
        if entry.does == Does.SKIP:
            return self.finish(run, {"skipped": "condition false"}, status=StepRun.Status.SKIPPED)
        if step.services:  # the milestone's directory services answer before its own behaviour
            gate = milestone_services_gate(self, run, step)
            if gate.failure:
                return self.fail_run(run, gate.failure, permanent=True)
            if gate.waits:
                run.schedule(until=None)
                self.writes.run(run)
                return None
        if entry.does == Does.ACT:
            return self._act(run, step)
        if entry.does == Does.WAIT:
            wait = wait_decide(step, self.walk_context())
            run.waiting_for = wait.waiting_for or run.waiting_for
            self._trace(run, wait.trace)
            run.schedule(until=wait.until)
            self.writes.run(run)
            return None
        if entry.does == Does.SPLIT:
            return self._split(run, step)
        if entry.does == Does.END:
            self.finish(run, {})
            return Next(None, end_reason="end step")
        return self.finish(run, {})  # a branch: the choice is made by the next-step resolution

    def _act(self, run: StepRun, step: StepDef) -> Next | None:
        action = step.action
        if action is None:
            return self.fail_run(run, f"Unknown action type {step.action_type!r}.", permanent=True)
        if action.transactional:
            run.attempts += 1
            run.executed_at = self.now
            return self.execute_inline(run, action)
        run.hand_over(at=self.now)
        self.writes.run(run)
        self.writes.kick(run)
        return None

    def _split(self, run: StepRun, step: StepDef) -> Next:
        variant = variant_choose(step, self.walk_context())
        if not self.uj.variant:
            self.uj.variant = variant.name
        self.uj.context = {
            **self.uj.context,
            "variants": {**self.uj.context.get("variants", {}), step.key: variant.name},
        }
        self._trace(run, variant.trace)
        self.record(run, StepRun.Status.SUCCEEDED, {"variant": variant.name})
        return Next(variant.step)

    # ------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------
    def action_context(self, run: StepRun, step: StepDef) -> ActionContext:
        return action_context(run=run, step=step, user_journey=self.uj, participant=self.participant)

    def execute_inline(self, run: StepRun, action: ActionType) -> Next | None:
        """Run a database-only action in a savepoint: its writes and the run's record commit together.

        Writes that hold the participant's row run an action that ``runs_in_memory`` (tags) on
        the participant in memory instead; the batch writes it once.
        """
        step = self.definition[run.step_key]
        in_memory = action.runs_in_memory and self.writes.holds(self.participant)
        if run.pk is None or run.status != StepRun.Status.RUNNING:  # a claimed run is already running
            run.start()
            if not in_memory:
                run.save()  # the ledger and emitted events reference the run by id
        context = self.action_context(run, step)
        try:
            if in_memory:  # a change to the row in memory: no I/O, nothing logged unless it fails
                result = action.execute_locked(context)
            else:
                with step_run_logging(context), transaction.atomic():
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

    # ------------------------------------------------------------------------------------------
    # Finishing a step
    # ------------------------------------------------------------------------------------------
    def record(self, run: StepRun, status: str, result: dict[str, Any]) -> None:
        """Write ``run`` as finished with ``status`` (no walking on); its milestone event follows."""
        run.finish(status, result=result, at=self.now)
        self.writes.run(run)
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
        """Record the run as finished and decide where the journey goes next."""
        step = self.definition[run.step_key]
        succeeded = status == StepRun.Status.SUCCEEDED
        if succeeded:
            self._step_result(step, result)
        action = step.action
        detour = action.detour(step.config, result) if succeeded and action is not None else None
        nxt = next_decide(step, self.walk_context(payload), succeeded=succeeded, chosen=chosen, detour=detour)
        self._trace(run, nxt.trace)
        self.record(run, status, result)
        return nxt

    def fail_run(self, run: StepRun, error: str, *, permanent: bool = False) -> Next | None:
        """A failed try: retry later with backoff, or dead-letter and apply the step's policy."""
        step = self.definition[run.step_key]
        if not permanent and run.attempts < run.max_attempts:
            run.retry_later(error=error[:ERROR_MAX_CHARS], at=self.now + STEP_RETRY.delay(run.attempts))
            self.writes.run(run)
            return None
        run.dead_letter(error=error[:ERROR_MAX_CHARS], at=self.now)
        self.writes.run(run)
        metrics.step_dead_lettered(self.uj, run, self.definition)
        self._milestone_event(
            run,
            journey_events.MILESTONE_FAILED,
            key=f"{self.uj.pk}:{run.seq}:{run.attempts}",
            seq=run.seq,
            error=run.error,
        )
        if step.on_failure == "continue":
            nxt = next_decide(step, self.walk_context(), succeeded=False)
            self._trace(run, nxt.trace)
            return nxt
        if self.uj.is_live:
            before = self.uj.state
            self.uj.fail(
                at=self.now,
                reason=f"Step {step.key!r} failed after {run.attempts} attempt(s): {error}"[:2000],
            )
            if run.pk is None:
                run.save()  # the log names the run
            self._log("failed", from_state=before, step_key=step.key, step_run=run.pk)
            self.writes.publish(
                journey_events.journey_ended_events(
                    self.uj, journey_events.FAILED, user_id=self.participant.user_id, milestone=step.key
                )
            )
        return None

    def end(self, reason: str, *, converted: bool = False) -> None:
        if not self.uj.is_live:
            return
        before = self.uj.state
        self.uj.complete(at=self.now, reason=reason, converted=converted)
        self._log("converted" if converted else "completed", from_state=before, reason=reason)
        self.writes.publish(
            journey_events.journey_ended_events(
                self.uj, journey_events.COMPLETED, user_id=self.participant.user_id
            )
        )


def cancel_live_runs(user_journey: UserJourney, *, now: datetime, reason: str) -> int:
    """Cancel the runs still waiting; a running one finishes, but its walk stops (journey not live)."""
    return StepRun.objects.filter(user_journey=user_journey).cancel_waiting(at=now, reason=reason)


def lock_user_journey(user_journey_id: int) -> UserJourney | None:
    return (
        UserJourney.objects.select_for_update(of=("self",))
        .select_related("participant", "version")
        .filter(pk=user_journey_id)
        .first()
    )
