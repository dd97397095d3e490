"""The one condition language: eight operators, exists, all/any/not, dot paths, traces."""

import pytest

from journeys.engine.conditions import EvaluationContext, compile_condition, condition_errors, evaluate
from journeys.engine.timing import parse_duration
from journeys.errors import ValidationFailed
from journeys.registries import condition_types

CTX = EvaluationContext(
    payload={
        "plan": "premium",
        "amount": 42,
        "items": ["a", "b"],
        "nested": {"level": 3},
        "note": "hello world",
    },
    attributes={"country": "NO", "age": "30"},
    tags=["beta", "vip"],
    steps={"quiz": {"score": 8}},
    variant="B",
    user_id="u-1",
)


@pytest.mark.parametrize(
    ("op", "field", "value", "expected"),
    [
        ("eq", "payload.plan", "premium", True),
        ("eq", "payload.plan", "free", False),
        ("ne", "payload.plan", "free", True),
        ("ne", "payload.plan", "premium", False),
        ("gt", "payload.amount", 41, True),
        ("gt", "payload.amount", 42, False),
        ("gte", "payload.amount", 42, True),
        ("gte", "payload.amount", 43, False),
        ("lt", "payload.amount", 43, True),
        ("lt", "payload.amount", 42, False),
        ("lte", "payload.amount", 42, True),
        ("lte", "payload.amount", 41, False),
        ("in", "payload.plan", ["premium", "pro"], True),
        ("in", "payload.plan", ["free"], False),
        ("contains", "payload.items", "a", True),
        ("contains", "payload.items", "z", False),
        ("contains", "payload.note", "world", True),
        ("contains", "tags", "vip", True),
        ("exists", "payload.nested.level", True, True),
        ("exists", "payload.nope", True, False),
        ("exists", "payload.nope", False, True),
    ],
)
def test_each_operator_compares_the_actual_value(op, field, value, expected):
    ok, trace = evaluate({"field": field, "op": op, "value": value}, CTX)
    assert ok is expected
    assert trace["op"] == op and trace["result"] is expected


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains"])
def test_a_missing_field_is_false_for_every_comparison(op):
    value = ["x"] if op == "in" else "x"
    ok, trace = evaluate({"field": "payload.absent.deeper", "op": op, "value": value}, CTX)
    assert ok is False
    assert trace["missing"] is True and trace["actual"] is None


def test_numbers_sent_as_text_compare_as_numbers():
    assert evaluate({"field": "attributes.age", "op": "gte", "value": 18}, CTX)[0] is True
    assert evaluate({"field": "attributes.age", "op": "eq", "value": 30}, CTX)[0] is True


def test_mismatched_types_are_false_not_an_error():
    assert evaluate({"field": "payload.plan", "op": "gt", "value": 3}, CTX)[0] is False


def test_paths_reach_attributes_tags_step_results_variant_and_default_to_the_payload():
    assert evaluate({"field": "steps.quiz.score", "op": "gte", "value": 8}, CTX)[0]
    assert evaluate({"field": "attributes.country", "op": "eq", "value": "NO"}, CTX)[0]
    assert evaluate({"field": "variant", "op": "eq", "value": "B"}, CTX)[0]
    assert evaluate({"field": "plan", "op": "eq", "value": "premium"}, CTX)[0]  # the 003 form
    assert evaluate({"field": "items.1", "operator": "eq", "value": "b"}, CTX)[0]


def test_all_any_not_combine_and_the_trace_shows_every_actual_value():
    spec = {
        "all": [
            {"field": "payload.plan", "op": "eq", "value": "premium"},
            {
                "any": [
                    {"field": "attributes.country", "op": "eq", "value": "SE"},
                    {"field": "tags", "op": "contains", "value": "vip"},
                ]
            },
            {"not": {"field": "payload.amount", "op": "lt", "value": 10}},
        ]
    }
    ok, trace = evaluate(spec, CTX)
    assert ok is True
    assert trace["op"] == "all"
    country = trace["conditions"][1]["conditions"][0]
    assert country == {
        "field": "attributes.country",
        "op": "eq",
        "value": "SE",
        "actual": "NO",
        "result": False,
    }
    assert trace["conditions"][2]["condition"]["actual"] == 42


