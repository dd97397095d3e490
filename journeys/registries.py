"""Registries: how other apps plug behaviour into journeys without journeys importing them.

Two kinds of plug-in exist:

* **action types** (``send_email``, ``trigger_webhook``, … and ``set_flag``/``clear_flag`` from
  ``rules``): what a journey ``action`` step does;
* **condition types** (``flag`` from ``rules``, …): extra leaves of the journey condition
  language, next to the built-in comparisons on the payload, attributes, tags and step results;
* **step statistics** (from ``analytics``): the per-step numbers the builder shows on a journey's
  step graph (reached / waiting / completed / dropped), without journeys importing the read side.

Apps register from their ``AppConfig.ready``; journeys looks entries up by name at run time, and
validates a journey definition against what is registered when it is saved.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from journeys.models import Participant

T = TypeVar("T")

FieldErrors = dict[str, list[str]]  # field (or dot path) → messages; empty when valid


class Registry(Generic[T]):
    """A name → item map that refuses silent overwrites and tells its listeners of every change
    (e.g. compiled conditions are forgotten when a condition type comes or goes)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each register/unregister."""
        self._listeners.append(listener)

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        if name in self._items and not replace and self._items[name] is not item:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        self._changed()
        return item

    def unregister(self, name: str) -> None:
        if self._items.pop(name, None) is not None:
            self._changed()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def get(self, name: str) -> T | None:
        return self._items.get(name)

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())


@dataclass
class ActionContext:
    """What an action is given when a step runs.

    ``idempotency_key`` is unique to the step run (e.g. ``"step-run-123"``): every side effect
    must carry it so a retried or re-dispatched run never acts twice.
    """

    participant: "Participant"
    config: dict[str, Any]
    idempotency_key: str
    context: dict[str, Any] = field(default_factory=dict)  # trigger payload + step results
    step_run_id: int | None = None
    journey_id: int | None = None
    user_journey_id: int | None = None
    # For an action type with ``freeze(context) -> str``: the request its first attempt built and
    # the engine stored on the step run; empty until then. Send it as is (see ``TriggerWebhook``).
    frozen_request: str = ""


@dataclass(frozen=True)
class Detour:
    """Where an action sends the walk after it succeeded, instead of the graph's next step:
    ``step`` (``None``: the graph's next step) after ``delay`` (``None``: at once)."""

    step: str | None = None
    delay: timedelta | None = None


class ActionType:
    """What a journey ``action`` step does. Every action type subclasses this; the engine, the
    dry run, validation and the builder read only what is declared here, with these defaults.

    ``execute`` returns a JSON-able result stored on the step run; it raises ``ActionSkipped``
    (``journeys.actions.base``) to end the step as skipped, a ``journeys.errors.DomainError`` to
    fail for good, anything else to fail this try (retried with backoff up to the step's max
    attempts).
    """

    name: str = ""
    description: str = ""
    # It only writes to the database: the engine runs it inside the transaction that records the
    # step (a rollback undoes both). Otherwise it runs outside any transaction, between claiming
    # the run and recording its outcome.
    transactional: bool = False
    # It touches no database (HTTP, SMTP): a batch may run it on threads.
    concurrent: bool = False
    # It messages the participant on this channel ("email"): quiet hours and frequency caps apply.
    channel: str = ""
    # It has ``execute_locked``: a caller that holds the participant's row lock may run it on the
    # participant in memory and write the participant itself (a batch writes tags once).
    runs_in_memory: bool = False
    config_schema: dict[str, Any] | None = None  # JSON Schema of ``config``, for the builder's form
    config_example: dict[str, Any] | None = None  # shown to staff as a starting point

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        return {}

    def prepare_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The stored form of a config, when a journey is saved (defaults filled in)."""
        return config

    def execute(self, action: ActionContext) -> dict[str, Any]:
        raise NotImplementedError

    def execute_locked(self, action: ActionContext) -> dict[str, Any]:
        """``execute`` on ``action.participant`` in memory, touching no database (``runs_in_memory``)."""
        raise NotImplementedError

    def freeze(self, action: ActionContext) -> str | None:
        """The request of the first attempt, which the engine stores before sending so that retries
        send the same bytes (a webhook's body); ``None``: nothing to freeze."""
        return None

    def predict(self, action: ActionContext) -> dict[str, Any] | None:
        """The result ``execute`` would return, when it can be known without doing anything
        (a dry run), changing only ``action.participant`` in memory; ``None``: not knowable."""
        return None

    def detour(self, config: dict[str, Any], result: dict[str, Any]) -> Detour | None:
        """Where the walk goes after this action succeeded with ``result``; ``None``: the graph decides."""
        return None

    def leads_to(self, config: dict[str, Any]) -> list[str]:
        """Steps a ``detour`` may name (the graph's reachability and cycle checks)."""
        return []

    def takes_time(self, config: dict[str, Any]) -> bool:
        """Whether a ``detour`` waits before the next step (what breaks a cycle of instant steps)."""
        return False


class ConditionType(Protocol):
    """A condition leaf ``{"type": name, ...spec}``. ``evaluate`` returns whether it holds and the
    actual value it saw (shown in traces: why a branch was taken, why a step was skipped)."""

    name: str
    description: str

    def validate_spec(self, spec: dict[str, Any]) -> FieldErrors: ...

    def evaluate(
        self, spec: dict[str, Any], *, participant: "Participant", context: dict[str, Any]
    ) -> tuple[bool, Any]: ...


action_types: Registry[ActionType] = Registry("action type")
condition_types: Registry[ConditionType] = Registry("condition type")


@dataclass(frozen=True)
class StepStats:
    """How many runs of a journey reached a step, wait at it, completed it and dropped off there."""

    reached: int = 0
    waiting: int = 0
    completed: int = 0
    dropped: int = 0


class StepStatsProvider(Protocol):
    """Answers the per-step numbers of one journey, keyed by step key (all versions together)."""

    def __call__(self, journey_id: int) -> dict[str, StepStats]: ...


step_stats_providers: Registry[StepStatsProvider] = Registry("step statistics provider")


def step_stats(journey_id: int) -> dict[str, StepStats]:
    """The per-step numbers of a journey from the registered provider; empty when none is installed."""
    provider = step_stats_providers.get("default")
    return provider(journey_id) if provider is not None else {}
