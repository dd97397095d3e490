"""What staff and services do to a running user journey: pause, resume, cancel, advance, the
milestone operations of the 000 tracker, and retry/skip of dead-lettered step runs.

Every function locks the user journey's row first (the same lock the bus and the dispatcher
take), so a staff action never races a wake-up or a timeout. An invalid transition raises
``Conflict`` (the state machine's refusals too); the API answers 409 with the current state.
"""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from journeys import journey_events
from journeys.engine.decisions import Next
from journeys.engine.definition import definition_for
from journeys.engine.dispatcher import DispatchStats, dispatch_on_commit, step_runs_execute_now
from journeys.engine.runner import Walker, cancel_live_runs, lock_user_journey
from journeys.engine.writes import log
from journeys.errors import Conflict, NotFound, ValidationFailed, transition_refused_as_conflict
from journeys.models import StepRun, UserJourney
from journeys.models.runs import LIVE_STATES
from journeys.selectors.milestones import predecessors_of


def _locked(user_journey: UserJourney) -> UserJourney:
    uj = lock_user_journey(user_journey.pk)
    if uj is None:
        raise NotFound(f"No user journey {user_journey.pk}.")
    return uj


def _conflict(uj: UserJourney, message: str, code: str = "invalid_transition") -> Conflict:
    return Conflict(message, code=code, current_state=uj.state, current_step=uj.current_step or None)


def _waiting_run(uj: UserJourney) -> StepRun | None:
    """The run the journey is waiting on (a manual milestone, a wait, a wait for an event)."""
    return (
        StepRun.objects.select_for_update()
        .filter(user_journey=uj, status=StepRun.Status.SCHEDULED, entered=True)
        .order_by("-seq")
        .first()
    )


def _reactivate(uj: UserJourney) -> None:
    """Bring a failed run back to life, unless the participant has entered the journey again
    meanwhile: one live run per participant and exclusive journey (409, not an integrity error)."""
    if (
        uj.exclusive
        and UserJourney.objects.filter(
            journey_id=uj.journey_id, participant_id=uj.participant_id, state__in=LIVE_STATES, exclusive=True
        )
        .exclude(pk=uj.pk)
        .exists()
    ):
        raise _conflict(
            uj, "The participant has another live run of this journey; cancel it first.", "live_run_exists"
        )
    with transition_refused_as_conflict():
        uj.reactivate()


def _save_state(uj: UserJourney) -> None:
    uj.save(update_fields=["state", "paused_at", "ended_at", "end_reason", "failure_reason", "updated_at"])


def _kick_due(uj: UserJourney) -> None:
    due = StepRun.objects.filter(
        user_journey=uj,
        status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
        due_at__lte=timezone.now(),
    ).values_list("pk", flat=True)
    dispatch_on_commit(list(due))


@transaction.atomic
def user_journey_pause(*, user_journey: UserJourney, actor=None) -> UserJourney:
    """Hold the journey: due steps are not executed until it is resumed."""
    uj = _locked(user_journey)
    before = uj.state
    with transition_refused_as_conflict():
        uj.pause(at=timezone.now())
    _save_state(uj)
    log(uj, "paused", at=uj.paused_at, from_state=before, actor=actor)
    return uj


@transaction.atomic
def user_journey_resume(*, user_journey: UserJourney, actor=None) -> UserJourney:
    """Go on; steps that fell due while paused run at once."""
    uj = _locked(user_journey)
    before = uj.state
    with transition_refused_as_conflict():
        uj.resume()
    _save_state(uj)
    log(uj, "resumed", at=timezone.now(), from_state=before, actor=actor)
    _kick_due(uj)
    return uj


@transaction.atomic
def user_journey_cancel(
    *, user_journey: UserJourney, actor=None, reason: str = "cancelled by staff"
) -> UserJourney:
    uj = _locked(user_journey)
    before = uj.state
    now = timezone.now()
    with transition_refused_as_conflict():
        uj.cancel(at=now, reason=reason)
    _save_state(uj)
    cancel_live_runs(uj, now=now, reason=reason)
    log(uj, "cancelled", at=now, from_state=before, actor=actor)
    journey_events.journey_events_publish(
        journey_events.journey_ended_events(uj, journey_events.CANCELLED, user_id=uj.participant.user_id)
    )
    return uj


