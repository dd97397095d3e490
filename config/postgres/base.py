"""Django's PostgreSQL backend with one change: ``timestamptz`` values are parsed in C.

Django registers a Python subclass of psycopg's ``TimestamptzLoader`` on every connection, to set
the time zone of what it loads. psycopg swaps its own loaders for their compiled twins, but not a
subclass, and the compiled class cannot be subclassed; so every timestamp Django reads is parsed
by psycopg's pure-Python code, about 4.9 µs each, and the engine reads several per row it locks.

The loader here wraps the compiled one (1.4 µs) and sets the time zone as Django's does. It
carries the same ``timezone`` attribute, which Django compares before registering a loader on a
cursor, so Django leaves it in place. Where psycopg has no compiled module, the wrapped loader is
the Python one and nothing changes.
"""

from functools import lru_cache
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg.adapt import Loader
from psycopg.postgres import types
from psycopg.pq import Format

TIMESTAMPTZ_OID = types["timestamptz"].oid


@lru_cache
def timestamptz_loader(tz: Any) -> type[Loader]:
    """A loader class giving aware datetimes in ``tz`` (naive ones when ``tz`` is None), as
    Django's ``register_tzloader`` does."""
    compiled = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)

    class TimestamptzLoader(Loader):
        timezone = tz

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._load = compiled(oid, context).load

        def load(self, data: Any) -> Any:
            return self._load(data).replace(tzinfo=self.timezone)

    return TimestamptzLoader


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        connection.adapters.register_loader(TIMESTAMPTZ_OID, timestamptz_loader(self.timezone))
        return connection
