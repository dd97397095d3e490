"""Running journeys: enrolment, steps until a wait, delays, conditions, branching, splits,
waits for events, pause/resume, versions in flight, goals (the 003 and 000 behaviours)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from journeys.errors import Conflict
from journeys.models import Event, Journey, Participant, StepRun, UserJourney
from journeys.services.enrolment import user_journey_enrol
from journeys.services.event_handling import journeys_handle_event
from journeys.services.journeys import journey_publish, journey_update
from journeys.services.user_journeys import user_journey_advance, user_journey_pause, user_journey_resume
from tests.journeys.factories import EventFactory, ParticipantFactory, action, make_journey, tag_step

pytestmark = pytest.mark.django_db


def runs(uj: UserJourney) -> list[tuple[str, str]]:
    return list(StepRun.objects.filter(user_journey=uj).order_by("seq").values_list("step_key", "status"))


def tags(user_id: str = "u-1") -> list[str]:
    return Participant.objects.get(user_id=user_id).tags


ONBOARDING_003 = [
    action("welcome", "send_email", {"template": "welcome", "subject": "Welcome!"}, order=0),
    action("intro", "apply_tag", {"tag": "introduced"}, order=1, delay_minutes=5),
    tag_step("onboarded", "onboarded", order=2, delay_minutes=1440),
]


# ------------------------------------------------------------------------------------------------
# Trigger evaluation
# ------------------------------------------------------------------------------------------------
def test_a_signup_enrols_and_runs_steps_until_the_first_delay(emit, dispatch):
    make_journey(ONBOARDING_003, name="Onboarding Flow", priority=10)
    ParticipantFactory(user_id="u-1", attributes={"email": "ada@example.com", "first_name": "Ada"})

    emit("signup", payload={"plan": "premium"})

    uj = UserJourney.objects.get()
    assert uj.state == UserJourney.State.ACTIVE
    assert runs(uj) == [("welcome", "succeeded"), ("intro", "scheduled")]
    [message] = mail.outbox
    assert message.subject == "Welcome!" and message.to == ["ada@example.com"]
    assert "Hi Ada," in message.body
    assert uj.current_step == "intro"

    dispatch(later=timedelta(minutes=4))
    assert runs(uj)[-1] == ("intro", "scheduled")  # not yet due
    dispatch(later=timedelta(minutes=1))
    assert runs(uj)[-1] == ("onboarded", "scheduled")
    dispatch(later=timedelta(days=1))
    uj.refresh_from_db()
    assert uj.state == UserJourney.State.COMPLETED and uj.end_reason == "completed"
    assert tags() == ["introduced", "onboarded"]


def test_trigger_conditions_decide_who_enters(emit):
    make_journey(
        [tag_step("a", "premium")], trigger_conditions={"field": "plan", "op": "eq", "value": "premium"}
    )
    emit("signup", user_id="free-user", payload={"plan": "free"})
    emit("signup", user_id="paying-user", payload={"plan": "premium"})
    assert list(UserJourney.objects.values_list("participant__user_id", flat=True)) == ["paying-user"]


def test_other_event_types_and_draft_or_archived_journeys_enrol_nobody(emit):
    make_journey([tag_step("a", "x")], publish=False)
    archived = make_journey([tag_step("a", "x")])
    from journeys.services.journeys import journey_archive

    journey_archive(journey=archived)
    emit("signup")
    emit("login")
    assert not UserJourney.objects.exists()


def test_the_same_event_processed_twice_enrols_once():
    make_journey(
        [tag_step("a", "x"), {"key": "w", "name": "W", "kind": "manual", "order": 1}], re_entry="always"
    )
    event = EventFactory(type="signup")
    journeys_handle_event(event)
    journeys_handle_event(event)
    assert UserJourney.objects.count() == 1


def test_journeys_are_entered_highest_priority_first(emit):
    make_journey([tag_step("a", "low")], name="Low", priority=1)
    make_journey([tag_step("a", "high")], name="High", priority=50)
    emit("signup")
    assert tags() == ["high", "low"]


@pytest.mark.parametrize(
    ("policy", "while_live", "after_end"),
    [("once", 1, 1), ("after_end", 1, 2), ("always", 2, 3)],
)
def test_re_entry_policies(emit, policy, while_live, after_end):
    journey = make_journey([{"key": "wait", "name": "Wait", "kind": "manual"}], re_entry=policy)
    emit("signup")
    emit("signup")
    assert UserJourney.objects.filter(journey=journey).count() == while_live
    for uj in UserJourney.objects.filter(state=UserJourney.State.ACTIVE):
        user_journey_advance(user_journey=uj)
    emit("signup")
    assert UserJourney.objects.filter(journey=journey).count() == after_end


def test_the_database_refuses_a_second_live_run_even_without_the_check():
    from django.db import IntegrityError, transaction

    journey = make_journey([{"key": "wait", "name": "Wait", "kind": "manual"}], re_entry="after_end")
    participant = ParticipantFactory()
    user_journey_enrol(journey=journey, user_id=participant.user_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        UserJourney.objects.create(
            journey=journey,
            version=journey.live_version,
            participant=participant,
            enrolment_key="manual:other",
            exclusive=True,
            started_at=timezone.now(),
        )


# ------------------------------------------------------------------------------------------------
# Step execution: conditions, completion, branching, splits
# ------------------------------------------------------------------------------------------------
def test_a_false_step_condition_skips_the_step_and_records_why(emit):
    make_journey(
        [
            tag_step(
                "vip_only", "vip-welcome", condition={"field": "attributes.tier", "op": "eq", "value": "vip"}
            ),
            tag_step("everyone", "welcomed", order=1),
        ]
    )
    emit("signup")
    uj = UserJourney.objects.get()
    assert runs(uj) == [("vip_only", "skipped"), ("everyone", "succeeded")]
    skipped = StepRun.objects.get(step_key="vip_only")
    assert skipped.trace["condition"] == {
        "field": "attributes.tier",
        "op": "eq",
        "value": "vip",
        "actual": None,
        "result": False,
        "missing": True,
    }
    assert tags() == ["welcomed"]


def test_a_completion_step_completes_the_journey(emit):
    make_journey(
        [
            tag_step("a", "x", next_steps=[{"step": "extra", "condition": {"plan": "pro"}}, "done"]),
            tag_step("done", "done", order=1, completion=True),
            tag_step("extra", "extra", order=2),
        ]
    )
    emit("signup", payload={"plan": "free"})
    uj = UserJourney.objects.get()
    assert uj.state == UserJourney.State.COMPLETED
    assert runs(uj) == [("a", "succeeded"), ("done", "succeeded")]


CONTENT_MIGRATION = [
    {
        "key": "upload",
        "name": "Upload Content",
        "kind": "manual",
        "is_milestone": True,
        "next_steps": ["analyze"],
    },
    {
        "key": "analyze",
        "name": "Analyze Content",
        "kind": "manual",
        "is_milestone": True,
        "order": 1,
        "next_steps": [
            {
                "step": "transform",
                "condition": {"field": "steps.analyze.needs_transform", "op": "eq", "value": True},
            },
            "validate",
        ],
    },
    {
        "key": "transform",
        "name": "Transform Data",
        "kind": "manual",
        "is_milestone": True,
        "order": 2,
        "next_steps": ["validate"],
    },
    {
        "key": "validate",
        "name": "Validate Results",
        "kind": "manual",
        "is_milestone": True,
        "order": 3,
        "completion": True,
    },
]


@pytest.mark.parametrize(
    ("needs_transform", "path"),
    [(True, ["upload", "analyze", "transform", "validate"]), (False, ["upload", "analyze", "validate"])],
)
def test_next_steps_branch_on_the_step_result(needs_transform, path):
    journey = make_journey(CONTENT_MIGRATION, trigger_type="")
    uj = user_journey_enrol(journey=journey, user_id="u-1")
    user_journey_advance(user_journey=uj, step_result={"files": 3})
    user_journey_advance(user_journey=uj, step_result={"needs_transform": needs_transform})
    while UserJourney.objects.get(pk=uj.pk).state == UserJourney.State.ACTIVE:
        user_journey_advance(user_journey=uj, step_result={})
    assert [key for key, _ in runs(uj)] == path
    analyze = StepRun.objects.get(user_journey=uj, step_key="analyze")
    assert analyze.trace["next"]["chosen"] == path[2]
    assert analyze.trace["next"]["considered"][0]["condition"]["actual"] is needs_transform


def test_a_branch_step_takes_the_first_holding_condition_or_its_default(emit):
    make_journey(
        [
            {
                "key": "route",
                "name": "Route",
                "kind": "branch",
                "next_steps": [
                    {"step": "pro", "condition": {"field": "plan", "op": "in", "value": ["pro", "team"]}},
                    {"step": "basic"},
                ],
            },
            tag_step("pro", "pro-path", order=1, completion=True),
            tag_step("basic", "basic-path", order=2),
        ]
    )
    emit("signup", user_id="a", payload={"plan": "team"})
    emit("signup", user_id="b", payload={"plan": "free"})
    assert tags("a") == ["pro-path"]
    assert tags("b") == ["basic-path"]


def test_an_ab_split_is_deterministic_per_participant_and_follows_the_weights(emit):
    steps = [
        {
            "key": "ab",
            "name": "AB",
            "kind": "split",
            "config": {
                "variants": [
                    {"name": "A", "weight": 80, "step": "a"},
                    {"name": "B", "weight": 20, "step": "b"},
                ]
            },
        },
        tag_step("a", "got-a", order=1, completion=True),
        tag_step("b", "got-b", order=2),
    ]
    make_journey(steps, re_entry="always")
    for i in range(200):
        emit("signup", user_id=f"p{i}")
    first = dict(UserJourney.objects.values_list("participant__user_id", "variant"))
    counts = Counter(first.values())
    assert 130 <= counts["A"] <= 190 and counts["A"] + counts["B"] == 200
    for i in range(0, 200, 20):  # again: the same participant gets the same variant
        emit("signup", user_id=f"p{i}")
    again = UserJourney.objects.order_by("-id")[:10]
    assert all(uj.variant == first[uj.participant.user_id] for uj in again)
    assert all(tags(f"p{i}")[0] == f"got-{first[f'p{i}'].lower()}" for i in range(0, 200, 20))


# ------------------------------------------------------------------------------------------------
# Waiting for events, with a timeout branch
# ------------------------------------------------------------------------------------------------
WAIT_FOR_LOGIN = [
    {
        "key": "wait_login",
        "name": "Wait for login",
        "kind": "wait_for_event",
        "config": {"event": "login", "timeout": "3 days", "timeout_step": "nudge"},
        "next_steps": ["thanks"],
    },
    tag_step("thanks", "came-back", order=1, completion=True),
    tag_step("nudge", "nudged", order=2),
]


def test_the_awaited_event_wakes_the_journey(emit, dispatch):
    make_journey(WAIT_FOR_LOGIN)
    emit("signup")
    emit("login", payload={"device": "ios"})
    uj = UserJourney.objects.get()
    assert uj.state == UserJourney.State.COMPLETED
    assert tags() == ["came-back"]
    wait = StepRun.objects.get(step_key="wait_login")
    assert wait.result["payload"] == {"device": "ios"} and wait.result["timed_out"] is False


def test_without_the_event_the_timeout_branch_is_taken(emit, dispatch):
    make_journey(WAIT_FOR_LOGIN)
    emit("signup")
    dispatch(later=timedelta(days=2))
    assert tags() == []
    dispatch(later=timedelta(days=1))
    assert tags() == ["nudged"]
    assert StepRun.objects.get(step_key="wait_login").result == {"timed_out": True}


def test_an_event_stored_before_the_timeout_wins_even_if_its_wake_up_comes_late(emit, dispatch):
    make_journey(WAIT_FOR_LOGIN)
    emit("signup")
    participant = Participant.objects.get(user_id="u-1")
    login = EventFactory(type="login", participant=participant)  # stored, not yet processed by the bus
    dispatch(later=timedelta(days=3))  # the timeout falls due first
    assert tags() == ["came-back"]
    journeys_handle_event(login)  # the late wake-up finds nothing waiting: no second path
    assert tags() == ["came-back"]
    assert StepRun.objects.filter(step_key__in=["thanks", "nudge"]).count() == 1


def test_an_event_that_does_not_meet_the_wait_condition_keeps_waiting(emit):
    steps = [
        dict(
            WAIT_FOR_LOGIN[0],
            config={
                **WAIT_FOR_LOGIN[0]["config"],
                "condition": {"field": "payload.device", "op": "eq", "value": "ios"},
            },
        ),
        *WAIT_FOR_LOGIN[1:],
    ]
    make_journey(steps)
    emit("signup")
    emit("login", payload={"device": "android"})
    assert StepRun.objects.get(step_key="wait_login").status == StepRun.Status.SCHEDULED
    emit("login", payload={"device": "ios"})
    assert tags() == ["came-back"]


# ------------------------------------------------------------------------------------------------
# Pause / resume, versions in flight, goals
# ------------------------------------------------------------------------------------------------
def test_a_paused_journey_misses_nothing_when_its_step_falls_due_and_resumes_it(
    emit, dispatch, django_capture_on_commit_callbacks
):
    make_journey([tag_step("later", "done", delay_minutes=60)])
    emit("signup")
    uj = UserJourney.objects.get()
    user_journey_pause(user_journey=uj)
    dispatch(later=timedelta(hours=2))
    assert tags() == [] and runs(uj) == [("later", "scheduled")]
    with django_capture_on_commit_callbacks(execute=True):
        user_journey_resume(user_journey=uj)
    dispatch()
    assert tags() == ["done"]
    uj.refresh_from_db()
    assert uj.state == UserJourney.State.COMPLETED
    run = StepRun.objects.get()
    assert run.lag_seconds >= 3600  # the lateness is visible


def test_resuming_a_journey_that_is_not_paused_is_a_conflict_naming_its_state(emit):
    make_journey([tag_step("later", "done", delay_minutes=60)])
    emit("signup")
    uj = UserJourney.objects.get()

    with pytest.raises(Conflict) as refused:
        user_journey_resume(user_journey=uj)

    assert refused.value.as_dict()["code"] == "invalid_transition"
    assert refused.value.as_dict()["current_state"] == "active"
    uj.refresh_from_db()
    assert uj.state == UserJourney.State.ACTIVE


def test_runs_in_flight_keep_their_version_when_the_journey_is_edited_and_republished(emit, dispatch):
    journey = make_journey(
        [tag_step("first", "v1-first"), tag_step("second", "v1-second", order=1, delay_minutes=10)]
    )
    emit("signup", user_id="early")
    journey_update(
        journey=journey,
        data={},
        steps=[tag_step("first", "v2-first"), tag_step("second", "v2-second", order=1, delay_minutes=10)],
    )
    journey_publish(journey=journey)
    emit("signup", user_id="late")
    dispatch(later=timedelta(minutes=10))
    assert tags("early") == ["v1-first", "v1-second"]
    assert tags("late") == ["v2-first", "v2-second"]
    assert sorted(UserJourney.objects.values_list("version__number", flat=True)) == [1, 2]


def test_the_goal_event_ends_the_journey_as_converted_once(emit):
    make_journey(
        [
            {"key": "wait", "name": "Wait", "kind": "wait", "config": {"duration": "7 days"}},
            tag_step("x", "x", order=1),
        ],
        goal_event="upgrade",
        re_entry="always",
    )
    emit("signup")
    emit("signup")
    emit("upgrade")
    emit("upgrade")
    # Both runs end; the newest gets the conversion, and the second upgrade converts nothing more.
    assert set(UserJourney.objects.values_list("state", flat=True)) == {UserJourney.State.COMPLETED}
    converted = UserJourney.objects.filter(converted=True)
    assert converted.count() == 1
    uj = converted.get()
    assert uj.pk == UserJourney.objects.order_by("-id").first().pk
    assert uj.end_reason == "goal event upgrade"
    assert runs(uj) == [("wait", "cancelled")]


def test_the_exit_event_ends_the_journey_without_conversion(emit):
    make_journey([{"key": "wait", "name": "Wait", "kind": "manual"}], exit_event="account.deleted")
    emit("signup")
    emit("account.deleted")
    uj = UserJourney.objects.get()
    assert uj.state == UserJourney.State.COMPLETED and not uj.converted
    assert uj.end_reason == "exit event account.deleted"


def test_a_wait_until_a_local_time_uses_the_participant_time_zone(emit):
    from zoneinfo import ZoneInfo

    make_journey(
        [
            {"key": "morning", "name": "Morning", "kind": "wait", "config": {"until": "09:00"}},
            tag_step("x", "x", order=1),
        ]
    )
    ParticipantFactory(user_id="u-1", attributes={"timezone": "Asia/Tokyo"})
    emit("signup")
    due = StepRun.objects.get(step_key="morning").due_at
    local = due.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (9, 0)
    assert timedelta(0) < due - timezone.now() <= timedelta(days=1)


def test_schedule_next_jumps_to_a_named_step_after_its_delay(emit, dispatch):
    make_journey(
        [
            action("later", "schedule_next", {"step": "final", "delay": "2 hours"}),
            tag_step("skipped_over", "never", order=1),
            tag_step("final", "final", order=2),
        ]
    )
    emit("signup")
    assert StepRun.objects.get(step_key="final").due_at > timezone.now() + timedelta(minutes=119)
    dispatch(later=timedelta(hours=2))
    assert tags() == ["final"]


def test_an_emitted_event_is_on_the_bus_once_and_can_start_another_journey(emit, dispatch):
    make_journey(
        [
            action(
                "announce",
                "emit_event",
                {"type": "onboarding.started", "payload": {"plan": "{{ payload.plan }}"}},
            )
        ]
    )
    make_journey(
        [tag_step("follow", "followed")],
        name="Follower",
        trigger_type="onboarding.started",
        trigger_conditions={"field": "plan", "op": "eq", "value": "pro"},
    )
    emit("signup", payload={"plan": "pro"})
    emitted = Event.objects.get(type="onboarding.started")
    assert emitted.payload == {"plan": "pro"}
    run = StepRun.objects.get(step_key="announce")
    assert emitted.idempotency_key == run.idempotency_key and emitted.source == "journeys"
    assert tags() == ["followed"]


def test_granting_a_reward_twice_for_one_step_run_writes_one_ledger_row(emit):
    from journeys.actions.participant import GrantReward
    from journeys.models import RewardLedger
    from journeys.registries import ActionContext

    make_journey(
        [action("bonus", "grant_reward", {"reward": "welcome_bonus", "amount": 100, "unit": "points"})]
    )
    emit("signup")
    run = StepRun.objects.get()
    again = GrantReward().execute(
        ActionContext(
            participant=run.participant,
            config={"reward": "welcome_bonus", "amount": 100},
            idempotency_key=run.idempotency_key,
            step_run_id=run.pk,
        )
    )
    assert again["created"] is False
    row = RewardLedger.objects.get()
    assert (row.reward, row.amount, row.unit, row.participant.user_id) == (
        "welcome_bonus",
        100,
        "points",
        "u-1",
    )


def test_remove_tag_takes_a_tag_away(emit):
    ParticipantFactory(user_id="u-1", tags=["trial", "beta"])
    make_journey([action("untrial", "remove_tag", {"tag": "trial"})])
    emit("signup")
    assert tags() == ["beta"]


def test_journey_type_and_manual_only_journeys_are_not_triggered(emit):
    make_journey([tag_step("a", "x")], trigger_type="", journey_type="content_migration")
    emit("signup")
    assert not UserJourney.objects.exists()
    assert Journey.objects.get().journey_type == "content_migration"


def test_a_later_step_sees_the_tags_an_earlier_step_applied(emit):
    make_journey(
        [
            tag_step("mark", "vip"),
            tag_step(
                "vip_welcome",
                "vip-welcomed",
                order=1,
                condition={"field": "tags", "op": "contains", "value": "vip"},
            ),
        ]
    )
    emit("signup")
    assert tags() == ["vip", "vip-welcomed"]
