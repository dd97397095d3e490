"""The stages admin: pipelines (criteria, task templates drawn as a graph), agents, staged
journeys with transition buttons, units of work with retry/cancel, snapshots."""

from stages.admin import journeys, pipelines, work

__all__ = ["journeys", "pipelines", "work"]
