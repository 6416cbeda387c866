import numpy as np
import pandas as pd

from perforch.analysis.capacity import Level, judge_levels
from perforch.capacity import Staircase, staircase_scenario
from perforch.frame import make_frame
from perforch.spec.slo import parse_slo


def staircase_frame() -> pd.DataFrame:
    """10 requests/s per 10 users; latency flat at 20 ms up to 30 users, then 100 ms per 10 users more."""
    rows_ts, rows_lat = [], []
    start = pd.Timestamp("2026-01-01", tz="UTC")
    for i, users in enumerate([10, 20, 30, 40, 50]):
        latency = 20.0 if users <= 30 else 20.0 + (users - 30) * 10
        n = users * 10  # over a 10 s hold
        offsets = i * 10 + np.linspace(0, 9.99, n)
        rows_ts += list(start + pd.to_timedelta(offsets, unit="s"))
        rows_lat += [latency] * n
    return make_frame({"ts": rows_ts, "tool": "k6", "label": "a", "status": 200, "ok": True, "latency_ms": rows_lat},
                      run_start=start)


def test_breaking_point_is_the_first_level_missing_an_slo():
    levels = [Level(u, i * 10.0, i * 10.0 + 10) for i, u in enumerate([10, 20, 30, 40, 50])]
    capacity = judge_levels(staircase_frame(), levels, [parse_slo("p99 < 200ms")], "users")
    assert [v.ok for v in capacity.levels] == [True, True, True, True, False]
    assert capacity.breaking.level.load == 50 and capacity.last_good.level.load == 40
    assert round(capacity.levels[0].rps) == 10


def test_every_level_held():
    levels = [Level(10, 0.0, 10.0)]
    capacity = judge_levels(staircase_frame(), levels, [parse_slo("p99 < 1s")], "users")
    assert capacity.breaking is None and capacity.last_good.level.load == 10


def test_staircase_replaces_the_load(tmp_path):
    from tests.conftest import SCENARIOS
    from perforch.spec import load_scenario

    scenario = load_scenario(SCENARIOS / "arrival-rate.yaml")
    stepped, windows = staircase_scenario(scenario, Staircase(start=10, step=10, maximum=30, hold_s=10, ramp_s=2))
    assert stepped.load.profile == "ramping-vus"
    assert [s.target for s in stepped.load.stages] == [10, 10, 20, 20, 30, 30]
    assert [(w.start_s, w.end_s) for w in windows] == [(4.0, 12.0), (16.0, 24.0), (28.0, 36.0)]
    open_model, _ = staircase_scenario(scenario, Staircase(5, 5, 10, hold_s=10, ramp_s=2, open_model=True))
    assert open_model.load.profile == "ramping-arrival-rate" and open_model.load.stages[-1].target == 10
