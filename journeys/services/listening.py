"""Which event types the journeys listen to: an index that lets the bus subscriber skip the rest.

Most events a busy deployment processes are of types no journey mentions (rules announce every
flag change as ``orchestration.flag.updated``); for those the journeys' subscriber has nothing to
end, wake or enter, and with this index it learns so without a query. A type is listened to when

- a published journey is triggered by it (``Journey.trigger_type``), or
- any version of any journey ends on it (goal or exit event) or waits for it (a
  ``wait_for_event`` step's event, or ``manual`` for a manual step): runs in flight keep the
  version they started on, whatever the journey's state now, so every version counts.

The index is a superset (a type once listened to stays listed until the next change), which only
costs time. It is a ``GenerationIndex`` (``journeys.generations``): built from the database at
most once per change, per process, validated on each use by a token in the shared cache. A cache
that cannot be read turns the index off (every type is handled), never on.
"""

from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from journeys.generations import GenerationIndex
from journeys.models import Journey, JourneyVersion


@dataclass(frozen=True)
class Listened:
    """Event types that enter journeys (``triggers``) and that end or wake runs (``ends``)."""

    triggers: frozenset[str]
    ends: frozenset[str]

    def __contains__(self, event_type: str) -> bool:
        return event_type in self.triggers or event_type in self.ends


def _load() -> Listened:
    triggers = set(
        Journey.objects.filter(state=Journey.State.PUBLISHED).values_list("trigger_type", flat=True)
    )
    ends: set[str] = set()
    for goal, exit_event, definition in JourneyVersion.objects.values_list(
        "goal_event", "exit_event", "definition"
    ):
        ends.update((goal, exit_event))
        for step in (definition or {}).get("steps", []):
            if step.get("kind") == "wait_for_event":
                ends.add((step.get("config") or {}).get("event") or "")
            elif step.get("kind") == "manual":
                ends.add("manual")  # a manual step waits for ``manual`` (see the runner)
    triggers.discard("")
    ends.discard("")
    return Listened(triggers=frozenset(triggers), ends=frozenset(ends))


LISTENED = GenerationIndex(key="journeys:listened:gen", load=_load)


def listened_types() -> Listened | None:
    """The event types journeys listen to, or ``None`` when that cannot be known (no cache)."""
    return LISTENED.get()


@receiver(post_save, sender=Journey, dispatch_uid="journeys.listening.journey_saved")
@receiver(post_delete, sender=Journey, dispatch_uid="journeys.listening.journey_deleted")
@receiver(post_save, sender=JourneyVersion, dispatch_uid="journeys.listening.version_saved")
@receiver(post_delete, sender=JourneyVersion, dispatch_uid="journeys.listening.version_deleted")
def _journeys_changed(**kwargs) -> None:
    # Bookkeeping only: the index is an optimisation, whichever path changed the rows.
    LISTENED.invalidate()
