"""The engine's decisions, as pure functions: a step and what the walk knows in, a decision and
its trace out. The walker and the dry run both act on them, so they cannot disagree."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from journeys.engine.conditions import EvaluationContext
from journeys.engine.decisions import (
    Does,
    WalkContext,
    delay_decide,
    entry_decide,
    event_decide,
    next_decide,
    timeout_decide,
    variant_choose,
    wait_decide,
)
from journeys.engine.definition import Definition, StepDef
from journeys.models import StepRun, UserJourney
from journeys.registries import Detour
from journeys.services.dry_run import journey_dry_run
from journeys.services.enrolment import user_journey_enrol
from tests.journeys.factories import ParticipantFactory, make_journey, tag_step

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
PRO = {"field": "payload.plan", "op": "eq", "value": "pro"}


def step(**raw) -> StepDef:
    """One step of a definition, with a step after it by order (``after``)."""
    raw = {"key": "s", "kind": "branch", **raw}
    return Definition({"steps": [raw, {"key": "after", "kind": "end"}]})["s"]


def context(*, payload=None, attributes=None, steps=None, user_id="ada", journey_id=7, now=NOW):
    evaluation = EvaluationContext(
        payload=payload or {}, attributes=attributes or {}, steps=steps or {}, user_id=user_id
    )
    return WalkContext(evaluation=evaluation, journey_id=journey_id, now=now)


# ------------------------------------------------------------------------------------------------
# Entering
# ------------------------------------------------------------------------------------------------
def test_a_false_condition_skips_the_step_and_says_what_it_read():
    entry = entry_decide(step(kind="action", condition=PRO), context(payload={"plan": "free"}))

    assert entry.does == Does.SKIP
    assert entry.trace["condition"]["actual"] == "free"
    assert entry.trace["condition"]["result"] is False


@pytest.mark.parametrize(
    ("kind", "does"),
    [
        ("action", Does.ACT),
        ("wait", Does.WAIT),
        ("wait_for_event", Does.WAIT),
        ("manual", Does.WAIT),
        ("split", Does.SPLIT),
        ("end", Does.END),
        ("branch", Does.PASS),
    ],
)
def test_a_step_whose_condition_holds_does_what_its_kind_does(kind, does):
    entry = entry_decide(step(kind=kind, condition=PRO), context(payload={"plan": "pro"}))

    assert entry.does == does
    assert entry.trace["condition"]["result"] is True


def test_a_condition_already_found_true_is_not_evaluated_again():
    entry = entry_decide(step(kind="action", condition=PRO), context(), condition_checked=True)

    assert entry.does == Does.ACT
    assert entry.trace == {}


def test_the_delay_asked_for_by_the_previous_step_replaces_the_steps_own():
    own = step(delay_minutes=30)

    assert delay_decide(own) == timedelta(minutes=30)
    assert delay_decide(own, timedelta(hours=2)) == timedelta(hours=2)
    assert delay_decide(step()) is None


# ------------------------------------------------------------------------------------------------
# Waiting
# ------------------------------------------------------------------------------------------------
def test_a_wait_for_a_duration_ends_that_long_after_now():
    wait = wait_decide(step(kind="wait", config={"duration": "2 hours"}), context())

    assert wait.until == NOW + timedelta(hours=2)
    assert wait.waiting_for == ""


def test_a_wait_until_a_time_of_day_ends_at_that_time_where_the_participant_lives():
    wait = wait_decide(
        step(kind="wait", config={"until": "09:00"}), context(attributes={"timezone": "Europe/Oslo"})
    )

    assert wait.until == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # 09:00 in Oslo, the next morning


def test_a_wait_for_an_event_names_the_event_and_times_out():
    wait = wait_decide(step(kind="wait_for_event", config={"event": "paid", "timeout": "3 days"}), context())

    assert (wait.until, wait.waiting_for) == (NOW + timedelta(days=3), "paid")
    assert wait.trace == {"wait": {"event": "paid", "since": NOW.isoformat()}}


def test_a_manual_step_waits_for_staff_with_no_deadline():
    wait = wait_decide(step(kind="manual"), context())

    assert (wait.until, wait.waiting_for) == (None, "manual")


def test_an_awaited_event_counts_only_when_the_waits_condition_holds_on_its_payload():
    waiting = step(kind="wait_for_event", config={"event": "paid", "condition": PRO})

    assert event_decide(waiting, context(payload={"plan": "pro"})).counts is True
    ignored = event_decide(waiting, context(payload={"plan": "free"}))
    assert ignored.counts is False and ignored.trace["actual"] == "free"
    assert event_decide(step(kind="wait_for_event", config={"event": "paid"}), context()).counts is True


def test_a_timed_out_wait_goes_to_its_timeout_step():
    nxt = timeout_decide(step(kind="wait_for_event", config={"event": "paid", "timeout_step": "dun"}))

    assert nxt.key == "dun"
    assert nxt.trace == {"next": {"chosen": "dun", "by": "timeout"}}


# ------------------------------------------------------------------------------------------------
# Splitting
# ------------------------------------------------------------------------------------------------
SPLIT = {
    "kind": "split",
    "config": {
        "variants": [{"name": "a", "weight": 3, "step": "x"}, {"name": "b", "weight": 1, "step": "y"}]
    },
}


def test_a_participant_gets_the_same_variant_every_time():
    first = variant_choose(step(**SPLIT), context(user_id="ada"))
    again = variant_choose(step(**SPLIT), context(user_id="ada", now=NOW + timedelta(days=9)))

    assert first == again
    assert first.trace == {"split": {"variant": first.name, "weights": {"a": 3, "b": 1}}}
    assert first.step == {"a": "x", "b": "y"}[first.name]


def test_variants_are_chosen_in_proportion_to_their_weights():
    chosen = Counter(variant_choose(step(**SPLIT), context(user_id=f"u{i}")).name for i in range(2000))

    assert 0.70 < chosen["a"] / 2000 < 0.80


# ------------------------------------------------------------------------------------------------
# Where a finished step leads
# ------------------------------------------------------------------------------------------------
ROUTE = {"next_steps": [{"step": "pro", "condition": PRO}, {"step": "free", "condition": None}]}


def test_the_first_next_step_whose_condition_holds_is_taken_with_every_condition_considered():
    nxt = next_decide(step(**ROUTE), context(payload={"plan": "free"}))

    assert nxt.key == "free"
    considered = nxt.trace["next"]["considered"]
    assert [(c["step"], c["result"]) for c in considered] == [("pro", False), ("free", True)]


def test_a_step_result_may_choose_among_the_allowed_next_steps_only():
    chosen = next_decide(step(**ROUTE), context(payload={"plan": "pro"}), chosen="free")
    refused = next_decide(step(**ROUTE), context(payload={"plan": "pro"}), chosen="elsewhere")

    assert (chosen.key, chosen.trace) == ("free", {"next": {"chosen": "free", "by": "step_result"}})
    assert refused.key == "pro"


def test_no_next_step_holding_ends_the_journey_and_says_so():
    nxt = next_decide(step(next_steps=[{"step": "pro", "condition": PRO}]), context())

    assert (nxt.key, nxt.end_reason) == (None, "no next step matched")
    assert nxt.trace["next"]["chosen"] is None


def test_without_next_steps_the_next_by_order_follows_and_an_end_step_ends():
    assert next_decide(step(), context()).key == "after"
    ended = next_decide(step(kind="end"), context())
    assert (ended.key, ended.end_reason) == (None, "end step")


def test_an_actions_detour_and_a_completion_step_apply_only_when_the_step_succeeded():
    detour = Detour(step="final", delay=timedelta(hours=2))

    jumped = next_decide(step(), context(), detour=detour)
    assert (jumped.key, jumped.delay) == ("final", timedelta(hours=2))
    assert next_decide(step(), context(), succeeded=False, detour=detour).key == "after"
    wait_only = next_decide(step(), context(), detour=Detour(delay=timedelta(minutes=5)))
    assert (wait_only.key, wait_only.delay) == ("after", timedelta(minutes=5))

    completion = step(completion=True)
    assert next_decide(completion, context()).key is None
    assert next_decide(completion, context(), succeeded=False).key == "after"


# ------------------------------------------------------------------------------------------------
# The walker and the dry run agree
# ------------------------------------------------------------------------------------------------
AGREE = [
    tag_step("start", "started", order=0),
    {
        "key": "ab",
        "name": "A/B",
        "kind": "split",
        "order": 1,
        "config": {
            "variants": [
                {"name": "a", "weight": 2, "step": "route"},
                {"name": "b", "weight": 1, "step": "b_only"},
            ]
        },
    },
    {
        "key": "route",
        "name": "Route",
        "kind": "branch",
        "order": 2,
        "next_steps": [
            {"step": "pro", "condition": PRO},
            {"step": "tagged", "condition": {"field": "tags", "op": "contains", "value": "started"}},
            "free",
        ],
    },
    tag_step("pro", "pro", order=3, completion=True),
    tag_step("tagged", "tagged", order=4, completion=True),
    tag_step("free", "free", order=5, completion=True),
    tag_step("b_only", "b", order=6),
]


@pytest.mark.django_db
@pytest.mark.parametrize("user_id", ["ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal"])
def test_the_dry_run_and_the_walker_choose_the_same_variant_and_next_steps(
    user_id, django_capture_on_commit_callbacks
):
    ParticipantFactory(user_id=user_id)
    journey = make_journey(AGREE)
    payload = {"plan": "pro" if user_id in {"cy", "gus"} else "free"}

    predicted = journey_dry_run(journey=journey, user_id=user_id, payload=payload)
    with django_capture_on_commit_callbacks(execute=True):
        user_journey = user_journey_enrol(journey=journey, user_id=user_id, context=payload)

    runs = StepRun.objects.filter(user_journey=user_journey).order_by("seq")
    assert [(s.key, s.trace.get("split"), s.trace.get("next")) for s in predicted.steps] == [
        (run.step_key, run.trace.get("split"), run.trace.get("next")) for run in runs
    ]
    user_journey.refresh_from_db()
    assert user_journey.variant == predicted.steps[1].trace["split"]["variant"]
    assert user_journey.state == UserJourney.State.COMPLETED
