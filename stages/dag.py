"""Task dependency graphs: validation, topological order and layers (for running and drawing).

Pure functions over ``(key, depends_on)`` pairs, so templates, tasks and admin forms share them.
"""

from collections.abc import Iterable, Sequence

Nodes = Sequence[tuple[str, Sequence[str]]]


class DagInvalid(ValueError):
    """The graph is not a DAG. ``errors`` maps a task key (or ``__all__``) to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(m for messages in errors.values() for m in messages))


def dag_errors(nodes: Nodes) -> dict[str, list[str]]:
    """Every problem at once: duplicate keys, malformed or unknown dependencies, self-dependencies
    and cycles (each cycle spelled out, ``a → b → a``). Empty when the graph is a DAG."""
    errors: dict[str, list[str]] = {}
    keys: set[str] = set()
    for key, _ in nodes:
        if key in keys:
            errors.setdefault(key, []).append(f"The key {key!r} is used by more than one task.")
        keys.add(key)
    for key, depends_on in nodes:
        if not isinstance(depends_on, list | tuple) or not all(isinstance(d, str) for d in depends_on):
            errors.setdefault(key, []).append("depends_on must be a list of task keys.")
            continue
        for dependency in depends_on:
            if dependency == key:
                errors.setdefault(key, []).append(f"Task {key!r} cannot depend on itself.")
            elif dependency not in keys:
                errors.setdefault(key, []).append(f"Task {key!r} depends on an unknown task {dependency!r}.")
    if any("depends_on must be" in m for messages in errors.values() for m in messages):
        return errors
    # Cycles are looked for among the known edges, so they are reported along with the rest;
    # self-dependencies were named above.
    known = [(key, [d for d in depends_on if d in keys and d != key]) for key, depends_on in nodes]
    cycle = find_cycle(known)
    if cycle:
        errors["__all__"] = [f"The dependencies form a cycle: {' → '.join(cycle)}."]
    return errors


def find_cycle(nodes: Nodes) -> list[str] | None:
    """One cycle as a path that returns to its start, or ``None`` (iterative DFS, three colours)."""
    graph = {key: list(depends_on) for key, depends_on in nodes}
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(graph[root]))]
        colour[root] = grey
        path.append(root)
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in graph:
                    continue
                if colour[child] == grey:
                    return [*path[path.index(child) :], child]
                if colour[child] == white:
                    colour[child] = grey
                    path.append(child)
                    stack.append((child, iter(graph[child])))
                    break
            else:
                colour[node] = black
                path.pop()
                stack.pop()
    return None


def dag_validate(nodes: Nodes) -> None:
    errors = dag_errors(nodes)
    if errors:
        raise DagInvalid(errors)


def layers(nodes: Nodes) -> list[list[str]]:
    """Keys grouped by depth (a task's layer is one more than its deepest dependency), in the
    given order within a layer. Tasks of one layer never depend on each other: they may run in
    parallel. Raises ``DagInvalid`` when the graph is not a DAG."""
    dag_validate(nodes)
    depends = {key: list(depends_on) for key, depends_on in nodes}
    depth: dict[str, int] = {}

    def depth_of(key: str) -> int:
        # Iterative to stay clear of the recursion limit on long chains.
        stack = [key]
        while stack:
            current = stack[-1]
            pending = [d for d in depends[current] if d not in depth]
            if pending:
                stack.extend(pending)
                continue
            depth[current] = 1 + max((depth[d] for d in depends[current]), default=-1)
            stack.pop()
        return depth[key]

    result: list[list[str]] = []
    for key, _ in nodes:
        level = depth_of(key)
        while len(result) <= level:
            result.append([])
        result[level].append(key)
    return result


def topological_order(nodes: Nodes) -> list[str]:
    """Keys such that every task comes after its dependencies."""
    return [key for layer in layers(nodes) for key in layer]
