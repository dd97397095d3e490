"""A picture of a journey's step graph as server-side SVG (no JavaScript, nothing from a CDN).

Layout, in the manner of a layered (Sugiyama-style) drawing, top to bottom:

1. edges come from the engine's own reading of the definition (``Definition``): explicit
   ``next_steps`` with their conditions, split variants, a wait's timeout branch, a
   ``schedule_next`` jump, else the next step by order;
2. a depth-first walk from the entry step marks back edges (those closing a cycle); without
   them the graph is acyclic and each step's layer is its longest distance from the entry;
   steps the entry cannot reach get layers below the rest and a red outline;
3. within a layer, steps are ordered by the mean position of their predecessors (two sweeps),
   which removes most crossings of the small graphs journeys are;
4. forward edges are curves from the bottom of a step to the top of the next, labelled with
   their condition; back edges loop round the right-hand side.

Shapes tell kinds apart: action (rectangle), wait (pill), wait for an event (dashed pill),
manual milestone (double border), branch (diamond), split (hexagon), end (ellipse).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from journeys.builder.describe import describe_condition, describe_step, shorten
from journeys.engine.definition import Definition, step_as_dict

NODE_W = 210  # px
NODE_H = 62  # px
H_GAP = 56  # px between steps of one layer
V_GAP = 96  # px between layers (room for edge labels)
MARGIN = 24  # px
LANE_GAP = 16  # px between the lanes of back edges
LABEL_CHARS = 34  # an edge label longer than this is shortened (the full text is its tooltip)

KIND_FILL = {
    "action": "#e3f2fd",
    "wait": "#fff8e1",
    "wait_for_event": "#fff3e0",
    "manual": "#f3e5f5",
    "branch": "#ffe0b2",
    "split": "#e8f5e9",
    "end": "#eceff1",
}
STATUS_STROKE = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "skipped": "#9e9e9e",
    "cancelled": "#9e9e9e",
    "pending": "#1565c0",
    "scheduled": "#1565c0",
    "running": "#1565c0",
}


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


def _layers(
    definition: Definition, edges: list[Edge]
) -> tuple[dict[str, int], set[str], set[tuple[str, str]]]:
    """Each step's layer, the steps reachable from the entry, and the back edges."""
    nodes = list(definition.order)
    successors: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        if edge.target in definition.steps and edge.target not in successors[edge.source]:
            successors[edge.source].append(edge.target)

    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    postorder: list[str] = []

    def visit(root: str) -> None:
        stack = [(root, iter(successors[root]))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, iter(successors[child])))
                    break
            else:
                state[node] = 2
                postorder.append(node)
                stack.pop()

    if definition.entry in definition.steps:
        visit(definition.entry)
    reachable = set(state)
    for node in nodes:
        if node not in state:
            visit(node)

    layer = dict.fromkeys(nodes, 0)
    for node in reversed(postorder):  # a topological order of the graph without back edges
        for child in successors[node]:
            if (node, child) not in back:
                layer[child] = max(layer[child], layer[node] + 1)
    # Unreachable steps go below everything reachable, keeping their own relative layering.
    bottom = max((layer[n] for n in reachable), default=-1) + 1
    unreachable = [n for n in nodes if n not in reachable]
    if unreachable:
        top = min(layer[n] for n in unreachable)
        for node in unreachable:
            layer[node] = layer[node] - top + bottom
    return layer, reachable, back


def _order_layers(nodes: list[str], layer: dict[str, int], edges: list[Edge]) -> list[list[str]]:
    count = max(layer.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(count)]
    for node in nodes:  # in definition order: the first guess
        rows[layer[node]].append(node)
    predecessors: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        if edge.target in layer and layer.get(edge.source, -1) < layer[edge.target]:
            predecessors[edge.target].append(edge.source)
    for _ in range(2):
        position = {node: i for row in rows for i, node in enumerate(row)}
        for row in rows[1:]:
            before = {node: float(i) for i, node in enumerate(row)}
            row.sort(
                key=lambda node, before=before, position=position: (
                    sum(position[p] for p in predecessors[node]) / len(predecessors[node])
                    if predecessors[node]
                    else before[node]
                )
            )
            position.update({node: i for i, node in enumerate(row)})
    return rows


