"""The edges of evaluate/stats.py that reports rely on: empty and one-item inputs, the documented
defaults (reruns reproduce a report), levels other than 95%, ties at zero, and 0/1 cells counted right
(found by `make mutation`: each check here failed a mutant the other stats tests let through)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from chefbot.evaluate.stats import (
    bootstrap_mean,
    mean_stderr_interval,
    paired_bootstrap,
    paired_proportions,
    ratio_interval,
    resample_means,
    wilson_interval,
)

EMPTY_PAIRED = {"n": 0, "mean_a": None, "mean_b": None, "diff": None, "low": None, "high": None, "p_value": None}


def z(level: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def test_empty_and_one_item_inputs():
    assert bootstrap_mean([]) == {"mean": None, "low": None, "high": None, "n": 0}
    assert bootstrap_mean([0.25]) == {"mean": 0.25, "low": 0.25, "high": 0.25, "n": 1}
    assert bootstrap_mean([0.2, 0.4], samples=0) == {
        "mean": pytest.approx(0.3),
        "low": pytest.approx(0.3),
        "high": pytest.approx(0.3),
        "n": 2,
    }
    two = bootstrap_mean([0.0, 1.0], samples=200)
    assert (two["n"], two["low"], two["high"]) == (2, 0.0, 1.0)  # two items are resampled too
    values = np.array([0.0, 1.0, 5.0])
    one_resample = float(resample_means(values, 1, 0)[0])
    assert one_resample != values.mean()
    assert bootstrap_mean(values, samples=1) == {
        "mean": pytest.approx(2.0),
        "low": one_resample,
        "high": one_resample,
        "n": 3,
    }
    assert paired_bootstrap([], []) == EMPTY_PAIRED
    one = paired_bootstrap([0.5], [0.75])
    got = (one["n"], one["diff"], one["low"], one["high"], one["mean_a"], one["mean_b"])
    assert got == (1, 0.25, 0.25, 0.25, 0.5, 0.75)
    assert paired_proportions([], []) == EMPTY_PAIRED
    assert wilson_interval(0, 0) == {"value": None, "low": None, "high": None, "n": 0}
    assert ratio_interval(0.5, 10, 0.0, 10) == {"value": None, "low": None, "high": None}


def test_bad_shapes_and_lengths_name_the_problem():
    with pytest.raises(ValueError, match="^scores must be one-dimensional$"):
        bootstrap_mean([[1.0, 2.0]])
    with pytest.raises(ValueError, match="same items: 2 vs 1"):
        paired_bootstrap([1, 2], [1])
    with pytest.raises(ValueError, match="same items: 1 vs 2"):
        paired_proportions([1], [1, 0])


def test_defaults_reproduce_a_report():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(size=60), rng.uniform(size=60)
    assert bootstrap_mean(a) == bootstrap_mean(a, samples=1000, seed=0, level=0.95)
    res = paired_bootstrap(a, b)
    assert res == paired_bootstrap(a, b, samples=10000, seed=0, level=0.95) and res["samples"] == 10000
    assert ratio_interval(0.6, 99, 0.7, 99) == ratio_interval(0.6, 99, 0.7, 99, samples=100000, seed=0, level=0.95)
    assert ratio_interval(0.6, 99, 0.7, 99)["n_tuned"] == 99 and ratio_interval(0.6, 99, 0.7, 80)["n_base"] == 80


def test_pass_fail_outcomes_as_booleans():
    a = [True, False, True, False] * 10
    b = [True, True, True, False] * 10
    res = paired_bootstrap(a, b, samples=500)
    assert res["diff"] == pytest.approx(0.25) and res["mean_a"] == pytest.approx(0.5)
    assert bootstrap_mean(b, samples=500)["mean"] == pytest.approx(0.75)


def test_resampling_draws_every_item_and_every_resample():
    values = np.arange(1000, dtype=np.float64)
    got = resample_means(values, 2500, seed=4)  # 2,000 resamples per draw: two draws
    want = values[np.random.default_rng(4).integers(0, 1000, size=(2500, 1000))].mean(axis=1)
    np.testing.assert_allclose(got, want)
    first_only = np.array([1.0] + [0.0] * 9)
    assert resample_means(first_only, 200, seed=0).max() > 0  # item 0 is drawn too


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_bootstrap_mean_level_sets_the_width(level: float):
    values = np.random.default_rng(5).normal(0, 1, 3000)
    values = (values - values.mean()) / values.std()
    r = bootstrap_mean(values, samples=4000, level=level)
    assert (r["high"] - r["low"]) / 2 == pytest.approx(z(level) / np.sqrt(3000), rel=0.06)


def test_ties_at_zero_count_against_the_observed_side():
    # d = [1, 0]: resample means 0, 1/2, 1 with chances 1/4, 1/2, 1/4; a mean of exactly 0 counts, p = 2 * 1/4
    assert paired_bootstrap([0, 0], [1, 0], samples=20000)["p_value"] == pytest.approx(0.5, abs=0.03)
    assert paired_bootstrap([1, 0], [0, 0], samples=20000)["p_value"] == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("d", [[1.0] * 9 + [-9.0], [-1.0] * 9 + [9.0]])
def test_no_difference_is_p_one_even_when_resamples_are_skewed(d: list[float]):
    a = np.full(10, 0.5)
    res = paired_bootstrap(a, a + np.array(d), samples=2000)
    assert res["diff"] == pytest.approx(0) and res["p_value"] == 1.0


def test_relative_gain_and_its_interval():
    a = np.full(50, 0.5)
    b = a + np.linspace(-0.05, 0.15, 50)
    res = paired_bootstrap(a, b, samples=2000)
    assert res["relative"] == pytest.approx(res["diff"] / 0.5)
    assert res["relative_low"] == pytest.approx(res["low"] / 0.5)
    assert res["relative_high"] == pytest.approx(res["high"] / 0.5)
    zero = paired_bootstrap([0, 0, 0], [0, 1, 1], samples=100)
    assert zero["relative"] is None and zero["relative_low"] is None and zero["relative_high"] is None


@pytest.mark.parametrize("level", [0.8, 0.9, 0.99])
def test_other_levels_use_their_own_z(level: float):
    m = mean_stderr_interval(0.6, 0.02, level=level)
    assert (m["value"], m["low"], m["high"]) == (
        0.6,
        pytest.approx(0.6 - z(level) * 0.02),
        pytest.approx(0.6 + z(level) * 0.02),
    )
    w, w95 = wilson_interval(30, 100, level=level), wilson_interval(30, 100)
    # the Wilson interval by its formula, with this level's z
    q = z(level)
    centre = (0.3 + q * q / 200) / (1 + q * q / 100)
    half = q * np.sqrt(0.3 * 0.7 / 100 + q * q / 40000) / (1 + q * q / 100)
    assert (w["low"], w["high"]) == (pytest.approx(centre - half), pytest.approx(centre + half))
    assert (w["high"] - w["low"] < w95["high"] - w95["low"]) == (level < 0.95)
    m95 = mean_stderr_interval(0.6, 0.02)
    assert m95["low"] == pytest.approx(0.6 - 1.96 * 0.02, abs=1e-4)
    assert m95["high"] == pytest.approx(0.6 + 1.96 * 0.02, abs=1e-4)


def test_wilson_never_leaves_zero_to_one():
    assert wilson_interval(1, 1)["low"] > 0 and wilson_interval(1, 1)["n"] == 1 and wilson_interval(3, 9)["n"] == 9
    for k in range(11):
        w = wilson_interval(k, 10)
        assert 0.0 <= w["low"] <= w["value"] and w["low"] < w["high"] <= 1.0
    assert wilson_interval(10, 10)["low"] > 0.6 and wilson_interval(0, 10)["low"] == 0.0


def test_ratio_interval_level_and_a_base_that_resamples_to_zero():
    r80, r95 = ratio_interval(0.6, 99, 0.7, 99, level=0.8), ratio_interval(0.6, 99, 0.7, 99)
    assert r80["low"] > r95["low"] and r80["high"] < r95["high"]
    # a base of 1 success in 20 resamples to 0 about a third of the time: those draws are left out, not infinite
    tiny = ratio_interval(0.1, 20, 0.05, 20, samples=5000)
    assert np.isfinite(tiny["high"]) and tiny["value"] == pytest.approx(2.0)


def test_paired_proportions_counts_each_cell():
    # both, a only, b only, neither = 3, 1, 4, 2
    a = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    b = [1, 1, 1, 0, 1, 1, 1, 1, 0, 0]
    r = paired_proportions(a, b)
    assert (r["mean_a"], r["mean_b"], r["b_only"], r["a_only"]) == (0.4, 0.7, 4, 1) and r["diff"] == pytest.approx(0.3)
    assert r["p_value"] == pytest.approx(2 * (1 + 5) / 2**5)  # exact McNemar: 1 of 5 discordant pairs
    assert r["method"].startswith("Newcombe hybrid score interval")
    # Newcombe (1998) method 10 by hand: phi from the 2x2 table with his continuity correction
    wa, wb = wilson_interval(4, 10), wilson_interval(7, 10)
    cross = 3 * 2 - 4 * 1
    phi = max(cross - 10 / 2, 0) / np.sqrt(7 * 3 * 4 * 6)
    dl, ue = 0.7 - wb["low"], wb["high"] - 0.7
    dl_a, ue_a = 0.4 - wa["low"], wa["high"] - 0.4
    down = np.sqrt(dl**2 - 2 * phi * dl * ue_a + ue_a**2)
    up = np.sqrt(ue**2 - 2 * phi * ue * dl_a + dl_a**2)
    assert (r["low"], r["high"]) == (pytest.approx(0.3 - down), pytest.approx(0.3 + up))


def test_paired_proportions_with_a_negative_correlation_and_at_the_bounds():
    a = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    b = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]  # both 1, a only 4, b only 5, neither 0
    r = paired_proportions(a, b)
    wa, wb = wilson_interval(5, 10), wilson_interval(6, 10)
    phi = (1 * 0 - 5 * 4) / np.sqrt(6 * 4 * 5 * 5)  # negative: no continuity correction
    dl, ue, dl_a, ue_a = 0.6 - wb["low"], wb["high"] - 0.6, 0.5 - wa["low"], wa["high"] - 0.5
    assert r["low"] == pytest.approx(0.1 - np.sqrt(dl**2 - 2 * phi * dl * ue_a + ue_a**2))
    assert r["high"] == pytest.approx(0.1 + np.sqrt(ue**2 - 2 * phi * ue * dl_a + dl_a**2))
    worst = paired_proportions([1] * 12, [0] * 12)
    assert -1.0 <= worst["low"] < worst["high"] < 0
    assert paired_proportions([0] * 12, [1] * 12)["high"] == 1.0


def test_paired_proportions_continuity_correction_level_and_capped_p():
    # both 5, neither 4, a only 1: the correlation is corrected by n / 2 (Newcombe), at the level asked for
    a, b = [1] * 6 + [0] * 4, [1] * 5 + [0] * 5
    for level in (0.95, 0.9):
        r = paired_proportions(a, b, level=level)
        wa, wb = wilson_interval(6, 10, level), wilson_interval(5, 10, level)
        phi = (5 * 4 - 0 - 10 / 2) / np.sqrt(5 * 5 * 6 * 4)
        dl, ue, dl_a, ue_a = 0.5 - wb["low"], wb["high"] - 0.5, 0.6 - wa["low"], wa["high"] - 0.6
        assert r["n"] == 10 and r["low"] == pytest.approx(-0.1 - np.sqrt(dl**2 - 2 * phi * dl * ue_a + ue_a**2))
        assert r["high"] == pytest.approx(-0.1 + np.sqrt(ue**2 - 2 * phi * ue * dl_a + dl_a**2))
    # one pair each way: no discordance to speak of, and a small positive correlation corrected to none
    same = paired_proportions([1, 0], [1, 0])
    assert same["low"] < 0 < same["high"]
    assert paired_proportions([1, 0], [0, 1])["p_value"] == 1.0  # 2 * P(X <= 1 | 2 pairs) = 1.5, capped
