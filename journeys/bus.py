"""The event bus: subscribers by event-type glob, and the processing of one event.

Every domain fact is an ``Event`` row. After the row commits, a Celery task hands it to
``event_process``, which calls each subscriber whose pattern matches the type, each in its own
transaction, and remembers which succeeded so a retry runs only the ones that failed. The
events table is a durable queue (``journeys.queue``, ``EVENTS``): nothing here trusts the broker;
a pending event whose message was lost, or whose worker died, is found again by ``events_sweep``
(a beat task) and dispatched once more; the claim makes the second dispatch of an event already
handled a no-op.
"""

import fnmatch
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from journeys import metrics
from journeys.models import Event
from journeys.queue import Backoff, Queue

logger = logging.getLogger(__name__)

Handler = Callable[[Event], None]
BatchHandler = Callable[[list[Event]], None]
Interest = Callable[[], Callable[[Event], bool]]
EVENT_DISPATCH_CHUNK = 100  # event ids per Celery message: one claim, one outcome write, per chunk

EVENTS = Queue(
    name="events",
    model=Event,
    waiting=Q(status=Event.Status.PENDING),
    due_field="next_attempt_at",
    held=Q(status=Event.Status.PROCESSING),
    lease_field="lease_until",
    lease_seconds=lambda: settings.EVENT_LEASE_SECONDS,
    chunk=EVENT_DISPATCH_CHUNK,
    sweep_batch=lambda: settings.EVENT_SWEEP_BATCH,
    backoff=Backoff(base=lambda: settings.EVENT_RETRY_BASE_SECONDS, cap=3600),
)


@dataclass(frozen=True)
class Subscriber:
    name: str
    pattern: str
    handler: Handler
    priority: int = 0
    batch_handler: BatchHandler | None = None
    interest: Interest | None = None


_subscribers: dict[str, Subscriber] = {}


def subscribe(
    pattern: str,
    handler: Handler,
    *,
    name: str | None = None,
    priority: int = 0,
    batch_handler: BatchHandler | None = None,
    interest: Interest | None = None,
) -> Subscriber:
    """Register ``handler`` for event types matching ``pattern`` (``*`` for all, ``buddy.*``…).

    Subscribers of one event run in order of ``priority`` (higher first), then of name: a
    subscriber whose results others read (rules setting flags that journey conditions test) takes
    a higher priority.

    ``batch_handler``, when given, receives all the matching events of one worker message at once
    (in one transaction) so a subscriber can work set-based; it must have the same effect as
    calling ``handler`` on each event in order.

    ``interest``, when given, returns (once per batch of new events) a predicate telling whether
    the handler could do anything with an event; it must answer ``True`` whenever in doubt, and
    read nothing of the event but its ``type`` and ``source`` (it is asked once per pair). An
    event that no matching subscriber is interested in is stored processed and never sent to a
    worker (``events_interesting``).

    ``name`` is the key under which results are remembered; it defaults to the handler's dotted
    path and must stay stable across releases. Handlers must be idempotent: a retried event runs a
    failed handler again, and a handler whose transaction committed just before its worker died
    may run twice.
    """
    name = name or f"{handler.__module__}.{handler.__qualname__}"
    subscriber = Subscriber(
        name=name,
        pattern=pattern,
        handler=handler,
        priority=priority,
        batch_handler=batch_handler,
        interest=interest,
    )
    existing = _subscribers.get(name)
    if existing and existing != subscriber:
        raise ValueError(f"subscriber {name!r} is already registered for {existing.pattern!r}")
    _subscribers[name] = subscriber
    _subscribers_for.cache_clear()
    return subscriber


def subscribe_from_settings() -> None:
    """Subscribe the handlers named in ``settings.EVENT_SUBSCRIBERS`` (``pattern=dotted.path``)."""
    for entry in settings.EVENT_SUBSCRIBERS:
        pattern, _, path = entry.partition("=")
        if not path:
            raise ImproperlyConfigured(f"EVENT_SUBSCRIBERS entry {entry!r} is not 'pattern=dotted.path'")
        subscribe(pattern.strip(), import_string(path.strip()), name=path.strip())


def unsubscribe(name: str) -> None:
    _subscribers.pop(name, None)
    _subscribers_for.cache_clear()


@lru_cache(maxsize=4096)
def _subscribers_for(event_type: str) -> tuple[Subscriber, ...]:
    return tuple(
        s
        for s in sorted(_subscribers.values(), key=lambda s: (-s.priority, s.name))
        if fnmatch.fnmatchcase(event_type, s.pattern)
    )


