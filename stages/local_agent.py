"""The built-in local agent: what the default pipeline's agents are on a fresh install.

It answers the intents' documented contracts in-process, against this project, so a first staged
journey runs out of the box instead of failing because agents have no URL. It performs nothing
outside the project: it never fabricates evidence (search quality, security approvals stay for
people or real agents to record), and says so in every answer (``performed_by``).

* ``provision_test_dataset``: answers ``dataset_id`` (``<client_id>:<dataset>``) and ``rows``;
* ``teardown_dataset``: answers ``removed`` (the dataset name; idempotent);
* every other intent: answers ``done: true`` with the intent and stage.
"""

from typing import Any

from journeys.services.directory import builtin_handlers

PERFORMED_BY = "built-in local agent"
DEFAULT_ROWS = 100  # rows of a provisioned test dataset when params do not say


def local_agent(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    intent = body.get("intent", operation)
    params = body.get("params") or {}
    answer: dict[str, Any] = {"performed_by": PERFORMED_BY, "intent": intent, "stage": body.get("stage")}
    if intent == "provision_test_dataset":
        answer["dataset_id"] = f"{body.get('client_id')}:{params.get('dataset')}"
        answer["rows"] = params.get("rows") or DEFAULT_ROWS
    elif intent == "teardown_dataset":
        answer["removed"] = params.get("dataset")
    else:
        answer["done"] = True
    if intent in {"run_search_evaluation", "run_security_scan"}:
        answer["note"] = "No evaluation was run; record the criterion's evidence through the API or admin."
    return answer


def register_local_agent() -> None:
    builtin_handlers.register("local-agent", local_agent, replace=True)
