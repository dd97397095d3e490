"""Entering journeys, and what an event does to them (the journeys' subscriber on the bus).

For every event, in the subscriber's one transaction:

1. a goal event ends the participant's live run of that journey as converted (the newest run
   only, so a conversion is attributed once); an exit event ends every live run of it;
2. runs waiting for this event type are woken (each under its user journey's row lock);
3. the participant enters every published journey whose trigger is this event type and whose
   trigger conditions hold, highest priority first, as the re-entry policy allows.

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
from journeys.engine.batch import bulk_insert, participants_lock, versions_load
from journeys.engine.conditions import EvaluationContext, evaluate
from journeys.engine.dispatcher import dispatch_on_commit
from journeys.engine.runner import Walker, cancel_live_runs, lock_user_journey
from journeys.engine.writes import BatchWrites, log
from journeys.errors import Conflict
from journeys.models import Event, Journey, Participant, StepRun, UserJourney
from journeys.models.runs import LIVE_STATES
from journeys.services.listening import listened_types
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


@transaction.atomic
def user_journeys_enrol(*, enrolments: Sequence[Enrolment], now: datetime | None = None) -> list[UserJourney]:
    """Enter participants into journeys and walk each to its first wait. Returns the new runs.

    Those the re-entry policy forbids are left out (no error: an event that does not enrol is
    normal). Highest priority journeys start first.
    """
    now = now or timezone.now()
    enrolments = [
        e for e in enrolments if e.journey.state == Journey.State.PUBLISHED and e.journey.live_version_id
    ]
    if not enrolments:
        return []
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
            UserJourney(
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
    if not rows:
        return []
    created = _insert(rows)
    metrics.journeys_started(created)
    versions_load(created)
    participants = {e.participant.pk: e.participant for e in enrolments}
    created.sort(key=lambda uj: (-uj.journey.priority, uj.journey_id, uj.pk))
    writes = BatchWrites(now=now, participants=_lock_participants(participants))
    for uj in created:
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
    dispatch_on_commit(writes.flush())
    return created


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
        enrolments=_matching(
            trigger_type=trigger_type, participant=participant, payload=context or {}, event_id=None
        )
    )


def _triggered_by(trigger_type: str) -> list[Journey]:
    return list(
        Journey.objects.filter(state=Journey.State.PUBLISHED, trigger_type=trigger_type).order_by(
            "-priority", "id"
        )
    )


def _matching(
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
    ctx = EvaluationContext(
        payload=payload,
        attributes=participant.attributes,
        tags=participant.tags,
        user_id=participant.user_id,
        participant=participant,
    )
    return [
        Enrolment(journey=j, participant=participant, payload=payload, trigger_event_id=event_id)
        for j in journeys
        if evaluate(j.trigger_conditions, ctx)[0]
    ]


def _end_by_event(event: Event, now: datetime) -> int:
    """The goal ends every live run of the journey; the newest is converted, the others just end
    (the conversion is attributed once). The exit event ends every live run, unconverted.
    Returns how many runs ended."""
    live = list(
        UserJourney.objects.filter(participant_id=event.participant_id, state__in=LIVE_STATES)
        .filter(Q(version__goal_event=event.type) | Q(version__exit_event=event.type))
        .values_list("id", "journey_id", "version__goal_event")
        .order_by("-id")
    )
    attributed: dict[int, int] = {}  # journey → the run converted by this event
    for uj_id, journey_id, goal in live:
        if goal == event.type and journey_id not in attributed:
            attributed[journey_id] = uj_id
    ended = 0
    for uj_id in sorted(uj_id for uj_id, _, _ in live):
        uj = lock_user_journey(uj_id)
        if uj is None or not uj.is_live:
            continue
        ended += 1
        before = uj.state
        is_goal = uj.version.goal_event == event.type
        converted = is_goal and attributed.get(uj.journey_id) == uj.pk
        if converted:
            reason = f"goal event {event.type}"
        elif is_goal:
            reason = f"goal event {event.type} (converted run {attributed[uj.journey_id]})"
        else:
            reason = f"exit event {event.type}"
        uj.complete(at=now, reason=reason, converted=converted)
        uj.context = {**uj.context, "ended_by_event": event.pk}
        uj.save(
            update_fields=[
                "state",
                "ended_at",
                "end_reason",
                "paused_at",
                "converted",
                "converted_at",
                "context",
                "updated_at",
            ]
        )
        cancel_live_runs(uj, now=now, reason=reason)
        log(uj, "converted" if converted else "ended", at=now, from_state=before, event=event.pk)
        journey_events.journey_events_publish(
            journey_events.journey_ended_events(
                uj, journey_events.COMPLETED, user_id=event.participant.user_id, event_id=event.pk
            )
        )
    return ended


def _wake(event: Event, now: datetime, kick: list[int]) -> int:
    """Wake the participant's runs waiting for this event type; returns how many woke."""
    waiting = list(
        StepRun.objects.filter(
            participant_id=event.participant_id, status=StepRun.Status.SCHEDULED, waiting_for=event.type
        )
        .values_list("id", "user_journey_id")
        .order_by("user_journey_id")
    )
    woken = 0
    for run_id, uj_id in waiting:
        uj = lock_user_journey(uj_id)
        run = StepRun.objects.select_for_update().filter(pk=run_id).first()
        if uj is None or run is None or not uj.is_live:
            continue
        if run.status != StepRun.Status.SCHEDULED or run.waiting_for != event.type:
            continue  # timed out or woken first: the row lock decided
        since = run.trace.get("wait", {}).get("since")
        if since and event.received_at < datetime.fromisoformat(since):
            continue  # an older event processed late does not end a wait that began after it
        run.user_journey = uj
        walker = Walker(uj, now=now)
        walker.wake(run, event)
        kick.extend(walker.kick)
        woken += 1
    return woken


