"""Process-local indexes of a few configuration rows, validated by a generation token.

A bus subscriber that most events do not concern (journeys that nobody's event type enters,
webhook subscriptions that match no event) should learn so without a query. Each such
subscriber keeps a small index built from its configuration rows:

1. On each use, read the index's generation token from the shared cache (one round trip; a
   missing token is created). An index built under the same token is current: use it.
2. Otherwise rebuild it from the database and keep it under the token just read.
3. Every save or delete of the rows writes a new token, at once and again after the commit, so
   a process that rebuilt the index from the rows before the commit rebuilds it again.

A cache that cannot be read makes ``get`` return ``None``: callers then take the slow path that
assumes every row may matter. An index only ever costs time, never an event.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class _Built(Generic[T]):
    token: str
    value: T


class GenerationIndex(Generic[T]):
    """An index built by ``load`` and kept per process while the token under ``key`` stands."""

    def __init__(self, *, key: str, load: Callable[[], T]) -> None:
        self.key = key  # cache key of the generation token; no timeout (a lost one is rewritten)
        self.load = load
        self._built: _Built[T] | None = None

    def get(self) -> T | None:
        """The current index, or ``None`` when its token cannot be read (no cache)."""
        try:
            token = cache.get(self.key)
            if token is None:
                cache.add(self.key, uuid.uuid4().hex, None)
                token = cache.get(self.key)
        except Exception:
            logger.warning("index %s cannot be validated; taking the slow path", self.key, exc_info=True)
            return None
        if token is None:
            return None
        built = self._built
        if built is None or built.token != token:
            built = self._built = _Built(token=token, value=self.load())
        return built.value

    def interest(self, test: Callable[[T, Any], bool]) -> Callable[[Any], bool]:
        """A bus subscriber's pre-filter (``Subscriber.interest``): ``test(index, event)``, or
        every event when the index cannot be read (an index only ever costs time)."""
        index = self.get()
        if index is None:
            return lambda event: True
        return lambda event: test(index, event)

    def invalidate(self) -> None:
        """The rows changed: every process rebuilds the index on its next use."""

        def bump() -> None:
            try:
                cache.set(self.key, uuid.uuid4().hex, None)
            except Exception:  # readers take the slow path while the cache is unreachable
                logger.warning("could not invalidate index %s", self.key, exc_info=True)

        bump()
        transaction.on_commit(bump)

    def forget(self) -> None:
        """Drop this process's copy (tests that change rows behind the signals' back)."""
        self._built = None
