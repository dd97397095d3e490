"""Fixtures of the journeys tests (the journey engine's live in ``journey_helpers``)."""

from tests.journeys.journey_helpers import dispatch, emit

__all__ = ["dispatch", "emit"]
