"""Staged journeys: start (UC-1), promote (UC-2), roll back (UC-3), cancel, measure.

Every use case locks the journey row first (``select_for_update``), so concurrent calls on one
journey run one after the other and each sees the stage the previous one left: no lost update,
no double promotion. Inside the lock: the FSM transition, the history row, the domain event and
the next unit of work, all in one transaction. Lock order everywhere: journey, unit, task.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from journeys.errors import Conflict, NotFound, ValidationFailed
from journeys.models import Participant
from journeys.services.participants import participants_get_or_create
from stages.criteria import ValidationResult, exit_criteria_evaluate
from stages.models import (
    PIPELINE_STAGES,
    PREVIOUS_STAGE,
    ExitCriterion,
    Measurement,
    Pipeline,
    PipelineStage,
    Snapshot,
    Stage,
    StagedJourney,
    StageTransition,
    UnitOfWork,
)
from stages.models.stages import ACTIVE_STAGES
from stages.services.events import stage_event_emit
from stages.services.work import unit_of_work_cancel_locked, unit_of_work_create

logger = logging.getLogger(__name__)

SYSTEM = "system"
PROMOTIONS: dict[str, str] = {
    Stage.SANDBOX: "promote_to_pilot",
    Stage.PILOT: "promote_to_production",
    Stage.PRODUCTION: "complete",
}
CLIENT_ID_MAX = 255
REASON_MAX = 2000


@dataclass(frozen=True)
class PromotionOutcome:
    journey: StagedJourney
    validation: ValidationResult
    promoted: bool


# --------------------------------------------------------------------------------------------
# UC-1 start
# --------------------------------------------------------------------------------------------
@transaction.atomic
def staged_journey_start(
    *, client_id: str, pipeline: Pipeline | None = None, actor: str = SYSTEM
) -> StagedJourney:
    """Create the client's journey in Sandbox, its sandbox unit of work, and ``JourneyStarted``."""
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > CLIENT_ID_MAX:
        raise ValidationFailed(
            {"client_id": [f"A client_id of 1 to {CLIENT_ID_MAX} characters is required."]}
        )
    if pipeline is None:
        pipeline = Pipeline.objects.filter(is_default=True).first()
        if pipeline is None:
            raise ValidationFailed(
                {"pipeline": ["There is no default pipeline: name one, or run `manage.py bootstrap`."]}
            )
    participant = participants_get_or_create(user_ids=[client_id])[client_id]
    # Two starts for one client queue here; the constraint below is the backstop.
    Participant.objects.select_for_update().filter(pk=participant.pk).first()
    active = StagedJourney.objects.filter(client_id=client_id, stage__in=ACTIVE_STAGES).first()
    if active is not None:
        raise _journey_exists(active)
    try:
        with transaction.atomic():
            journey = StagedJourney.objects.create(
                client_id=client_id, participant=participant, pipeline=pipeline, started_by=actor
            )
    except IntegrityError:
        active = StagedJourney.objects.filter(client_id=client_id, stage__in=ACTIVE_STAGES).first()
        if active is None:
            raise
        raise _journey_exists(active) from None
    row = _history(
        journey, kind=StageTransition.Kind.STARTED, from_stage="", to_stage=Stage.SANDBOX, actor=actor
    )
    stage_event_emit(
        type="JourneyStarted",
        journey=journey,
        key=row.event_idempotency_key,
        payload={"initial_stage": Stage.SANDBOX, "pipeline": pipeline.slug, "started_by": actor},
    )
    unit_of_work_create(journey=journey, stage=Stage.SANDBOX, purpose=UnitOfWork.Purpose.SETUP)
    return journey


def _journey_exists(active: StagedJourney) -> Conflict:
    return Conflict(
        f"Client {active.client_id!r} already has an active journey (in {active.stage}).",
        code="journey_active",
        current_stage=active.stage,
        reason="Each client has exactly one active journey at a time.",
    )


# --------------------------------------------------------------------------------------------
# Exit criteria and UC-2 promote
# --------------------------------------------------------------------------------------------
@transaction.atomic
def staged_journey_validate(*, journey: StagedJourney) -> ValidationResult:
    """Evaluate the current stage's exit criteria (each with its measured value); no transition."""
    journey = _lock(journey.pk)
    if journey.stage not in PIPELINE_STAGES:
        raise _invalid(
            journey, "validate", "Only a journey in sandbox, pilot or production has exit criteria."
        )
    validation = exit_criteria_evaluate(journey=journey)
    _remember(journey, validation)
    return validation