def participant_choices(step) -> list[str]:
    """The next steps a participant chooses among: two or more entries without a condition.

    ``"next_steps": ["transform", "validate"]`` on a milestone is a decision point, not "the
    first one": the advance must name the step taken (``next_step``).
    """
    unconditional = [e["step"] for e in step.next_steps if isinstance(e, dict) and not e.get("condition")]
    return unconditional if len(unconditional) > 1 else []


def _finish_waiting(uj: UserJourney, run: StepRun, result: dict[str, Any], actor, action: str) -> UserJourney:
    walker = Walker(uj)
    run.user_journey = uj
    chosen = result.get("next_step") if isinstance(result.get("next_step"), str) else None
    step = walker.definition.steps.get(run.step_key)
    choices = participant_choices(step) if step is not None else []
    allowed = {e["step"] for e in step.next_steps if isinstance(e, dict)} if step is not None else set()
    if choices and chosen not in allowed:
        named = f"{chosen!r} is not one of them; " if chosen is not None else ""
        raise ValidationFailed(
            {
                "next_step": [
                    f"Milestone {run.step_key!r} leads to a choice: {named}name one of {', '.join(choices)}."
                ]
            },
            code="choice_required",
        )
    nxt = walker.finish(
        run, {**result, "advanced_by": getattr(actor, "username", None) or "api"}, chosen=chosen
    )
    walker.walk(nxt)
    log(uj, action, at=walker.now, from_state=UserJourney.State.ACTIVE, actor=actor, step_key=run.step_key)
    dispatch_on_commit(walker.kick)
    return uj


@transaction.atomic
def user_journey_advance(
    *, user_journey: UserJourney, step_result: dict[str, Any] | None = None, actor=None
) -> UserJourney:
    """Finish the step the journey waits on with ``step_result`` and walk on.

    ``step_result`` is stored as the step's result (conditions read it as ``steps.<key>.…``);
    ``{"next_step": "<key>"}`` picks among the step's next steps.
    """
    uj = _locked(user_journey)
    if uj.state != UserJourney.State.ACTIVE:
        raise _conflict(uj, f"Only an active journey can advance; this one is {uj.state}.")
    run = _waiting_run(uj)
    if run is None:
        raise _conflict(uj, "No step is waiting for an advance (a step may be executing).", "nothing_waiting")
    return _finish_waiting(uj, run, step_result or {}, actor, "advanced")


# ----------------------------------------------------------------------------------------------
# Milestones (the 000 tracker): start, complete, retry, rollback, skip
# ----------------------------------------------------------------------------------------------
def _step_or_404(uj: UserJourney, key: str):
    definition = definition_for(uj.version)
    if key not in definition.steps:
        raise NotFound(f"The journey has no milestone {key!r}.")
    return definition[key]


def _latest_run(uj: UserJourney, key: str) -> StepRun | None:
    return (
        StepRun.objects.select_for_update()
        .filter(user_journey=uj, step_key=key, rolled_back=False)
        .order_by("-seq")
        .first()
    )


def _jump(uj: UserJourney, key: str, actor, action: str, **detail: Any) -> UserJourney:
    if StepRun.objects.filter(user_journey=uj, status=StepRun.Status.RUNNING).exists():
        raise _conflict(uj, "A step is executing right now; try again in a moment.", "step_running")
    now = timezone.now()
    cancel_live_runs(uj, now=now, reason=f"{action} to {key}")
    walker = Walker(uj, now=now)
    walker.walk(Next(key))
    log(uj, action, at=now, from_state=UserJourney.State.ACTIVE, actor=actor, step_key=key, **detail)
    dispatch_on_commit(walker.kick)
    return uj


