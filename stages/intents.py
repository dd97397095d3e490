"""Task intents: what a task of a unit of work does, looked up by name in a registry.

Built in:

* **HTTP intents** (``AGENT_INTENTS`` and ``agent_call``): the task's agent is a service of the
  directory (``journeys.Service``, named by ``agent_id``). An HTTP agent gets the task POSTed to
  its endpoint, signed per Standard Webhooks with its secret, through the SSRF guard; a built-in
  one (the local agent, ``stages.local_agent``) answers in-process. An agent that is missing,
  inactive or without an endpoint leaves the task waiting as ``needs_configuration`` until it is
  configured. The body::

      {"intent": "install_connectors", "task_id": "…", "task": "install", "work_id": "…",
       "client_id": "client-7",
       "stage": "sandbox", "purpose": "setup", "params": {...}, "attempt": 1,
       "dependencies": {"<key>": <result of that dependency>}}

  A 2xx answer with a JSON object succeeds the task with that object as its result; ``202
  Accepted`` means the agent works on it asynchronously and will report through
  ``POST /api/v1/stages/tasks/{task_id}/complete``. Any other answer, or a network error, fails
  the attempt (retried with backoff). The ``webhook-id`` / ``Idempotency-Key`` header is the
  same on every retry, so agents can drop duplicates.
* **provision_test_dataset** (DataOps contract, seed §4.1): params ``dataset`` (name of the
  dataset template, required) and ``rows`` (optional positive int); the agent must answer with a
  ``dataset_id``.
* **teardown_dataset** (DataOps contract): params ``dataset`` (required); the agent removes the
  client's dataset of that name (idempotently) and answers 2xx.
* **manual**: nothing runs; the task waits until someone completes it (API or admin).

Other apps may register more from their ``AppConfig.ready``: ``intents.register(name, intent)``.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from journeys.registries import FieldErrors, Registry
from journeys.services.directory import service_call
from journeys.webhooks import DeliveryFailed, TargetRefused

if TYPE_CHECKING:
    from journeys.models import Service
    from stages.models import Agent, WorkTask


class TaskFailedPermanently(Exception):
    """The task cannot succeed by trying again (bad configuration, contract violation)."""


class NeedsConfiguration(Exception):
    """The task's agent cannot be called yet (missing, inactive, or no endpoint): the task waits
    as ``needs_configuration`` and is queued again when the agent is configured."""


@dataclass
class IntentContext:
    task: "WorkTask"
    agent: "Agent | Service | None"
    client_id: str
    stage: str
    purpose: str
    work_id: str
    attempt: int
    dependencies: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IntentOutcome:
    """``waiting``: started, the outcome is reported later (manual tasks, asynchronous agents)."""

    result: dict[str, Any]
    waiting: bool = False


class Intent(Protocol):
    name: str
    description: str
    needs_agent: bool

    def validate_params(self, params: dict[str, Any]) -> FieldErrors: ...

    def execute(self, context: IntentContext) -> IntentOutcome: ...


intents: Registry[Intent] = Registry("intent")


@dataclass(frozen=True)
class AgentCall:
    """POST the task to its agent (see the module docstring for the contract)."""

    name: str
    description: str
    required_params: tuple[str, ...] = ()
    required_result: tuple[str, ...] = ()
    needs_agent: bool = True

    def validate_params(self, params: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        if not isinstance(params, dict):
            return {"params": ["Params must be a JSON object."]}
        for name in self.required_params:
            value = params.get(name)
            if not isinstance(value, str) or not value.strip():
                errors[f"params.{name}"] = [f"The {self.name} intent needs a non-empty {name!r}."]
        rows = params.get("rows")
        if (
            self.name == "provision_test_dataset"
            and rows is not None
            and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 1)
        ):
            errors["params.rows"] = ["rows must be a positive integer."]
        return errors

    def execute(self, context: IntentContext) -> IntentOutcome:
        agent = context.agent
        if agent is None:
            raise NeedsConfiguration(
                f"No agent {context.task.agent_id!r} in the service directory; add it, and the task runs."
            )
        if agent.needs_configuration:
            raise NeedsConfiguration(agent.configuration_problem)
        task = context.task
        body = {
            "intent": task.intent,
            "task_id": str(task.task_id),
            "task": task.key,
            "work_id": context.work_id,
            "client_id": context.client_id,
            "stage": context.stage,
            "purpose": context.purpose,
            "params": task.params,
            "attempt": context.attempt,
            "dependencies": context.dependencies,
        }
        try:
            answer = service_call(service=agent, body=body, message_id=task.idempotency_key)
        except TargetRefused as exc:
            raise TaskFailedPermanently(exc.message) from exc
        result = answer.body
        if answer.status_code == 202:
            return IntentOutcome(result=result, waiting=True)
        missing = [name for name in self.required_result if name not in result]
        if missing:
            raise DeliveryFailed(
                f"The agent's answer breaks the {self.name} contract: missing {', '.join(missing)}."
            )
        return IntentOutcome(result=result)


@dataclass(frozen=True)
class Manual:
    name: str = "manual"
    description: str = "A person does it and completes the task through the API or the admin."
    needs_agent: bool = False

    def validate_params(self, params: dict[str, Any]) -> FieldErrors:
        return {} if isinstance(params, dict) else {"params": ["Params must be a JSON object."]}

    def execute(self, context: IntentContext) -> IntentOutcome:
        return IntentOutcome(result={}, waiting=True)


# Intents the default pipeline's agents understand; each is a plain signed POST to the agent.
AGENT_INTENTS: dict[str, str] = {
    "agent_call": "Any request to the task's agent; the agent reads params to know what to do.",
    "install_connectors": "Install and start the client's data connectors.",
    "configure_search": "Index the client's data and configure search.",
    "run_search_evaluation": "Evaluate search quality; the agent reports search_quality.",
    "run_security_scan": "Scan the deployment; the agent reports the result as an approval.",
    "deploy_pilot": "Deploy the pilot environment for the client's pilot users.",
    "enable_monitoring": "Turn on monitoring and alerting for the client.",
    "deploy_production": "Deploy to production.",
    "restore_configuration": "Restore the configuration of the stage rolled back to.",
}


def register_builtin_intents() -> None:
    for name, description in AGENT_INTENTS.items():
        intents.register(name, AgentCall(name=name, description=description), replace=True)
    intents.register(
        "provision_test_dataset",
        AgentCall(
            name="provision_test_dataset",
            description="DataOps: provision a test dataset for the client (answers dataset_id).",
            required_params=("dataset",),
            required_result=("dataset_id",),
        ),
        replace=True,
    )
    intents.register(
        "teardown_dataset",
        AgentCall(
            name="teardown_dataset",
            description="DataOps: remove the client's dataset of that name (idempotent).",
            required_params=("dataset",),
        ),
        replace=True,
    )
    intents.register("manual", Manual(), replace=True)
