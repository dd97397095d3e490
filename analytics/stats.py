"""A/B statistics: Wilson score intervals and the two-proportion z-test, from the normal law.

Both are a few lines over ``statistics.NormalDist``; a statistics library would add nothing here.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion; ``None`` without trials.

    Unlike the normal approximation it stays inside [0, 1] and behaves at 0 or n successes.
    """
    if trials <= 0:
        return None
    z = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float


def two_proportion_z_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> ZTest | None:
    """Two-sided test that two conversion rates differ, with the pooled standard error.

    ``None`` when a group is empty or the pooled rate is 0 or 1 (no variance: nothing to test).
    """
    if trials_a <= 0 or trials_b <= 0:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return None
    z = (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)
    return ZTest(z=z, p_value=2 * (1 - _NORMAL.cdf(abs(z))))
