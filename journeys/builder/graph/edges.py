"""The edges of a journey's step graph, labelled, as the runner would follow them."""

from dataclasses import dataclass
from typing import Any

from journeys.builder.describe import describe_condition
from journeys.engine.definition import Definition, step_as_dict


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    title: str = ""
    kind: str = "next"  # next | default | variant | timeout | jump | implicit (next by order)


def definition_from_steps(steps: list[Any]) -> Definition:
    """A ``Definition`` of draft steps (Step rows or dicts), in the order the engine uses."""
    ordered = sorted((step_as_dict(s) for s in steps), key=lambda s: s["order"])
    return Definition({"steps": ordered})


def graph_edges(definition: Definition) -> list[Edge]:
    """Every edge of the graph, labelled, as the runner would follow them."""
    edges: list[Edge] = []
    for key in definition.order:
        step = definition.steps[key]
        if step.kind == "end":
            continue
        config = step.config if isinstance(step.config, dict) else {}
        if step.kind == "split":
            variants = [v for v in config.get("variants") or [] if isinstance(v, dict)]
            total = sum(v.get("weight", 1) for v in variants if isinstance(v.get("weight", 1), int | float))
            for variant in variants:
                weight = variant.get("weight", 1)
                share = f" {weight / total:.0%}" if total and isinstance(weight, int | float) else ""
                edges.append(
                    Edge(key, str(variant.get("step")), f"{variant.get('name')}{share}", kind="variant")
                )
        entries = [e for e in step.next_steps if isinstance(e, dict)]
        for entry in entries:
            condition = describe_condition(entry.get("condition"))
            if condition:
                label, kind = f"if {condition}", "next"
            elif step.kind == "branch" or len(entries) > 1:
                label, kind = "otherwise", "default"
            else:
                label, kind = "", "next"
            if step.kind == "wait_for_event" and not condition:
                label = f"on {config.get('event', 'event')}"
            edges.append(Edge(key, str(entry.get("step")), label, title=condition, kind=kind))
        if step.kind == "wait_for_event" and config.get("timeout_step"):
            edges.append(
                Edge(key, str(config["timeout_step"]), f"timeout {config.get('timeout', '')}", kind="timeout")
            )
        if step.kind == "action" and step.action_type == "schedule_next" and config.get("step"):
            delay = config.get("delay") or (
                f"{config['delay_minutes']} min" if config.get("delay_minutes") else ""
            )
            edges.append(Edge(key, str(config["step"]), f"jump {delay}".strip(), kind="jump"))
        if not entries and step.kind != "split" and step.default_next and not step.completion:
            # Not written down anywhere: the next step by order. Drawn dashed and said in words,
            # so that nobody mistakes it for a path they chose.
            label = f"on {config.get('event', 'event')}" if step.kind == "wait_for_event" else "next by order"
            edges.append(Edge(key, step.default_next, label, kind="implicit"))
    return edges
