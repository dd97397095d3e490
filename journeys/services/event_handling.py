"""What an event does to journeys: the journeys' subscriber on the bus.

For every event, in the subscriber's one transaction:

1. a goal event ends the participant's live run of that journey as converted (the newest run
   only, so a conversion is attributed once); an exit event ends every live run of it;
2. runs waiting for this event type are woken (each under its user journey's row lock);
3. the participant enters every published journey whose trigger is this event type and whose
   trigger conditions hold, highest priority first, as the re-entry policy allows
   (``journeys.services.enrolment``).
"""

from collections.abc import Callable
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from journeys import journey_events
from journeys.engine.dispatcher import dispatch_on_commit
from journeys.engine.runner import Walker, cancel_live_runs, lock_user_journey
from journeys.engine.writes import log
from journeys.models import Event, Journey, StepRun, UserJourney
from journeys.models.runs import LIVE_STATES
from journeys.services.enrolment import Enrolment, enrolments_matching, user_journeys_enrol
from journeys.services.listening import LISTENED, listened_types


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


def journeys_interest() -> Callable[[Event], bool]:
    """The bus's pre-filter: events of types no journey listens to have nothing to enter, end or
    wake (all of them when the index cannot be read)."""
    return LISTENED.interest(lambda listened, event: event.type in listened)


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
    enrolments = enrolments_matching(
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
        matched = enrolments_matching(
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