def journeys_handle_event(event: Event) -> None:
    """The journeys' subscriber on the bus (pattern ``*``); idempotent, as the bus requires."""
    listened = listened_types()
    if listened is not None and event.type not in listened:
        return  # no journey enters, ends or waits on this type: nothing to look up
    now = timezone.now()
    kick: list[int] = []
    if listened is None or event.type in listened.ends:
        _end_by_event(event, now)
        _wake(event, now, kick)
    dispatch_on_commit(kick)
    enrolments = _matching(
        trigger_type=event.type, participant=event.participant, payload=event.payload, event_id=event.pk
    )
    if enrolments:
        user_journeys_enrol(enrolments=enrolments, now=now)


def journeys_handle_events(events: list[Event]) -> None:
    """The subscriber's batch handler: the effect of ``journeys_handle_event`` on each event in
    order, with the enrolments of many events in one set-based call.

    1. Events of types no journey listens to are left out (``listened_types``, no query).
    2. Two queries find which (participant, event type) pairs end or wake anything live (none
       when no type of the message can end or wake a run), one which journeys the types trigger.
    3. Events in order. Before an event of a participant with enrolments pending, the pending
       enrolments are written, so it sees what its earlier events started (a journey may wait for
       this very event). The event goes the event-by-event way (end, then wake, under row locks)
       when its pair is a hit, or when this message already enrolled, ended or woke the
       participant's runs: the hits were read before, so only then can they be out of date.
       Otherwise it only adds its enrolments to the pending set.
    4. The pending enrolments are written together: one insert, one walk per batch.
    """
    listened = listened_types()
    if listened is not None:
        events = [event for event in events if event.type in listened]
    if not events:
        return
    now = timezone.now()
    types = {event.type for event in events}
    hits = _hits(events, types if listened is None else types & listened.ends)
    triggered = _triggered_by_types(types if listened is None else types & listened.triggers)
    pending: list[Enrolment] = []
    pending_for: set[int] = set()  # participants with enrolments in ``pending``
    changed: set[int] = set()  # participants whose runs this message enrolled, ended or woke
    kick: list[int] = []

    def enrol_pending() -> None:
        created = user_journeys_enrol(enrolments=pending, now=now)
        changed.update(uj.participant_id for uj in created)
        pending.clear()
        pending_for.clear()

    for event in events:
        participant_id = event.participant_id
        if participant_id in pending_for:
            enrol_pending()
        if (participant_id in changed or (participant_id, event.type) in hits) and (
            _end_by_event(event, now) + _wake(event, now, kick)
        ):
            changed.add(participant_id)
        matched = _matching(
            trigger_type=event.type,
            participant=event.participant,
            payload=event.payload,
            event_id=event.pk,
            journeys=triggered.get(event.type, []),
        )
        if matched:
            pending += matched
            pending_for.add(participant_id)
    dispatch_on_commit(kick)
    if pending:
        user_journeys_enrol(enrolments=pending, now=now)


def _hits(events: list[Event], types: set[str]) -> set[tuple[int, str]]:
    """(participant, event type) pairs of these events that end or wake one of their live runs."""
    if not types:
        return set()
    participants = {event.participant_id for event in events}
    live = UserJourney.objects.filter(participant_id__in=participants, state__in=LIVE_STATES)
    hits: set[tuple[int, str]] = set()
    for participant_id, goal, exit_event in live.filter(
        Q(version__goal_event__in=types) | Q(version__exit_event__in=types)
    ).values_list("participant_id", "version__goal_event", "version__exit_event"):
        hits.update({(participant_id, goal), (participant_id, exit_event)})
    hits.update(
        StepRun.objects.filter(
            participant_id__in=participants, status=StepRun.Status.SCHEDULED, waiting_for__in=types
        ).values_list("participant_id", "waiting_for")
    )
    return hits


def _triggered_by_types(types: set[str]) -> dict[str, list[Journey]]:
    """The published journeys each of these types triggers, highest priority first (one query)."""
    triggered: dict[str, list[Journey]] = {}
    if types:
        for journey in Journey.objects.filter(state=Journey.State.PUBLISHED, trigger_type__in=types).order_by(
            "-priority", "id"
        ):
            triggered.setdefault(journey.trigger_type, []).append(journey)
    return triggered
