"""Where each step of the graph goes: layers, order within a layer, coordinates, lanes."""

from collections import defaultdict
from dataclasses import dataclass, field

from journeys.builder.graph.edges import Edge
from journeys.engine.definition import Definition

NODE_W = 210  # px
NODE_H = 62  # px
H_GAP = 56  # px between steps of one layer
V_GAP = 96  # px between layers (room for edge labels)
MARGIN = 24  # px
LANE_GAP = 16  # px between the lanes of back edges


def _depth_first(
    definition: Definition, successors: dict[str, list[str]]
) -> tuple[set[tuple[str, str]], list[str], set[str]]:
    """The back edges, a post-order of every step, and the steps reachable from the entry."""
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
    for node in definition.order:
        if node not in state:
            visit(node)
    return back, postorder, reachable


def layers(
    definition: Definition, edges: list[Edge]
) -> tuple[dict[str, int], set[str], set[tuple[str, str]]]:
    """Each step's layer, the steps reachable from the entry, and the back edges."""
    nodes = list(definition.order)
    successors: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        if edge.target in definition.steps and edge.target not in successors[edge.source]:
            successors[edge.source].append(edge.target)
    back, postorder, reachable = _depth_first(definition, successors)

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


def order_layers(nodes: list[str], layer: dict[str, int], edges: list[Edge]) -> list[list[str]]:
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


@dataclass
class Layout:
    """Every step's place, the lanes of edges going up, and the size of the picture.

    Edges going up (or across a layer) loop round a side: the side nearer their source.
    Targets that are no step of the journey ("ghosts") stand in a column on the right.
    """

    definition: Definition
    edges: list[Edge]
    layer: dict[str, int] = field(init=False)
    reachable: set[str] = field(init=False)
    rows: list[list[str]] = field(init=False)
    ghosts: list[str] = field(init=False)
    lanes: list[Edge] = field(init=False)
    left_lanes: list[Edge] = field(init=False)
    right_lanes: list[Edge] = field(init=False)
    left: float = field(init=False)
    content_w: float = field(init=False)
    width: float = field(init=False)
    height: float = field(init=False)
    pos: dict[str, tuple[float, float]] = field(init=False)

    def __post_init__(self) -> None:
        steps = self.definition.steps
        self.layer, self.reachable, _back_edges = layers(self.definition, self.edges)
        self.rows = order_layers(list(self.definition.order), self.layer, self.edges)
        self.ghosts = sorted({e.target for e in self.edges if e.target not in steps})
        self.lanes = [
            e for e in self.edges if e.target in steps and self.layer[e.target] <= self.layer[e.source]
        ]
        column = {node: i for row in self.rows for i, node in enumerate(row)}
        self.left_lanes = [
            e for e in self.lanes if column[e.source] < len(self.rows[self.layer[e.source]]) / 2 - 0.01
        ]
        self.right_lanes = [e for e in self.lanes if e not in self.left_lanes]
        widest = max(len(row) for row in self.rows)
        self.content_w = widest * NODE_W + (widest - 1) * H_GAP
        self.left = MARGIN + H_GAP / 2 + LANE_GAP * len(self.left_lanes)
        self.width = self.left + self.content_w + H_GAP / 2 + LANE_GAP * (len(self.right_lanes) + 1) + MARGIN
        self.width += NODE_W + H_GAP if self.ghosts else 0
        self.height = MARGIN * 2 + len(self.rows) * NODE_H + (len(self.rows) - 1) * V_GAP
        self.pos = {}
        for index, row in enumerate(self.rows):
            row_w = len(row) * NODE_W + (len(row) - 1) * H_GAP
            x0 = self.left + (self.content_w - row_w) / 2
            for i, node in enumerate(row):
                self.pos[node] = (x0 + i * (NODE_W + H_GAP), self.row_y(index))
        ghost_x = self.width - MARGIN - NODE_W
        for i, ghost in enumerate(self.ghosts):
            self.pos[ghost] = (ghost_x, MARGIN + i * (NODE_H + 20))
            self.height = max(self.height, self.pos[ghost][1] + NODE_H + MARGIN)

    @staticmethod
    def row_y(index: int) -> float:
        return MARGIN + index * (NODE_H + V_GAP)

    def free_x(self, row: list[str], wanted: float) -> float:
        """An x in ``row`` where an edge passes between steps: ``wanted`` if clear, else the nearest gap."""
        spans = [(self.pos[n][0] - 8, self.pos[n][0] + NODE_W + 8) for n in row]
        if not any(a <= wanted <= b for a, b in spans):
            return wanted
        gaps = [spans[0][0] - H_GAP / 2 + 8, spans[-1][1] + H_GAP / 2 - 8]
        gaps += [(spans[i][1] + spans[i + 1][0]) / 2 for i in range(len(spans) - 1)]
        return min(gaps, key=lambda x: abs(x - wanted))

    def route(self, source: str, edge: Edge) -> list[tuple[float, float]]:
        """The points after the start: gaps of the layers in between, then the target's top."""
        tx, ty = self.pos[edge.target]
        if edge.target not in self.definition.steps:  # a dangling target: to the ghost's left side
            return [(tx, ty + NODE_H / 2)]
        x1, x2 = self.pos[source][0] + NODE_W / 2, tx + NODE_W / 2
        points: list[tuple[float, float]] = []
        span = range(self.layer[source] + 1, self.layer[edge.target])
        for k, index in enumerate(span, start=1):
            wx = self.free_x(self.rows[index], x1 + (x2 - x1) * k / (len(span) + 1))
            points += [(wx, self.row_y(index)), (wx, self.row_y(index) + NODE_H)]
        return [*points, (x2, ty)]
