"""Entering journeys: by an event's trigger (``journeys.services.event_handling``), by hand, or
by a trigger evaluated on request.

Re-entry is enforced by unique constraints (see ``UserJourney``); the checks here only avoid
asking the database for rows it would refuse. Enrolments are inserted set-based, one
statement for all journeys an event enters.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from journeys import journey_events, metrics
from journeys.engine.batch import bulk_insert, ids_reserve, participants_lock, unsaved, versions_load
from journeys.engine.conditions import EvaluationContext, evaluate
from journeys.engine.dispatcher import dispatch_on_commit
from journeys.engine.runner import Walker
from journeys.engine.writes import BatchWrites, log
from journeys.errors import Conflict
from journeys.models import Journey, Participant, UserJourney
from journeys.models.runs import LIVE_STATES
from journeys.services.participants import participants_get_or_create


@dataclass(frozen=True)
class Enrolment:
    journey: Journey
    participant: Participant
    payload: dict[str, Any] = field(default_factory=dict)
    trigger_event_id: int | None = None
    key: str | None = None  # for manual enrolments; events use their id


ENROLMENT_KEY = ("journey_id", "participant_id", "enrolment_key")  # unique: user_journey_unique_enrolment


def enrolment_key(journey: Journey, *, event_id: int | None = None) -> str:
    """``once`` journeys share one key per participant, so the unique constraint forbids a second
    run; otherwise the triggering event's id, so a re-delivered event never enrols twice."""
    if journey.re_entry == Journey.ReEntry.ONCE:
        return "once"
    return f"event:{event_id}" if event_id else f"manual:{uuid.uuid4().hex}"


def _blocked(enrolments: Sequence[Enrolment], keys: list[str]) -> set[tuple[int, int]]:
    """(journey, participant) pairs the re-entry policy forbids now."""
    journey_ids = {e.journey.pk for e in enrolments}
    participant_ids = {e.participant.pk for e in enrolments}
    policies = {e.journey.pk: e.journey.re_entry for e in enrolments}
    existing = UserJourney.objects.filter(
        journey_id__in=journey_ids, participant_id__in=participant_ids
    ).filter(
        Q(enrolment_key__in=set(keys)) | Q(enrolment_key="once") | Q(state__in=LIVE_STATES, exclusive=True)
    )
    blocked = set()
    wanted = {(e.journey.pk, e.participant.pk, k) for e, k in zip(enrolments, keys, strict=True)}
    for journey_id, participant_id, key, state in existing.values_list(
        "journey_id", "participant_id", "enrolment_key", "state"
    ):
        policy = policies[journey_id]
        if (journey_id, participant_id, key) in wanted:
            blocked.add((journey_id, participant_id))  # this very event (or key) already enrolled
        elif policy == Journey.ReEntry.ONCE or (policy == Journey.ReEntry.AFTER_END and state in LIVE_STATES):
            blocked.add((journey_id, participant_id))
    return blocked


class _Refused(Exception):
    """A user journey walked before its insert was refused by a constraint (a race)."""


@transaction.atomic
def user_journeys_enrol(*, enrolments: Sequence[Enrolment], now: datetime | None = None) -> list[UserJourney]:
    """Enter participants into journeys and walk each to its first wait. Returns the new runs.

    Those the re-entry policy forbids are left out (no error: an event that does not enrol is
    normal). Highest priority journeys start first.

    On Postgres the new user journeys take their ids first (``ids_reserve``), are walked, and
    are inserted once, as their walks left them: one statement fewer than inserting them, then
    updating every one. If a constraint refuses one of them (another transaction enrolled the
    participant meanwhile), the batch's savepoint is rolled back and it is enrolled the other
    way: inserted first, the refused ones left out, then walked. A batch with an ``after_end``
    journey is always enrolled that other way: the constraint keeping one live run each judges a
    row by its state, so the row must be inserted while it is live, before a walk could end it.
    """
    now = now or timezone.now()
    enrolments = [
        e for e in enrolments if e.journey.state == Journey.State.PUBLISHED and e.journey.live_version_id
    ]
    if not enrolments:
        return []
    participants = {e.participant.pk: e.participant for e in enrolments}
    walk_first = not any(e.journey.re_entry == Journey.ReEntry.AFTER_END for e in enrolments)
    if walk_first and connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                return _walked_then_inserted(_new_runs(enrolments, now), participants, now)
        except _Refused:
            pass
    rows = _new_runs(enrolments, now)
    if not rows:
        return []
    created = _insert(rows)
    metrics.journeys_started(created)
    versions_load(created)
    writes = BatchWrites(now=now, participants=_lock_participants(participants))
    _walk(created, participants, writes, now)
    dispatch_on_commit(writes.flush())
    return created


