"""Evaluation against the database: what is written, only on change, and what is emitted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from journeys.errors import NotFound
from journeys.models import Event, Participant
from rules.cache import context_get, context_invalidate
from rules.engine.evaluator import StoredFlag
from rules.models import EvaluationSchedule, Flag, FlagHistory, Milestone
from rules.services.evaluation import _stored_flags, participant_evaluate, participants_evaluate_due
from rules.services.flags import flag_clear, flag_set, milestone_reach
from rules.services.rules import rule_activate, rule_create, rule_deactivate, rule_update
from tests.rules.factories import definition

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return Flag.objects.count(), FlagHistory.objects.count(), Milestone.objects.count(), Event.objects.count()


def language_sessions(record, n: int, rating: int = 5, ago: timedelta = timedelta(minutes=1)) -> None:
    for _ in range(n):
        record("kintell_sessions", session_type="language", rating=rating, ago=ago)


def test_a_change_writes_the_flag_a_history_row_and_an_event(mappings, participant, record):
    rule_create(definition=definition())
    language_sessions(record, 3)

    result = participant_evaluate(participant=participant)

    assert result.triggered_rules == ["test_rule_001"]
    flag = Flag.objects.get(participant=participant)
    assert (flag.flag, flag.value, flag.set_by_rule, flag.expires_at) == (
        "mentor_ready",
        True,
        "test_rule_001",
        None,
    )
    history = FlagHistory.objects.get()
    assert (history.value, history.previous_value, history.reason) == (True, None, "rule")
    event = Event.objects.get(type="orchestration.flag.updated")
    assert event.participant == participant and event.source == "rules"
    assert event.idempotency_key == f"flag-history:{history.pk}"
    assert event.payload["flag"] == "mentor_ready" and event.payload["value"] is True


def test_evaluating_the_same_context_twice_writes_nothing_the_second_time(default_rules, participant, record):
    language_sessions(record, 3, ago=timedelta(days=15))
    record("program_enrollments", status="active", ago=timedelta(days=30))
    record("q2q_assessments", language_comfort=0.3)

    first = participant_evaluate(participant=participant)
    after_first = counts()
    second = participant_evaluate(participant=participant)

    assert set(first.fired_rules) == {
        "mentor_ready_001",
        "followup_needed_001",
        "language_support_needed_001",
    }
    assert second.changes == [] and second.events == [] and second.milestones == []
    assert counts() == after_first


def test_a_dry_run_shows_the_changes_and_writes_nothing(mappings, participant, record):
    rule_create(definition=definition())
    language_sessions(record, 3)

    result = participant_evaluate(participant=participant, dry_run=True, trace=True)

    assert result.dry_run
    assert [(c["flag"], c["value"]) for c in result.changes] == [("mentor_ready", True)]
    assert result.events == ["orchestration.flag.updated"]
    assert result.trace[0]["condition"]["actual"] == 3
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize("dry_run", [False, True])
def test_evaluating_a_participant_deleted_meanwhile_is_not_found(mappings, participant, dry_run):
    Participant.objects.filter(pk=participant.pk).delete()

    with pytest.raises(NotFound):
        participant_evaluate(participant=participant, dry_run=dry_run)


def test_the_higher_priority_rule_wins_a_conflict_in_the_stored_flag(mappings, participant, record):
    rule_create(definition=definition(rule_id="says_yes", priority=1))
    rule_create(
        definition=definition(
            rule_id="says_no",
            priority=99,
            actions=[{"type": "set_flag", "flag": "mentor_ready", "value": False}],
        )
    )
    language_sessions(record, 3)

    participant_evaluate(participant=participant)

    flag = Flag.objects.get()
    assert (flag.value, flag.set_by_rule) == (False, "says_no")
    assert FlagHistory.objects.count() == 1


def test_clear_flag_removes_the_flag_and_records_it(mappings, participant, record):
    flag_set(participant=participant, flag="mentor_ready")
    rule_create(
        definition=definition(
            conditions=[{"type": "count", "entity": "buddy_matches", "count": ">=", "count_value": 1}],
            actions=[{"type": "clear_flag", "flag": "mentor_ready"}],
        )
    )
    record("buddy_matches")

    participant_evaluate(participant=participant)

    assert not Flag.objects.exists()
    cleared = FlagHistory.objects.order_by("-id").first()
    assert (cleared.value, cleared.previous_value, cleared.reason, cleared.set_by_rule) == (
        None,
        True,
        "cleared",
        "test_rule_001",
    )


def test_a_milestone_is_recorded_once_with_its_event(default_rules, participant, record):
    language_sessions(record, 3)

    participant_evaluate(participant=participant)
    flag_clear(participant=participant, flag="mentor_ready")  # the rule will set it again
    participant_evaluate(participant=participant)

    milestone = Milestone.objects.get()
    assert (milestone.milestone, milestone.triggered_by_rule) == ("mentor_ready", "mentor_ready_001")
    assert milestone.metadata == {"reason": "Completed 3+ language sessions"}
    [event] = Event.objects.filter(type="orchestration.milestone.reached")
    assert event.idempotency_key == f"milestone:{milestone.pk}"
    assert event.payload["milestone"] == "mentor_ready"
    assert Event.objects.filter(type="orchestration.flag.updated").count() == 3  # set, clear, set


def expiring_flag_rule() -> None:
    """A rule setting ``matched_recently`` for two days once a buddy match exists."""
    rule_create(
        definition=definition(
            conditions=[{"type": "exists", "entity": "buddy_matches"}],
            actions=[{"type": "set_flag", "flag": "matched_recently", "expires_in": "2 days"}],
            flag="matched_recently",
        )
    )


def test_a_rule_setting_an_expiring_flag_and_beat_removing_it(
    mappings, participant, record, django_capture_on_commit_callbacks
):
    expiring_flag_rule()
    record("buddy_matches")
    participant_evaluate(participant=participant)
    flag = Flag.objects.get()
    assert flag.expires_at == pytest.approx(timezone.now() + timedelta(days=2), abs=timedelta(seconds=5))
    assert EvaluationSchedule.objects.get(pk=participant.pk).next_check_at == flag.expires_at

    with django_capture_on_commit_callbacks(execute=True):
        rule_deactivate(rule=flag_rule())  # so the expired flag is not simply set again
    later = flag.expires_at + timedelta(seconds=1)
    assert participants_evaluate_due(now=later - timedelta(minutes=1)) == []
    assert participants_evaluate_due(now=later) == [participant.pk]
    participant_evaluate(participant=participant, now=later)

    assert not Flag.objects.exists()
    expired = FlagHistory.objects.order_by("-id").first()
    assert (expired.reason, expired.value, expired.previous_value) == ("expired", None, True)
    assert EvaluationSchedule.objects.get(pk=participant.pk).next_check_at is None


def test_evaluating_again_leaves_a_live_expiring_flag_exactly_as_it_is(mappings, participant, record):
    expiring_flag_rule()
    record("buddy_matches")
    participant_evaluate(participant=participant)
    flag = Flag.objects.get()

    participant_evaluate(participant=participant)

    assert Flag.objects.values_list("set_at", "expires_at").get() == (flag.set_at, flag.expires_at)
    assert FlagHistory.objects.count() == 1
    assert Event.objects.filter(type="orchestration.flag.updated").count() == 1
    # What evaluation reads is what is stored, to the microsecond.
    stored, row_ids = _stored_flags([participant])
    assert stored == {
        participant.pk: {"matched_recently": StoredFlag(True, flag.set_by_rule, flag.expires_at)}
    }
    assert row_ids == {(participant.pk, "matched_recently"): flag.pk}


def flag_rule():
    from rules.models import Rule

    return Rule.objects.get(rule_id="test_rule_001")


def test_time_since_schedules_the_moment_the_window_closes(default_rules, participant, record):
    record("program_enrollments", status="active", ago=timedelta(days=20))
    buddy = record("buddy_events", ago=timedelta(days=10))
    record("kintell_sessions", ago=timedelta(days=30))

    participant_evaluate(participant=participant)
    assert not Flag.objects.filter(flag="followup_needed").exists()
    due = EvaluationSchedule.objects.get(pk=participant.pk).next_check_at
    assert due == buddy.occurred_at + timedelta(days=14)

    assert participants_evaluate_due(now=due) == [participant.pk]
    participant_evaluate(participant=participant, now=due + timedelta(seconds=1))
    assert Flag.objects.get(flag="followup_needed").value is True


def test_followup_is_cleared_when_activity_resumes(default_rules, participant, record, ingest):
    record("program_enrollments", status="active", ago=timedelta(days=20))
    participant_evaluate(participant=participant)
    assert Flag.objects.filter(flag="followup_needed").exists()

    ingest({"type": "buddy.message.sent", "user_id": participant.user_id})

    assert not Flag.objects.filter(flag="followup_needed").exists()
    assert FlagHistory.objects.filter(flag="followup_needed", reason="cleared").count() == 1


def test_manual_flags_and_milestones_write_only_on_change(participant):
    assert flag_set(participant=participant, flag="vip") is True
    assert flag_set(participant=participant, flag="vip") is False
    assert flag_clear(participant=participant, flag="vip") is True
    assert flag_clear(participant=participant, flag="vip") is False
    first, created = milestone_reach(participant=participant, milestone="kickoff", metadata={"by": "staff"})
    again, created_again = milestone_reach(participant=participant, milestone="kickoff")
    assert created and not created_again and first.pk == again.pk
    assert FlagHistory.objects.count() == 2
    assert Event.objects.filter(source="rules.manual").count() == 3


# ----------------------------------------------------------------------------------------------
# Caching
# ----------------------------------------------------------------------------------------------
def test_the_rule_set_is_cached_and_a_change_invalidates_it_at_once(
    mappings, participant, record, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rule = rule_create(definition=definition())
    language_sessions(record, 3)
    participant_evaluate(participant=participant, dry_run=True)
    # Warm: participant, flags, (no rules query, no records query).
    with django_assert_num_queries(2):
        participant_evaluate(participant=participant, dry_run=True)

    with django_capture_on_commit_callbacks(execute=True):
        rule_update(
            rule=rule,
            definition={"conditions": [{"type": "exists", "entity": "buddy_matches"}]},
            partial=True,
        )
    assert participant_evaluate(participant=participant, dry_run=True).changes == []

    with django_capture_on_commit_callbacks(execute=True):
        rule_deactivate(rule=rule)
    assert participant_evaluate(participant=participant, dry_run=True).evaluated_rules == []
    with django_capture_on_commit_callbacks(execute=True):
        rule_activate(rule=rule)
    assert participant_evaluate(participant=participant, dry_run=True).evaluated_rules == ["test_rule_001"]


def test_the_context_is_cached_until_an_event_arrives(mappings, participant, record, ingest):
    record("kintell_sessions", rating=5)
    assert len(context_get(participant).entities["kintell_sessions"]) == 1

    record("kintell_sessions", rating=1)  # written behind the cache's back: not seen yet
    assert len(context_get(participant).entities["kintell_sessions"]) == 1

    ingest({"type": "kintell.session.completed", "user_id": participant.user_id, "payload": {"rating": 3}})
    assert len(context_get(participant).entities["kintell_sessions"]) == 3


def test_a_context_loaded_before_an_invalidation_is_never_served_after_it(mappings, participant, record):
    from django.core.cache import cache

    from rules.cache import CONTEXT_GEN_KEY, CONTEXT_KEY

    record("kintell_sessions")
    generation = cache.get(CONTEXT_GEN_KEY.format(participant.pk))
    context_invalidate(participant.pk)
    # A slow reader stores what it loaded under the generation it started with.
    cache.set(CONTEXT_KEY.format(participant.pk), (generation, {"kintell_sessions": []}), 300)
    assert len(context_get(participant).entities["kintell_sessions"]) == 1


# ----------------------------------------------------------------------------------------------
# Records know the type of their newest event
# ----------------------------------------------------------------------------------------------
def test_rules_read_the_event_type_of_records_from_ingested_events(
    mappings, ingest, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rule_create(
            definition=definition(
                rule_id="two_sessions_done",
                flag="sessions_done",
                conditions=[
                    {
                        "type": "count",
                        "entity": "kintell_sessions",
                        "field": "event_type",
                        "value": "kintell.session.completed",
                        "count": ">=",
                        "count_value": 2,
                    }
                ],
                actions=[{"type": "set_flag", "flag": "sessions_done"}],
            )
        )
        rule_create(
            definition=definition(
                rule_id="graduated",
                flag="graduated",
                conditions=[
                    {
                        "type": "value",
                        "entity": "program_enrollments",
                        "field": "event_type",
                        "operator": "=",
                        "value": "program.enrollment.completed",
                    }
                ],
                actions=[{"type": "set_flag", "flag": "graduated"}],
            )
        )

    def sent(type_: str, **payload) -> None:
        ingest({"type": type_, "user_id": "ada", "payload": payload})

    sent("kintell.session.completed", rating=5)
    sent("kintell.session.cancelled", rating=1)
    sent("program.enrollment.started", enrollment_id="e-1", status="active")
    assert not Flag.objects.exists()

    sent("kintell.session.completed", rating=4)
    # The enrollment's one (keyed) record now carries the type of its newest event.
    sent("program.enrollment.completed", enrollment_id="e-1", status="done")

    assert sorted(Flag.objects.values_list("flag", "set_by_rule")) == [
        ("graduated", "graduated"),
        ("sessions_done", "two_sessions_done"),
    ]