def subscribers_for(event_type: str) -> tuple[Subscriber, ...]:
    return _subscribers_for(event_type)


def _subscribers_in_order() -> list[Subscriber]:
    return sorted(_subscribers.values(), key=lambda s: (-s.priority, s.name))


def events_interesting(events: Iterable[Event]) -> list[bool]:
    """Whether each new event matters to some subscriber whose pattern matches its type.

    Most events the product publishes itself (a step's milestone, a flag's announcement) matter
    to nobody: no journey listens to their type, no webhook subscription matches, no rule reads
    them. Each subscriber's ``interest`` is asked once per call, and only when an event reaches
    it; a subscriber without one is interested in everything its pattern matches. An interest
    reads only an event's type and source (``subscribe``), so each pair is judged once per call:
    a batch of announcements holds a handful of pairs.
    """
    predicates: dict[str, Callable[[Event], bool]] = {}
    judged: dict[tuple[str, str], bool] = {}

    def interested(subscriber: Subscriber, event: Event) -> bool:
        if subscriber.interest is None:
            return True
        predicate = predicates.get(subscriber.name)
        if predicate is None:
            predicate = predicates[subscriber.name] = subscriber.interest()
        return predicate(event)

    def wanted(event: Event) -> bool:
        pair = (event.type, event.source)
        if pair not in judged:
            judged[pair] = any(interested(s, event) for s in subscribers_for(event.type))
        return judged[pair]

    return [wanted(event) for event in events]


def dispatch_on_commit(event_ids: Iterable[int]) -> None:
    """Enqueue processing of these events once the surrounding transaction commits."""
    EVENTS.enqueue_on_commit(event_ids)


def _claim(event_ids: list[int]) -> list[int]:
    """Take the claimable ones of these events for this worker; returns their ids.

    Pending events (whether or not their sweep is due: the message is for them), and events whose
    worker's lease ran out; rows another worker is claiming right now are skipped.
    """
    now = timezone.now()
    return EVENTS.claim(
        (EVENTS.waiting | EVENTS.expired(now)) & Q(pk__in=event_ids),
        now=now,
        status=Event.Status.PROCESSING,
        attempts=F("attempts") + 1,
    )


def event_process(*, event_id: int) -> Event | None:
    """Process one event; returns it as left, or ``None`` when another worker holds it or it is done."""
    processed = events_process(event_ids=[event_id])
    return processed[0] if processed else None


def events_process(*, event_ids: list[int]) -> list[Event]:
    """Run every matching subscriber that has not yet succeeded for these events.

    1. Claim the events (one statement); events held by another worker or already done drop out.
    2. For each subscriber, by priority: hand it the events it has not yet handled, all at once
       if it has a ``batch_handler`` (in one transaction), else one by one (each in its own). A
       failing batch is retried event by event, so one bad event fails alone.
    3. Record every event's outcome in one statement: processed, pending again after a backoff,
       or failed once ``EVENT_MAX_ATTEMPTS`` is spent.

    A handler's effects commit before the outcome is recorded; a worker dying in between leaves
    the event to the sweeper, which runs the handler again — one reason handlers are idempotent.
    """
    claimed = _claim(event_ids)
    if not claimed:
        return []
    events = list(Event.objects.select_related("participant").filter(pk__in=claimed).order_by("pk"))
    outcomes = _Outcomes(events)
    for subscriber in _subscribers_in_order():
        pending = [event for event in events if outcomes.owes(subscriber, event)]
        if pending:
            _deliver(subscriber, pending, outcomes)
    now = timezone.now()
    for event in events:
        outcomes.conclude(event, now=now)
    _settle(events)
    return events


