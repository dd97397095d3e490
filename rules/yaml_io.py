"""Reading rule definitions from YAML without letting a small file cost unbounded CPU or memory.

YAML aliases (``*name``) refer to an anchored node instead of copying it, so a few hundred bytes
of aliases nested in aliases ("billion laughs") describe billions of nodes, which every later
step (conversion to JSON, validation, storage) would expand. ``BoundedSafeLoader`` counts the
nodes each alias stands for while composing the document and refuses it past
``MAX_ALIAS_NODES``, before anything expands; deep nesting is refused too.
"""

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_ALIAS_NODES = 10_000  # nodes reachable through aliases in one document; a rule has dozens
MAX_YAML_DEPTH = 64


class YAMLTooLarge(ComposerError):
    """The document expands (through aliases) or nests beyond what a rule file needs."""


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with alias expansion and nesting bounded at composition time."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._alias_nodes = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_document(self) -> Node:
        self._alias_nodes = 0
        self._sizes = {}
        return super().compose_document()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            anchored = self.anchors.get(event.anchor)
            if anchored is not None:
                self._alias_nodes += self._size(anchored)
                if self._alias_nodes > MAX_ALIAS_NODES:
                    raise YAMLTooLarge(
                        None,
                        None,
                        f"aliases expand to more than {MAX_ALIAS_NODES} nodes; write the values out",
                        event.start_mark,
                    )
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YAMLTooLarge(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _size(self, node: Node) -> int:
        """How many nodes ``node`` stands for once expanded (shared children counted each time)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._size(key) + self._size(value) for key, value in node.value)
        self._sizes[id(node)] = size
        return size


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=BoundedSafeLoader)  # a SafeLoader subclass


def yaml_load_all(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=BoundedSafeLoader))  # a SafeLoader subclass
