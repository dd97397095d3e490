"""The seed document's rules end to end: events in through ingestion and the bus, then flags,
history, milestones and emitted events out — and nothing more when the echoes come back."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from journeys.models import Event, Participant
from rules.models import Flag, FlagHistory, Milestone
from rules.services.evaluation import on_event, participant_evaluate
from rules.services.flags import flag_set
from rules.services.rules import rule_create, rules_load_folder
from tests.rules.factories import definition

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"


def snapshot() -> tuple[int, int, int, int]:
    return Flag.objects.count(), FlagHistory.objects.count(), Milestone.objects.count(), Event.objects.count()


def events_of(user_id: str, type_: str, n: int, **payload) -> list[dict]:
    return [{"type": type_, "user_id": user_id, "payload": dict(payload)} for _ in range(n)]


@pytest.fixture
def seed_examples(mappings, tmp_path):
    for name in ("custom_rule_001.yaml", "high_engagement_001.yaml"):
        (tmp_path / name).write_text((FIXTURES / name).read_text())
    return rules_load_folder(folder=tmp_path)


def test_the_seed_examples_load_unchanged(seed_examples):
    assert sorted(seed_examples.created) == ["custom_rule_001", "high_engagement_001"]


def test_custom_rule_001_sets_its_flag_and_emits_its_event_once(seed_examples, ingest):
    ingest(*events_of("ada", "buddy.match.created", 4))
    assert not Flag.objects.exists()

    ingest(*events_of("ada", "buddy.match.created", 1))

    flag = Flag.objects.get()
    assert (flag.flag, flag.value, flag.set_by_rule) == ("custom_flag", True, "custom_rule_001")
    [custom] = Event.objects.filter(type="orchestration.custom.event")
    assert custom.payload == {"message": "Custom event triggered", "triggered_by_rule": "custom_rule_001"}
    assert custom.status == Event.Status.PROCESSED  # it went through the bus like any event
    before = snapshot()

    ingest(*events_of("ada", "buddy.match.created", 3))  # still true: nothing new but the events

    assert snapshot()[:3] == before[:3]
    assert Event.objects.filter(type="orchestration.custom.event").count() == 1


def test_high_engagement_001_reaches_its_milestone(seed_examples, ingest):
    ingest(
        *events_of("ada", "buddy.message.sent", 10),
        *events_of("ada", "kintell.session.completed", 5, session_type="mentoring"),
        *events_of("ada", "upskilling.course.completed", 2),
    )
    assert not Flag.objects.filter(flag="high_engagement").exists()

    ingest(*events_of("ada", "upskilling.course.completed", 1))

    assert Flag.objects.get(flag="high_engagement").value is True
    milestone = Milestone.objects.get(milestone="high_engagement")
    assert milestone.triggered_by_rule == "high_engagement_001"
    assert milestone.metadata == {"tier": "gold"}
    [reached] = Event.objects.filter(type="orchestration.milestone.reached")
    assert reached.payload["milestone"] == "high_engagement"
    assert reached.payload["metadata"] == {"tier": "gold"}


def test_mentor_ready_001_from_kintell_sessions(default_rules, ingest):
    ingest(*events_of("ada", "kintell.session.completed", 2, session_type="language", rating=5))
    assert not Flag.objects.filter(flag="mentor_ready").exists()

    ingest(*events_of("ada", "kintell.session.completed", 1, session_type="language", rating=3))

    flag = Flag.objects.get(flag="mentor_ready")  # avg (5+5+3)/3 = 4.33
    assert (flag.value, flag.set_by_rule) == (True, "mentor_ready_001")
    assert Milestone.objects.get().metadata == {"reason": "Completed 3+ language sessions"}
    history = FlagHistory.objects.get(flag="mentor_ready")
    assert (
        Event.objects.get(idempotency_key=f"flag-history:{history.pk}").type == "orchestration.flag.updated"
    )


def test_mentor_ready_001_waits_for_the_average_rating(default_rules, ingest):
    ingest(*events_of("ada", "kintell.session.completed", 3, session_type="language", rating=3))
    assert not Flag.objects.filter(flag="mentor_ready").exists()
    ingest(*events_of("ada", "kintell.session.completed", 4, session_type="mentoring", rating=5))
    assert Flag.objects.get(flag="mentor_ready").value is True  # avg (9+20)/7 = 4.14


def test_language_support_needed_001_follows_the_newest_q2q_score(default_rules, ingest):
    ingest({"type": "q2q.assessment.completed", "user_id": "ada", "payload": {"language_comfort": 0.3}})
    assert Flag.objects.get(flag="language_support_needed").value is True

    ingest({"type": "q2q.assessment.completed", "user_id": "ada", "payload": {"language_comfort": 0.8}})
    assert not Flag.objects.filter(flag="language_support_needed").exists()
    assert list(
        FlagHistory.objects.filter(flag="language_support_needed")
        .order_by("id")
        .values_list("value", "reason")
    ) == [(True, "rule"), (None, "cleared")]


def test_followup_needed_001_after_14_quiet_days_with_an_active_enrollment(default_rules, ingest):
    long_ago = timezone.now() - timedelta(days=20)
    ingest(
        {
            "type": "program.enrollment.started",
            "user_id": "ada",
            "payload": {"enrollment_id": "e-1", "status": "active"},
            "occurred_at": long_ago,
        },
        {"type": "buddy.message.sent", "user_id": "ada", "occurred_at": long_ago},
    )
    assert Flag.objects.get(flag="followup_needed").value is True

    ingest(
        {
            "type": "program.enrollment.ended",
            "user_id": "ada",
            "payload": {"enrollment_id": "e-1", "status": "done"},
        }
    )
    assert not Flag.objects.filter(flag="followup_needed").exists()


def test_echoed_events_cause_no_further_writes(seed_examples, ingest):
    ingest(*events_of("ada", "buddy.match.created", 5))
    before = snapshot()
    emitted = list(Event.objects.filter(source="rules"))
    assert {e.type for e in emitted} == {"orchestration.flag.updated", "orchestration.custom.event"}

    # Even if the echoes were evaluated (the handler skips them), a second pass writes nothing.
    for event in emitted:
        participant_evaluate(participant=event.participant)
        on_event(event)

    assert snapshot() == before


def test_a_flag_set_outside_evaluation_wakes_rules_that_read_it(
    mappings, ingest, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rule_create(
            definition=definition(
                rule_id="mentor_and_vip",
                flag="vip_mentor",
                conditions=[{"type": "flag", "flag": "vip"}],
                actions=[{"type": "set_flag", "flag": "vip_mentor"}],
            )
        )
    ingest({"type": "signup", "user_id": "ada"})
    participant = Participant.objects.get(user_id="ada")

    with django_capture_on_commit_callbacks(execute=True):
        flag_set(participant=participant, flag="vip", set_by="journey:7")

    assert Flag.objects.get(flag="vip_mentor").set_by_rule == "mentor_and_vip"
