"""The dispatcher's set-based path: a batch of due runs recorded in a few statements behaves as
recording them one by one does, a failing run fails alone, rows another transaction holds are
recorded once it lets go, and concurrent dispatchers never execute a step twice."""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journeys.engine import batch, dispatcher
from journeys.engine.dispatcher import DispatchStats, step_runs_dispatch
from journeys.errors import Conflict
from journeys.models import Event, Participant, RewardLedger, StepRun, UserJourney, UserJourneyLog
from journeys.registries import ActionType, action_types
from journeys.services.enrolment import Enrolment, user_journeys_enrol
from journeys.services.user_journeys import user_journey_pause
from tests.journeys.factories import ParticipantFactory, action, make_journey, tag_step

TAGGED_A = {"field": "tags", "op": "contains", "value": "t-a"}


class Refuse(ActionType):
    """A database-only action that fails for participants whose user_id is in ``refuse``:
    permanently (a domain error) or as a retryable error."""

    name = "test_refuse"
    description = "fails for some participants, for tests"
    transactional = True
    concurrent = False
    channel = ""

    def __init__(self) -> None:
        self.refuse: set[str] = set()
        self.permanent = False

    def validate_config(self, config):
        return {}

    def execute(self, action_context):
        if action_context.participant.user_id in self.refuse:
            if self.permanent:
                raise Conflict("refused for good")
            raise RuntimeError("the ledger is down")
        return {"ok": True}


@pytest.fixture
def refuse():
    refuse = Refuse()
    action_types.register(refuse.name, refuse)
    yield refuse
    action_types.unregister(refuse.name)


def row_by_row(monkeypatch) -> None:
    """Make the dispatcher record every claimed run the row-by-row way."""
    monkeypatch.setattr(dispatcher, "_record_batch", lambda items, now, **_: (DispatchStats(), items, []))


# ------------------------------------------------------------------------------------------------
# The same outcome as row by row
# ------------------------------------------------------------------------------------------------
def build_mixed(prefix: str, refuse: Refuse) -> list[str]:
    """Journeys whose due runs, dispatched together, cover every way a run is recorded: tags
    seen by later conditions, a false condition, a wait timing out (with and without an event
    stored meanwhile), a reward and an emitted event (actions that need the run's id), an
    email (a side effect executed outside the transaction), a retried and a dead-lettered
    failure, and a failure whose policy is to continue."""
    trigger = f"{prefix}.signup"
    make_journey(
        [
            tag_step("a", "t-a"),
            tag_step("b", "t-b", order=1, delay_minutes=5, condition=TAGGED_A),
            action("c", "remove_tag", {"tag": "t-a"}, order=2),
            tag_step("d", "t-d", order=3, condition=TAGGED_A),
        ],
        name=f"{prefix} tags",
        trigger_type=trigger,
    )
    make_journey(
        [
            {
                "key": "w",
                "name": "W",
                "kind": "wait_for_event",
                "config": {"event": f"{prefix}.login", "timeout": "1 hour", "timeout_step": "late"},
                "next_steps": ["thanks"],
            },
            tag_step("thanks", "came-back", order=1, completion=True),
            tag_step("late", "late", order=2),
        ],
        name=f"{prefix} wait",
        trigger_type=trigger,
    )
    make_journey(
        [
            action("r", "grant_reward", {"reward": "bonus", "amount": 5}, delay_minutes=5),
            action("e", "emit_event", {"type": f"{prefix}.rewarded"}, order=1),
            action("m", "send_email", {"subject": "Bonus!", "body": "5 points"}, order=2),
        ],
        name=f"{prefix} reward",
        trigger_type=trigger,
    )
    make_journey(
        [
            action("x", refuse.name, {}, delay_minutes=5, max_attempts=1),
            tag_step("after_x", "after-x", order=1),
        ],
        name=f"{prefix} dead letter",
        trigger_type=trigger,
    )
    make_journey(
        [
            action("y", refuse.name, {}, delay_minutes=5, on_failure="continue", max_attempts=1),
            tag_step("after_y", "after-y", order=1),
        ],
        name=f"{prefix} continue",
        trigger_type=trigger,
    )
    make_journey(
        [action("z", refuse.name, {}, delay_minutes=5, max_attempts=3), tag_step("after_z", "z", order=1)],
        name=f"{prefix} retry",
        trigger_type=trigger,
    )
    users = [f"{prefix}-{i}" for i in range(4)]
    for user_id in users:
        ParticipantFactory(user_id=user_id, attributes={"email": f"{user_id}@example.com"})
    refuse.refuse |= {users[1], users[2]}
    return users


