"""Where a walker's changes go: at once, or with the whole batch.

A walker (``journeys.engine.runner``) changes step runs, its user journey, log rows, journey
events and the runs to hand to a worker; it says so through one interface, ``Writes``:

* ``ImmediateWrites`` (one user journey moved by a service, a wake-up, a run recorded row by
  row) writes each change as it is made, and collects the runs to dispatch after commit;
* ``BatchWrites`` (the dispatcher's batches, the enrolment of a batch) keeps the changes in
  memory and ``flush`` writes the whole batch in a few statements (``journeys.engine.batch``).

A run an action needs by id is inserted at once in both (``journeys.engine.runner``).
"""

from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.utils import timezone

from journeys import journey_events
from journeys.engine.batch import STEP_RUN_FIELDS, USER_JOURNEY_FIELDS, bulk_insert, bulk_update, unsaved
from journeys.models import Participant, StepRun, UserJourney, UserJourneyLog


class Writes:
    """What a walker writes, and when. ``kicked``: runs to dispatch once the transaction commits."""

    def __init__(self) -> None:
        self.kicked: list[int] = []

    def run(self, run: StepRun, *, fields: list[str] | None = None) -> None:
        """A step run changed (``fields``: the only ones that did, when known)."""
        raise NotImplementedError

    def journey(self, user_journey: UserJourney, *, now) -> None:
        """The user journey changed (its walk moved it)."""
        raise NotImplementedError

    def log(self, entry: UserJourneyLog) -> None:
        raise NotImplementedError

    def publish(self, events: list) -> None:
        """Journey events (``journeys.journey_events``) for the bus."""
        raise NotImplementedError

    def kick(self, run: StepRun) -> None:
        """A pending run, to hand to a worker after commit (the run is written already)."""
        raise NotImplementedError

    def holds(self, participant: Participant) -> bool:
        """Whether these writes hold the participant's row lock (its tags change in memory)."""
        return False


class ImmediateWrites(Writes):
    """Each change written as it is made."""

    def run(self, run: StepRun, *, fields: list[str] | None = None) -> None:
        run.save(update_fields=fields)

    def journey(self, user_journey: UserJourney, *, now) -> None:
        user_journey.save(update_fields=USER_JOURNEY_FIELDS)

    def log(self, entry: UserJourneyLog) -> None:
        entry.save()

    def publish(self, events: list) -> None:
        journey_events.journey_events_publish(events)

    def kick(self, run: StepRun) -> None:
        self.kicked.append(run.pk)


class BatchWrites(Writes):
    """What the walkers of one batch changed, written by ``flush`` in a few statements.

    ``participants``: the rows the batch holds locked (``participants_lock``); their tags are
    changed in memory by the tag actions and written once. ``runs`` and ``journeys``: the rows
    as the batch read them, so that ``flush`` writes only the columns some walk changed (a
    JSON column left alone is neither encoded nor sent). A user journey's ``context`` is always
    written: an action is given a shallow copy of it and could change what it nests.
    """

    def __init__(
        self,
        *,
        now=None,
        participants: dict[int, Participant] | None = None,
        runs: Iterable[StepRun] = (),
        journeys: Iterable[UserJourney] = (),
    ) -> None:
        super().__init__()
        self.now = now or timezone.now()
        self.runs: dict[int, StepRun] = {}  # by id(): new runs have no primary key yet
        self.journeys: dict[int, UserJourney] = {}
        self.logs: list[UserJourneyLog] = []
        self.pending: list[StepRun] = []
        self.journey_events: list[Any] = []  # EventInputs of journey.* facts, stored by flush
        self.participants: dict[int, Participant] = dict(participants or {})
        self._tags_read = {pk: list(p.tags) for pk, p in self.participants.items()}
        run_values, journey_values = attrgetter(*STEP_RUN_FIELDS), attrgetter(*USER_JOURNEY_FIELDS)
        self._read = {id(row): run_values(row) for row in runs}
        self._read.update({id(row): journey_values(row) for row in journeys})

    def _changed(self, rows: list, fields: list[str], *, always: tuple[str, ...] = ()) -> list[str]:
        """The columns among ``fields`` that changed in any of ``rows`` since they were read
        (all of them when a row was not read by this batch), in ``fields``' order."""
        before = [self._read.get(id(row)) for row in rows]
        if None in before:
            return fields
        get = attrgetter(*fields)
        after = [get(row) for row in rows]
        return [
            name
            for i, name in enumerate(fields)
            if name in always
            or any(now[i] is not was[i] and now[i] != was[i] for now, was in zip(after, before, strict=True))
        ]

    def holds(self, participant: Participant) -> bool:
        return self.participants.get(participant.pk) is participant

    def run(self, run: StepRun, *, fields: list[str] | None = None) -> None:
        self.runs[id(run)] = run

    def journey(self, user_journey: UserJourney, *, now) -> None:
        user_journey.updated_at = now
        self.journeys[id(user_journey)] = user_journey

    def log(self, entry: UserJourneyLog) -> None:
        self.logs.append(entry)

    def publish(self, events: list) -> None:
        self.journey_events.extend(events)

    def kick(self, run: StepRun) -> None:
        self.pending.append(run)  # new runs get their ids in flush

    def inserted_by_caller(self, user_journeys: Iterable[UserJourney]) -> None:
        """User journeys the caller inserts itself, as their walks left them (an enrolment
        that walked them before inserting them): ``flush`` does not update them."""
        for user_journey in user_journeys:
            self.journeys.pop(id(user_journey), None)

    def flush(self) -> list[int]:
        """Write everything; returns the ids of the runs to kick (pending side effects)."""
        new = [run for run in self.runs.values() if run.pk is None]
        old = [run for run in self.runs.values() if run.pk is not None]
        bulk_insert(StepRun, new, key=("user_journey_id", "seq"))
        bulk_update(StepRun, old, self._changed(old, STEP_RUN_FIELDS))
        journeys = list(self.journeys.values())
        always = ("context", "updated_at")
        bulk_update(UserJourney, journeys, self._changed(journeys, USER_JOURNEY_FIELDS, always=always))
        bulk_insert(UserJourneyLog, self.logs)
        tagged = [p for pk, p in self.participants.items() if p.tags != self._tags_read[pk]]
        for participant in tagged:
            participant.updated_at = self.now
        bulk_update(Participant, tagged, ["tags", "updated_at"])
        if self.journey_events:
            held = {p.user_id: p for p in self.participants.values()}
            journey_events.journey_events_publish(self.journey_events, participants=held)
            self.journey_events = []
        kick = [run.pk for run in self.pending]
        self.runs, self.journeys, self.logs, self.pending, self._read = {}, {}, [], [], {}
        self._tags_read = {pk: list(p.tags) for pk, p in self.participants.items()}
        return kick


def log_entry(
    user_journey: UserJourney, action: str, *, at: datetime, from_state: str = "", actor=None, **detail: Any
) -> UserJourneyLog:
    """A log row of the user journey as it is now (not saved)."""
    return unsaved(
        UserJourneyLog,
        user_journey=user_journey,
        at=at,
        action=action,
        from_state=from_state,
        to_state=user_journey.state,
        step_key=detail.pop("step_key", user_journey.current_step),
        actor=actor if getattr(actor, "pk", None) else None,
        detail=detail,
    )


def log(
    user_journey: UserJourney, action: str, *, at: datetime, from_state: str = "", actor=None, **detail: Any
) -> None:
    log_entry(user_journey, action, at=at, from_state=from_state, actor=actor, **detail).save()
