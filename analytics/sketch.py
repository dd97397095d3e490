"""A duration sketch: a sparse histogram over logarithmic buckets, mergeable by adding counts.

Bucket ``i`` holds the durations ``d`` (seconds) with ``floor(4 * log2(1 + d)) == i``: each bucket
is about 19% wider than the one before, so a percentile estimated at a bucket's geometric middle
is within ~9% of the true value, whatever the scale (a second or a month). Histograms are stored
as ``{"<i>": count}`` in JSON and merged across days, versions and variants by summing.
"""

import math
from collections.abc import Iterable, Mapping

BUCKETS_PER_DOUBLING = 4


def bucket_of(seconds: float) -> int:
    return math.floor(BUCKETS_PER_DOUBLING * math.log2(1 + max(seconds, 0.0)))


def bucket_bounds(index: int) -> tuple[float, float]:
    """The durations (seconds) bucket ``index`` holds: ``[low, high)``."""
    return 2 ** (index / BUCKETS_PER_DOUBLING) - 1, 2 ** ((index + 1) / BUCKETS_PER_DOUBLING) - 1


def bucket_middle(index: int) -> float:
    return 2 ** ((index + 0.5) / BUCKETS_PER_DOUBLING) - 1


def histogram(durations: Iterable[float]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for seconds in durations:
        key = str(bucket_of(seconds))
        counts[key] = counts.get(key, 0) + 1
    return counts


def merge(histograms: Iterable[Mapping[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for hist in histograms:
        for key, count in (hist or {}).items():
            merged[key] = merged.get(key, 0) + count
    return merged


def quantile(hist: Mapping[str, int], q: float) -> float | None:
    """The ``q``-quantile (nearest rank) of the durations in ``hist``; ``None`` when it is empty.

    1. Order the buckets by index and count the durations (``n``).
    2. The wanted rank is ``ceil(q * n)`` (at least 1): the smallest duration with at least a
       share ``q`` of the durations at or below it.
    3. Walk the buckets adding counts; the bucket where the running count reaches the rank holds
       it: answer that bucket's geometric middle.
    """
    items = sorted((int(k), c) for k, c in hist.items() if c > 0)
    n = sum(c for _, c in items)
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))
    running = 0
    for index, count in items:
        running += count
        if running >= rank:
            return round(bucket_middle(index), 3)
    return round(bucket_middle(items[-1][0]), 3)


def distribution(hist: Mapping[str, int]) -> list[dict[str, float | int]]:
    """The histogram as rows for a chart: each bucket's bounds (seconds) and count, in order."""
    rows = []
    for index, count in sorted((int(k), c) for k, c in hist.items() if c > 0):
        low, high = bucket_bounds(index)
        rows.append({"from_seconds": round(low, 3), "to_seconds": round(high, 3), "count": count})
    return rows