def test_the_shorthand_means_every_field_equals_its_value():
    assert evaluate({"plan": "premium", "attributes.country": "NO"}, CTX)[0] is True
    assert evaluate({"plan": "premium", "attributes.country": "SE"}, CTX)[0] is False


def test_no_condition_holds():
    assert evaluate(None, CTX) == (True, None)
    assert evaluate({}, CTX) == (True, None)


def test_bad_conditions_are_refused_with_field_level_paths():
    errors = condition_errors({"all": [{"field": "plan", "op": "like", "value": 1}, {"op": "eq"}, "x"]})
    assert "condition.all.0.op" in errors
    assert "condition.all.1" in errors
    assert "condition.all.2" in errors
    assert "condition.value" not in errors
    with pytest.raises(ValidationFailed) as refused:
        compile_condition({"field": "plan", "op": "in", "value": "notalist"}, path="trigger_conditions")
    assert "trigger_conditions.value" in refused.value.errors


def test_a_condition_is_compiled_once():
    spec = {"field": "payload.plan", "op": "eq", "value": "premium"}
    assert compile_condition(spec) is compile_condition(dict(spec))


class FakeFlag:
    name = "test_flag"
    description = "a flag, for the test"

    def validate_spec(self, spec):
        return {} if isinstance(spec.get("flag"), str) else {"flag": ["required"]}

    def evaluate(self, spec, *, participant, context):
        value = context["attributes"].get(spec["flag"])
        return bool(value), value


@pytest.fixture
def fake_flag():
    condition_types.register("test_flag", FakeFlag())
    yield
    condition_types.unregister("test_flag")


def test_registered_condition_types_are_leaves_of_the_language(fake_flag):
    ok, trace = evaluate({"all": [{"type": "test_flag", "flag": "country"}]}, CTX)
    assert ok is True
    assert trace["conditions"][0] == {
        "type": "test_flag",
        "spec": {"flag": "country"},
        "actual": "NO",
        "result": True,
    }
    assert "condition.flag" in condition_errors({"type": "test_flag"})
    assert "condition.type" in condition_errors({"type": "no_such_type"})


def test_a_condition_compiled_before_its_type_was_registered_is_compiled_again():
    spec = {"type": "test_flag", "flag": "country"}
    with pytest.raises(ValidationFailed):
        compile_condition(spec)
    condition_types.register("test_flag", FakeFlag())
    try:
        assert evaluate(spec, CTX)[0] is True
    finally:
        condition_types.unregister("test_flag")
    with pytest.raises(ValidationFailed):
        compile_condition(spec)


@pytest.mark.parametrize(
    ("op", "field", "value", "expected"),
    [
        ("=", "payload.plan", "premium", True),
        ("==", "payload.plan", "free", False),
        ("!=", "payload.plan", "free", True),
        (">", "payload.amount", 41, True),
        (">=", "payload.amount", 43, False),
        ("<", "payload.amount", 43, True),
        ("<=", "attributes.age", 30, True),
    ],
)
def test_operators_may_be_spelled_as_rules_spell_them(op, field, value, expected):
    ok, trace = evaluate({"field": field, "op": op, "value": value}, CTX)
    assert ok is expected
    assert trace["op"] == op


def test_an_unknown_operator_is_answered_with_every_accepted_spelling():
    errors = condition_errors({"field": "plan", "op": "like", "value": 1})
    [message] = errors["condition.op"]
    for spelling in ("eq", "=", "gte", ">=", "!=", "in", "contains", "exists"):
        assert spelling in message


@pytest.mark.parametrize(
    ("text", "minutes"), [("1 day 6h", 1800), ("1.5 hours", 90), ("2 weeks", 20160), (15, 15)]
)
def test_delays_are_written_as_rules_write_durations(text, minutes):
    assert parse_duration(text).total_seconds() == minutes * 60