def _node_shape(kind: str, x: float, y: float, w: float, h: float, style: str) -> str:
    if kind == "branch":
        points = f"{x + w / 2},{y} {x + w},{y + h / 2} {x + w / 2},{y + h} {x},{y + h / 2}"
        return f'<polygon points="{points}" {style}/>'
    if kind == "split":
        d = 16
        points = (
            f"{x + d},{y} {x + w - d},{y} {x + w},{y + h / 2} "
            f"{x + w - d},{y + h} {x + d},{y + h} {x},{y + h / 2}"
        )
        return f'<polygon points="{points}" {style}/>'
    if kind == "end":
        return f'<ellipse cx="{x + w / 2}" cy="{y + h / 2}" rx="{w / 2}" ry="{h / 2}" {style}/>'
    if kind in {"wait", "wait_for_event"}:
        dash = ' stroke-dasharray="6 4"' if kind == "wait_for_event" else ""
        return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{h / 2}" {style}{dash}/>'
    if kind == "manual":
        return (
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="3" {style}/>'
            f'<rect x="{x + 4}" y="{y + 4}" width="{w - 8}" height="{h - 8}" rx="2" fill="none" '
            f'stroke="#7b1fa2" stroke-width="1"/>'
        )
    return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" {style}/>'


def _on_curve(a: tuple[float, float], b: tuple[float, float], t: float) -> tuple[float, float]:
    """The point at ``t`` of the curve drawn from ``a`` down to ``b`` (vertical tangents at both ends)."""
    (ax, ay), (bx, by) = a, b
    dy = max((by - ay) / 2, 30)
    u = 1 - t
    x = u**3 * ax + 3 * u**2 * t * ax + 3 * u * t**2 * bx + t**3 * bx
    y = u**3 * ay + 3 * u**2 * t * (ay + dy) + 3 * u * t**2 * (by - dy) + t**3 * by
    return x, y


def _label(x: float, y: float, text: str, title: str) -> str:
    if not text:
        return ""
    shown = shorten(text, LABEL_CHARS)
    width = 6.4 * len(shown) + 10
    return (
        f'<g class="edge-label"><title>{escape(title or text)}</title>'
        f'<rect x="{x - width / 2:.1f}" y="{y - 9:.1f}" width="{width:.1f}" height="16" rx="3" '
        f'fill="#ffffff" fill-opacity="0.92" stroke="#cfd8dc"/>'
        f'<text x="{x:.1f}" y="{y + 3:.1f}" text-anchor="middle" font-size="11" fill="#37474f">'
        f"{escape(shown)}</text></g>"
    )


