import numpy as np
import pandas as pd
import pytest

from perforch.analysis.series import distributions, step_load_profile, step_series, time_series
from perforch.analysis.stats import percentile, segment_percentiles, sorted_percentiles, step_stats
from tests.unit.analysis.synthetic import frame_from, staircase


def test_vectorised_percentiles_equal_numpy_and_nearest_rank_bit_for_bit():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 99, 100, 101, 1000):
        values = np.sort(rng.lognormal(2, 1, n))
        qs = [0, 0.1, 50, 90, 95, 99, 99.9, 100]
        assert np.array_equal(sorted_percentiles(values, qs), np.percentile(values, qs))
        assert list(sorted_percentiles(values, qs, "nearest-rank")) == [percentile(values, q, "nearest-rank") for q in qs]


def test_segment_percentiles_empty_segments_are_nan():
    out = segment_percentiles(np.array([1.0, 2.0, 3.0, 10.0]), [0, 3, 4], [3, 1, 0], [50])
    assert out[0, 0] == 2.0 and out[1, 0] == 10.0 and np.isnan(out[2, 0])


def test_time_series_buckets_are_exact_per_second():
    elapsed = [0.1, 0.5, 0.9, 1.2, 3.7, 3.8]
    df = frame_from(elapsed, "a", [10, 20, 30, 40, 50, np.nan], ok=[True, False, True, True, True, True],
                    vus=[1, 2, 2, 3, 5, 4])
    s = time_series(df)
    assert s["t_s"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert s["requests"].tolist() == [3, 1, 0, 2]
    assert s["errors"].tolist() == [1, 0, 0, 0]
    assert s.loc[0, "p50"] == 20.0 and s.loc[0, "p95"] == np.percentile([10, 20, 30], 95)
    assert np.isnan(s.loc[2, "p50"])  # an empty second stays empty, not zero
    assert s.loc[3, "p99"] == 50.0 and s.loc[3, "avg_ms"] == 50.0  # the NaN latency is not timed
    assert s["vus"].tolist()[:2] == [2.0, 3.0] and np.isnan(s.loc[2, "vus"]) and s.loc[3, "vus"] == 5.0


def test_time_series_does_not_need_time_order():
    df = frame_from([0.2, 1.5, 0.7, 1.1], "a", [1, 2, 3, 4])
    shuffled = df.iloc[[1, 3, 0, 2]].reset_index(drop=True)
    assert time_series(shuffled).equals(time_series(df))


def test_step_series_and_distribution_per_label():
    df = staircase(stage_s=10, top_users=30)
    over_time = step_series(df, max_points=10)
    assert set(over_time["label"]) == {"login", "search"}
    assert over_time["bucket_s"].iloc[0] == 3.0  # 30 s in at most 10 points
    dist = distributions(df)
    for _, part in dist.groupby("label"):
        share = part["share"].to_numpy()
        assert (np.diff(share) >= 0).all() and share[-1] == 1.0


def test_step_load_profile_is_exact_per_level():
    df = staircase(stage_s=10, top_users=30)
    profile = step_load_profile(df)
    assert sorted(profile["users"].unique()) == [10.0, 20.0, 30.0]
    row = profile[(profile["label"] == "login") & (profile["users"] == 20.0)].iloc[0]
    subset = df[(df["label"] == "login") & (df["vus"] == 20)]["latency_ms"].to_numpy()
    assert row["requests"] == len(subset)
    assert row["p95"] == pytest.approx(np.percentile(subset, 95), abs=0)


def test_step_stats_matches_per_label_numpy_on_a_large_random_frame():
    rng = np.random.default_rng(3)
    n = 20_000
    labels = rng.choice(["a", "b", "c"], n)
    latency = rng.lognormal(3, 1, n)
    latency[rng.random(n) < 0.01] = np.nan
    df = frame_from(np.sort(rng.uniform(0, 100, n)), labels, latency)
    stats = step_stats(df).set_index("label")
    for label in ("a", "b", "c", ""):
        values = latency if label == "" else latency[labels == label]
        timed = values[~np.isnan(values)]
        assert stats.loc[label, "count"] == len(values) and stats.loc[label, "timed"] == len(timed)
        assert stats.loc[label, "p99"] == np.percentile(timed, 99)
        assert stats.loc[label, "p99_9"] == np.percentile(timed, 99.9)
        assert stats.loc[label, "avg_ms"] == pytest.approx(timed.mean(), rel=1e-12)


def test_empty_frame_gives_empty_series():
    empty = frame_from([], [], [])
    assert time_series(empty).empty and step_series(empty).empty and distributions(empty).empty
    assert isinstance(time_series(empty), pd.DataFrame)
