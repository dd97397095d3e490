"""Each intent's agent contract is documented where an agent's author looks: the README's table
and the OpenAPI schema's callbacks, both agreeing with the intents registry."""

import re
from functools import cache
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from stages.intents import AgentCall, intents

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<intent>\w+)` \| (?P<params>.*?) \| (?P<reply>.*?) \|$")
DOCUMENTED_OPERATIONS = ("stages_pipelines_create", "stages_pipeline_tasks_create")


def agent_intents() -> dict[str, AgentCall]:
    return {name: intent for name, intent in intents.items() if isinstance(intent, AgentCall)}


@cache
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operation(operation_id: str) -> dict:
    for item in schema()["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return op
    raise AssertionError(f"no operation {operation_id}")


def component(ref: str) -> dict:
    return schema()["components"]["schemas"][ref.rsplit("/", 1)[1]]


def readme_contracts() -> dict[str, tuple[str, str]]:
    section = README.read_text().split("#### What an agent receives and must answer", 1)[1]
    section = section.split("\n#", 1)[0]
    return {m["intent"]: (m["params"], m["reply"]) for line in section.splitlines() if (m := ROW.match(line))}


def test_the_readme_table_names_every_agent_intent_with_its_required_params_and_reply():
    documented = readme_contracts()
    assert set(documented) == set(agent_intents())
    for name, intent in agent_intents().items():
        params, reply = documented[name]
        for param in intent.required_params:
            assert f"`{param}` (required)" in params, name
        assert reply == (", ".join(f"`{f}`" for f in intent.required_result) or "—"), name


@pytest.mark.parametrize("operation_id", DOCUMENTED_OPERATIONS)
def test_the_schema_documents_each_intent_call_and_the_reply_it_owes(operation_id):
    callbacks = operation(operation_id)["callbacks"]
    assert set(callbacks) == set(agent_intents())
    for name, intent in agent_intents().items():
        [call] = callbacks[name].values()
        body = component(call["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert {"intent", "task_id", "params", "attempt", "dependencies"} <= set(body["properties"])
        params = component(body["properties"]["params"]["$ref"])
        assert set(intent.required_params) <= set(params.get("properties", {})), name
        responses = call["post"]["responses"]
        assert {"200", "202"} <= set(responses)
        reply = component(responses["200"]["content"]["application/json"]["schema"]["$ref"])
        assert reply["additionalProperties"] is True
        assert sorted(reply.get("required", [])) == sorted(intent.required_result), name


def test_the_dataset_contract_requires_a_dataset_id_in_the_reply():
    callbacks = operation("stages_pipeline_tasks_create")["callbacks"]
    [call] = callbacks["provision_test_dataset"].values()
    reply = component(call["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert reply["required"] == ["dataset_id"]
