import pytest

from stages.dag import DagInvalid, dag_errors, layers, topological_order
from stages.services.pipelines import TemplateSpec, task_templates_errors
from tests.stages.factories import agent


def test_a_cycle_is_refused_and_spelled_out():
    errors = dag_errors([("a", ["c"]), ("b", ["a"]), ("c", ["b"])])
    assert errors == {"__all__": ["The dependencies form a cycle: a → c → b → a."]}


def test_unknown_and_self_dependencies_are_named_per_task():
    errors = dag_errors([("a", ["a"]), ("b", ["ghost"]), ("b", [])])
    assert errors["a"] == ["Task 'a' cannot depend on itself."]
    assert "Task 'b' depends on an unknown task 'ghost'." in errors["b"]
    assert "The key 'b' is used by more than one task." in errors["b"]


def test_depends_on_must_be_a_list_of_keys():
    assert dag_errors([("a", "b"), ("b", [])]) == {"a": ["depends_on must be a list of task keys."]}


def test_layers_group_tasks_that_may_run_in_parallel():
    nodes = [("deploy", ["build", "dataset"]), ("build", []), ("dataset", []), ("smoke", ["deploy"])]
    assert layers(nodes) == [["build", "dataset"], ["deploy"], ["smoke"]]
    assert topological_order(nodes) == ["build", "dataset", "deploy", "smoke"]


def test_a_long_chain_does_not_hit_the_recursion_limit():
    nodes = [(f"t{i}", [f"t{i - 1}"] if i else []) for i in range(3000)]
    assert topological_order(nodes)[-1] == "t2999"


def test_ordering_an_invalid_graph_raises():
    with pytest.raises(DagInvalid) as invalid:
        topological_order([("a", ["b"]), ("b", ["a"])])
    assert "cycle" in str(invalid.value)


@pytest.mark.django_db
def test_templates_are_checked_for_intent_agent_params_and_graph_per_purpose():
    agent("dataops-agent")
    specs = [
        TemplateSpec(key="provision", intent="provision_test_dataset", agent_id="dataops-agent", params={}),
        TemplateSpec(key="sync", intent="install_connectors", agent_id="nobody"),
        TemplateSpec(key="deploy", intent="teleport", depends_on=["provision"]),
        TemplateSpec(key="call", intent="agent_call"),
        TemplateSpec(key="undo", intent="manual", depends_on=["provision"], purpose="rollback"),
    ]
    errors = task_templates_errors(specs)
    assert errors["provision"] == [
        "params.dataset: The provision_test_dataset intent needs a non-empty 'dataset'."
    ]
    assert errors["sync"] == ["Unknown agent 'nobody'; add it under Agents first."]
    assert errors["deploy"][0].startswith("Unknown intent 'teleport'")
    assert errors["call"] == ["The agent_call intent needs an agent_id."]
    # Setup and rollback tasks are separate graphs: the rollback task cannot depend on a setup one.
    assert errors["undo"] == ["Task 'undo' depends on an unknown task 'provision'."]