def run_mixed(prefix: str, refuse: Refuse, emit, dispatch) -> list[DispatchStats]:
    users = build_mixed(prefix, refuse)
    for user_id in users:
        emit(f"{prefix}.signup", user_id=user_id)
    emit(f"{prefix}.login", user_id=users[0])  # woken by the bus at once
    Event.objects.create(  # stored, its wake-up not yet run: the timeout must find it
        type=f"{prefix}.login",
        participant=Participant.objects.get(user_id=users[1]),
        occurred_at=timezone.now(),
        source="api",
    )
    return [dispatch(later=timedelta(minutes=5)), dispatch(later=timedelta(hours=1))]


VOLATILE = {"event_id", "ledger_id", "message_id", "since", "at", "until", "duration_ms", "step_run"}


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def snapshot(prefix: str) -> list:
    """What staff can see of a run of ``run_mixed``, without ids and timestamps."""
    seen = []
    for participant in Participant.objects.filter(user_id__startswith=f"{prefix}-").order_by("user_id"):
        person = participant.user_id.removeprefix(prefix)
        seen.append((person, "tags", participant.tags))
        journeys = UserJourney.objects.filter(participant=participant).select_related("journey")
        for uj in sorted(journeys, key=lambda uj: uj.journey.name):
            journey = uj.journey.name.removeprefix(prefix)
            seen.append(
                (person, journey, uj.state, uj.end_reason, uj.failure_reason, uj.current_step, uj.last_seq)
            )
            seen.append((person, journey, "context", _stable(uj.context.get("steps"))))
            for run in StepRun.objects.filter(user_journey=uj).order_by("seq"):
                seen.append(
                    (
                        person,
                        journey,
                        run.seq,
                        run.step_key,
                        run.status,
                        run.attempts,
                        run.entered,
                        run.error,
                        run.dead_lettered_at is not None,
                        _stable(run.result),
                        _stable(run.trace),
                    )
                )
            for entry in UserJourneyLog.objects.filter(user_journey=uj).order_by("id"):
                seen.append(
                    (person, journey, "log", entry.action, entry.from_state, entry.to_state, entry.step_key)
                )
        seen.append((person, "rewards", RewardLedger.objects.filter(participant=participant).count()))
        seen.append(
            (
                person,
                "events",
                sorted(  # by type without the scenario's prefix (journey.* events sort among them)
                    Counter(
                        event_type.replace(prefix, "")
                        for event_type in Event.objects.filter(participant=participant).values_list(
                            "type", flat=True
                        )
                    ).items()
                ),
            )
        )
        seen.append(
            (person, "emails", [m.subject for m in mail.outbox if m.to == [participant.attributes["email"]]])
        )
    return [tuple(str(part).replace(prefix, "") for part in item) for item in seen]


