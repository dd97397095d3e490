"""Pipelines as staff define them: validation of criteria and task templates, and the default
pipeline that ``manage.py bootstrap`` loads."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from journeys.errors import ValidationFailed
from stages.dag import dag_errors
from stages.intents import intents
from stages.models import Agent, ExitCriterion, Pipeline, PipelineStage, TaskTemplate


@dataclass(frozen=True)
class TemplateSpec:
    """A task template as written (admin form, bootstrap data), before it is saved."""

    key: str
    intent: str
    depends_on: Sequence[str] = ()
    agent_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    purpose: str = TaskTemplate.Purpose.SETUP


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a task template: its key, the field at fault and what to do."""

    key: str  # the template's key, or ``__all__`` for a cycle
    field: str  # intent, agent_id, params.<name>, depends_on
    message: str


def task_template_problems(specs: Sequence[TemplateSpec]) -> list[Problem]:
    """Everything wrong with one stage's templates: unknown intents, bad params, missing agents,
    and per purpose a graph that is not a DAG."""
    problems: list[Problem] = []
    known_agents = set(Agent.objects.values_list("key", flat=True))
    for spec in specs:
        intent = intents.get(spec.intent)
        if intent is None:
            message = f"Unknown intent {spec.intent!r}; known: {', '.join(intents)}."
            problems.append(Problem(spec.key, "intent", message))
            continue
        for name, messages in intent.validate_params(spec.params).items():
            problems.extend(Problem(spec.key, name, f"{name}: {m}") for m in messages)
        if intent.needs_agent and not spec.agent_id:
            problems.append(Problem(spec.key, "agent_id", f"The {spec.intent} intent needs an agent_id."))
        elif intent.needs_agent and spec.agent_id not in known_agents:
            message = f"Unknown agent {spec.agent_id!r}; add it under Agents first."
            problems.append(Problem(spec.key, "agent_id", message))
    for purpose in {s.purpose for s in specs}:
        graph = [(s.key, list(s.depends_on)) for s in specs if s.purpose == purpose]
        for key, messages in dag_errors(graph).items():
            problems.extend(
                Problem(key, "key" if "more than one" in m else "depends_on", m) for m in messages
            )
    return problems


def task_templates_errors(specs: Sequence[TemplateSpec]) -> dict[str, list[str]]:
    """The problems keyed by task key (``__all__`` for cycles), as the admin shows them."""
    errors: dict[str, list[str]] = {}
    for problem in task_template_problems(specs):
        errors.setdefault(problem.key, []).append(problem.message)
    return errors


def criterion_errors(
    *, kind: str, operator: str, threshold: float | None, event_type: str, payload_filter: Any
) -> dict[str, list[str]]:
    """Field errors of one exit criterion for its kind."""
    errors: dict[str, list[str]] = {}
    if kind == ExitCriterion.Kind.METRIC:
        if not operator:
            errors["operator"] = ["A metric criterion needs an operator."]
        if threshold is None:
            errors["threshold"] = ["A metric criterion needs a threshold."]
    elif kind == ExitCriterion.Kind.NO_EVENTS:
        if not event_type:
            errors["event_type"] = ["Name the event type (or glob) that must not occur."]
        if not isinstance(payload_filter, dict):
            errors["payload_filter"] = ['A JSON object such as {"severity": ["P0", "P1"]}.']
    return errors


# --------------------------------------------------------------------------------------------
# The default pipeline (seed §8.2)
# --------------------------------------------------------------------------------------------
# The default pipeline's agents start as the built-in local agent (``stages.local_agent``), so a
# first staged journey runs out of the box; staff point each at a real endpoint (kind http).
_LOCAL = {"kind": "built-in", "handler": "local-agent"}
DEFAULT_AGENTS: list[dict[str, str]] = [
    {"key": "connector-agent", "name": "Connector agent (built-in local)", **_LOCAL},
    {"key": "search-agent", "name": "Search agent (built-in local)", **_LOCAL},
    {"key": "security-agent", "name": "Security agent (built-in local)", **_LOCAL},
    {"key": "dataops-agent", "name": "DataOps agent (built-in local)", **_LOCAL},
    {"key": "deploy-agent", "name": "Deployment agent (built-in local)", **_LOCAL},
]
for _agent in DEFAULT_AGENTS:
    _agent["description"] = (
        "Built-in local agent: performs the intents' documented contracts against this project. "
        "Set kind to http and an endpoint URL to use a real agent."
    )

