"""Two designers editing one stage's task graph at the same moment: each edit alone keeps it a
DAG, both together would close a cycle. Edits of one pipeline are checked one after the other, so
exactly one of them is saved, round after round."""

import threading

import pytest
from django.db import connection

from journeys.errors import ValidationFailed
from stages.models import TaskTemplate
from stages.services.pipeline_edits import task_template_update
from tests.stages.factories import criteria_pipeline, task

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 8


def race(edits: list[tuple[str, list[str]]]) -> list[str]:
    """Apply each (key, depends_on) edit from its own thread and connection, released together."""
    gate = threading.Barrier(len(edits))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def edit(key: str, depends_on: list[str]) -> None:
        try:
            template = TaskTemplate.objects.get(key=key)
            gate.wait()
            try:
                task_template_update(template=template, data={"depends_on": depends_on})
                outcomes.append("saved")
            except ValidationFailed as refused:
                outcomes.append(" ".join(refused.errors["depends_on"]))
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=pair) for pair in edits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return sorted(outcomes)


def test_two_edits_that_together_close_a_cycle_are_never_both_saved():
    criteria_pipeline(tasks={"sandbox": {"setup": [task("a", intent="manual"), task("b", intent="manual")]}})
    for _ in range(ROUNDS):
        TaskTemplate.objects.update(depends_on=[])
        outcomes = race([("a", ["b"]), ("b", ["a"])])
        assert outcomes[1] == "saved" and "cycle" in outcomes[0], outcomes
        graph = dict(TaskTemplate.objects.values_list("key", "depends_on"))
        assert graph in ({"a": ["b"], "b": []}, {"a": [], "b": ["a"]})
