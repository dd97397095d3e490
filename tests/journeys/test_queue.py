"""The durable queue kit, on a table of its own configuration (the events table, as a stand-in)."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from journeys.bus import EVENTS
from journeys.engine.claiming import STEP_RUNS
from journeys.models import Event
from journeys.queue import Backoff, Queue
from journeys.services.subscriptions import DELIVERIES
from tests.journeys.factories import EventFactory, ParticipantFactory

PENDING, PROCESSING = Event.Status.PENDING, Event.Status.PROCESSING
LEASE = 60  # seconds


@pytest.fixture
def sent() -> list[tuple[list[int], dict]]:
    return []


@pytest.fixture
def queue(sent) -> Queue:
    queue = Queue(
        name="test events",
        model=Event,
        waiting=Q(status=PENDING),
        due_field="next_attempt_at",
        held=Q(status=PROCESSING),
        lease_field="lease_until",
        lease_seconds=LEASE,
        chunk=2,
        sweep_batch=10,
        backoff=Backoff(base=10, cap=100),
    )
    queue.connect(lambda ids, **options: sent.append((ids, options)))
    return queue


def make_events(count: int, **fields) -> list[int]:
    participant = ParticipantFactory()
    return [EventFactory(participant=participant, **fields).pk for _ in range(count)]


def claim(queue: Queue, now) -> list[int]:
    return queue.claim(
        queue.waiting | queue.expired(now), now=now, status=PROCESSING, attempts=F("attempts") + 1
    )


# ----------------------------------------------------------------------------------------------
# Claiming and leases
# ----------------------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_claiming_at_once_take_different_rows(queue):
    ids = make_events(6)
    now = timezone.now()
    theirs: list[int] = []

    def claim_elsewhere() -> None:
        try:
            theirs.extend(claim(queue, now))
        finally:
            connection.close()

    with transaction.atomic():
        ours = queue.claim(queue.waiting, now=now, limit=3, status=PROCESSING)
        other = threading.Thread(target=claim_elsewhere)
        other.start()  # while our transaction still holds the three rows it claimed
        other.join(10)

    assert len(ours) == 3 and len(theirs) == 3
    assert sorted(ours + theirs) == sorted(ids)
    assert set(Event.objects.values_list("status", flat=True)) == {PROCESSING}


@pytest.mark.django_db
def test_a_claim_writes_the_lease_and_the_marks(queue):
    [pk] = make_events(1)
    now = timezone.now()

    assert claim(queue, now) == [pk]

    event = Event.objects.get(pk=pk)
    assert event.status == PROCESSING and event.attempts == 1
    assert event.lease_until == now + timedelta(seconds=LEASE)


@pytest.mark.django_db
def test_a_held_row_is_claimable_again_only_once_its_lease_ran_out(queue):
    [pk] = make_events(1)
    now = timezone.now()
    claim(queue, now)

    assert claim(queue, now + timedelta(seconds=LEASE - 1)) == []  # its worker may still be on it
    assert claim(queue, now + timedelta(seconds=LEASE + 1)) == [pk]  # its worker is presumed dead
    assert Event.objects.get(pk=pk).attempts == 2


# ----------------------------------------------------------------------------------------------
# Backoff
# ----------------------------------------------------------------------------------------------
def test_the_backoff_doubles_with_each_try_in_its_upper_half():
    backoff = Backoff(base=10, cap=1000)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80)]:
        delays = {backoff.delay(attempt).total_seconds() for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered: retries of one outage spread out


def test_the_backoff_is_bounded_by_its_cap():
    backoff = Backoff(base=10, cap=lambda: 60)
    delays = [backoff.delay(attempt).total_seconds() for attempt in range(5, 40)]
    assert all(30 <= d <= 60 for d in delays)


def test_a_row_may_carry_its_own_base():
    assert 1 <= Backoff(base=10, cap=100).delay(1, base=2).total_seconds() <= 2


# ----------------------------------------------------------------------------------------------
# Enqueueing after commit
# ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_ids_are_sent_in_chunks_once_the_transaction_commits(queue, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_on_commit([1, 2, 3, 4, 5], countdown=7)
        assert sent == []  # not before the commit

    assert sent == [([1, 2], {"countdown": 7}), ([3, 4], {"countdown": 7}), ([5], {"countdown": 7})]


@pytest.mark.django_db
def test_nothing_is_sent_when_the_transaction_rolls_back(queue, sent, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        queue.enqueue_on_commit([1, 2, 3])
        raise RuntimeError("the write failed")

    assert callbacks == [] and sent == []


@pytest.mark.django_db
def test_no_ids_send_nothing(queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        queue.enqueue_on_commit([])
    assert callbacks == []


@pytest.mark.django_db
def test_a_queue_nobody_connected_refuses_to_lose_its_messages():
    unconnected = Queue(
        name="nowhere", model=Event, waiting=Q(), due_field="next_attempt_at", lease_seconds=1
    )
    with pytest.raises(ImproperlyConfigured, match="nowhere"):
        unconnected.enqueue_on_commit([1])


# ----------------------------------------------------------------------------------------------
# Sweeping
# ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_sweep_sends_what_was_lost_and_marks_it_so_a_second_sweep_takes_none(
    queue, sent, django_capture_on_commit_callbacks
):
    now = timezone.now()
    ago, ahead = now - timedelta(seconds=5), now + timedelta(seconds=5)
    [lost] = make_events(1, status=PENDING, next_attempt_at=ago)  # its message never arrived
    [dead] = make_events(1, status=PROCESSING, lease_until=ago)  # its worker died
    make_events(1, status=PROCESSING, lease_until=ahead)  # its worker is on it
    make_events(1, status=PENDING, next_attempt_at=ahead)  # a retry not yet due

    with django_capture_on_commit_callbacks(execute=True):
        swept = queue.sweep(now=now, status=PENDING, lease_until=None, next_attempt_at=ahead)
    with django_capture_on_commit_callbacks(execute=True):
        again = queue.sweep(now=now, status=PENDING, lease_until=None, next_attempt_at=ahead)

    assert sorted(swept) == [lost, dead] and again == []
    assert sent == [([lost, dead], {})]
    assert Event.objects.get(pk=dead).status == PENDING  # the next message's worker claims it


@pytest.mark.django_db
def test_a_sweep_without_marks_only_reads_and_waits_out_lost_after(
    queue, sent, django_capture_on_commit_callbacks
):
    now = timezone.now()
    [long_lost] = make_events(1, status=PENDING, next_attempt_at=now - timedelta(seconds=60))
    make_events(
        1, status=PENDING, next_attempt_at=now - timedelta(seconds=5)
    )  # its message may be on its way

    with django_capture_on_commit_callbacks(execute=True):
        assert queue.sweep(now=now, lost_after=30) == [long_lost]

    assert sent == [([long_lost], {})]
    assert Event.objects.get(pk=long_lost).next_attempt_at == now - timedelta(seconds=60)


@pytest.mark.django_db
def test_journeys_queues_can_send_once_the_app_is_ready(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        for ready in (EVENTS, STEP_RUNS, DELIVERIES):
            ready.enqueue_on_commit([1])
    assert len(callbacks) == 3