def staged_journey_promote(*, journey: StagedJourney, actor: str = SYSTEM) -> PromotionOutcome:
    """Promote to the next stage if every exit criterion passes (from Production: complete).

    A refusal is written to the history (with the failing checks) and then raised as a 409 that
    carries them; the history row survives because it commits before the raise.
    """
    outcome = _promote(journey_pk=journey.pk, actor=actor, automatic=False)
    if not outcome.promoted:
        raise Conflict(
            f"The journey stays in {outcome.journey.stage}: {outcome.validation.summary()}.",
            code="exit_criteria_not_met",
            current_stage=outcome.journey.stage,
            reason=outcome.validation.summary(),
            checks=[check.as_dict() for check in outcome.validation.checks],
        )
    return outcome


def staged_journey_auto_promote(*, journey_pk: int) -> bool:
    """The automatic UC-2: promote when the stage allows it and its gate is open; stay silently
    otherwise (the criteria status is kept on the journey). Safe to call any number of times."""
    journey = StagedJourney.objects.filter(pk=journey_pk).first()
    if journey is None or journey.stage not in PROMOTIONS:
        return False
    automatic = PipelineStage.objects.filter(
        pipeline_id=journey.pipeline_id, stage=journey.stage, auto_promote=True
    ).exists()
    if not automatic:
        return False
    try:
        return _promote(journey_pk=journey_pk, actor=SYSTEM, automatic=True).promoted
    except Conflict:
        return False  # the journey moved on (cancelled, rolled back) since we looked


@transaction.atomic
def _promote(*, journey_pk: int, actor: str, automatic: bool) -> PromotionOutcome:
    journey = _lock(journey_pk)
    transition_name = PROMOTIONS.get(journey.stage)
    if transition_name is None:
        raise _invalid(journey, "promote", _why_not_promotable(journey))
    validation = exit_criteria_evaluate(journey=journey)
    from_stage = journey.stage
    if not validation.passed:
        _remember(journey, validation, only_if_changed=automatic)
        if automatic:
            logger.info("journey %s stays in %s: %s", journey.client_id, from_stage, validation.summary())
        else:
            _history(
                journey,
                kind=StageTransition.Kind.PROMOTION_REFUSED,
                from_stage=from_stage,
                to_stage=from_stage,
                actor=actor,
                reason=validation.summary(),
                validation=validation,
            )
        return PromotionOutcome(journey=journey, validation=validation, promoted=False)

    journey._validation = validation  # the transition's guard reads it
    getattr(journey, transition_name)()
    journey.last_validation = validation.as_dict()
    journey.last_validated_at = validation.evaluated_at
    journey.save(
        update_fields=[
            "stage",
            "stage_entered_at",
            "ended_at",
            "last_validation",
            "last_validated_at",
            "updated_at",
        ]
    )
    completed = journey.stage == Stage.COMPLETED
    row = _history(
        journey,
        kind=StageTransition.Kind.COMPLETED if completed else StageTransition.Kind.PROMOTED,
        from_stage=from_stage,
        to_stage=journey.stage,
        actor=actor,
        automatic=automatic,
        reason=validation.summary(),
        validation=validation,
    )
    payload = {
        "from_stage": from_stage,
        "to_stage": journey.stage,
        "exit_criteria_results": validation.results_map(),
        "checks": [check.as_dict() for check in validation.checks],
        "promoted_by": actor,
        "automatic": automatic,
    }
    stage_event_emit(
        type="JourneyCompleted" if completed else "StagePromoted",
        journey=journey,
        key=row.event_idempotency_key,
        payload=payload,
    )
    if not completed:
        unit_of_work_create(journey=journey, stage=journey.stage, purpose=UnitOfWork.Purpose.SETUP)
    return PromotionOutcome(journey=journey, validation=validation, promoted=True)


def _why_not_promotable(journey: StagedJourney) -> str:
    if journey.stage == Stage.ROLLBACK:
        return "The journey is rolling back; promote it once the rollback has completed."
    return f"The journey is {journey.stage}; there is no next stage."


