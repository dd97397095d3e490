"""Prometheus metrics of staged lifecycles (see ``journeys.metrics`` for how they are kept)."""

from prometheus_client import Counter

STAGE_TRANSITIONS = Counter(
    "stage_transitions", "Staged journey transitions, per kind and stage reached.", ["kind", "to_stage"]
)
