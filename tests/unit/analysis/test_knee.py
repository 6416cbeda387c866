import numpy as np
import pytest

from perforch.analysis.knee import find_degradation, find_saturation, load_levels
from perforch.analysis.series import time_series, typical_latency
from perforch.analysis.stats import step_stats
from tests.unit.analysis.synthetic import frame_from, staircase


def levels_of(df, by="users"):
    series = time_series(df, typical=typical_latency(df, step_stats(df)))
    return load_levels(series, by)


@pytest.mark.parametrize("knee", [30, 40, 50])
def test_planted_degradation_point_is_found_within_one_stage(knee):
    found = find_degradation(levels_of(staircase(knee_users=knee)))
    assert found is not None and found.knee
    assert abs(found.load - knee) <= 10  # one stage of the staircase
    assert found.base_ms == pytest.approx(50 * np.exp(1.645 * 0.25), rel=0.1)  # p95 of the flat stretch
    assert found.peak_load == 80 and found.factor > 3
    assert found.rps == pytest.approx(found.load * 2.0, rel=0.15)  # 2 requests/s per user at that point


def test_flat_latency_is_not_degradation():
    assert find_degradation(levels_of(staircase(slope_ms=0.0))) is None


def test_steady_climb_has_no_knee():
    found = find_degradation(levels_of(staircase(knee_users=0, slope_ms=3.0)))
    assert found is not None and not found.knee


def test_more_requests_of_a_slow_step_at_higher_load_is_not_degradation():
    """The mix changes with load (the slow step dominates at the top) but no step gets slower."""
    rng = np.random.default_rng(5)
    parts = []
    for stage, users in enumerate(range(10, 81, 10)):
        n = users * 40
        slow_share = users / 100
        labels = np.where(rng.random(n) < slow_share, "report", "ping")
        latency = np.where(labels == "report", 400.0, 5.0) * rng.lognormal(0, 0.1, n)
        parts.append((np.sort(rng.uniform(stage * 20, stage * 20 + 20, n)), labels, latency, np.full(n, users)))
    elapsed, labels, latency, vus = (np.concatenate(x) for x in zip(*parts))
    assert find_degradation(levels_of(frame_from(elapsed, labels, latency, vus=vus))) is None


def test_saturation_when_throughput_stops_growing():
    rng = np.random.default_rng(9)
    parts = []
    for stage, users in enumerate(range(10, 81, 10)):
        rate = min(users, 40) * 5  # throughput capped at 200 req/s from 40 users on
        n = rate * 20
        parts.append((np.sort(rng.uniform(stage * 20, stage * 20 + 20, n)), np.full(n, users)))
    elapsed, vus = (np.concatenate(x) for x in zip(*parts))
    df = frame_from(elapsed, "a", rng.lognormal(3, 0.2, len(elapsed)), vus=vus)
    found = find_saturation(levels_of(df))
    assert found is not None
    assert 30 <= found.load <= 50 and found.rps == pytest.approx(200, rel=0.1) and found.peak_load == 80


def test_linear_throughput_is_not_saturation():
    assert find_saturation(levels_of(staircase(slope_ms=0.0))) is None


def test_constant_users_have_no_levels_to_compare():
    df = frame_from(np.linspace(0, 60, 3000), "a", np.full(3000, 10.0), vus=np.full(3000, 10))
    assert find_degradation(levels_of(df)) is None and find_saturation(levels_of(df)) is None