@transaction.atomic
def milestone_start(*, user_journey: UserJourney, key: str, actor=None, force: bool = False) -> UserJourney:
    """Start a milestone now: the journey moves to it (what it waited on is cancelled).

    A milestone depends on the steps leading to it: unless ``force``, one of them must be done
    (completed or skipped) first; the entry step depends on nothing.
    """
    uj = _locked(user_journey)
    _step_or_404(uj, key)
    if uj.state != UserJourney.State.ACTIVE:
        raise _conflict(uj, f"Only an active journey can start a milestone; this one is {uj.state}.")
    latest = _latest_run(uj, key)
    if latest is not None and latest.status in (
        StepRun.Status.SCHEDULED,
        StepRun.Status.PENDING,
        StepRun.Status.RUNNING,
    ):
        return uj  # already started
    if latest is not None and latest.status == StepRun.Status.SUCCEEDED:
        raise _conflict(uj, f"Milestone {key!r} is already completed; roll back to it to do it again.")
    predecessors = predecessors_of(definition_for(uj.version), key)
    if predecessors and not force:
        done = StepRun.objects.filter(
            user_journey=uj,
            step_key__in=predecessors,
            rolled_back=False,
            status__in=[StepRun.Status.SUCCEEDED, StepRun.Status.SKIPPED],
        )
        if not done.exists():
            raise Conflict(
                f"Milestone {key!r} follows {', '.join(predecessors)}, and none of them is done; "
                'finish one first, or start it anyway with {"force": true}.',
                code="predecessors_not_done",
                current_state=uj.state,
                current_step=uj.current_step,
                predecessors=predecessors,
            )
    return _jump(uj, key, actor, "milestone_started", **({"forced": True} if force else {}))


@transaction.atomic
def milestone_complete(
    *, user_journey: UserJourney, key: str, result: dict[str, Any] | None = None, actor=None
) -> UserJourney:
    """Complete the milestone the journey waits on, with its result."""
    uj = _locked(user_journey)
    _step_or_404(uj, key)
    if uj.state != UserJourney.State.ACTIVE:
        raise _conflict(uj, f"Only an active journey can complete a milestone; this one is {uj.state}.")
    run = _waiting_run(uj)
    if run is None or run.step_key != key:
        raise _conflict(uj, f"The journey is not waiting on milestone {key!r}.", "not_current_milestone")
    return _finish_waiting(uj, run, result or {}, actor, "milestone_completed")


@transaction.atomic
def milestone_rollback(*, user_journey: UserJourney, key: str, actor=None) -> UserJourney:
    """Go back to a milestone reached before: it and everything after it count as not done."""
    uj = _locked(user_journey)
    _step_or_404(uj, key)
    if uj.state not in (UserJourney.State.ACTIVE, UserJourney.State.FAILED):
        raise _conflict(uj, f"Only an active or failed journey can roll back; this one is {uj.state}.")
    if StepRun.objects.filter(user_journey=uj, status=StepRun.Status.RUNNING).exists():
        raise _conflict(uj, "A step is executing right now; try again in a moment.", "step_running")
    target = _latest_run(uj, key)
    if target is None:
        raise _conflict(
            uj, f"Milestone {key!r} has not been reached; nothing to roll back to.", "not_reached"
        )
    later = StepRun.objects.filter(user_journey=uj, seq__gte=target.seq, rolled_back=False)
    undone = set(later.values_list("step_key", flat=True))
    later.cancel_waiting(at=timezone.now(), reason=f"rolled back to {key}")
    later.update(rolled_back=True)
    steps = {k: v for k, v in uj.context.get("steps", {}).items() if k not in undone}
    uj.context = {**uj.context, "steps": steps}
    if uj.state == UserJourney.State.FAILED:
        _reactivate(uj)
    return _jump(uj, key, actor, "milestone_rolled_back", undone=sorted(undone))


def _dead_lettered(uj: UserJourney, run: StepRun | None, key: str) -> StepRun:
    if run is None or run.status != StepRun.Status.FAILED:
        raise _conflict(uj, f"Milestone {key!r} has no failed step run to retry or skip.", "not_failed")
    if run.seq != uj.last_seq:
        raise _conflict(
            uj, "The journey has moved past this failed step; roll back to it instead.", "superseded"
        )
    return run


