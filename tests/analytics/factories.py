"""Constructed journeys and runs with exact times, so every figure can be computed by hand."""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analytics.rollups import rollups_refresh
from journeys.models import Journey, Participant, StepRun, UserJourney
from tests.journeys.factories import make_journey

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday; the cohort day of most runs
_participants = itertools.count(1)


def linear_journey(*keys: str, **fields) -> Journey:
    """A published journey whose steps run in order: manual milestones, so any status fits."""
    steps = [{"key": k, "name": k.title(), "kind": "manual", "is_milestone": True} for k in keys]
    return make_journey(steps, **fields)


@dataclass
class Step:
    key: str
    status: str
    seconds: float | None = None  # from entering to finishing; None while it is open
    entered: bool = True
    attempts: int = 1
    rolled_back: bool = False
    dead_lettered: bool = False


def make_run(
    journey: Journey,
    *,
    state: str,
    steps: list[Step],
    started_at: datetime = T0,
    duration: float | None = None,
    variant: str = "",
    converted: bool = False,
    current_step: str | None = None,
) -> UserJourney:
    """A user journey with its step runs, one after another from ``started_at``.

    ``duration`` is the seconds from start to end (for ended runs); ``current_step`` defaults to
    the last step's key.
    """
    participant = Participant.objects.create(user_id=f"p-{next(_participants)}")
    ended_at = started_at + timedelta(seconds=duration) if duration is not None else None
    if ended_at is None and state not in ("active", "paused"):
        ended_at = started_at + timedelta(hours=1)
    UserJourney.objects.bulk_create(
        [
            UserJourney(
                journey=journey,
                version=journey.live_version,
                participant=participant,
                state=state,
                enrolment_key=f"run-{participant.pk}",
                current_step=current_step if current_step is not None else (steps[-1].key if steps else ""),
                last_seq=len(steps),
                variant=variant,
                converted=converted,
                started_at=started_at,
                ended_at=ended_at,
            )
        ]
    )
    uj = UserJourney.objects.get(participant=participant)
    at = started_at
    for seq, step in enumerate(steps, start=1):
        finished = at + timedelta(seconds=step.seconds) if step.seconds is not None else None
        run = StepRun.objects.create(
            user_journey=uj,
            participant=participant,
            seq=seq,
            step_key=step.key,
            step_kind="manual",
            status=step.status,
            entered=step.entered,
            attempts=step.attempts,
            rolled_back=step.rolled_back,
            dead_lettered_at=finished if step.dead_lettered else None,
            due_at=at,
            finished_at=finished,
            executed_at=at,
        )
        StepRun.objects.filter(pk=run.pk).update(created_at=at)
        at = finished or at
    return uj


def refresh() -> None:
    rollups_refresh(full=True)
