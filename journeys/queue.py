"""The durable queue: a table whose rows are the work, and the broker only a wake-up call.

Six tables are queues: events on the bus (``Event``), step runs (``StepRun``), stage tasks
(``WorkTask``), webhook deliveries (``WebhookDelivery``), milestone service calls
(``ServiceCall``) and rule re-evaluations (``EvaluationSchedule``). Each configures one
``Queue`` (its model, which rows wait, which hold a lease, its lease, chunk, sweep batch and
backoff); this module is the one routine they share, so "nothing is lost" is written, and
reviewed, once:

1. **Enqueue after commit.** The transaction that makes rows due sends their ids to a worker
   once it commits (``enqueue_on_commit``), ``chunk`` ids per message. A transaction that rolls
   back sends nothing; a message the broker loses costs only latency, since the row is still due.
2. **Claim.** A worker takes rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and, in the same
   transaction, writes a lease (``lease_field`` = now + ``lease_seconds``) and whatever the table
   marks a taken row with (status running, one more attempt). A row another transaction is
   claiming is skipped, not waited for; once the claim commits it is no longer claimable, so two
   workers never hold one row. (SQLite serialises writers, so there the lock is not needed.)
3. **Lease.** A worker that dies holds its rows only until their lease runs out; then they are
   claimable again (``expired``). Work is therefore done at least once, and every consumer is
   idempotent: the second try finds the first one's effects, or uses the same idempotency key.
4. **Backoff.** A failed try is due again after ``Backoff.delay(attempt)``: base · 2^(n-1),
   capped, with equal jitter (the upper half random), so retries of one outage spread out and a
   row is never retried sooner than half its step.
5. **Sweep.** Beat claims what is due but was never sent (a lost message, a broker that was
   down) and what a dead worker left (expired leases), marks it so a second sweep running at the
   same time takes none of it, and enqueues it after commit (1).

Sending is not this module's business: the engine does not import Celery. Each app's
``tasks.py`` connects a sender (a function that calls ``task.delay``) to its queues when the app
is ready (``Channel.connect``), so the import direction is tasks → services → queue, never back.
Work that is not a leased row (a nudge to check a gate, which a beat check repeats anyway) uses a
``Channel``, the sending half alone.
"""

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)

Seconds = float | Callable[[], float]  # a number, or a function reading it from settings at call time
Send = Callable[..., object]  # ``send(ids, **options)``: one message for these ids


def _seconds(value: Seconds) -> float:
    return float(value() if callable(value) else value)


@dataclass(frozen=True)
class Backoff:
    """When a failed try is due again: exponential, capped, with equal jitter (step 4)."""

    base: Seconds  # seconds before the first retry (its upper bound)
    cap: Seconds  # seconds, the longest wait

    def delay(self, attempt: int, *, base: float | None = None) -> timedelta:
        """The wait after try ``attempt`` (1 for the first): a random point in the upper half of
        ``min(base · 2^(attempt-1), cap)``. ``base`` overrides the configured one (a stage task
        carries its own)."""
        start = _seconds(self.base) if base is None else base
        ceiling = min(start * 2 ** max(attempt - 1, 0), _seconds(self.cap))
        return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))


@dataclass(eq=False, kw_only=True)
class Channel:
    """Where one kind of work's messages go: the sender its app's ``tasks.py`` connected (step 1)."""

    name: str
    chunk: int = 100  # ids per message
    _send: Send | None = field(default=None, init=False, repr=False)

    def connect(self, send: Send) -> None:
        """Use ``send(ids, **options)`` to wake a worker (called by the app's ``tasks.py``)."""
        self._send = send

    def enqueue_on_commit(self, ids: Iterable[int], **options: Any) -> None:
        """Send these ids, ``chunk`` per message, once the surrounding transaction commits
        (step 1); ``options`` (a ``countdown``) go to each send. Nothing when it rolls back."""
        ids = list(ids)
        if not ids:
            return
        send = self._send
        if send is None:
            raise ImproperlyConfigured(
                f"Nothing sends the {self.name} queue's messages: its app is not ready."
            )

        def send_chunks() -> None:
            for start in range(0, len(ids), self.chunk):
                send(ids[start : start + self.chunk], **options)

        transaction.on_commit(send_chunks)


