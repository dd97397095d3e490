"""UC-3: roll a journey back to the stage before, by hand or when a criterion marked
``triggers_rollback`` fails on evidence. A snapshot of the stage being left is kept first."""

from typing import Any

from django.db import transaction

from stages.criteria import ValidationResult, exit_criteria_evaluate
from stages.models import PREVIOUS_STAGE, Snapshot, Stage, StagedJourney, StageTransition, UnitOfWork
from stages.services.common import (
    OPEN_UNIT_STATUSES,
    SYSTEM,
    history_write,
    invalid_transition,
    journey_lock,
    reason_clean,
)
from stages.services.events import stage_event_emit
from stages.services.work import unit_of_work_cancel_locked, unit_of_work_create


@transaction.atomic
def staged_journey_rollback(
    *, journey: StagedJourney, reason: str, actor: str = SYSTEM, automatic: bool = False
) -> StagedJourney:
    """Snapshot, ROLLBACK, run the rollback unit of work, then the previous stage.

    With no rollback tasks configured the journey is back in the previous stage on return;
    otherwise it stays in ``rollback`` until the unit of work completes.
    """
    reason = reason_clean(reason)
    journey = journey_lock(journey.pk)
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
        raise invalid_transition(journey, "roll back", _why_no_rollback(journey))
    target = PREVIOUS_STAGE[from_stage]
    if not journey.transitions.filter(
        kind=StageTransition.Kind.PROMOTED, from_stage=target, to_stage=from_stage
    ).exists():
        # Unreachable through the services (the only way into a stage is a promotion from the
        # one before); kept because the invariant is the seed's, not an accident of the code.
        raise invalid_transition(journey, "roll back", f"{target} was never completed by this journey.")
    validation = validation or exit_criteria_evaluate(journey=journey)
    snapshot_state = _snapshot(journey, validation)

    journey.initiate_rollback(reason=reason)
    journey.save(update_fields=["stage", "rollback_from", "stage_entered_at", "updated_at"])
    row = history_write(
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
    for unit in journey.units_of_work.select_for_update().filter(status__in=OPEN_UNIT_STATUSES):
        unit_of_work_cancel_locked(journey=journey, unit=unit)
    unit_of_work_create(
        journey=journey, stage=target, purpose=UnitOfWork.Purpose.ROLLBACK, templates_stage=from_stage
    )
    return journey


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
    return rollback_if_triggered(journey, exit_criteria_evaluate(journey=journey))


def rollback_if_triggered(journey: StagedJourney, validation: ValidationResult) -> bool:
    if journey.stage not in PREVIOUS_STAGE:
        return False
    triggered = [check for check in validation.checks if check.triggers_rollback and check.violated]
    if not triggered:
        return False
    reason = "Automatic rollback: " + "; ".join(f"{c.label} failed ({c.detail})" for c in triggered)
    _rollback_locked(journey, reason=reason, actor=SYSTEM, automatic=True, validation=validation)
    return True
