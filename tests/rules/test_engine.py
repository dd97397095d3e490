"""The rule language without a database: every condition type, operator, aggregate, duration,
nesting, priorities and conflicts, the fixpoint over flags, traces and the next check time."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rules.engine.compiler import compile_condition
from rules.engine.evaluator import StoredFlag, evaluate
from rules.engine.nodes import EvalState
from rules.engine.ruleset import compile_rule, ruleset_build
from rules.engine.validation import rule_definition_validate
from rules.engine.values import ParticipantContext, Record, parse_duration
from tests.rules.factories import definition

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def context(attributes: dict | None = None, tags: list | None = None, **entities: list[tuple[int, dict]]):
    """Entities as ``name=[(days_ago, data), …]``, stored newest first as the loader does."""
    return ParticipantContext(
        participant_id=1,
        user_id="ada",
        attributes=attributes or {},
        tags=tags or [],
        entities={
            name: sorted(
                (Record(NOW - timedelta(days=ago), data) for ago, data in rows),
                key=lambda r: r.occurred_at,
                reverse=True,
            )
            for name, rows in entities.items()
        },
    )


def holds(spec: dict[str, Any], ctx: ParticipantContext, flags: dict[str, bool] | None = None) -> bool:
    normalised, errors = rule_definition_validate(definition(conditions=[spec]))
    assert errors == {}
    node = compile_condition(normalised["conditions"][0])
    state = EvalState(context=ctx, flags=flags or {}, now=NOW)
    fast = node.test(state)
    explained = node.explain(EvalState(context=ctx, flags=flags or {}, now=NOW))
    assert explained["holds"] is fast, "the trace must agree with the fast path"
    return fast


SESSIONS = context(
    kintell_sessions=[
        (1, {"session_type": "language", "rating": 5}),
        (3, {"session_type": "language", "rating": 4}),
        (8, {"session_type": "mentoring", "rating": 2, "topics": ["cv", "interview"]}),
        (20, {"session_type": "language", "rating": "n/a", "coach": {"name": "Grace"}}),
    ]
)


# ----------------------------------------------------------------------------------------------
# Condition types
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count_op", "count_value", "expected"),
    [(">=", 3, True), (">", 3, False), ("=", 3, True), ("!=", 3, False), ("<", 4, True), ("<=", 2, False)],
)
def test_count_with_a_filter_compares_the_number_of_matching_records(count_op, count_value, expected):
    spec = {
        "type": "count",
        "entity": "kintell_sessions",
        "field": "session_type",
        "value": "language",
        "count": count_op,
        "count_value": count_value,
    }
    assert holds(spec, SESSIONS) is expected


def test_count_without_a_filter_counts_every_record_and_an_unknown_entity_counts_zero():
    assert holds({"type": "count", "entity": "kintell_sessions", "count": "=", "count_value": 4}, SESSIONS)
    assert holds({"type": "count", "entity": "buddy_matches", "count": "=", "count_value": 0}, SESSIONS)


def test_count_filter_may_use_any_operator():
    spec = {
        "type": "count",
        "entity": "kintell_sessions",
        "field": "rating",
        "operator": ">=",
        "value": 4,
        "count": "=",
        "count_value": 2,
    }
    assert holds(spec, SESSIONS)


def test_exists_with_and_without_a_filter():
    assert holds({"type": "exists", "entity": "kintell_sessions"}, SESSIONS)
    assert not holds({"type": "exists", "entity": "buddy_matches"}, SESSIONS)
    assert holds(
        {
            "type": "exists",
            "entity": "kintell_sessions",
            "field": "session_type",
            "operator": "=",
            "value": "mentoring",
        },
        SESSIONS,
    )
    assert not holds(
        {"type": "exists", "entity": "kintell_sessions", "field": "session_type", "value": "cooking"},
        SESSIONS,
    )
    assert holds({"type": "exists", "entity": "kintell_sessions", "field": "topics"}, SESSIONS)
    assert not holds({"type": "exists", "entity": "kintell_sessions", "field": "missing"}, SESSIONS)


def test_a_plain_field_reads_the_newest_record():
    assert holds(
        {"type": "value", "entity": "kintell_sessions", "field": "rating", "operator": "=", "value": 5},
        SESSIONS,
    )
    assert not holds(
        {"type": "value", "entity": "kintell_sessions", "field": "rating", "operator": "=", "value": 4},
        SESSIONS,
    )


def test_a_dot_path_reads_nested_data_of_the_newest_record():
    ctx = context(kintell_sessions=[(1, {"coach": {"name": "Grace"}})])
    assert holds(
        {
            "type": "value",
            "entity": "kintell_sessions",
            "field": "coach.name",
            "operator": "=",
            "value": "Grace",
        },
        ctx,
    )


@pytest.mark.parametrize(
    ("field", "operator", "value"),
    [
        ("avg_rating", "=", 11 / 3),  # 5, 4, 2; "n/a" is not a number and is skipped
        ("sum_rating", "=", 11),
        ("min_rating", "=", 2),
        ("max_rating", "=", 5),
        ("count", "=", 4),
        ("avg_rating", ">=", 3.5),
        ("avg_rating", "<", 3.7),
    ],
)
def test_aggregates_cover_every_numeric_value_of_the_entity(field, operator, value):
    spec = {
        "type": "value",
        "entity": "kintell_sessions",
        "field": field,
        "operator": operator,
        "value": value,
    }
    assert holds(spec, SESSIONS)


def test_aggregates_of_nothing_satisfy_no_comparison_but_a_sum_of_nothing_is_zero():
    empty = context(kintell_sessions=[(1, {"rating": "great"})])
    for operator in ("=", "!=", "<", ">="):
        assert not holds(
            {
                "type": "value",
                "entity": "kintell_sessions",
                "field": "avg_rating",
                "operator": operator,
                "value": 0,
            },
            empty,
        )
    assert holds(
        {"type": "value", "entity": "kintell_sessions", "field": "sum_rating", "operator": "=", "value": 0},
        empty,
    )


def test_booleans_are_not_numbers_in_aggregates_and_equal_only_booleans():
    ctx = context(things=[(1, {"n": True}), (2, {"n": 3})])
    assert holds({"type": "value", "entity": "things", "field": "sum_n", "operator": "=", "value": 3}, ctx)
    assert holds({"type": "value", "entity": "things", "field": "n", "operator": "=", "value": True}, ctx)
    assert not holds({"type": "value", "entity": "things", "field": "n", "operator": "=", "value": 1}, ctx)


def test_a_missing_value_satisfies_no_operator_not_even_not_equal():
    ctx = context(kintell_sessions=[(1, {})])
    for operator, value in [("=", 1), ("!=", 1), (">", 0), ("in", [1]), ("contains", "x")]:
        spec = {
            "type": "value",
            "entity": "kintell_sessions",
            "field": "rating",
            "operator": operator,
            "value": value,
        }
        assert not holds(spec, ctx), operator


@pytest.mark.parametrize(
    ("actual", "operator", "value", "expected"),
    [
        (5, "=", 5.0, True),
        (5, "!=", 4, True),
        (5, ">", 4, True),
        (5, ">=", 5, True),
        (5, "<", 5, False),
        (5, "<=", 5, True),
        ("b", ">", "a", True),
        (5, ">", "4", False),  # a number and a text do not compare
        ("fi", "in", ["fi", "sv"], True),
        ("en", "in", ["fi", "sv"], False),
        ("language exchange", "contains", "exchange", True),
        (["cv", "interview"], "contains", "cv", True),
        (["cv"], "contains", "salary", False),
        ({"cv": 1}, "contains", "cv", True),
        (3, "contains", 3, False),
    ],
)
def test_operators(actual, operator, value, expected):
    ctx = context(things=[(1, {"x": actual})])
    assert (
        holds({"type": "value", "entity": "things", "field": "x", "operator": operator, "value": value}, ctx)
        is expected
    )


def test_times_compare_with_iso_texts():
    ctx = context(things=[(10, {})])
    spec = {
        "type": "value",
        "entity": "things",
        "field": "last_activity",
        "operator": "<",
        "value": "2026-02-25",
    }
    assert holds(spec, ctx)
    spec = {
        "type": "value",
        "entity": "things",
        "field": "first_activity",
        "operator": ">",
        "value": "2026-02-25T00:00Z",
    }
    assert not holds(spec, ctx)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("14 days", 14 * 86_400),
        ("1 day", 86_400),
        ("36 hours", 36 * 3600),
        ("2 weeks", 14 * 86_400),
        ("1 month", 30 * 86_400),
        ("1.5 Days", 1.5 * 86_400),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["14", "fortnight", "0 days", "-1 day", "3 years", 14, None])
def test_bad_durations_are_not_durations(text):
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("days_ago", "operator", "expected"),
    [(15, ">=", True), (13, ">=", False), (14, ">=", True), (13, "<", True), (15, "<", False)],
)
def test_time_since_compares_elapsed_time_with_the_duration(days_ago, operator, expected):
    ctx = context(buddy_events=[(days_ago, {}), (40, {})])
    spec = {
        "type": "time_since",
        "entity": "buddy_events",
        "field": "last_activity",
        "duration": "14 days",
        "operator": operator,
    }
    assert holds(spec, ctx) is expected


def test_time_since_without_any_record_counts_as_forever_ago():
    ctx = context()
    assert holds({"type": "time_since", "entity": "buddy_events", "duration": "14 days"}, ctx)
    assert not holds(
        {"type": "time_since", "entity": "buddy_events", "duration": "14 days", "operator": "<"}, ctx
    )


def test_time_since_may_read_a_date_time_field_of_the_newest_record():
    ctx = context(program_enrollments=[(1, {"started_at": "2026-01-01T00:00:00Z"})])
    spec = {
        "type": "time_since",
        "entity": "program_enrollments",
        "field": "started_at",
        "duration": "8 weeks",
    }
    assert holds(spec, ctx)
    spec = {
        "type": "time_since",
        "entity": "program_enrollments",
        "field": "started_at",
        "duration": "9 weeks",
    }
    assert not holds(spec, ctx)


def test_attribute_and_tags():
    ctx = context(attributes={"language": "fi", "profile": {"age": 31}}, tags=["beta", "vip"])
    assert holds({"type": "attribute", "field": "language", "operator": "in", "value": ["fi", "sv"]}, ctx)
    assert holds({"type": "attribute", "field": "profile.age", "operator": ">", "value": 30}, ctx)
    assert holds({"type": "attribute", "field": "tags", "operator": "contains", "value": "vip"}, ctx)
    assert not holds({"type": "attribute", "field": "phone", "operator": "!=", "value": "x"}, ctx)


def test_flag_condition_reads_the_flag_value_and_absent_is_false():
    ctx = context()
    assert holds({"type": "flag", "flag": "mentor_ready"}, ctx, {"mentor_ready": True})
    assert not holds({"type": "flag", "flag": "mentor_ready"}, ctx, {"mentor_ready": False})
    assert holds({"type": "flag", "flag": "mentor_ready", "value": False}, ctx, {})


def test_nesting_all_of_any_of_and_not():
    spec = {
        "type": "any_of",
        "conditions": [
            {"type": "count", "entity": "kintell_sessions", "count": ">=", "count_value": 100},
            {
                "type": "all_of",
                "conditions": [
                    {"type": "exists", "entity": "kintell_sessions"},
                    {"type": "not", "condition": {"type": "exists", "entity": "buddy_matches"}},
                ],
            },
        ],
    }
    assert holds(spec, SESSIONS)
    with_match = context(kintell_sessions=[(1, {})], buddy_matches=[(1, {})])
    assert not holds(spec, with_match)


def test_the_trace_shows_each_condition_with_the_actual_value():
    normalised, _ = rule_definition_validate(
        definition(
            conditions=[
                {
                    "type": "all_of",
                    "conditions": [
                        {"type": "count", "entity": "kintell_sessions", "count": ">=", "count_value": 5},
                        {
                            "type": "value",
                            "entity": "kintell_sessions",
                            "field": "avg_rating",
                            "operator": ">=",
                            "value": 4.0,
                        },
                    ],
                }
            ]
        )
    )
    explained = compile_condition(normalised["conditions"][0]).explain(EvalState(SESSIONS, {}, NOW))
    assert explained["holds"] is False
    count, average = explained["conditions"]
    assert count == {
        "type": "count",
        "description": "count(kintell_sessions) >= 5",
        "actual": 4,
        "holds": False,
    }
    assert average["actual"] == pytest.approx(3.666667)
    assert average["description"] == "kintell_sessions.avg_rating >= 4.0"


# ----------------------------------------------------------------------------------------------
# Whole rule sets: priorities, conflicts, fixpoint, changes
# ----------------------------------------------------------------------------------------------
ALWAYS = {"type": "count", "entity": "kintell_sessions", "count": ">=", "count_value": 0}
NEVER = {"type": "count", "entity": "kintell_sessions", "count": "<", "count_value": 0}


def ruleset(*definitions: dict[str, Any]):
    compiled = []
    for raw in definitions:
        normalised, errors = rule_definition_validate(raw)
        assert errors == {}, errors
        compiled.append(compile_rule(normalised))
    return ruleset_build(compiled, token="t")


def setting(rule_id: str, flag: str, value: bool, priority: int, condition=ALWAYS, **extra) -> dict:
    return definition(
        rule_id=rule_id,
        flag=flag,
        priority=priority,
        conditions=[condition],
        actions=[{"type": "set_flag", "flag": flag, "value": value}],
        **extra,
    )


def test_rules_run_by_priority_and_the_higher_priority_wins_a_conflict():
    rules = ruleset(setting("low", "x", True, 5), setting("high", "x", False, 50))
    assert [r.rule_id for r in rules.rules] == ["high", "low"]
    outcome = evaluate(rules, context(), {}, now=NOW, trace=True)
    [change] = outcome.changes
    assert (change.flag, change.value, change.set_by_rule) == ("x", False, "high")
    low_trace = next(t for t in outcome.traces if t["rule_id"] == "low")
    assert low_trace["actions"][0]["overridden_by"] == "high"


def test_equal_priorities_are_broken_by_rule_id():
    rules = ruleset(setting("b_rule", "x", False, 10), setting("a_rule", "x", True, 10))
    [change] = evaluate(rules, context(), {}, now=NOW).changes
    assert (change.value, change.set_by_rule) == (True, "a_rule")


def test_a_rule_that_does_not_hold_leaves_the_flag_unless_it_says_otherwise():
    sticky = ruleset(setting("r", "x", True, 1, NEVER))
    stored = {"x": StoredFlag(True, "r")}
    assert evaluate(sticky, context(), stored, now=NOW).changes == []

    clearing = ruleset(setting("r", "x", True, 1, NEVER, otherwise=[{"type": "clear_flag", "flag": "x"}]))
    [change] = evaluate(clearing, context(), stored, now=NOW).changes
    assert (change.value, change.reason, change.previous) == (None, "cleared", True)


def test_setting_the_value_a_flag_already_has_changes_nothing():
    rules = ruleset(setting("r", "x", True, 1))
    stored = {"x": StoredFlag(True, "someone_else")}
    outcome = evaluate(rules, context(), stored, now=NOW)
    assert outcome.changes == [] and outcome.fired == [] and outcome.emits == []


def test_rules_reading_flags_settle_in_one_evaluation():
    # "b" (high priority) reads the flag "a" decides; one evaluation must reach what two would.
    rules = ruleset(
        setting("a", "first", True, 1),
        setting("b", "second", True, 100, {"type": "flag", "flag": "first"}),
    )
    outcome = evaluate(rules, context(), {}, now=NOW)
    assert {c.flag for c in outcome.changes} == {"first", "second"}
    assert outcome.passes == 3 and outcome.converged  # the third pass confirms nothing moves
    stored = {c.flag: StoredFlag(c.value, c.set_by_rule) for c in outcome.changes}
    assert evaluate(rules, context(), stored, now=NOW).changes == []


def test_a_cycle_of_flags_stops_after_the_pass_limit():
    rules = ruleset(
        setting(
            "flip",
            "x",
            True,
            1,
            {"type": "flag", "flag": "x", "value": False},
            otherwise=[{"type": "set_flag", "flag": "x", "value": False}],
        ),
    )
    outcome = evaluate(rules, context(), {}, now=NOW)
    assert outcome.converged is False


def test_expired_flags_count_as_absent_and_are_removed():
    rules = ruleset(setting("r", "other", True, 1, {"type": "flag", "flag": "x", "value": False}))
    stored = {"x": StoredFlag(True, "r0", expires_at=NOW - timedelta(seconds=1))}
    outcome = evaluate(rules, context(), stored, now=NOW)
    assert {(c.flag, c.value, c.reason) for c in outcome.changes} == {
        ("x", None, "expired"),
        ("other", True, "rule"),
    }


def test_a_flag_set_with_an_expiry_is_not_extended_while_live():
    rules = ruleset(
        definition(
            rule_id="r",
            flag="x",
            conditions=[ALWAYS],
            actions=[{"type": "set_flag", "flag": "x", "expires_in": "7 days"}],
        )
    )
    [change] = evaluate(rules, context(), {}, now=NOW).changes
    assert change.expires_at == NOW + timedelta(days=7)
    stored = {"x": StoredFlag(True, "r", change.expires_at)}
    later = NOW + timedelta(days=3)
    assert evaluate(rules, context(), stored, now=later).changes == []
    assert evaluate(rules, context(), stored, now=later).next_check_at == change.expires_at


def test_events_and_milestones_come_only_with_a_change():
    rules = ruleset(
        definition(
            rule_id="r",
            flag="x",
            conditions=[ALWAYS],
            actions=[
                {"type": "set_flag", "flag": "x"},
                {"type": "emit_event", "event": "custom.thing", "payload": {"a": 1}},
                {
                    "type": "emit_event",
                    "event": "orchestration.milestone.reached",
                    "payload": {"milestone": "m", "tier": "gold"},
                },
            ],
        )
    )
    first = evaluate(rules, context(), {}, now=NOW)
    assert [(e.event, e.payload) for _, e in first.emits] == [("custom.thing", {"a": 1})]
    assert [(name, meta) for _, name, meta in first.milestones] == [("m", {"tier": "gold"})]
    again = evaluate(rules, context(), {"x": StoredFlag(True, "r")}, now=NOW)
    assert again.emits == [] and again.milestones == []


def test_next_check_is_when_the_earliest_time_window_closes():
    rules = ruleset(
        setting("r", "x", True, 1, {"type": "time_since", "entity": "buddy_events", "duration": "14 days"}),
        setting(
            "s", "y", True, 1, {"type": "time_since", "entity": "kintell_sessions", "duration": "2 days"}
        ),
    )
    ctx = context(buddy_events=[(3, {})], kintell_sessions=[(5, {})])
    # The 2-day window closed already (and was evaluated now); the 14-day one closes in 11 days.
    assert evaluate(rules, ctx, {}, now=NOW).next_check_at == NOW + timedelta(days=11)


# ----------------------------------------------------------------------------------------------
# What a context memoises
# ----------------------------------------------------------------------------------------------
def test_a_context_evaluated_again_decides_as_a_fresh_copy_does_at_any_clock():
    """Counts, aggregates and reference times are memoised on the context; the clock is not."""
    rules = ruleset(
        setting(
            "languages",
            "polyglot",
            True,
            1,
            {
                "type": "count",
                "entity": "kintell_sessions",
                "field": "session_type",
                "value": "language",
                "count": ">=",
                "count_value": 3,
            },
        ),
        setting(
            "rated",
            "well_rated",
            True,
            2,
            {
                "type": "value",
                "entity": "kintell_sessions",
                "field": "avg_rating",
                "operator": ">=",
                "value": 4.5,
            },
        ),
        setting(
            "best",
            "top_rated",
            True,
            3,
            {
                "type": "value",
                "entity": "kintell_sessions",
                "field": "max_rating",
                "operator": "=",
                "value": 5,
            },
        ),
        setting(
            "quiet",
            "quiet",
            True,
            4,
            {
                "type": "time_since",
                "entity": "kintell_sessions",
                "field": "last_activity",
                "duration": "10 days",
            },
        ),
        setting(
            "other",
            "not_mentoring",
            True,
            5,
            {
                "type": "count",
                "entity": "kintell_sessions",
                "field": "session_type",
                "operator": "!=",
                "value": "mentoring",
                "count": "=",
                "count_value": 3,
            },
        ),
    )

    def fresh_copy() -> ParticipantContext:
        return ParticipantContext(1, "ada", {}, [], {n: list(r) for n, r in SESSIONS.entities.items()})

    def decided(ctx: ParticipantContext, now: datetime) -> list[tuple[str, bool | None]]:
        return [(c.flag, c.value) for c in evaluate(rules, ctx, {}, now=now).changes]

    warm = fresh_copy()
    today = decided(warm, NOW)
    assert today == decided(warm, NOW) == decided(fresh_copy(), NOW)
    assert today == [("not_mentoring", True), ("polyglot", True), ("top_rated", True)]
    later = NOW + timedelta(days=30)
    assert decided(warm, later) == decided(fresh_copy(), later) == sorted([*today, ("quiet", True)])


# ----------------------------------------------------------------------------------------------
# event_type: a field of the record itself
# ----------------------------------------------------------------------------------------------
SESSION_EVENTS = ParticipantContext(
    participant_id=1,
    user_id="ada",
    entities={
        "kintell_sessions": [
            Record(NOW - timedelta(days=1), {"rating": 5}, "kintell.session.cancelled"),
            Record(NOW - timedelta(days=2), {"rating": 4}, "kintell.session.completed"),
            Record(NOW - timedelta(days=3), {"event_type": "spoofed"}, "kintell.session.completed"),
            Record(NOW - timedelta(days=4), {"rating": 3}, None),  # projected before types were kept
        ]
    },
)


@pytest.mark.parametrize(
    ("operator", "value", "count"),
    [
        ("=", "kintell.session.completed", 2),
        ("!=", "kintell.session.completed", 1),  # a record without a type matches no comparison
        ("in", ["kintell.session.completed", "kintell.session.cancelled"], 3),
        ("contains", "cancel", 1),
    ],
)
def test_count_filters_on_the_type_of_the_event_behind_each_record(operator, value, count):
    spec = {
        "type": "count",
        "entity": "kintell_sessions",
        "field": "event_type",
        "operator": operator,
        "value": value,
        "count": "=",
        "count_value": count,
    }
    assert holds(spec, SESSION_EVENTS)


def test_event_type_is_the_records_own_and_shadows_a_payload_key_of_that_name():
    spoofed = {
        "type": "exists",
        "entity": "kintell_sessions",
        "field": "event_type",
        "value": "spoofed",
    }
    assert not holds(spoofed, SESSION_EVENTS)
    newest = {
        "type": "value",
        "entity": "kintell_sessions",
        "field": "event_type",
        "operator": "=",
        "value": "kintell.session.cancelled",
    }
    assert holds(newest, SESSION_EVENTS)
    present = {
        "type": "count",
        "entity": "kintell_sessions",
        "field": "event_type",
        "count": "=",
        "count_value": 3,
    }
    assert holds(present, SESSION_EVENTS)
    below = {"type": "exists", "entity": "kintell_sessions", "field": "event_type.name"}
    assert not holds(below, SESSION_EVENTS)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "count", "entity": "kintell_sessions", "count": "gte", "count_value": 4}, True),
        ({"type": "count", "entity": "kintell_sessions", "count": "lt", "count_value": 4}, False),
        (
            {
                "type": "count",
                "entity": "kintell_sessions",
                "field": "session_type",
                "operator": "eq",
                "value": "language",
                "count": "eq",
                "count_value": 3,
            },
            True,
        ),
        (
            {
                "type": "value",
                "entity": "kintell_sessions",
                "field": "avg_rating",
                "operator": "gt",
                "value": 3,
            },
            True,
        ),
        (
            {"type": "value", "entity": "kintell_sessions", "field": "rating", "operator": "ne", "value": 5},
            False,
        ),
        ({"type": "time_since", "entity": "kintell_sessions", "duration": "2 days", "operator": "lte"}, True),
        (
            {"type": "time_since", "entity": "kintell_sessions", "duration": "2 days", "operator": "gte"},
            False,
        ),
        ({"type": "attribute", "field": "country", "operator": "eq", "value": "FI"}, True),
    ],
)
def test_operators_may_be_spelled_as_journeys_spell_them(spec, expected):
    ctx = context(attributes={"country": "FI"}, kintell_sessions=[(1, {"rating": 5}), (3, {"rating": 4})])
    ctx.entities.update(SESSIONS.entities)
    assert holds(spec, ctx) is expected


def test_durations_may_add_up_their_parts():
    assert parse_duration("1 day 12 hours").total_seconds() == 1.5 * 86_400