def _walked_then_inserted(
    rows: list[UserJourney], participants: dict[int, Participant], now: datetime
) -> list[UserJourney]:
    if not rows:
        return []
    for uj, pk in zip(rows, ids_reserve(UserJourney, len(rows)), strict=True):
        uj.pk = pk
    versions_load(rows)
    writes = BatchWrites(now=now, participants=_lock_participants(participants))
    _walk(rows, participants, writes, now)
    writes.inserted_by_caller(rows)
    bulk_insert(UserJourney, rows, key=ENROLMENT_KEY, ignore_conflicts=True, reserved=True)
    if any(uj.pk is None for uj in rows):
        raise _Refused
    metrics.journeys_started(rows)
    dispatch_on_commit(writes.flush())
    return rows


def _walk(
    user_journeys: list[UserJourney], participants: dict[int, Participant], writes: BatchWrites, now: datetime
) -> None:
    """Announce each enrolment and walk it to its first wait, highest priority journeys first."""
    user_journeys.sort(key=lambda uj: (-uj.journey.priority, uj.journey_id, uj.pk))
    for uj in user_journeys:
        # One participant instance: tags applied by one journey's first steps are seen by the next.
        uj.participant = participants[uj.participant_id]
        writes.journey_events.append(
            journey_events.journey_event(
                uj,
                journey_events.ENROLLED,
                key=str(uj.pk),
                user_id=uj.participant.user_id,
                version=uj.version.number,
            )
        )
        Walker(uj, now=now, writes=writes).start()


def _new_runs(enrolments: Sequence[Enrolment], now: datetime) -> list[UserJourney]:
    """The user journeys to insert: one per enrolment the re-entry policy lets through, the
    first of each (journey, participant) pair when the journey is exclusive."""
    keys = [e.key or enrolment_key(e.journey, event_id=e.trigger_event_id) for e in enrolments]
    blocked = _blocked(enrolments, keys)
    rows: list[UserJourney] = []
    seen: set[tuple[int, int]] = set()
    seen_keys: set[tuple[int, int, str]] = set()
    for enrolment, key in zip(enrolments, keys, strict=True):
        pair = (enrolment.journey.pk, enrolment.participant.pk)
        exclusive = enrolment.journey.re_entry != Journey.ReEntry.ALWAYS
        if pair in blocked or (exclusive and pair in seen) or (*pair, key) in seen_keys:
            continue
        seen.add(pair)
        seen_keys.add((*pair, key))
        rows.append(
            unsaved(
                UserJourney,
                journey=enrolment.journey,
                version_id=enrolment.journey.live_version_id,
                participant=enrolment.participant,
                enrolment_key=key,
                exclusive=exclusive,
                context={
                    "payload": enrolment.payload,
                    "steps": {},
                    "journey": {"id": enrolment.journey.pk, "name": enrolment.journey.name},
                },
                trigger_event_id=enrolment.trigger_event_id,
                started_at=now,
            )
        )
    return rows


