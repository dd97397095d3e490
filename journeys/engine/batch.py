"""Set-based writes for walks that move many user journeys in one transaction.

A walker moves one user journey; the dispatcher and the enrolment move hundreds at a time. Given
a ``Writes`` buffer, walkers change rows in memory only, and ``flush`` writes the batch in a
handful of statements, whatever its size:

* new step runs: one ``INSERT`` (their ids come back for the runs to kick);
* changed step runs, user journeys, participants' tags: one ``UPDATE … FROM (VALUES …)`` each
  per chunk on Postgres (Django's ``bulk_update`` builds a ``CASE`` per field and row, which
  costs seconds for a thousand rows); ``bulk_update`` on SQLite;
* the user journeys' log rows: one ``INSERT``.

Tags: a participant whose row the batch holds (``participants_lock``) has its tags changed in
memory by the tag actions and written once in ``flush``; holding the lock from the read to the
write is what ``participant_tag`` does for one run. Participants the batch could not lock are
tagged the ordinary way, row by row.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

from journeys.models import JourneyVersion, Participant, StepRun, UserJourney, UserJourneyLog

BULK_UPDATE_CHUNK = 1000  # rows per UPDATE … FROM (VALUES …) statement
BULK_INSERT_CHUNK = 1000  # rows per INSERT statement

STEP_RUN_FIELDS = [
    "status",
    "entered",
    "due_at",
    "waiting_for",
    "attempts",
    "max_attempts",
    "lease_until",
    "executed_at",
    "finished_at",
    "result",
    "error",
    "trace",
    "dead_lettered_at",
]
USER_JOURNEY_FIELDS = [
    "state",
    "current_step",
    "last_seq",
    "context",
    "variant",
    "converted",
    "converted_at",
    "end_reason",
    "failure_reason",
    "paused_at",
    "ended_at",
    "updated_at",
]


def bulk_update(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """Write ``fields`` of many rows of ``model`` by primary key.

    On Postgres one ``UPDATE … FROM (VALUES …)`` per chunk, every value a parameter cast to its
    column's type; elsewhere Django's ``bulk_update``.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields, batch_size=100)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    assignments = ", ".join(f'"{f.column}" = v."{f.column}"' for f in columns)
    row = (
        f"(%s::{pk.db_type(connection)}, "
        + ", ".join(f"%s::{f.db_type(connection)}" for f in columns)
        + ")"
    )
    names = ", ".join(f'"{f.column}"' for f in [pk, *columns])
    with connection.cursor() as cursor:
        for start in range(0, len(objs), BULK_UPDATE_CHUNK):
            chunk = objs[start : start + BULK_UPDATE_CHUNK]
            params: list[Any] = []
            for obj in chunk:
                params.append(obj.pk)
                params.extend(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns)
            values = ", ".join([row] * len(chunk))  # column names are the model's; values are parameters
            cursor.execute(
                f'UPDATE "{meta.db_table}" AS t SET {assignments} '
                f'FROM (VALUES {values}) AS v({names}) WHERE t."{pk.column}" = v."{pk.column}"',
                params,
            )


def versions_load(user_journeys: Iterable[UserJourney]) -> None:
    """Attach their versions to user journeys, one query for the distinct versions."""
    user_journeys = list(user_journeys)
    versions = JourneyVersion.objects.in_bulk({uj.version_id for uj in user_journeys})
    for uj in user_journeys:
        uj.version = versions[uj.version_id]


def participants_lock(ids: Iterable[int]) -> dict[int, Participant]:
    """Lock these participants' rows, skipping those another transaction holds (on SQLite,
    the single writer holds them all). Returns the rows locked, freshly read."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {
        p.pk: p
        for p in Participant.objects.select_for_update(skip_locked=True).filter(pk__in=ids).order_by("pk")
    }


class Writes:
    """What the walkers of one batch changed, written by ``flush`` in a few statements."""

    def __init__(self, *, now=None, participants: dict[int, Participant] | None = None) -> None:
        self.now = now or timezone.now()
        self.runs: dict[int, StepRun] = {}  # by id(): new runs have no primary key yet
        self.journeys: dict[int, UserJourney] = {}
        self.logs: list[UserJourneyLog] = []
        self.kick: list[StepRun] = []
        self.participants: dict[int, Participant] = dict(participants or {})
        self._tags_read = {pk: list(p.tags) for pk, p in self.participants.items()}

    def holds(self, participant: Participant) -> bool:
        """Whether this batch holds the participant's row lock (its tags are changed in memory)."""
        return self.participants.get(participant.pk) is participant

    def run(self, run: StepRun) -> None:
        self.runs[id(run)] = run

    def journey(self, user_journey: UserJourney) -> None:
        self.journeys[id(user_journey)] = user_journey

    def log(self, entry: UserJourneyLog) -> None:
        self.logs.append(entry)

    def flush(self) -> list[int]:
        """Write everything; returns the ids of the runs to kick (pending side effects)."""
        new = [run for run in self.runs.values() if run.pk is None]
        old = [run for run in self.runs.values() if run.pk is not None]
        if new:
            StepRun.objects.bulk_create(new, batch_size=BULK_INSERT_CHUNK)
        bulk_update(StepRun, old, STEP_RUN_FIELDS)
        bulk_update(UserJourney, list(self.journeys.values()), USER_JOURNEY_FIELDS)
        if self.logs:
            UserJourneyLog.objects.bulk_create(self.logs, batch_size=BULK_INSERT_CHUNK)
        tagged = [p for pk, p in self.participants.items() if p.tags != self._tags_read[pk]]
        for participant in tagged:
            participant.updated_at = self.now
        bulk_update(Participant, tagged, ["tags", "updated_at"])
        kick = [run.pk for run in self.kick]
        self.runs, self.journeys, self.logs, self.kick = {}, {}, [], []
        self._tags_read = {pk: list(p.tags) for pk, p in self.participants.items()}
        return kick