# --------------------------------------------------------------------------------------------
# UC-3 rollback
# --------------------------------------------------------------------------------------------
@transaction.atomic
def staged_journey_rollback(
    *, journey: StagedJourney, reason: str, actor: str = SYSTEM, automatic: bool = False
) -> StagedJourney:
    """Snapshot, ROLLBACK, run the rollback unit of work, then the previous stage.

    With no rollback tasks configured the journey is back in the previous stage on return;
    otherwise it stays in ``rollback`` until the unit of work completes.
    """
    reason = _reason(reason)
    journey = _lock(journey.pk)
    return _rollback_locked(journey, reason=reason, actor=actor, automatic=automatic)


def _rollback_locked(
    journey: StagedJourney,
    *,
    reason: str,
    actor: str,
    automatic: bool,
    validation: ValidationResult | None = None,
) -> StagedJourney:
    from_stage = journey.stage
    if from_stage not in PREVIOUS_STAGE:
        raise _invalid(journey, "roll back", _why_no_rollback(journey))
    target = PREVIOUS_STAGE[from_stage]
    if not journey.transitions.filter(
        kind=StageTransition.Kind.PROMOTED, from_stage=target, to_stage=from_stage
    ).exists():
        # Unreachable through the services (the only way into a stage is a promotion from the
        # one before); kept because the invariant is the seed's, not an accident of the code.
        raise _invalid(journey, "roll back", f"{target} was never completed by this journey.")
    validation = validation or exit_criteria_evaluate(journey=journey)
    snapshot_state = _snapshot(journey, validation)

    journey.initiate_rollback(reason=reason)
    journey.save(update_fields=["stage", "rollback_from", "stage_entered_at", "updated_at"])
    row = _history(
        journey,
        kind=StageTransition.Kind.ROLLBACK_INITIATED,
        from_stage=from_stage,
        to_stage=Stage.ROLLBACK,
        actor=actor,
        automatic=automatic,
        reason=reason,
        validation=validation,
    )
    Snapshot.objects.create(journey=journey, transition=row, stage=from_stage, **snapshot_state)
    stage_event_emit(
        type="RollbackInitiated",
        journey=journey,
        key=row.event_idempotency_key,
        payload={
            "from_stage": from_stage,
            "to_stage": target,
            "reason": reason,
            "initiated_by": actor,
            "automatic": automatic,
        },
    )
    for unit in journey.units_of_work.select_for_update().filter(status__in=_OPEN_UNIT_STATUSES):
        unit_of_work_cancel_locked(journey=journey, unit=unit)
    unit_of_work_create(
        journey=journey, stage=target, purpose=UnitOfWork.Purpose.ROLLBACK, templates_stage=from_stage
    )
    return journey


_OPEN_UNIT_STATUSES = (UnitOfWork.Status.PENDING, UnitOfWork.Status.RUNNING, UnitOfWork.Status.FAILED)


def staged_journey_complete_rollback_locked(*, journey: StagedJourney, unit: UnitOfWork) -> None:
    """The rollback unit of work completed: the journey is in the previous stage again. Called by
    the unit-of-work services with the journey row already locked."""
    from_stage = journey.rollback_from
    journey.complete_rollback()
    journey.rollback_from = ""
    journey.save(update_fields=["stage", "rollback_from", "stage_entered_at", "updated_at"])
    row = _history(
        journey,
        kind=StageTransition.Kind.ROLLBACK_COMPLETED,
        from_stage=Stage.ROLLBACK,
        to_stage=journey.stage,
        reason=f"Rolled back from {from_stage}.",
    )
    stage_event_emit(
        type="RollbackCompleted",
        journey=journey,
        key=row.event_idempotency_key,
        payload={"from_stage": from_stage, "to_stage": journey.stage, "work_id": str(unit.work_id)},
    )


def _why_no_rollback(journey: StagedJourney) -> str:
    if journey.stage == Stage.SANDBOX:
        return "Sandbox is the first stage: there is no previous stage to roll back to."
    if journey.stage == Stage.ROLLBACK:
        return "A rollback is already in progress."
    return f"The journey is {journey.stage}; it can no longer be rolled back."


