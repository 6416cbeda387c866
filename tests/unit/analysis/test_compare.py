import numpy as np
import pytest

from perforch.analysis.compare import (BETTER, CHANGED, NOT_COMPARABLE, SAME, WORSE, compare_runs, mann_whitney_p,
                                       quantile_ci)
from tests.unit.analysis.synthetic import frame_from


def run(seed, scale=1.0, n=2000, fail=0.0, labels=("a", "b")):
    rng = np.random.default_rng(seed)
    label = rng.choice(labels, n)
    latency = 50.0 * rng.lognormal(0, 0.3, n) * np.where(label == "a", scale, 1.0)
    ok = rng.random(n) >= np.where(label == "a", fail, 0.0)
    return frame_from(np.sort(rng.uniform(0, 60, n)), label, latency, ok=ok)


def test_a_planted_20_percent_shift_is_worse():
    comparison = compare_runs(run(1), run(2, scale=1.2))
    steps = {c.label: c for c in comparison.steps}
    assert steps["a"].verdict == WORSE and steps["a"].p50_ratio == pytest.approx(1.2, abs=0.05)
    assert steps["b"].verdict == SAME
    assert comparison.has_regression and comparison.regressions[0].label == "a"


def test_faster_is_better_and_not_a_regression():
    comparison = compare_runs(run(1), run(2, scale=0.7))
    assert {c.label: c.verdict for c in comparison.steps}["a"] == BETTER
    assert not comparison.has_regression


def test_same_distribution_is_same():
    comparison = compare_runs(run(1), run(2))
    assert all(c.verdict == SAME for c in (*comparison.steps, comparison.overall))


def test_a_shift_on_few_samples_is_changed_but_not_significant():
    comparison = compare_runs(run(1, n=60), run(2, n=60, scale=1.3))
    verdict = {c.label: c.verdict for c in comparison.steps}["a"]
    assert verdict in (CHANGED, WORSE)  # 30 samples a side: rarely significant
    tiny = compare_runs(run(1, n=20), run(2, n=20, scale=1.3))
    assert {c.label: c.verdict for c in tiny.steps}["a"] == NOT_COMPARABLE


def test_more_errors_is_worse():
    comparison = compare_runs(run(1), run(2, fail=0.08))
    a = {c.label: c for c in comparison.steps}["a"]
    assert a.verdict == WORSE and any("error rate" in r for r in a.reasons)


def test_a_step_in_one_run_only_is_not_comparable():
    comparison = compare_runs(run(1, labels=("a",)), run(2, labels=("a", "new")))
    assert {c.label: c.verdict for c in comparison.steps}["new"] == NOT_COMPARABLE


def test_mann_whitney_known_value():
    # U = 0, mean 12.5, sd sqrt(25 * 11 / 12); z = (12.5 - 0.5) / sd = 2.5067 -> two-sided p = 0.012186
    # (what scipy.stats.mannwhitneyu(..., method="asymptotic") gives)
    assert mann_whitney_p(np.arange(1, 6.0), np.arange(6, 11.0)) == pytest.approx(0.012186, abs=1e-6)
    assert mann_whitney_p(np.ones(10), np.ones(10)) == 1.0


def test_quantile_ci_brackets_the_percentile():
    values = np.sort(np.random.default_rng(0).exponential(10, 10_000))
    low, high = quantile_ci(values, 95)
    assert low < np.percentile(values, 95) < high
