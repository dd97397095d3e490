"""What ``manage.py bootstrap`` loads: a registry of idempotent steps, in registration order.

Each app registers its defaults (entity mappings, default rules, journey templates, a pipeline,
demo data) from its ``AppConfig.ready``; journeys runs them without importing those apps.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BootstrapStep:
    name: str
    load: Callable[[], str]  # returns a one-line summary of what it did
    demo: bool = False  # demo data, skipped by ``bootstrap --no-demo``


_steps: dict[str, BootstrapStep] = {}


def register(name: str, load: Callable[[], str], *, demo: bool = False) -> None:
    _steps[name] = BootstrapStep(name=name, load=load, demo=demo)


def steps(*, include_demo: bool = True) -> list[BootstrapStep]:
    """Defaults first, in registration order, then the demo steps (which build on the defaults)."""
    ordered = sorted(_steps.values(), key=lambda s: s.demo)
    return [s for s in ordered if include_demo or not s.demo]