def _snapshot(journey: StagedJourney, validation: ValidationResult) -> dict[str, Any]:
    measurements = journey.measurements.filter(stage=journey.stage, recorded_at__gte=journey.stage_entered_at)
    units = journey.units_of_work.prefetch_related("tasks").order_by("id")
    return {
        "state": {
            "stage": journey.stage,
            "pipeline": journey.pipeline.slug,
            "started_at": journey.started_at.isoformat(),
            "stage_entered_at": journey.stage_entered_at.isoformat(),
            "seconds_in_stage": round(journey.time_in_stage(), 1),
            "exit_criteria": validation.as_dict(),
        },
        "measurements": [m.as_dict() for m in measurements.order_by("id")],
        "units_of_work": [
            {
                "work_id": str(unit.work_id),
                "stage": unit.stage,
                "purpose": unit.purpose,
                "status": unit.status,
                "tasks": [
                    {
                        "key": t.key,
                        "status": t.status,
                        "retry_count": t.retry_count,
                        "result": t.result,
                        "error": t.error,
                    }
                    for t in unit.tasks.all()
                ],
            }
            for unit in units
        ],
    }


@transaction.atomic
def staged_journey_check_rollback_triggers(*, journey_pk: int) -> bool:
    """Roll back automatically when a criterion marked ``triggers_rollback`` fails on evidence
    (a measurement under threshold, a rejection, a matching incident). Returns whether it did."""
    journey = StagedJourney.objects.select_for_update().filter(pk=journey_pk).first()
    if journey is None:
        return False
    return _check_rollback_triggers_locked(journey)


def _check_rollback_triggers_locked(journey: StagedJourney) -> bool:
    if journey.stage not in PREVIOUS_STAGE:
        return False
    return _rollback_if_triggered(journey, exit_criteria_evaluate(journey=journey))


def _rollback_if_triggered(journey: StagedJourney, validation: ValidationResult) -> bool:
    if journey.stage not in PREVIOUS_STAGE:
        return False
    triggered = [check for check in validation.checks if check.triggers_rollback and check.violated]
    if not triggered:
        return False
    reason = "Automatic rollback: " + "; ".join(f"{c.label} failed ({c.detail})" for c in triggered)
    _rollback_locked(journey, reason=reason, actor=SYSTEM, automatic=True, validation=validation)
    return True


# --------------------------------------------------------------------------------------------
# Cancel
# --------------------------------------------------------------------------------------------
@transaction.atomic
def staged_journey_cancel(*, journey: StagedJourney, reason: str, actor: str = SYSTEM) -> StagedJourney:
    """End the journey for good (its open units of work are cancelled); ``JourneyCancelled``."""
    reason = _reason(reason)
    journey = _lock(journey.pk)
    if not journey.is_active:
        raise _invalid(journey, "cancel", f"The journey is already {journey.stage}.")
    from_stage = journey.stage
    for unit in journey.units_of_work.select_for_update().filter(status__in=_OPEN_UNIT_STATUSES):
        unit_of_work_cancel_locked(journey=journey, unit=unit)
    journey.cancel(reason=reason)
    journey.save(update_fields=["stage", "stage_entered_at", "ended_at", "end_reason", "updated_at"])
    row = _history(
        journey,
        kind=StageTransition.Kind.CANCELLED,
        from_stage=from_stage,
        to_stage=Stage.CANCELLED,
        actor=actor,
        reason=reason,
    )
    stage_event_emit(
        type="JourneyCancelled",
        journey=journey,
        key=row.event_idempotency_key,
        payload={"from_stage": from_stage, "reason": reason, "cancelled_by": actor},
    )
    return journey


# --------------------------------------------------------------------------------------------
# Measurements and approvals
# --------------------------------------------------------------------------------------------
@transaction.atomic
def measurements_record(
    *,
    journey: StagedJourney,
    values: dict[str, float],
    actor: str = "",
    source: str = "api",
    event_id: int | None = None,
) -> tuple[StagedJourney, list[Measurement]]:
    """Record metric values for the current stage's criteria, then react: an automatic rollback
    if one now fails a rollback-triggering criterion, else an automatic promotion check."""
    journey = _lock(journey.pk)
    _require_measurable(journey)
    known = _criteria_keys(journey, ExitCriterion.Kind.METRIC)
    errors = {
        f"values.{key}": [_unknown_key(key, journey, known, "metric")] for key in values if key not in known
    }
    if not values:
        errors["values"] = ["Send at least one measurement."]
    if errors:
        raise ValidationFailed(errors)
    rows = [
        Measurement(
            journey=journey,
            stage=journey.stage,
            kind=Measurement.Kind.METRIC,
            key=key,
            value=float(value),
            actor=actor,
            source=source,
            event_id=event_id,
        )
        for key, value in values.items()
    ]
    Measurement.objects.bulk_create(rows)
    _react(journey)
    return journey, rows


