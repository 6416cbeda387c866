import numpy as np
import pytest

from perforch.analysis.errors import binomial_tail, summarize_errors
from perforch.analysis.series import time_series
from tests.unit.analysis.synthetic import START, frame_from, steady


def test_planted_error_burst_is_reported_with_its_start_time():
    df = steady(seconds=120, burst=(61.0, 71.0), error_rate=0.001)
    summary = summarize_errors(df, time_series(df))
    burst = summary.burst
    assert burst is not None
    first_in_burst = df[(~df["ok"]) & (df["elapsed_s"] >= 61.0)]["elapsed_s"].min()
    assert burst.start_s == first_in_burst and 61.0 <= burst.start_s < 61.5
    assert burst.start_ts == START + np.timedelta64(int(round(first_in_burst * 1e9)), "ns")
    assert 70.0 <= burst.end_s <= 72.0
    assert burst.rate_inside > 10 * burst.rate_outside
    assert summary.by_step[0].label == "checkout"
    assert summary.kinds[0].status == 503 and summary.kinds[0].labels[0] == "checkout"


def test_errors_spread_evenly_are_not_a_burst():
    df = steady(seconds=120, error_rate=0.02)
    summary = summarize_errors(df, time_series(df))
    assert summary.failures > 50 and summary.burst is None
    assert summary.first_s == df.loc[~df["ok"], "elapsed_s"].min()


def test_a_few_errors_are_not_a_burst():
    df = frame_from(np.linspace(0, 60, 600), "a", np.full(600, 5.0), ok=np.arange(600) not in (10, 20, 30) if False
                    else ~np.isin(np.arange(600), [100, 110, 120]))
    assert summarize_errors(df, time_series(df)).burst is None


def test_only_failures():
    df = frame_from(np.linspace(0, 10, 50), "a", np.full(50, 5.0), ok=np.zeros(50, dtype=bool),
                    status=np.zeros(50, dtype=np.int16), error=["dial: connection refused"] * 50)
    summary = summarize_errors(df, time_series(df))
    assert summary.failures == 50 and summary.rate == 1.0 and summary.burst is None
    assert summary.kinds[0].text == "no response (dial: connection refused)"


def test_binomial_tail():
    assert binomial_tail(0, 10, 0.5) == 1.0
    assert binomial_tail(10, 10, 0.5) == pytest.approx(0.5 ** 10)
    assert binomial_tail(3, 4, 0.5) == pytest.approx(5 / 16)
    assert binomial_tail(5000, 10000, 0.5) == pytest.approx(0.5, abs=0.01)
