"""Fixtures of the journeys tests (the journey engine's live in ``journey_helpers``)."""

import pytest

from journeys.services.template_files import templates_bundled_load
from tests.journeys.journey_helpers import dispatch, emit

__all__ = ["dispatch", "emit"]


@pytest.fixture
def template_library(db) -> None:
    """The bundled templates in the catalogue, as ``manage.py bootstrap`` puts them."""
    templates_bundled_load()
