import numpy as np
import pandas as pd
import pytest

from perforch.analysis.slo import evaluate_slos
from perforch.analysis.stats import percentile, step_stats
from perforch.frame import make_frame
from perforch.spec.slo import parse_slo


def frame(labels, latencies, ok=None):
    n = len(labels)
    return make_frame({
        "ts": pd.date_range("2026-01-01", periods=n, freq="10ms", tz="UTC"),
        "tool": "k6", "label": labels, "status": [200] * n,
        "ok": ok if ok is not None else [True] * n, "latency_ms": latencies,
    })


def test_linear_equals_numpy_default():
    values = np.sort(np.random.default_rng(1).exponential(20, 1001))
    for q in (50, 90, 95, 99, 99.9):
        assert percentile(values, q) == np.percentile(values, q)


def test_nearest_rank_is_jmeter_rule():
    values = np.arange(1, 101, dtype=float)  # 1..100
    assert percentile(values, 99, "nearest-rank") == 99.0  # k = round(100*0.99) = 99
    assert percentile(values, 99.5, "nearest-rank") == 100.0  # k = round(99.5) = 100 (half up)
    assert percentile(np.array([5.0]), 50, "nearest-rank") == 5.0
    assert percentile(values, 0.1, "nearest-rank") == 1.0  # k < 1 -> smallest


def test_step_stats_per_label_and_overall():
    df = frame(["a", "a", "b", "b", "b"], [1.0, 3.0, 10.0, 20.0, 30.0], ok=[True, False, True, True, True])
    stats = step_stats(df).set_index("label")
    assert stats.loc["a", "count"] == 2 and stats.loc["a", "failures"] == 1
    assert stats.loc["b", "p50"] == 20.0
    assert stats.loc["", "count"] == 5
    assert stats.loc["", "avg_ms"] == pytest.approx(12.8)
    assert stats.loc["", "max_ms"] == 30.0


def test_nan_latency_is_counted_not_timed():
    df = frame(["a", "a", "a"], [1.0, np.nan, 3.0])
    row = step_stats(df).set_index("label").loc["a"]
    assert row["count"] == 3 and row["timed"] == 2 and row["avg_ms"] == 2.0


@pytest.mark.parametrize("rule, met", [("p50 < 2ms", False), ("p50 <= 2ms", True), ("max > 3ms", False), ("max >= 3ms", True)])
def test_slo_exactly_at_threshold(rule, met):
    df = frame(["a", "a", "a"], [1.0, 2.0, 3.0])
    (result,) = evaluate_slos(df, [parse_slo(rule)])
    assert result.ok is met


def test_slo_on_any_percentile_and_step():
    df = frame(["a"] * 4 + ["b"], [1.0, 2.0, 3.0, 4.0, 100.0])
    (result,) = evaluate_slos(df, [parse_slo("p75 < 3.5ms", step="a")])
    assert result.observed == pytest.approx(np.percentile([1, 2, 3, 4], 75)) and result.ok


def test_slo_without_data_fails_and_says_so():
    df = frame(["a"], [1.0])
    (result,) = evaluate_slos(df, [parse_slo("p95 < 1s", step="missing")])
    assert not result.ok and result.note == "no requests"


@pytest.mark.parametrize("rule, failures, n, met", [
    ("error_rate <= 0.7%", 7, 1000, True), ("error_rate < 0.7%", 7, 1000, False),
    ("error_rate < 0.07%", 7, 10000, False), ("error_rate <= 0.07%", 7, 10000, True),
])
def test_error_rate_exactly_at_a_percentage_threshold(rule, failures, n, met):
    # 0.7/100 in floats is 0.006999...: the limit must be the decimal the user wrote
    df = frame(["a"] * n, [1.0] * n, ok=[False] * failures + [True] * (n - failures))
    (result,) = evaluate_slos(df, [parse_slo(rule)])
    assert result.ok is met


def test_latency_threshold_in_seconds_is_exact():
    df = frame(["a"] * 3, [1001.0, 1001.0, 1001.0])
    assert evaluate_slos(df, [parse_slo("max <= 1.001s")])[0].ok
    assert not evaluate_slos(df, [parse_slo("max < 1.001s")])[0].ok


def test_rps_window_ends_at_the_last_response_not_last_start_plus_slowest():
    # 100 requests/s for 60 s; one slow request (30 s) early in the run must not stretch the window
    n = 6000
    df = make_frame({
        "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 10, unit="ms"),
        "tool": "k6", "label": "a", "status": 200, "ok": True,
        "latency_ms": np.where(np.arange(n) == 100, 30_000.0, 5.0),
    })
    overall = step_stats(df).set_index("label").loc[""]
    assert overall["rps"] == pytest.approx(n / (59.99 + 0.005))


def test_an_empty_label_is_a_step_not_the_all_requests_row():
    df = frame(["x", "", "x", ""], [1.0, 2.0, 3.0, 4.0])
    stats = step_stats(df).set_index("label")
    assert stats.loc["", "count"] == 4
    assert stats.loc["(no label)", "count"] == 2 and stats.loc["x", "count"] == 2