class _Outcomes:
    """Each claimed event's per-subscriber results and the errors of this round."""

    def __init__(self, events: list[Event]) -> None:
        self.results = {event.pk: dict(event.subscriber_results) for event in events}
        self.errors: dict[int, list[str]] = {event.pk: [] for event in events}

    def owes(self, subscriber: Subscriber, event: Event) -> bool:
        """Whether this subscriber listens to the event and has not yet handled it."""
        return (
            subscriber in subscribers_for(event.type)
            and self.results[event.pk].get(subscriber.name, {}).get("status") != "ok"
        )

    def _attempts(self, subscriber: Subscriber, event: Event) -> int:
        return self.results[event.pk].get(subscriber.name, {}).get("attempts", 0) + 1

    def succeeded(self, subscriber: Subscriber, event: Event) -> None:
        self.results[event.pk][subscriber.name] = {
            "status": "ok",
            "attempts": self._attempts(subscriber, event),
        }

    def failed(self, subscriber: Subscriber, event: Event, exc: Exception) -> None:
        logger.exception("subscriber %s failed on event %s", subscriber.name, event.pk)
        message = f"{type(exc).__name__}: {exc}"
        self.results[event.pk][subscriber.name] = {
            "status": "failed",
            "attempts": self._attempts(subscriber, event),
            "error": message[:2000],
        }
        self.errors[event.pk].append(f"{subscriber.name}: {message}")

    def conclude(self, event: Event, *, now: datetime) -> None:
        """Set the event's outcome: processed, pending again after a backoff, or failed for good."""
        errors = self.errors[event.pk]
        event.subscriber_results = self.results[event.pk]
        event.lease_until = None
        event.next_attempt_at = None
        if not errors:
            event.status = Event.Status.PROCESSED
            event.processed_at = now
            event.error = ""
            return
        event.error = "\n".join(errors)[:10_000]
        if event.attempts >= settings.EVENT_MAX_ATTEMPTS:
            event.status = Event.Status.FAILED
        else:
            event.status = Event.Status.PENDING
            event.next_attempt_at = EVENTS.retry_at(now, event.attempts)


def _deliver(subscriber: Subscriber, pending: list[Event], outcomes: _Outcomes) -> None:
    """Hand one subscriber its pending events: as one batch when it can, else one by one.

    A failing batch is retried event by event, so one bad event fails alone.
    """
    if subscriber.batch_handler is not None and len(pending) > 1:
        try:
            with transaction.atomic():
                subscriber.batch_handler(pending)
        except Exception:
            logger.warning("batch of %s failed; handling its events one by one", subscriber.name)
        else:
            for event in pending:
                outcomes.succeeded(subscriber, event)
            return
    for event in pending:
        try:
            with transaction.atomic():
                subscriber.handler(event)
        except Exception as exc:
            outcomes.failed(subscriber, event, exc)
        else:
            outcomes.succeeded(subscriber, event)


def _settle(events: list[Event]) -> None:
    """Write the events' outcomes: one UPDATE per distinct outcome.

    The events of one message almost always end alike (processed, the same subscribers ok), so
    grouping by outcome costs one or two statements where a row-by-row CASE update costs a
    hundred-branch expression per column.
    """
    metrics.events_settled(events)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for event in events:
        outcome = (
            json.dumps(event.subscriber_results, sort_keys=True),
            event.status,
            event.processed_at,
            event.error,
            event.next_attempt_at,
        )
        groups[outcome].append(event.pk)
    for (results, status, processed_at, error, next_attempt_at), ids in groups.items():
        Event.objects.filter(pk__in=ids).update(
            subscriber_results=json.loads(results),
            lease_until=None,
            status=status,
            processed_at=processed_at,
            error=error,
            next_attempt_at=next_attempt_at,
        )


def events_due_for_dispatch(*, limit: int) -> list[int]:
    """Pending events whose dispatch is due, and events whose worker's lease ran out."""
    now = timezone.now()
    due = EVENTS.due(now) | EVENTS.expired(now)
    return list(Event.objects.filter(due).order_by("id").values_list("id", flat=True)[:limit])


def events_sweep() -> int:
    """Re-dispatch events the broker lost or a dead worker left behind. Returns how many.

    The sweep claims what it dispatches (``journeys.queue``): each event goes back to pending
    with its next sweep pushed ``EVENT_SWEEP_AFTER_SECONDS`` later, so a second sweep running at
    the same time (two beats) or just after takes none of them.
    """
    now = timezone.now()
    ids = EVENTS.sweep(
        now=now,
        status=Event.Status.PENDING,
        lease_until=None,
        next_attempt_at=now + timedelta(seconds=settings.EVENT_SWEEP_AFTER_SECONDS),
    )
    return len(ids)


def event_reprocess(*, event: Event) -> None:
    """Put a failed (or processed) event back in the queue; only failed subscribers run again."""
    Event.objects.filter(pk=event.pk).update(
        status=Event.Status.PENDING,
        attempts=0,
        error="",
        next_attempt_at=timezone.now(),
        lease_until=None,
    )
    dispatch_on_commit([event.pk])
