"""Every log line of a step run carries its step run, user journey and participant; every line
of a rule evaluation the participants evaluated (in the JSON log format)."""

import io
import json
import logging
import logging.config

import pytest
from django.conf import settings

from journeys.models import StepRun
from journeys.registries import ActionType, action_types
from tests.journeys.factories import action, make_journey
from tests.journeys.journey_helpers import dispatch, emit

__all__ = ["dispatch", "emit"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """The lines the project's JSON formatter writes for everything logged during the test."""
    spec = dict(settings.LOGGING["formatters"]["json"])
    factory = spec.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**spec))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    root.removeHandler(handler)
    root.setLevel(level)


class LoudFailure(ActionType):
    """An action that logs what it does, then fails."""

    name = "test_loud_failure"
    description = "logs and fails, for tests"
    channel = ""

    def __init__(self, transactional: bool) -> None:
        self.transactional = transactional
        self.concurrent = not transactional

    def validate_config(self, config):
        return {}

    def execute(self, action_context):
        logging.getLogger("tests.provider").info("calling the provider")
        raise RuntimeError("provider down")


@pytest.mark.parametrize("transactional", [True, False], ids=["in the worker", "on the dispatcher's threads"])
def test_a_step_runs_log_lines_name_the_run_the_journey_and_the_participant(
    transactional, json_lines, emit, dispatch
):
    loud = LoudFailure(transactional)
    action_types.register(loud.name, loud, replace=True)
    try:
        make_journey([action("call", loud.name, {})], trigger_type="signup")
        emit("signup", user_id="ada")
        dispatch()
    finally:
        action_types.unregister(loud.name)

    run = StepRun.objects.get(step_key="call")
    ours = [
        line
        for line in json_lines()
        if line["event"] in {"calling the provider"} or "failed" in line["event"]
    ]
    assert {line["event"] for line in ours} >= {"calling the provider"}
    assert any("failed" in line["event"] for line in ours)
    for line in ours:
        assert line["step_run_id"] == run.pk
        assert line["user_journey_id"] == run.user_journey_id
        assert line["participant"] == "ada"


def test_a_rule_evaluation_logs_its_time_with_the_participants(json_lines, emit):
    emit("kintell.session.completed", user_id="grace", payload={"rating": 5})

    evaluations = [line for line in json_lines() if line["event"].startswith("rules evaluated")]
    assert evaluations, "no evaluation line"
    assert evaluations[-1]["participants"] == ["grace"]
    assert " ms" in evaluations[-1]["event"]