@pytest.mark.django_db
def test_a_mixed_batch_ends_exactly_as_recording_its_runs_one_by_one(emit, dispatch, refuse, monkeypatch):
    set_based = run_mixed("batch", refuse, emit, dispatch)
    assert all(stats.one_by_one == 0 for stats in set_based)
    assert sum(stats.executed for stats in set_based) >= 20
    # The outcome is the intended one, not merely a mistake both paths share:
    tags = dict(Participant.objects.filter(user_id__startswith="batch-").values_list("user_id", "tags"))
    # t-a applied at enrolment lets b run, is removed by c, so d is skipped; the login of batch-0
    # woke its wait before any dispatch, the one stored for batch-1 beat its timeout.
    assert tags["batch-0"] == ["came-back", "t-b", "after-x", "after-y", "z"]
    assert tags["batch-1"] == ["t-b", "after-y", "came-back"]
    assert tags["batch-3"] == ["t-b", "after-x", "after-y", "z", "late"]
    states = dict(
        UserJourney.objects.filter(participant__user_id="batch-1").values_list("journey__name", "state")
    )
    assert states == {
        "batch tags": "completed",
        "batch wait": "completed",
        "batch reward": "completed",
        "batch dead letter": "failed",
        "batch continue": "completed",
        "batch retry": "active",
    }
    retried = StepRun.objects.get(user_journey__journey__name="batch retry", participant__user_id="batch-1")
    # failed at the first dispatch, failed again at the second (its backoff had passed)
    assert (retried.status, retried.attempts, retried.error) == (
        "scheduled",
        2,
        "RuntimeError: the ledger is down",
    )
    assert retried.due_at > timezone.now()  # backoff
    failed = UserJourneyLog.objects.get(action="failed", user_journey__participant__user_id="batch-1")
    assert (
        failed.detail["step_run"]
        == StepRun.objects.get(
            user_journey__journey__name="batch dead letter", participant__user_id="batch-1", step_key="x"
        ).pk
    )
    assert len([m for m in mail.outbox if m.subject == "Bonus!"]) == 4  # sent outside the batch's transaction
    seen_set_based = snapshot("batch")  # now: the next scenario's waiting passes for these runs too

    with monkeypatch.context() as patch:
        row_by_row(patch)
        one_by_one = run_mixed("rows", refuse, emit, dispatch)
    assert sum(stats.one_by_one for stats in one_by_one) == sum(stats.executed for stats in one_by_one) > 0
    assert seen_set_based == snapshot("rows")


# ------------------------------------------------------------------------------------------------
# A run that fails, and a batch whose write fails
# ------------------------------------------------------------------------------------------------
def enrol(journey, count: int, prefix: str = "p") -> list[Participant]:
    people = [Participant.objects.create(user_id=f"{prefix}-{i}") for i in range(count)]
    user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=p) for p in people])
    return people


@pytest.mark.django_db
def test_a_run_whose_action_fails_fails_alone_and_the_rest_of_the_batch_goes_on(dispatch, refuse):
    journey = make_journey(
        [action("x", refuse.name, {}, delay_minutes=5, max_attempts=1), tag_step("after", "done", order=1)]
    )
    enrol(journey, 10)
    refuse.refuse = {"p-3"}
    refuse.permanent = True

    stats = dispatch(later=timedelta(minutes=5))

    assert (stats.executed, stats.one_by_one) == (10, 0)
    states = dict(UserJourney.objects.values_list("participant__user_id", "state"))
    assert states.pop("p-3") == "failed" and set(states.values()) == {"completed"}
    failed = StepRun.objects.get(participant__user_id="p-3", step_key="x")
    assert failed.status == "failed" and failed.error == "Conflict: refused for good"
    assert failed.dead_lettered_at is not None
    assert not StepRun.objects.filter(participant__user_id="p-3", step_key="after").exists()
    assert Participant.objects.get(user_id="p-3").tags == []
    assert all(p.tags == ["done"] for p in Participant.objects.exclude(user_id="p-3"))