def render_svg(definition: Definition, *, highlight: dict[str, str] | None = None) -> SafeString:
    """The SVG of ``definition``; ``highlight`` maps step keys to a run status to colour them."""
    if not definition.order:
        return mark_safe('<p class="journey-graph-empty">No steps yet.</p>')
    highlight = highlight or {}
    edges = graph_edges(definition)
    layer, reachable, _back_edges = _layers(definition, edges)
    rows = _order_layers(list(definition.order), layer, edges)

    widest = max(len(row) for row in rows)
    ghosts = sorted({e.target for e in edges if e.target not in definition.steps})
    content_w = widest * NODE_W + (widest - 1) * H_GAP
    # Edges going up (or across a layer) loop round a side: the side nearer their source.
    lanes = [e for e in edges if e.target in definition.steps and layer[e.target] <= layer[e.source]]
    column = {node: i for row in rows for i, node in enumerate(row)}
    left_lanes = [e for e in lanes if column[e.source] < len(rows[layer[e.source]]) / 2 - 0.01]
    right_lanes = [e for e in lanes if e not in left_lanes]
    left = MARGIN + H_GAP / 2 + LANE_GAP * len(left_lanes)
    width = left + content_w + H_GAP / 2 + LANE_GAP * (len(right_lanes) + 1) + MARGIN
    width += NODE_W + H_GAP if ghosts else 0
    height = MARGIN * 2 + len(rows) * NODE_H + (len(rows) - 1) * V_GAP
    pos: dict[str, tuple[float, float]] = {}
    for index, row in enumerate(rows):
        row_w = len(row) * NODE_W + (len(row) - 1) * H_GAP
        x0 = left + (content_w - row_w) / 2
        for i, node in enumerate(row):
            pos[node] = (x0 + i * (NODE_W + H_GAP), MARGIN + index * (NODE_H + V_GAP))
    ghost_x = width - MARGIN - NODE_W
    for i, ghost in enumerate(ghosts):
        pos[ghost] = (ghost_x, MARGIN + i * (NODE_H + 20))
        height = max(height, pos[ghost][1] + NODE_H + MARGIN)

    def free_x(row: list[str], wanted: float) -> float:
        """An x in ``row`` where an edge passes between steps: ``wanted`` if clear, else the nearest gap."""
        spans = [(pos[n][0] - 8, pos[n][0] + NODE_W + 8) for n in row]
        if not any(a <= wanted <= b for a, b in spans):
            return wanted
        gaps = [spans[0][0] - H_GAP / 2 + 8, spans[-1][1] + H_GAP / 2 - 8]
        gaps += [(spans[i][1] + spans[i + 1][0]) / 2 for i in range(len(spans) - 1)]
        return min(gaps, key=lambda x: abs(x - wanted))

    uid = uuid.uuid4().hex[:8]
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="journey-graph" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">',
        f"<title>Step graph ({len(definition.order)} steps)</title>",
        "<defs>"
        f'<marker id="arrow-{uid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#546e7a"/></marker>'
        "</defs>",
    ]

    # Edges first, so steps are drawn over them; labels last, over everything.
    outgoing: dict[str, list[Edge]] = defaultdict(list)
    for edge in edges:
        outgoing[edge.source].append(edge)
    labels: list[str] = []

    def route(source: str, edge: Edge) -> list[tuple[float, float]]:
        """The points after the start: gaps of the layers in between, then the target's top."""
        tx, ty = pos[edge.target]
        if edge.target not in definition.steps:  # a dangling target: to the ghost's left side
            return [(tx, ty + NODE_H / 2)]
        x1, x2 = pos[source][0] + NODE_W / 2, tx + NODE_W / 2
        points: list[tuple[float, float]] = []
        span = range(layer[source] + 1, layer[edge.target])
        for k, index in enumerate(span, start=1):
            wx = free_x(rows[index], x1 + (x2 - x1) * k / (len(span) + 1))
            row_y = MARGIN + index * (NODE_H + V_GAP)
            points += [(wx, row_y), (wx, row_y + NODE_H)]
        return [*points, (x2, ty)]

    for source in definition.order:
        routes = [(e, route(source, e)) for e in outgoing[source] if e not in lanes]
        routes.sort(key=lambda item: item[1][0][0])  # fan out left to right: fewer crossings
        for i, (edge, rest) in enumerate(routes):
            sx, sy = pos[source]
            x1 = sx + NODE_W * (i + 1) / (len(routes) + 1)
            y1 = sy + NODE_H
            points = [(x1, y1), *rest]
            d = f"M{x1:.1f},{y1:.1f}"
            for j in range(1, len(points)):
                (ax, ay), (bx, by) = points[j - 1], points[j]
                if j % 2 == 0 and j < len(points) - 1:  # through a layer: straight down its gap
                    d += f" L{bx:.1f},{by:.1f}"
                else:
                    dy = max((by - ay) / 2, 30)
                    d += f" C{ax:.1f},{ay + dy:.1f} {bx:.1f},{by - dy:.1f} {bx:.1f},{by:.1f}"
            dash = ' stroke-dasharray="5 4"' if edge.kind in {"timeout", "jump", "implicit"} else ""
            parts.append(
                f'<path class="edge edge-{edge.kind}" data-from="{escape(source)}" '
                f'data-to="{escape(edge.target)}" d="{d}" fill="none" stroke="#78909c" '
                f'stroke-width="1.5"{dash} marker-end="url(#arrow-{uid})"/>'
            )
            # Labels of one step's edges sit at staggered heights along their curves, so they
            # do not cover one another where the edges leave the step side by side.
            t = 0.5 if len(routes) == 1 else 0.3 + 0.4 * (i % 2)
            labels.append(_label(*_on_curve((x1, y1), points[1], t), edge.label, edge.title))
    left_x = left - H_GAP / 2
    right_x = left + content_w + H_GAP / 2
    for edge in lanes:
        sx, sy = pos[edge.source]
        tx, ty = pos[edge.target]
        if edge in left_lanes:
            x1, x2, lane = sx, tx, left_x
            left_x -= LANE_GAP
        else:
            x1, x2, lane = sx + NODE_W, tx + NODE_W, right_x
            right_x += LANE_GAP
        y1, y2 = sy + NODE_H / 2, ty + NODE_H / 2 - 8
        parts.append(
            f'<path class="edge edge-back" data-from="{escape(edge.source)}" data-to="{escape(edge.target)}" '
            f'd="M{x1:.1f},{y1:.1f} C{lane:.1f},{y1:.1f} {lane:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" '
            f'fill="none" stroke="#8d6e63" stroke-width="1.5" stroke-dasharray="2 3" '
            f'marker-end="url(#arrow-{uid})"/>'
        )
        labels.append(_label((x1 + lane) / 2, (y1 + y2) / 2, edge.label, edge.title))

    for key in definition.order:
        step = definition.steps[key]
        x, y = pos[key]
        status = highlight.get(key, "")
        stroke = STATUS_STROKE.get(status, "#c62828" if key not in reachable else "#546e7a")
        stroke_width = 3 if status or key not in reachable else 1.3
        dash = ' stroke-dasharray="4 3"' if status in {"skipped", "cancelled"} else ""
        opacity = ' opacity="0.55"' if highlight and not status else ""
        fill = KIND_FILL.get(step.kind, "#ffffff")
        style = f'fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"{dash}'
        notes = []
        if step.delay_minutes:
            notes.append(f"after {step.delay_minutes} min")
        if step.condition:
            notes.append(f"if {describe_condition(step.condition)}")
        if step.is_milestone:
            notes.append("★ milestone")
        if step.completion:
            notes.append("✓ completes")
        if key not in reachable:
            notes.insert(0, "unreachable")
        title_lines = [f"{step.name} [{key}]", describe_step(step), *notes]
        if status:
            title_lines.append(f"status: {status}")
        classes = f"step kind-{step.kind}" + (f" status-{status}" if status else "")
        if key not in reachable:
            classes += " unreachable"
        text_w = NODE_W - 44 if step.kind in {"branch", "split"} else NODE_W - 16
        chars = int(text_w / 6.6)
        parts.append(
            f'<g class="{classes}" data-step="{escape(key)}"{opacity}>'
            f"<title>{escape(chr(10).join(title_lines))}</title>"
            + _node_shape(step.kind, x, y, NODE_W, NODE_H, style)
            + f'<text x="{x + NODE_W / 2}" y="{y + 21}" text-anchor="middle" font-size="12.5" '
            f'font-weight="600" fill="#263238">{escape(shorten(step.name, chars))}</text>'
            f'<text x="{x + NODE_W / 2}" y="{y + 37}" text-anchor="middle" font-size="11" fill="#455a64">'
            f"{escape(shorten(describe_step(step), chars + 2))}</text>"
            + (
                f'<text x="{x + NODE_W / 2}" y="{y + 52}" text-anchor="middle" font-size="10" '
                f'fill="#6d4c41">{escape(shorten(" · ".join(notes), chars + 4))}</text>'
                if notes
                else ""
            )
            + "</g>"
        )
    for ghost in ghosts:
        x, y = pos[ghost]
        parts.append(
            f'<g class="step missing" data-step="{escape(ghost)}">'
            f"<title>No step with key {escape(ghost)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="#ffebee" '
            f'stroke="#c62828" stroke-dasharray="5 3"/>'
            f'<text x="{x + NODE_W / 2}" y="{y + 27}" text-anchor="middle" font-size="12" fill="#c62828">'
            f"missing: {escape(shorten(ghost, 22))}</text>"
            f'<text x="{x + NODE_W / 2}" y="{y + 44}" text-anchor="middle" font-size="10" fill="#c62828">'
            "no step has this key</text></g>"
        )
    parts.extend(labels)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every piece of text above is escaped


def draft_svg(steps: list[Any], *, highlight: dict[str, str] | None = None) -> SafeString:
    """The picture of a journey's draft steps (rows being edited, maybe not valid yet)."""
    try:
        definition = definition_from_steps(steps)
    except (KeyError, TypeError, AttributeError):  # a shape validation will report; draw nothing
        return mark_safe('<p class="journey-graph-empty">The steps cannot be drawn until they are valid.</p>')
    return render_svg(definition, highlight=highlight)