DEFAULT_PIPELINE: dict[str, Any] = {
    "slug": "default",
    "name": "Sandbox → Pilot → Production",
    "description": "The standard client lifecycle with the exit criteria of DDD-002 §8.2.",
    "stages": {
        "sandbox": {
            "criteria": [
                {
                    "key": "connectors_syncing",
                    "label": "All connectors syncing",
                    "kind": "metric",
                    "operator": "gte",
                    "threshold": 1.0,
                },
                {
                    "key": "search_quality",
                    "label": "Search quality > 80%",
                    "kind": "metric",
                    "operator": "gt",
                    "threshold": 0.80,
                },
                {"key": "security_scan_passed", "label": "Security scan passed", "kind": "approval"},
                {"key": "demo_approved", "label": "Demo approved by client", "kind": "approval"},
            ],
            "setup": [
                {
                    "key": "provision_dataset",
                    "name": "Provision the test dataset",
                    "intent": "provision_test_dataset",
                    "agent_id": "dataops-agent",
                    "params": {"dataset": "sandbox-sample"},
                },
                {
                    "key": "install_connectors",
                    "name": "Install connectors",
                    "intent": "install_connectors",
                    "agent_id": "connector-agent",
                },
                {
                    "key": "configure_search",
                    "name": "Configure search",
                    "intent": "configure_search",
                    "agent_id": "search-agent",
                    "depends_on": ["provision_dataset", "install_connectors"],
                },
                {
                    "key": "security_scan",
                    "name": "Run the security scan",
                    "intent": "run_security_scan",
                    "agent_id": "security-agent",
                    "depends_on": ["configure_search"],
                },
                {
                    "key": "client_demo",
                    "name": "Demo to the client",
                    "intent": "manual",
                    "agent_id": "customer-success",
                    "depends_on": ["configure_search"],
                },
            ],
            "rollback": [],
        },
        "pilot": {
            "criteria": [
                {
                    "key": "search_quality",
                    "label": "Search quality > 85%",
                    "kind": "metric",
                    "operator": "gt",
                    "threshold": 0.85,
                },
                {
                    "key": "user_satisfaction",
                    "label": "User satisfaction > 4.0/5.0",
                    "kind": "metric",
                    "operator": "gt",
                    "threshold": 4.0,
                },
                {
                    "key": "no_critical_bugs",
                    "label": "No critical bugs in 7 days",
                    "kind": "no_events",
                    "event_type": "bug.reported",
                    "payload_filter": {"severity": ["critical"]},
                    "window_days": 7,
                },
                {"key": "performance_sla_met", "label": "Performance SLA met", "kind": "approval"},
            ],
            "setup": [
                {
                    "key": "deploy_pilot",
                    "name": "Deploy the pilot",
                    "intent": "deploy_pilot",
                    "agent_id": "deploy-agent",
                },
                {
                    "key": "enable_monitoring",
                    "name": "Enable monitoring",
                    "intent": "enable_monitoring",
                    "agent_id": "deploy-agent",
                    "depends_on": ["deploy_pilot"],
                },
                {
                    "key": "evaluate_search",
                    "name": "Evaluate search quality",
                    "intent": "run_search_evaluation",
                    "agent_id": "search-agent",
                    "depends_on": ["deploy_pilot"],
                },
            ],
            "rollback": [
                {
                    "key": "restore_sandbox",
                    "name": "Restore the sandbox configuration",
                    "intent": "restore_configuration",
                    "agent_id": "deploy-agent",
                    "params": {"to": "sandbox"},
                },
            ],
        },
        "production": {
            "criteria": [
                {
                    "key": "user_adoption",
                    "label": "User adoption > 70%",
                    "kind": "metric",
                    "operator": "gt",
                    "threshold": 0.70,
                },
                {
                    "key": "search_satisfaction",
                    "label": "Search satisfaction > 4.5/5.0",
                    "kind": "metric",
                    "operator": "gt",
                    "threshold": 4.5,
                },
                {
                    "key": "no_p0_p1_incidents",
                    "label": "No P0/P1 incidents",
                    "kind": "no_events",
                    "event_type": "incident.reported",
                    "payload_filter": {"severity": ["P0", "P1"]},
                    "triggers_rollback": True,
                },
            ],
            "setup": [
                {
                    "key": "deploy_production",
                    "name": "Deploy to production",
                    "intent": "deploy_production",
                    "agent_id": "deploy-agent",
                },
                {
                    "key": "teardown_test_dataset",
                    "name": "Remove the test dataset",
                    "intent": "teardown_dataset",
                    "agent_id": "dataops-agent",
                    "params": {"dataset": "sandbox-sample"},
                    "depends_on": ["deploy_production"],
                },
            ],
            "rollback": [
                {
                    "key": "restore_pilot",
                    "name": "Restore the pilot configuration",
                    "intent": "restore_configuration",
                    "agent_id": "deploy-agent",
                    "params": {"to": "pilot"},
                },
            ],
        },
    },
}