@pytest.mark.django_db
def test_when_the_set_based_write_breaks_on_one_journey_the_batch_is_recorded_row_by_row(dispatch):
    journey = make_journey([tag_step("a", "a", delay_minutes=5), tag_step("b", "b", order=1)])
    enrol(journey, 6)
    # Another walker already wrote this journey's next step: the batch's insert of seq 2 collides.
    blocked = UserJourney.objects.get(participant__user_id="p-2")
    StepRun.objects.create(
        user_journey=blocked,
        participant=blocked.participant,
        seq=2,
        step_key="b",
        step_kind="action",
        status="succeeded",
        due_at=timezone.now(),
    )

    stats = dispatch(later=timedelta(minutes=5))

    assert stats.one_by_one == 5  # the batch rolled back; each run then in its own savepoint
    completed = set(
        UserJourney.objects.filter(state="completed").values_list("participant__user_id", flat=True)
    )
    assert completed == {"p-0", "p-1", "p-3", "p-4", "p-5"}
    stuck = StepRun.objects.get(user_journey=blocked, seq=1)
    assert (stuck.status, stuck.attempts) == ("running", 1)  # keeps its lease; claimed again later
    assert StepRun.objects.filter(user_journey=blocked).count() == 2  # never a second seq 2
    assert Participant.objects.get(user_id="p-2").tags == []  # its tag was rolled back with it
    assert Participant.objects.get(user_id="p-0").tags == ["a", "b"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_enrolment_inserts_each_user_journey_once_as_its_walk_left_it():
    journey = make_journey([tag_step("a", "a"), tag_step("b", "b", order=1, delay_minutes=5)])
    people = [Participant.objects.create(user_id=f"e-{i}") for i in range(20)]

    with CaptureQueriesContext(connection) as queries:
        created = user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=p) for p in people])

    assert len(created) == 20
    assert not [q for q in queries if q["sql"].startswith('UPDATE "journeys_userjourney"')]
    assert set(UserJourney.objects.values_list("current_step", "last_seq", "state")) == {("b", 2, "active")}
    assert {tuple(p.tags) for p in Participant.objects.filter(user_id__startswith="e-")} == {("a",)}
    enrolled = Event.objects.filter(type="journey.enrolled")
    assert sorted(e.payload["user_journey_id"] for e in enrolled) == sorted(uj.pk for uj in created)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_enrolment_a_race_refuses_is_made_again_without_the_refused_runs(monkeypatch):
    from journeys.services import enrolment

    steps = [tag_step("a", "a"), tag_step("b", "b", order=1, delay_minutes=5)]
    journey = make_journey(steps, re_entry="once")
    people = [Participant.objects.create(user_id=f"race-{i}") for i in range(4)]
    user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=people[1])])
    # Another transaction enrolled race-1 after this one looked: its check does not see it.
    monkeypatch.setattr(enrolment, "_blocked", lambda enrolments, keys: set())

    created = user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=p) for p in people])

    assert sorted(uj.participant.user_id for uj in created) == ["race-0", "race-2", "race-3"]
    assert UserJourney.objects.filter(participant=people[1]).count() == 1
    runs = StepRun.objects.filter(user_journey__journey=journey)
    assert runs.count() == 8  # a and b of each of the four user journeys, no orphan
    assert set(runs.values_list("user_journey_id", flat=True)) == set(
        UserJourney.objects.values_list("pk", flat=True)
    )
    enrolled = Event.objects.filter(type="journey.enrolled")
    assert sorted(e.payload["user_journey_id"] for e in enrolled) == sorted(
        UserJourney.objects.values_list("pk", flat=True)
    )
    racers = Participant.objects.filter(user_id__startswith="race-").order_by("pk")
    assert list(racers.values_list("tags", flat=True)) == [["a"]] * 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_race_for_an_after_end_journey_a_walk_would_end_still_enrols_once(monkeypatch):
    from journeys.services import enrolment

    journey = make_journey([tag_step("a", "a")], re_entry="after_end")  # ends during its walk
    people = [Participant.objects.create(user_id=f"end-{i}") for i in range(3)]
    live = UserJourney.objects.create(  # another transaction's enrolment, still running
        journey=journey,
        version=journey.live_version,
        participant=people[1],
        enrolment_key="manual:other",
        started_at=timezone.now(),
    )
    monkeypatch.setattr(enrolment, "_blocked", lambda enrolments, keys: set())  # it looked too early

    created = user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=p) for p in people])

    assert sorted(uj.participant.user_id for uj in created) == ["end-0", "end-2"]
    assert list(UserJourney.objects.filter(participant=people[1])) == [live]  # one live run, untouched
    assert Participant.objects.get(user_id="end-1").tags == []
    assert set(UserJourney.objects.exclude(pk=live.pk).values_list("state", flat=True)) == {"completed"}


