"""A dry run: the path a journey would take for one participant, without doing anything.

Staff ask "what would happen to this participant?" before publishing. The answer walks the
graph with the engine's own decisions (``journeys.engine.decisions``: the step's condition, the
wait, the A/B variant, the next step, each with the trace the engine stores), so the prediction
is what the engine does. It never executes an action: it shows what the action would do (a
rendered preview), and takes from the action only what it can predict without doing anything
(``ActionType.predict``: tags applied or removed, a ``schedule_next`` jump); the walk itself is
``journeys.engine.simulation``. Nothing is written: no participant is created, no run, no event,
no email, no webhook; the walk even runs in a transaction that is always rolled back, so a condition type
plug-in that writes could not leave anything behind either.

What cannot be known without running is chosen by the caller: whether awaited events arrive
(or the waits time out), and the results of steps (``step_results``: what a manual milestone
would be advanced with, what an awaited event would carry).
"""

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from journeys.engine.conditions import EvaluationContext, evaluate
from journeys.engine.definition import Definition, build_definition, definition_for, step_as_dict
from journeys.engine.simulation import DryRunStep, Simulation
from journeys.engine.validation import validate_definition
from journeys.errors import ValidationFailed
from journeys.models import Journey, JourneyVersion, Participant, UserJourney
from journeys.models.runs import LIVE_STATES


class EventWaits:
    ARRIVE = "arrive"
    TIMEOUT = "timeout"


@dataclass
class DryRun:
    journey: Journey
    source: str  # "draft" or "version N"
    user_id: str
    participant_exists: bool
    now: datetime
    trigger: dict[str, Any]
    entry: dict[str, Any]
    steps: list[DryRunStep] = field(default_factory=list)
    end: str = ""
    warnings: list[str] = field(default_factory=list)
    definition: Definition | None = None

    @property
    def highlight(self) -> dict[str, str]:
        marks: dict[str, str] = {}
        for step in self.steps:
            marks[step.key] = step.status if marks.get(step.key) != "succeeded" else "succeeded"
        return marks


def _definition(journey: Journey, version: JourneyVersion | None) -> tuple[Definition, str]:
    if version is not None:
        return definition_for(version), f"version {version.number}"
    steps = [step_as_dict(s) for s in journey.steps.all()]
    errors = validate_definition(
        steps=steps, journey={"trigger_conditions": journey.trigger_conditions}, for_publish=True
    )
    if errors:
        raise ValidationFailed(errors)
    return Definition(build_definition(journey=journey, steps=steps)), "draft"


def _trigger(journey: Journey, participant: Participant, payload: dict[str, Any]) -> dict[str, Any]:
    holds, trace = evaluate(journey.trigger_conditions, EvaluationContext.of_trigger(participant, payload))
    return {"type": journey.trigger_type, "holds": holds, "trace": trace}


def _entry(journey: Journey, participant: Participant | None) -> dict[str, Any]:
    """Whether the participant could enter now (state and re-entry policy), and why not."""
    if journey.state != Journey.State.PUBLISHED:
        return {
            "allowed": False,
            "reason": f"The journey is {journey.state}: nobody enters it until it is published.",
        }
    if participant is None:
        return {"allowed": True, "reason": "A new participant: nothing stands in the way."}
    runs = UserJourney.objects.filter(journey=journey, participant=participant)
    if journey.re_entry == Journey.ReEntry.ONCE and runs.exists():
        return {
            "allowed": False,
            "reason": "Entered once already; this journey is entered once per participant.",
        }
    if journey.re_entry == Journey.ReEntry.AFTER_END and runs.filter(state__in=LIVE_STATES).exists():
        return {"allowed": False, "reason": "A run of this journey is still live; it must end first."}
    return {"allowed": True, "reason": f"Re-entry policy {journey.re_entry!r} allows it."}


def journey_dry_run(
    *,
    journey: Journey,
    user_id: str,
    payload: dict[str, Any] | None = None,
    step_results: dict[str, Any] | None = None,
    version: JourneyVersion | None = None,
    event_waits: str = EventWaits.ARRIVE,
    now: datetime | None = None,
) -> DryRun:
    """Simulate ``user_id`` entering ``journey`` (its draft, or ``version``) with ``payload``.

    Raises ``ValidationFailed`` when the draft has problems (a broken graph cannot be walked).
    """
    now = now or timezone.now()
    payload = copy.deepcopy(payload or {})
    definition, source = _definition(journey, version)
    with transaction.atomic():
        existing = Participant.objects.filter(user_id=user_id).first()
        participant = existing or Participant(user_id=user_id, attributes={}, tags=[])
        result = DryRun(
            journey=journey,
            source=source,
            user_id=user_id,
            participant_exists=existing is not None,
            now=now,
            trigger=_trigger(journey, participant, payload),
            entry=_entry(journey, existing),
            definition=definition,
        )
        if existing is None:
            result.warnings.append(
                f"No participant {user_id!r} yet: simulated with no attributes and no tags."
            )
        Simulation(
            journey=journey,
            definition=definition,
            participant=participant,
            now=now,
            payload=payload,
            step_results=copy.deepcopy(step_results or {}),
            events_arrive=event_waits != EventWaits.TIMEOUT,
        ).run(result)
        transaction.set_rollback(True)  # a dry run leaves nothing behind, whatever a plug-in did
    return result