def _insert(rows: list[UserJourney]) -> list[UserJourney]:
    """Insert the user journeys the constraints accept; returns those, with their ids.

    On Postgres one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` says exactly which went in; on
    SQLite they are read back.
    """
    if connection.vendor == "postgresql":
        bulk_insert(UserJourney, rows, key=ENROLMENT_KEY, ignore_conflicts=True)
        return [uj for uj in rows if uj.pk is not None]
    UserJourney.objects.bulk_create(rows, ignore_conflicts=True)
    triples = {(r.journey_id, r.participant_id, r.enrolment_key) for r in rows}
    journeys = {r.journey_id: r.journey for r in rows}
    created = [
        uj
        for uj in UserJourney.objects.filter(
            journey_id__in=journeys,
            participant_id__in={r.participant_id for r in rows},
            enrolment_key__in={r.enrolment_key for r in rows},
            started_at=rows[0].started_at,
        )
        if (uj.journey_id, uj.participant_id, uj.enrolment_key) in triples
    ]
    for uj in created:
        uj.journey = journeys[uj.journey_id]
    return created


def _lock_participants(participants: dict[int, Participant]) -> dict[int, Participant]:
    """Lock the participants' rows (skipping those another transaction holds) and bring the
    caller's instances up to date, so the walks change their tags in memory."""
    locked = participants_lock(participants)
    for pk, row in locked.items():
        participants[pk].tags = row.tags
    return {pk: participants[pk] for pk in locked}


def user_journey_enrol(
    *, journey: Journey, user_id: str, context: dict[str, Any] | None = None, actor=None
) -> UserJourney:
    """Enrol one participant by hand (the API's ``enroll``); 409 when the journey or the re-entry
    policy does not allow it, with the state of the run in the way."""
    journey = Journey.objects.select_related("live_version").get(pk=journey.pk)
    if journey.state != Journey.State.PUBLISHED:
        raise Conflict(
            f"Only a published journey can be entered; this one is {journey.state}.",
            code="journey_not_published",
            current_state=journey.state,
        )
    participant = participants_get_or_create(user_ids=[user_id])[user_id]
    created = user_journeys_enrol(
        enrolments=[Enrolment(journey=journey, participant=participant, payload=context or {})]
    )
    if not created:
        existing = (
            UserJourney.objects.filter(journey=journey, participant=participant).order_by("-id").first()
        )
        raise Conflict(
            f"The re-entry policy ({journey.re_entry}) does not allow {user_id!r} to enter again now.",
            code="re_entry_refused",
            current_state=existing.state if existing else None,
            user_journey_id=existing.pk if existing else None,
        )
    uj = created[0]
    if actor is not None:
        log(uj, "enrolled", at=uj.started_at, actor=actor, by="api")
    return uj


def journeys_trigger(
    *, trigger_type: str, user_id: str, context: dict[str, Any] | None = None
) -> list[UserJourney]:
    """Evaluate a trigger by hand (the 003 ``/journeys/trigger``): enter every matching journey."""
    participant = participants_get_or_create(user_ids=[user_id])[user_id]
    return user_journeys_enrol(
        enrolments=enrolments_matching(
            trigger_type=trigger_type, participant=participant, payload=context or {}, event_id=None
        )
    )


def _triggered_by(trigger_type: str) -> list[Journey]:
    return list(
        Journey.objects.filter(state=Journey.State.PUBLISHED, trigger_type=trigger_type).order_by(
            "-priority", "id"
        )
    )


def enrolments_matching(
    *,
    trigger_type: str,
    participant: Participant,
    payload: dict[str, Any],
    event_id: int | None,
    journeys: list[Journey] | None = None,
) -> list[Enrolment]:
    journeys = _triggered_by(trigger_type) if journeys is None else journeys
    if trigger_type.startswith("journey."):  # a journey never feeds on its own journey.* events
        journeys = [j for j in journeys if payload.get("journey_id") != j.pk]
    if not journeys:
        return []
    ctx = EvaluationContext.of_trigger(participant, payload)
    return [
        Enrolment(journey=j, participant=participant, payload=payload, trigger_event_id=event_id)
        for j in journeys
        if evaluate(j.trigger_conditions, ctx)[0]
    ]