@pytest.mark.django_db
def test_a_batch_costs_the_same_statements_whatever_its_size(dispatch):
    counts = []
    for size in (5, 40):
        journey = make_journey([tag_step("a", "a", delay_minutes=5), tag_step("b", "b", order=1)])
        enrol(journey, size, prefix=f"s{size}")
        StepRun.objects.filter(user_journey__journey=journey).update(due_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            stats = step_runs_dispatch(budget_seconds=10)
        assert stats.executed == size
        counts.append(len(queries))
        # The journey.* events of the batch are stored under the participant locks it holds.
        assert not [q for q in queries if "FOR NO KEY UPDATE" in q["sql"]]
        # Tag runs are recorded in their claim's transaction, as the claim returned them.
        assert not [q for q in queries if q["sql"].startswith('SELECT "journeys_steprun"')]
    assert counts[0] == counts[1] <= 32  # claims (a batch, then none left), record, write


# ------------------------------------------------------------------------------------------------
# Postgres: rows held by others, concurrent dispatchers
# ------------------------------------------------------------------------------------------------
def hold_user_journey(
    uj: UserJourney, *, seconds: float, then=None
) -> tuple[threading.Thread, threading.Event]:
    """Lock ``uj``'s row in another connection for ``seconds``, then run ``then`` in that
    transaction (as a wake-up or staff action holding the row would)."""
    locked = threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                UserJourney.objects.select_for_update().get(pk=uj.pk)
                locked.set()
                time.sleep(seconds)
                if then is not None:
                    then()
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    return thread, locked


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_journey_locked_elsewhere_is_recorded_after_the_lock_and_sees_what_its_holder_did():
    journey = make_journey([tag_step("a", "a", delay_minutes=5), tag_step("b", "b", order=1)])
    enrol(journey, 8)
    StepRun.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    paused = UserJourney.objects.get(participant__user_id="p-5")
    waiting = UserJourney.objects.get(participant__user_id="p-6")
    pauser, _ = hold_user_journey(paused, seconds=0.5, then=lambda: user_journey_pause(user_journey=paused))
    holder, _ = hold_user_journey(waiting, seconds=0.5)

    started = time.monotonic()
    stats = step_runs_dispatch(budget_seconds=10)
    pauser.join(10)
    holder.join(10)

    assert time.monotonic() - started >= 0.4  # the two waited for their rows
    assert (stats.executed, stats.one_by_one) == (8, 2)
    states = dict(UserJourney.objects.values_list("participant__user_id", "state"))
    assert states.pop("p-5") == "paused" and set(states.values()) == {"completed"}
    # Paused while its run was claimed: the run is given back untouched, nothing ran.
    given_back = StepRun.objects.get(user_journey=paused)
    assert (given_back.status, given_back.attempts, given_back.lease_until) == ("pending", 0, None)
    assert Participant.objects.get(user_id="p-5").tags == []
    assert Participant.objects.get(user_id="p-6").tags == ["a", "b"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_three_concurrent_set_based_dispatchers_execute_every_step_once():
    journey = make_journey(
        [tag_step("a", "a", delay_minutes=5), tag_step("b", "b", order=1), tag_step("c", "c", order=2)]
    )
    shared = Participant.objects.create(user_id="shared")  # in many journeys at once: one tag row
    people = enrol(journey, 300)
    other = make_journey([tag_step("x", "x", delay_minutes=5)], re_entry="always")
    user_journeys_enrol(enrolments=[Enrolment(journey=other, participant=shared) for _ in range(30)])
    StepRun.objects.update(due_at=timezone.now() - timedelta(seconds=1))

    results: list[DispatchStats] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            barrier.wait()
            results.append(step_runs_dispatch(budget_seconds=30, batch_size=20))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(stats.executed for stats in results) == 330
    assert sum(stats.stale for stats in results) == 0
    assert set(UserJourney.objects.values_list("state", flat=True)) == {"completed"}
    seqs = Counter(
        StepRun.objects.filter(user_journey__journey=journey).values_list("user_journey_id", "seq")
    )
    assert len(seqs) == 900 and set(seqs.values()) == {1}
    assert StepRun.objects.filter(user_journey__journey=journey, status="succeeded").count() == 900
    assert all(p.tags == ["a", "b", "c"] for p in Participant.objects.filter(pk__in=[p.pk for p in people]))
    assert Participant.objects.get(pk=shared.pk).tags == ["x"]
    assert UserJourneyLog.objects.filter(action="completed").count() == 330
    results_x = list(StepRun.objects.filter(user_journey__journey=other).values_list("result", flat=True))
    assert sorted(r["changed"] for r in results_x) == [False] * 29 + [True]  # applied once, seen by all
    assert batch.BULK_CHUNK >= 20


# ------------------------------------------------------------------------------------------------
# The bus: a worker message's events enrol set-based, with the effect of one at a time
# ------------------------------------------------------------------------------------------------
def bus_scenario(prefix: str) -> list[int]:
    """Events whose order matters: a login right after the signup that starts a wait for it, a
    goal right after the signup, a second signup that meets the re-entry policy."""
    from journeys.services.events import EventInput, events_ingest

    make_journey(
        [
            {
                "key": "w",
                "name": "W",
                "kind": "wait_for_event",
                "config": {"event": f"{prefix}.login", "timeout": "1 day", "timeout_step": "late"},
                "next_steps": ["back"],
            },
            tag_step("back", "came-back", order=1, completion=True),
            tag_step("late", "late", order=2),
        ],
        name=f"{prefix} wait",
        trigger_type=f"{prefix}.signup",
        re_entry="after_end",
        priority=5,
    )
    make_journey(
        [tag_step("t", "trial"), {"key": "hold", "name": "Hold", "kind": "manual", "order": 1}],
        name=f"{prefix} goal",
        trigger_type=f"{prefix}.signup",
        goal_event=f"{prefix}.upgrade",
    )
    sequence = [("a", "signup"), ("a", "login"), ("b", "signup"), ("b", "upgrade"), ("c", "signup")]
    sequence += [("c", "signup"), ("d", "login")] + [(f"m{i}", "signup") for i in range(20)]
    results = events_ingest(
        events=[EventInput(type=f"{prefix}.{kind}", user_id=f"{prefix}-{who}") for who, kind in sequence]
    )
    return [result.id for result in results]


def bus_outcome(prefix: str) -> list:
    seen = [
        (p.user_id.removeprefix(prefix), p.tags)
        for p in Participant.objects.filter(user_id__startswith=f"{prefix}-").order_by("user_id")
    ]
    for uj in UserJourney.objects.filter(journey__name__startswith=prefix).select_related(
        "participant", "journey"
    ):
        seen.append(
            (
                uj.participant.user_id.removeprefix(prefix),
                uj.journey.name.removeprefix(prefix),
                uj.state,
                uj.converted,
                uj.end_reason.replace(prefix, ""),
                [(r.step_key, r.status) for r in uj.step_runs.order_by("seq")],
            )
        )
    return sorted(seen, key=str)


@pytest.mark.django_db
def test_a_message_of_events_has_the_effect_of_handling_them_one_by_one_with_one_enrolment(monkeypatch):
    from journeys import bus
    from journeys.services import event_handling

    calls = []
    original = event_handling.user_journeys_enrol

    def counting(**kwargs):
        calls.append(len(kwargs["enrolments"]))
        return original(**kwargs)

    monkeypatch.setattr(event_handling, "user_journeys_enrol", counting)

    ids = bus_scenario("msg")
    bus.events_process(event_ids=ids)
    # a's, b's and c's are written before their second event; c's second and the 20 sign-ups
    # that follow go together
    assert calls == [2, 2, 2, 42]
    batched = bus_outcome("msg")

    calls.clear()
    for event_id in bus_scenario("one"):
        bus.events_process(event_ids=[event_id])
    assert len(calls) == 24  # every sign-up on its own
    assert batched == bus_outcome("one")

    states = {(entry[0], entry[1]): (entry[2], entry[3]) for entry in batched if len(entry) == 6}
    # the login was received before the wait began (both were ingested first): it does not count
    assert states[("-a", " wait")] == ("active", False)
    assert states[("-b", " goal")] == ("completed", True)  # converted by the upgrade right after
    assert UserJourney.objects.filter(journey__name="msg wait", participant__user_id="msg-c").count() == 1
    assert Participant.objects.get(user_id="msg-a").tags == ["trial"]
