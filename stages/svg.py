"""Task graphs drawn as inline SVG, server-side (no JavaScript, no CDN): one column per layer of
the DAG (tasks of a column may run in parallel), arrows from each dependency to its dependant,
boxes coloured by task status when there is one."""

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

from stages.dag import DagInvalid, layers

BOX_WIDTH = 170  # px
BOX_HEIGHT = 46  # px
COLUMN_GAP = 60  # px between columns (room for the arrows)
ROW_GAP = 18  # px between boxes of one column
MARGIN = 12  # px around the drawing
LABEL_MAX = 24  # characters of a name shown in a box

STATUS_COLOURS: dict[str, tuple[str, str]] = {  # fill, stroke
    "": ("#f4f6f8", "#79818a"),
    "pending": ("#f4f6f8", "#79818a"),
    "queued": ("#e8f0fb", "#417690"),
    "running": ("#fff4d6", "#c48a00"),
    "waiting": ("#f3e8fb", "#7a4fa0"),
    "succeeded": ("#e3f4e4", "#2e7d32"),
    "failed": ("#fde7e7", "#b71c1c"),
    "cancelled": ("#eeeeee", "#9e9e9e"),
}


@dataclass(frozen=True)
class Node:
    key: str
    label: str
    depends_on: Sequence[str]
    status: str = ""
    detail: str = ""  # second line (intent, retries…)


def dag_svg(nodes: Sequence[Node], *, title: str = "") -> SafeString:
    """The graph as an ``<svg>`` element (safe to embed); an explanation if it is not a DAG."""
    if not nodes:
        return mark_safe('<p class="help">No tasks.</p>')
    try:
        columns = layers([(n.key, list(n.depends_on)) for n in nodes])
    except DagInvalid as invalid:
        return mark_safe(f'<p class="errornote">Not a valid DAG: {escape(str(invalid))}</p>')
    by_key = {n.key: n for n in nodes}
    position: dict[str, tuple[int, int]] = {}
    for column, keys in enumerate(columns):
        for row, key in enumerate(keys):
            x = MARGIN + column * (BOX_WIDTH + COLUMN_GAP)
            y = MARGIN + row * (BOX_HEIGHT + ROW_GAP)
            position[key] = (x, y)
    width = MARGIN * 2 + len(columns) * BOX_WIDTH + (len(columns) - 1) * COLUMN_GAP
    height = MARGIN * 2 + max(len(c) for c in columns) * (BOX_HEIGHT + ROW_GAP) - ROW_GAP

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="font: 12px sans-serif; max-width: 100%">',
        f"<title>{escape(title or 'Task dependencies')}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#79818a"/></marker></defs>',
    ]
    for node in nodes:
        x2, y2 = position[node.key]
        for dependency in node.depends_on:
            x1, y1 = position[dependency]
            start_x, start_y = x1 + BOX_WIDTH, y1 + BOX_HEIGHT // 2
            end_x, end_y = x2, y2 + BOX_HEIGHT // 2
            bend = (start_x + end_x) // 2
            parts.append(
                f'<path d="M{start_x},{start_y} C{bend},{start_y} {bend},{end_y} {end_x},{end_y}" '
                'fill="none" stroke="#79818a" stroke-width="1.5" marker-end="url(#arrow)"/>'
            )
    for key, (x, y) in position.items():
        node = by_key[key]
        fill, stroke = STATUS_COLOURS.get(node.status, STATUS_COLOURS[""])
        label = node.label if len(node.label) <= LABEL_MAX else node.label[: LABEL_MAX - 1] + "…"
        second = node.status or node.detail
        parts.append(
            f"<g><title>{escape(node.key)}: {escape(node.label)} {escape(node.detail)}</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x + 10}" y="{y + 19}" font-weight="bold" fill="#222">{escape(label)}</text>'
            f'<text x="{x + 10}" y="{y + 36}" fill="{stroke}">{escape(second)}</text></g>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text above is escaped