@transaction.atomic
def step_run_retry(*, step_run: StepRun, actor=None) -> StepRun:
    """Give a dead-lettered run a fresh round of attempts, now (the journey resumes if it failed)."""
    uj = _locked(step_run.user_journey)
    run = _dead_lettered(uj, StepRun.objects.select_for_update().get(pk=step_run.pk), step_run.step_key)
    before = uj.state
    if uj.state == UserJourney.State.FAILED:
        _reactivate(uj)
        _save_state(uj)
    elif uj.state != UserJourney.State.ACTIVE:
        raise _conflict(uj, f"The journey is {uj.state}; nothing can be retried.")
    step = definition_for(uj.version).steps.get(run.step_key)
    now = timezone.now()
    run.revive(at=now, attempts=step.max_attempts if step else 1)
    run.save(update_fields=StepRun.REVIVE_FIELDS)
    log(uj, "step_retried", at=now, from_state=before, actor=actor, step_key=run.step_key, step_run=run.pk)
    dispatch_on_commit([run.pk])
    return run


@transaction.atomic
def step_run_skip(*, step_run: StepRun, actor=None) -> StepRun:
    """Give up on a dead-lettered run and go on with the next step."""
    uj = _locked(step_run.user_journey)
    run = _dead_lettered(uj, StepRun.objects.select_for_update().get(pk=step_run.pk), step_run.step_key)
    if uj.state == UserJourney.State.FAILED:
        _reactivate(uj)
    elif uj.state != UserJourney.State.ACTIVE:
        raise _conflict(uj, f"The journey is {uj.state}; nothing can be skipped.")
    walker = Walker(uj)
    run.user_journey = uj
    nxt = walker.finish(
        run, {"skipped": "skipped by staff", "error": run.error}, status=StepRun.Status.SKIPPED
    )
    walker.walk(nxt)
    log(uj, "step_skipped", at=walker.now, actor=actor, step_key=run.step_key, step_run=run.pk)
    dispatch_on_commit(walker.kick)
    return run


@transaction.atomic
def milestone_retry(*, user_journey: UserJourney, key: str, actor=None) -> UserJourney:
    uj = _locked(user_journey)
    _step_or_404(uj, key)
    step_run_retry(step_run=_dead_lettered(uj, _latest_run(uj, key), key), actor=actor)
    return uj


@transaction.atomic
def milestone_skip(*, user_journey: UserJourney, key: str, actor=None) -> UserJourney:
    """Skip the milestone the journey waits on, or a failed one; the journey goes on."""
    uj = _locked(user_journey)
    _step_or_404(uj, key)
    latest = _latest_run(uj, key)
    if latest is not None and latest.status == StepRun.Status.FAILED:
        step_run_skip(step_run=_dead_lettered(uj, latest, key), actor=actor)
        return uj
    if uj.state != UserJourney.State.ACTIVE:
        raise _conflict(uj, f"Only an active journey can skip a milestone; this one is {uj.state}.")
    run = _waiting_run(uj)
    if run is None or run.step_key != key:
        raise _conflict(uj, f"The journey is not waiting on milestone {key!r}.", "not_current_milestone")
    walker = Walker(uj)
    run.user_journey = uj
    walker.walk(walker.finish(run, {"skipped": "skipped by staff"}, status=StepRun.Status.SKIPPED))
    log(uj, "milestone_skipped", at=walker.now, actor=actor, step_key=key)
    dispatch_on_commit(walker.kick)
    return uj


def user_journey_execute(*, user_journey: UserJourney, force: bool = False) -> DispatchStats:
    """Execute the journey's due steps now, in this process (the 003 ``execute``).

    With ``force``, time-based waits (delays, waits, retry backoff) count as due now; manual
    milestones and event waits still wait.
    """
    now = timezone.now()
    with transaction.atomic():
        uj = _locked(user_journey)
        if uj.state != UserJourney.State.ACTIVE:
            raise _conflict(uj, f"Only an active journey can execute steps; this one is {uj.state}.")
        runs = StepRun.objects.filter(
            user_journey=uj, status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED]
        )
        if force:
            runs.filter(due_at__gt=now).filter(waiting_for="").update(due_at=now - timedelta(microseconds=1))
        ids = list(runs.filter(due_at__lte=now).values_list("pk", flat=True))
    return step_runs_execute_now(run_ids=ids)
