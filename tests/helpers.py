"""Small helpers for tests (not fixtures)."""

import time

import pytest


def wait_for(predicate, *, timeout: float = 20, interval: float = 0.1, message: str = ""):
    """Poll until ``predicate()`` is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(message or f"condition not met within {timeout}s")
