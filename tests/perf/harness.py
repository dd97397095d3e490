"""What every benchmark shares: Django set up, a scratch database, timing and percentiles.

A benchmark never touches the database ``DATABASE_URL`` names: it creates a scratch copy
(``test_<name>``, as the test runner does), migrates it, and drops it afterwards.
"""

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


@contextmanager
def scratch_database() -> Iterator[None]:
    """A freshly migrated database for the benchmark, dropped on exit."""
    from django.test.utils import setup_databases, teardown_databases

    print("creating a scratch database…", flush=True)
    config = setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        yield
    finally:
        teardown_databases(config, verbosity=0)


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(samples_ms: list[float]) -> str:
    return (
        f"p50 {percentile(samples_ms, 50):.1f} ms, p99 {percentile(samples_ms, 99):.1f} ms, "
        f"mean {statistics.fmean(samples_ms):.1f} ms"
    )


class Stopwatch:
    def __enter__(self) -> "Stopwatch":
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
