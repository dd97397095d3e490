"""Prometheus metrics of the rules engine (see ``journeys.metrics`` for how they are kept)."""

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter

from journeys.metrics import labelled

RULE_EVALUATIONS = Counter("rule_evaluations", "Rules evaluated against a participant's context.")
RULE_FIRES = Counter("rule_fires", "Rules whose decision changed a flag or recorded a milestone.", ["rule"])
CACHE_LOOKUPS = Counter(
    "cache_lookups", "Cache lookups of the rules engine, per cache and result.", ["cache", "result"]
)


def evaluated(ruleset: Any, evaluated: Iterable[tuple[Any, Any]]) -> None:
    """Count one evaluation per rule per participant, and each rule that fired."""
    evaluated = list(evaluated)
    RULE_EVALUATIONS.inc(len(ruleset.rule_ids) * len(evaluated))
    for _, outcome in evaluated:
        for rule_id in outcome.fired:
            labelled(RULE_FIRES, rule_id).inc()


def cache_looked_up(key: str, *, hit: bool) -> None:
    cache = "context" if "context" in key else "rules"
    labelled(CACHE_LOOKUPS, cache, "hit" if hit else "miss").inc()
