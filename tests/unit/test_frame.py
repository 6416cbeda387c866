"""The unified frame: merging the samples of several load generators."""

import pandas as pd

from perforch.frame import concat_frames, make_frame


def worker_frame(worker: str, starts_s: list[float], vus: list[int]) -> pd.DataFrame:
    n = len(starts_s)
    return make_frame({
        "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(starts_s, unit="s"),
        "tool": "k6", "label": "a", "status": 200, "ok": True, "latency_ms": 1.0, "vus": vus, "worker": worker,
    })


def test_merged_generators_count_all_their_users():
    # generator 0 runs 2 then 3 users; generator 1 joins at 1.5 s with 5 users
    merged = concat_frames([worker_frame("0", [0.0, 1.0, 2.0, 3.0], [2, 2, 3, 3]),
                            worker_frame("1", [1.5, 2.5], [5, 5])])
    assert list(merged["worker"]) == ["0", "0", "1", "0", "1", "0"]
    assert list(merged["vus"]) == [2, 2, 7, 8, 8, 3]  # generator 1 sent its last request at 2.5 s
    assert list(merged["elapsed_s"]) == [0.0, 1.0, 1.5, 2.0, 2.5, 3.0]
