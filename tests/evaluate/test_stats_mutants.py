"""paired_bootstrap reports a 95% two-sided interval and p-value (every report says so): checks that
fail for a 90% interval or a one-sided p, which the coverage tests in test_stats.py let through."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from chefbot.evaluate.stats import paired_bootstrap


def _differences(z: float, n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores A and B on n items whose differences have mean z * se exactly (se = sd / sqrt(n), sd = 1)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=n)
    d = (noise - noise.mean()) / noise.std(ddof=0) + z / np.sqrt(n)
    a = rng.uniform(0.2, 0.8, n)
    return a, a + d


def test_interval_is_95_percent_wide_by_default():
    a, b = _differences(2.0, n=2000)
    res = paired_bootstrap(a, b, samples=4000)
    se = 1 / np.sqrt(2000)
    # the bootstrap distribution of a mean is ~normal: its central 95% is +-1.96 se (a 90% one is +-1.64 se)
    assert (res["high"] - res["low"]) / 2 == pytest.approx(NormalDist().inv_cdf(0.975) * se, rel=0.05)
    assert paired_bootstrap(a, b, samples=4000, level=0.95) == res


@pytest.mark.parametrize("z", [1.5, -1.5])
def test_p_value_is_two_sided(z: float):
    a, b = _differences(z)
    p = paired_bootstrap(a, b, samples=20000)["p_value"]
    two_sided = 2 * NormalDist().cdf(-abs(z))  # 0.134; one-sided would be 0.067
    assert p == pytest.approx(two_sided, abs=0.025)


@pytest.mark.parametrize("seed", range(6))
def test_p_below_5_percent_exactly_when_the_95_interval_excludes_zero(seed: int):
    # For a percentile bootstrap these are one statement: p = 2 * share(other side of 0) < 0.05 <=> the
    # 2.5% quantile lies past zero.  z near 2 puts the share between 2.5% and 5%, where a 90% interval or
    # a one-sided p breaks the equivalence.
    for z in (1.8, 1.9, 2.0, 2.1, -1.9):
        res = paired_bootstrap(*_differences(z, seed=seed), samples=4000, seed=seed)
        excludes_zero = res["low"] > 0 or res["high"] < 0
        assert (res["p_value"] < 0.05) == excludes_zero, (z, res)