@transaction.atomic
def approval_record(
    *,
    journey: StagedJourney,
    key: str,
    approved: bool,
    actor: str,
    note: str = "",
    source: str = "api",
    event_id: int | None = None,
) -> tuple[StagedJourney, Measurement]:
    """Record a yes (or a no) for an approval criterion of the current stage, then react."""
    journey = _lock(journey.pk)
    _require_measurable(journey)
    known = _criteria_keys(journey, ExitCriterion.Kind.APPROVAL)
    if key not in known:
        raise ValidationFailed({"key": [_unknown_key(key, journey, known, "approval")]})
    row = Measurement.objects.create(
        journey=journey,
        stage=journey.stage,
        kind=Measurement.Kind.APPROVAL,
        key=key,
        value=1.0 if approved else 0.0,
        actor=actor,
        note=note,
        source=source,
        event_id=event_id,
    )
    _react(journey)
    return journey, row


def _react(journey: StagedJourney) -> None:
    """After new evidence: keep the criteria status current (the admin shows it at a glance),
    roll back if a rollback-triggering criterion now fails, else check the gate again."""
    validation = exit_criteria_evaluate(journey=journey)
    _remember(journey, validation, only_if_changed=True)
    if _rollback_if_triggered(journey, validation):
        return
    from stages.tasks import staged_journey_auto_promote_task

    pk = journey.pk
    transaction.on_commit(lambda: _enqueue(staged_journey_auto_promote_task, pk))


def _enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:  # broker down: the beat sweep checks every journey again
        logger.warning(
            "could not enqueue %s%s; the periodic check will catch up", task.name, args, exc_info=True
        )


def _require_measurable(journey: StagedJourney) -> None:
    if journey.stage not in PIPELINE_STAGES:
        raise _invalid(
            journey, "measure", "Measurements are recorded for a journey in sandbox, pilot or production."
        )


def _criteria_keys(journey: StagedJourney, kind: str) -> list[str]:
    return list(
        ExitCriterion.objects.filter(
            pipeline_stage__pipeline_id=journey.pipeline_id, pipeline_stage__stage=journey.stage, kind=kind
        ).values_list("key", flat=True)
    )


def _unknown_key(key: str, journey: StagedJourney, known: list[str], kind: str) -> str:
    expected = ", ".join(known) if known else "none"
    return f"{key!r} is not a {kind} criterion of {journey.stage} (expected one of: {expected})."


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def staged_journey_get_active(*, client_id: str) -> StagedJourney:
    journey = StagedJourney.objects.filter(client_id=client_id, stage__in=ACTIVE_STAGES).first()
    if journey is None:
        raise NotFound(f"Client {client_id!r} has no active journey.")
    return journey


def _lock(journey_pk: int) -> StagedJourney:
    return StagedJourney.objects.select_for_update().get(pk=journey_pk)


def _remember(journey: StagedJourney, validation: ValidationResult, *, only_if_changed: bool = False) -> None:
    new = validation.as_dict()
    if only_if_changed and journey.last_validation.get("checks") == new["checks"]:
        return
    journey.last_validation = new
    journey.last_validated_at = validation.evaluated_at
    journey.save(update_fields=["last_validation", "last_validated_at", "updated_at"])


def _history(
    journey: StagedJourney,
    *,
    kind: str,
    from_stage: str,
    to_stage: str,
    actor: str = SYSTEM,
    automatic: bool = False,
    reason: str = "",
    validation: ValidationResult | None = None,
) -> StageTransition:
    return StageTransition.objects.create(
        journey=journey,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        actor=actor or SYSTEM,
        automatic=automatic,
        reason=reason,
        exit_criteria_results=[c.as_dict() for c in validation.checks] if validation else [],
        transitioned_at=timezone.now(),
    )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ["Say why (it is kept in the journey's history)."]})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": [f"At most {REASON_MAX} characters."]})
    return reason


def _invalid(journey: StagedJourney, action: str, reason: str) -> Conflict:
    return Conflict(
        f"Cannot {action} a journey in {journey.stage}: {reason}",
        code="invalid_transition",
        current_stage=journey.stage,
        reason=reason,
    )
