"""The stages admin: pipelines (criteria, task templates drawn as a graph), agents, staged
journeys with transition buttons, units of work with retry/cancel, snapshots."""

from stages.admin import pipelines, staged_journeys, work

__all__ = ["pipelines", "staged_journeys", "work"]