@dataclass(eq=False, kw_only=True)
class Queue(Channel):
    """One table used as a durable queue.

    ``waiting`` selects rows waiting for a worker, due once ``due_field`` is past; ``held``
    selects rows a worker holds, claimable again once ``lease_field`` is past. A table without a
    running state (``held`` is ``None``) writes its lease into the due column itself: claiming
    pushes the row's due moment ``lease_seconds`` later.
    """

    model: type[models.Model]
    waiting: Q
    due_field: str
    lease_seconds: Seconds
    held: Q | None = None
    lease_field: str = "lease_until"
    sweep_batch: Seconds = 1000  # rows per sweep
    backoff: Backoff | None = None

    # ------------------------------------------------------------------------------------------
    # Which rows
    # ------------------------------------------------------------------------------------------
    def lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=_seconds(self.lease_seconds))

    def due(self, now: datetime, *, before: datetime | None = None) -> Q:
        """Waiting rows due by ``before`` (default: now)."""
        return self.waiting & Q(**{f"{self.due_field}__lte": before or now})

    def expired(self, now: datetime) -> Q:
        """Held rows whose worker's lease ran out (step 3)."""
        if self.held is None:
            return Q(pk__in=[])
        return self.held & Q(**{f"{self.lease_field}__lt": now})

    # ------------------------------------------------------------------------------------------
    # Claiming and sweeping
    # ------------------------------------------------------------------------------------------
    def claim(
        self,
        claimable: Q,
        *,
        now: datetime,
        limit: int | None = None,
        order_by: str = "pk",
        **marks: Any,
    ) -> list[int]:
        """Take the ``claimable`` rows no other transaction holds (step 2); returns their ids.

        Writes the lease and ``marks`` (``status=…``, ``attempts=F("attempts") + 1``) in the same
        transaction; a mark for ``lease_field`` replaces the lease (a sweep clears it).
        """
        with transaction.atomic():
            candidates = self.model.objects.filter(claimable).order_by(order_by)
            if connection.features.has_select_for_update_skip_locked:
                candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            ids = list(candidates.values_list("pk", flat=True)[:limit])
            if ids:
                self.model.objects.filter(pk__in=ids).update(
                    **{self.lease_field: self.lease_until(now), **marks}
                )
        return ids

    def sweep(self, *, now: datetime | None = None, lost_after: float = 0.0, **marks: Any) -> list[int]:
        """Find what is due (for ``lost_after`` seconds at least) or expired, and enqueue it
        after commit (step 5). Returns the ids.

        With ``marks`` the rows are claimed and marked as in ``claim`` (the marks must leave them
        claimable by the worker the message reaches), so a concurrent sweep skips them; without,
        they are only read, and the worker's claim is what keeps a row from running twice.
        """
        now = now or timezone.now()
        lost = self.due(now, before=now - timedelta(seconds=lost_after)) | self.expired(now)
        limit = int(_seconds(self.sweep_batch))
        if marks:
            ids = self.claim(lost, now=now, limit=limit, **marks)
        else:
            ids = list(self.model.objects.filter(lost).order_by("pk").values_list("pk", flat=True)[:limit])
        self.enqueue_on_commit(ids)  # after the claim's commit, or the caller's
        if ids:
            logger.info("swept %d %s for dispatch", len(ids), self.name)
        return ids

    def retry_at(self, now: datetime, attempt: int, *, base: float | None = None) -> datetime:
        """When a row whose try ``attempt`` failed is due again (step 4)."""
        if self.backoff is None:
            raise ImproperlyConfigured(f"The {self.name} queue has no backoff.")
        return now + self.backoff.delay(attempt, base=base)
