"""Staged journeys: start (UC-1), promote (UC-2), cancel; the end of a rollback (UC-3, begun
in ``stages.services.rollback``); measurements are in ``stages.services.measurements``.

Every use case locks the journey row first (``select_for_update``), so concurrent calls on one
journey run one after the other and each sees the stage the previous one left: no lost update,
no double promotion. Inside the lock: the FSM transition, the history row, the domain event and
the next unit of work, all in one transaction. Lock order everywhere: journey, unit, task.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from journeys.errors import Conflict, ValidationFailed
from journeys.models import Participant
from journeys.services.participants import participants_get_or_create
from stages.criteria import ValidationResult, exit_criteria_evaluate
from stages.models import (
    PIPELINE_STAGES,
    Pipeline,
    PipelineStage,
    Stage,
    StagedJourney,
    StageTransition,
    UnitOfWork,
)
from stages.models.stages import ACTIVE_STAGES
from stages.services.common import (
    CLIENT_ID_MAX,
    OPEN_UNIT_STATUSES,
    SYSTEM,
    history_write,
    invalid_transition,
    journey_lock,
    reason_clean,
    validation_remember,
)
from stages.services.events import stage_event_emit
from stages.services.work import unit_of_work_cancel_locked, unit_of_work_create

logger = logging.getLogger(__name__)

PROMOTIONS: dict[str, str] = {
    Stage.SANDBOX: "promote_to_pilot",
    Stage.PILOT: "promote_to_production",
    Stage.PRODUCTION: "complete",
}


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
    row = history_write(
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
    journey = journey_lock(journey.pk)
    if journey.stage not in PIPELINE_STAGES:
        raise invalid_transition(
            journey, "validate", "Only a journey in sandbox, pilot or production has exit criteria."
        )
    validation = exit_criteria_evaluate(journey=journey)
    validation_remember(journey, validation)
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
    journey = journey_lock(journey_pk)
    transition_name = PROMOTIONS.get(journey.stage)
    if transition_name is None:
        raise invalid_transition(journey, "promote", _why_not_promotable(journey))
    validation = exit_criteria_evaluate(journey=journey)
    if not validation.passed:
        _stay(journey, validation, actor=actor, automatic=automatic)
        return PromotionOutcome(journey=journey, validation=validation, promoted=False)
    _advance(journey, validation, transition_name, actor=actor, automatic=automatic)
    return PromotionOutcome(journey=journey, validation=validation, promoted=True)


def _stay(journey: StagedJourney, validation: ValidationResult, *, actor: str, automatic: bool) -> None:
    """A refused promotion: remember the criteria; a person's attempt is written to the history."""
    validation_remember(journey, validation, only_if_changed=automatic)
    if automatic:
        logger.info("journey %s stays in %s: %s", journey.client_id, journey.stage, validation.summary())
        return
    history_write(
        journey,
        kind=StageTransition.Kind.PROMOTION_REFUSED,
        from_stage=journey.stage,
        to_stage=journey.stage,
        actor=actor,
        reason=validation.summary(),
        validation=validation,
    )


def _advance(
    journey: StagedJourney,
    validation: ValidationResult,
    transition_name: str,
    *,
    actor: str,
    automatic: bool,
) -> None:
    """Move the journey to its next stage, write the history and the event, and open the new
    stage's setup work (none once completed)."""
    from_stage = journey.stage
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
    row = history_write(
        journey,
        kind=StageTransition.Kind.COMPLETED if completed else StageTransition.Kind.PROMOTED,
        from_stage=from_stage,
        to_stage=journey.stage,
        actor=actor,
        automatic=automatic,
        reason=validation.summary(),
        validation=validation,
    )
    stage_event_emit(
        type="JourneyCompleted" if completed else "StagePromoted",
        journey=journey,
        key=row.event_idempotency_key,
        payload={
            "from_stage": from_stage,
            "to_stage": journey.stage,
            "exit_criteria_results": validation.results_map(),
            "checks": [check.as_dict() for check in validation.checks],
            "promoted_by": actor,
            "automatic": automatic,
        },
    )
    if not completed:
        unit_of_work_create(journey=journey, stage=journey.stage, purpose=UnitOfWork.Purpose.SETUP)


def _why_not_promotable(journey: StagedJourney) -> str:
    if journey.stage == Stage.ROLLBACK:
        return "The journey is rolling back; promote it once the rollback has completed."
    return f"The journey is {journey.stage}; there is no next stage."


# --------------------------------------------------------------------------------------------
# Rollback completion (UC-3 starts in stages.services.rollback)
# --------------------------------------------------------------------------------------------
def staged_journey_complete_rollback_locked(*, journey: StagedJourney, unit: UnitOfWork) -> None:
    """The rollback unit of work completed: the journey is in the previous stage again. Called by
    the unit-of-work services with the journey row already locked."""
    from_stage = journey.rollback_from
    journey.complete_rollback()
    journey.rollback_from = ""
    journey.save(update_fields=["stage", "rollback_from", "stage_entered_at", "updated_at"])
    row = history_write(
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


# --------------------------------------------------------------------------------------------
# Cancel
# --------------------------------------------------------------------------------------------
@transaction.atomic
def staged_journey_cancel(*, journey: StagedJourney, reason: str, actor: str = SYSTEM) -> StagedJourney:
    """End the journey for good (its open units of work are cancelled); ``JourneyCancelled``."""
    reason = reason_clean(reason)
    journey = journey_lock(journey.pk)
    if not journey.is_active:
        raise invalid_transition(journey, "cancel", f"The journey is already {journey.stage}.")
    from_stage = journey.stage
    for unit in journey.units_of_work.select_for_update().filter(status__in=OPEN_UNIT_STATUSES):
        unit_of_work_cancel_locked(journey=journey, unit=unit)
    journey.cancel(reason=reason)
    journey.save(update_fields=["stage", "stage_entered_at", "ended_at", "end_reason", "updated_at"])
    row = history_write(
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
