"""The SVG of a laid-out step graph: step shapes, edge curves and their labels."""

import uuid
from collections import defaultdict
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from journeys.builder.describe import describe_condition, describe_step, shorten
from journeys.builder.graph.edges import Edge, definition_from_steps, graph_edges
from journeys.builder.graph.layout import H_GAP, LANE_GAP, NODE_H, NODE_W, Layout
from journeys.engine.definition import Definition

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
    layout = Layout(definition, graph_edges(definition))
    uid = uuid.uuid4().hex[:8]
    width, height = layout.width, layout.height
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
    labels: list[str] = []
    parts += _forward_edges(layout, uid, labels)
    parts += _back_edges(layout, uid, labels)
    parts += [_step_node(layout, key, highlight) for key in definition.order]
    parts += [_ghost_node(ghost, *layout.pos[ghost]) for ghost in layout.ghosts]
    parts.extend(labels)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every piece of text above is escaped


def _curve(points: list[tuple[float, float]]) -> str:
    """The path through ``points``: curves between layers, straight down the gaps of a layer."""
    x1, y1 = points[0]
    d = f"M{x1:.1f},{y1:.1f}"
    for j in range(1, len(points)):
        (ax, ay), (bx, by) = points[j - 1], points[j]
        if j % 2 == 0 and j < len(points) - 1:  # through a layer: straight down its gap
            d += f" L{bx:.1f},{by:.1f}"
        else:
            dy = max((by - ay) / 2, 30)
            d += f" C{ax:.1f},{ay + dy:.1f} {bx:.1f},{by - dy:.1f} {bx:.1f},{by:.1f}"
    return d


def _forward_edges(layout: Layout, uid: str, labels: list[str]) -> list[str]:
    """The paths of edges going down; their labels are added to ``labels``."""
    outgoing: dict[str, list[Edge]] = defaultdict(list)
    for edge in layout.edges:
        outgoing[edge.source].append(edge)
    parts = []
    for source in layout.definition.order:
        routes = [(e, layout.route(source, e)) for e in outgoing[source] if e not in layout.lanes]
        routes.sort(key=lambda item: item[1][0][0])  # fan out left to right: fewer crossings
        sx, sy = layout.pos[source]
        for i, (edge, rest) in enumerate(routes):
            start = (sx + NODE_W * (i + 1) / (len(routes) + 1), sy + NODE_H)
            dash = ' stroke-dasharray="5 4"' if edge.kind in {"timeout", "jump", "implicit"} else ""
            parts.append(
                f'<path class="edge edge-{edge.kind}" data-from="{escape(source)}" '
                f'data-to="{escape(edge.target)}" d="{_curve([start, *rest])}" fill="none" stroke="#78909c" '
                f'stroke-width="1.5"{dash} marker-end="url(#arrow-{uid})"/>'
            )
            # Labels of one step's edges sit at staggered heights along their curves, so they
            # do not cover one another where the edges leave the step side by side.
            t = 0.5 if len(routes) == 1 else 0.3 + 0.4 * (i % 2)
            labels.append(_label(*_on_curve(start, rest[0], t), edge.label, edge.title))
    return parts


def _back_edges(layout: Layout, uid: str, labels: list[str]) -> list[str]:
    """The paths of edges looping round a side, each in a lane of its own."""
    parts = []
    left_x = layout.left - H_GAP / 2
    right_x = layout.left + layout.content_w + H_GAP / 2
    for edge in layout.lanes:
        sx, sy = layout.pos[edge.source]
        tx, ty = layout.pos[edge.target]
        if edge in layout.left_lanes:
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
    return parts


def _step_notes(step: Any, reachable: bool) -> list[str]:
    notes = []
    if step.delay_minutes:
        notes.append(f"after {step.delay_minutes} min")
    if step.condition:
        notes.append(f"if {describe_condition(step.condition)}")
    if step.is_milestone:
        notes.append("★ milestone")
    if step.completion:
        notes.append("✓ completes")
    if not reachable:
        notes.insert(0, "unreachable")
    return notes


def _step_node(layout: Layout, key: str, highlight: dict[str, str]) -> str:
    step = layout.definition.steps[key]
    x, y = layout.pos[key]
    reachable = key in layout.reachable
    status = highlight.get(key, "")
    stroke = STATUS_STROKE.get(status, "#546e7a" if reachable else "#c62828")
    stroke_width = 3 if status or not reachable else 1.3
    dash = ' stroke-dasharray="4 3"' if status in {"skipped", "cancelled"} else ""
    opacity = ' opacity="0.55"' if highlight and not status else ""
    fill = KIND_FILL.get(step.kind, "#ffffff")
    style = f'fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"{dash}'
    notes = _step_notes(step, reachable)
    title_lines = [f"{step.name} [{key}]", describe_step(step), *notes]
    if status:
        title_lines.append(f"status: {status}")
    classes = f"step kind-{step.kind}" + (f" status-{status}" if status else "")
    if not reachable:
        classes += " unreachable"
    text_w = NODE_W - 44 if step.kind in {"branch", "split"} else NODE_W - 16
    chars = int(text_w / 6.6)
    return (
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


def _ghost_node(ghost: str, x: float, y: float) -> str:
    """A target no step of the journey has: drawn so the dangling edge points somewhere."""
    return (
        f'<g class="step missing" data-step="{escape(ghost)}">'
        f"<title>No step with key {escape(ghost)}</title>"
        f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="#ffebee" '
        f'stroke="#c62828" stroke-dasharray="5 3"/>'
        f'<text x="{x + NODE_W / 2}" y="{y + 27}" text-anchor="middle" font-size="12" fill="#c62828">'
        f"missing: {escape(shorten(ghost, 22))}</text>"
        f'<text x="{x + NODE_W / 2}" y="{y + 44}" text-anchor="middle" font-size="10" fill="#c62828">'
        "no step has this key</text></g>"
    )


def draft_svg(steps: list[Any], *, highlight: dict[str, str] | None = None) -> SafeString:
    """The picture of a journey's draft steps (rows being edited, maybe not valid yet)."""
    try:
        definition = definition_from_steps(steps)
    except (KeyError, TypeError, AttributeError):  # a shape validation will report; draw nothing
        return mark_safe('<p class="journey-graph-empty">The steps cannot be drawn until they are valid.</p>')
    return render_svg(definition, highlight=highlight)