def template_specs(spec: dict[str, Any]) -> list[TemplateSpec]:
    """The setup and rollback templates of a stage definition, as specs to validate together."""
    return [
        TemplateSpec(
            key=t["key"],
            intent=t["intent"],
            depends_on=t.get("depends_on", []),
            agent_id=t.get("agent_id", ""),
            params=t.get("params", {}),
            purpose=purpose,
        )
        for purpose in (TaskTemplate.Purpose.SETUP, TaskTemplate.Purpose.ROLLBACK)
        for t in spec.get(purpose, [])
    ]


def stage_definition_errors(spec: dict[str, Any], *, prefix: str) -> dict[str, list[str]]:
    """Field errors of one stage's definition (criteria and templates), keyed by dotted path:
    ``{prefix}.criteria.<key>.<field>``, ``{prefix}.<purpose>.<key>.<field>``."""
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for criterion in spec.get("criteria", []):
        key = criterion["key"]
        if key in seen:
            errors.setdefault(f"{prefix}.criteria.{key}.key", []).append(f"The key {key!r} is used twice.")
        seen.add(key)
        found = criterion_errors(
            kind=criterion.get("kind", ExitCriterion.Kind.METRIC),
            operator=criterion.get("operator", ""),
            threshold=criterion.get("threshold"),
            event_type=criterion.get("event_type", ""),
            payload_filter=criterion.get("payload_filter", {}),
        )
        for field_name, messages in found.items():
            errors.setdefault(f"{prefix}.criteria.{key}.{field_name}", []).extend(messages)
    purposes = {t["key"]: purpose for purpose in TaskTemplate.Purpose.values for t in spec.get(purpose, [])}
    for problem in task_template_problems(template_specs(spec)):
        where = f"{prefix}.{purposes.get(problem.key, 'tasks')}.{problem.key}.{problem.field}"
        if problem.key == "__all__":
            where = f"{prefix}.tasks"
        errors.setdefault(where, []).append(problem.message)
    return errors


def stage_rows_create(*, pipeline: Pipeline, stage: str, spec: dict[str, Any]) -> PipelineStage:
    """Write a validated stage definition: the stage, its criteria and templates, in order."""
    pipeline_stage = PipelineStage.objects.create(
        pipeline=pipeline,
        stage=stage,
        auto_promote=spec.get("auto_promote", True),
        description=spec.get("description", ""),
    )
    for position, criterion in enumerate(spec.get("criteria", [])):
        ExitCriterion.objects.create(pipeline_stage=pipeline_stage, **{"position": position, **criterion})
    for purpose in (TaskTemplate.Purpose.SETUP, TaskTemplate.Purpose.ROLLBACK):
        for position, template in enumerate(spec.get(purpose, [])):
            TaskTemplate.objects.create(
                pipeline_stage=pipeline_stage,
                purpose=purpose,
                position=template.get("position", position),
                key=template["key"],
                name=template["name"],
                intent=template["intent"],
                agent_id=template.get("agent_id", ""),
                params=template.get("params", {}),
                depends_on=template.get("depends_on", []),
                max_retries=template.get("max_retries", 3),
                retry_backoff_seconds=template.get("retry_backoff_seconds", 5.0),
            )
    return pipeline_stage


@transaction.atomic
def pipeline_create(*, definition: dict[str, Any], is_default: bool = False) -> Pipeline:
    """Create a pipeline from a definition shaped like ``DEFAULT_PIPELINE``, validated as a whole
    first (``ValidationFailed`` with dotted field paths; nothing is written). Made the default,
    it takes over from the previous default."""
    errors: dict[str, list[str]] = {}
    if Pipeline.objects.filter(slug=definition["slug"]).exists():
        errors["slug"] = [f"A pipeline {definition['slug']!r} exists already."]
    for stage, spec in definition["stages"].items():
        errors.update(stage_definition_errors(spec, prefix=f"stages.{stage}"))
    if errors:
        raise ValidationFailed(errors)
    if is_default:
        Pipeline.objects.select_for_update().filter(is_default=True).update(is_default=False)
    pipeline = Pipeline.objects.create(
        slug=definition["slug"],
        name=definition["name"],
        description=definition.get("description", ""),
        is_default=is_default,
    )
    for stage, spec in definition["stages"].items():
        stage_rows_create(pipeline=pipeline, stage=stage, spec=spec)
    return pipeline


def pipeline_load_defaults() -> str:
    """Bootstrap: the default agents (the built-in local agent) and pipeline, unless they exist. Staff
    edits are never overwritten."""
    agents = 0
    for agent in DEFAULT_AGENTS:
        _, created = Agent.objects.get_or_create(key=agent["key"], defaults=agent)
        agents += created
    if Pipeline.objects.filter(slug=DEFAULT_PIPELINE["slug"]).exists():
        return f"{agents} agents created; default pipeline exists"
    has_default = Pipeline.objects.filter(is_default=True).exists()
    pipeline_create(definition=DEFAULT_PIPELINE, is_default=not has_default)
    return f"{agents} agents created; default pipeline created (its agents are the built-in local agent)"
