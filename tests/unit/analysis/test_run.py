import numpy as np
import pandas as pd
import pytest

from perforch.analysis.run import AGGREGATES, NOTHING, SAMPLES, analyze_run
from perforch.frame import make_aggregates
from perforch.spec.slo import parse_slo
from tests.unit.analysis.synthetic import frame_from, staircase, steady


def rules(*texts, step=None):
    return [parse_slo(t, step=step) for t in texts]


def kinds(findings):
    return [f.kind for f in findings]


def test_all_well_says_only_how_much_headroom_is_left():
    df = steady(seconds=600, rps=20)
    a = analyze_run(df, rules("p95 < 1s", "error_rate < 1%"), model="closed")
    assert a.source == SAMPLES and a.all_met
    assert len(a.recommendations) == 1 and a.recommendations[0].kind == "ok"
    text = a.recommendations[0].text
    assert text.startswith("None needed: SLOs met, with ") and "headroom on the tightest (p95 < 1s:" in text
    assert "errors" not in kinds(a.observations) and "data" not in kinds(a.observations)


@pytest.mark.parametrize("rule, met", [("max < 30ms", False), ("max <= 30ms", True), ("p50 < 20ms", False),
                                       ("p50 <= 20ms", True), ("rps >= 5", True), ("rps > 5", False),
                                       ("error_rate < 20%", False), ("error_rate <= 20%", True)])
def test_slo_exactly_at_threshold_is_judged_as_written(rule, met):
    # 5 requests over exactly 1 s (the last one starts at 0.99 s and takes 10 ms): rps = 5
    df = frame_from([0.0, 0.2, 0.4, 0.6, 0.97], "a", [10, 15, 20, 30, 30], ok=[True, True, True, True, False])
    (result,) = analyze_run(df, rules(rule)).slos
    assert result.ok is met, (rule, result.observed)


def test_failed_latency_slo_names_the_step_holding_the_slow_requests():
    df = steady(seconds=300)
    a = analyze_run(df, rules("p99 < 150ms"), model="closed")
    assert not a.all_met
    texts = " ".join(f.text for f in a.observations)
    assert "p99 < 150ms NOT MET: observed" in texts
    assert "requests at or above 150 ms: 'checkout'" in texts
    assert any(r.text.startswith("Start with 'checkout'") for r in a.recommendations)


def test_error_burst_and_concentration_are_observed_and_advised():
    df = steady(seconds=120, burst=(61.0, 71.0))
    a = analyze_run(df, rules("error_rate < 1%"))
    obs = " ".join(f.text for f in a.observations)
    assert "Failures are concentrated on 'checkout'" in obs
    assert "The errors came in a burst" in obs and "41 of 41 (100%) between t = 61.3 s and t = 71.0 s" in obs
    assert "starting at 10:01:01.327 UTC" in obs
    assert any("HTTP 503" in r.text for r in a.recommendations)


def test_planted_degradation_is_observed_with_users_and_rps():
    a = analyze_run(staircase(knee_users=40), rules("p95 < 2s"), model="closed")
    assert a.degradation is not None and a.degradation.load == 40
    obs = next(f.text for f in a.observations if f.kind == "degradation")
    assert obs.startswith("Latency rose with load: up to ~40 users (80.0 req/s) p95 stayed around")
    assert any(r.text.startswith("Degradation began near 40 users / 80.0 req/s") for r in a.recommendations)


def test_short_run_and_few_samples_are_flagged():
    df = frame_from(np.linspace(0, 10, 200), "a", np.linspace(1, 50, 200))
    a = analyze_run(df, rules("p99 < 1s"))
    obs = " ".join(f.text for f in a.observations if f.kind == "data")
    assert "The run lasted 10.1 s: too short" in obs
    assert "p99 < 1s rests on 200 timed requests, only 2 above its p99" in obs
    assert any(r.kind == "data" and r.text.startswith("Run longer") for r in a.recommendations)


def test_no_slos_is_said_and_recommended():
    a = analyze_run(steady(seconds=600, rps=5), [])
    assert a.slos == () and a.observations[0].text.startswith("No SLOs were declared")


def test_empty_run():
    a = analyze_run(frame_from([], [], []), rules("p99 < 1s"))
    assert a.source == NOTHING and a.requests == 0 and not a.all_met
    assert a.slos[0].observed is None and a.slos[0].note == "no requests"
    assert a.problems == ("no requests were recorded: no statistics, SLO verdicts or charts",)
    assert a.recommendations[0].text.startswith("Check the tool's log")


def test_all_latencies_nan():
    df = frame_from(np.linspace(0, 5, 20), "a", np.full(20, np.nan))
    a = analyze_run(df, rules("p99 < 1s", "error_rate < 1%"))
    assert a.slos[0].observed is None and a.slos[0].note == "no timed requests" and a.slos[1].ok
    assert "none of the 20 requests has a response time" in a.problems[0]
    assert a.series["p50"].isna().all() and a.distribution.empty


def test_aggregates_only_uses_the_tools_figures():
    aggregates = make_aggregates([
        {"label": "login", "count": 100, "failures": 1, "avg_ms": 10.0, "min_ms": 1.0, "max_ms": 90.0, "p50": 8.0,
         "p90": 20.0, "p95": 30.0, "p99": 80.0, "p99_9": 89.0, "rps": 10.0},
        {"label": "", "count": 100, "failures": 1, "avg_ms": 10.0, "min_ms": 1.0, "max_ms": 90.0, "p50": 8.0,
         "p90": 20.0, "p95": 30.0, "p99": 80.0, "p99_9": 89.0, "rps": 10.0},
    ])
    a = analyze_run(frame_from([], [], []), rules("p95 < 50ms", "p75 < 1s"), aggregates=aggregates)
    assert a.source == AGGREGATES and a.requests == 100 and a.duration_s == 10.0
    assert a.slos[0].ok and a.slos[0].observed == 30.0
    assert a.slos[1].observed is None and a.slos[1].note == "the tool did not report p75"
    assert "the figures are the tool's own aggregates" in a.problems[0]


def test_system_metrics_are_summarised_and_put_on_the_samples_clock():
    df = steady(seconds=60)
    system = pd.DataFrame({
        "ts": pd.date_range("2026-11-28 10:00:05", periods=50, freq="1s", tz="UTC"),
        "elapsed_s": np.arange(50.0), "cpu_pct": np.linspace(10, 90, 50),
        "mem_bytes": np.linspace(100, 200, 50) * 2**20, "target": "sut",
    })
    a = analyze_run(df, rules("p99 < 1s"), system=system)
    assert a.system["t_s"].iloc[0] == pytest.approx(5.0)
    (target,) = a.targets
    assert target.cpu_peak_pct == 90 and target.mem_end_bytes == 200 * 2**20
    assert any(f.kind == "system" and "grew 100%" in f.text for f in a.recommendations)


def test_a_busy_load_generator_is_called_out():
    df = steady(seconds=30)
    system = pd.DataFrame({
        "ts": pd.date_range("2026-11-28 10:00:00", periods=30, freq="1s", tz="UTC"), "elapsed_s": np.arange(30.0),
        "cpu_pct": np.full(30, 97.0), "mem_bytes": np.full(30, 2**26), "target": "k6",
    })
    a = analyze_run(df, rules("p99 < 1s"), system=system)
    assert any(f.text.startswith("Load generator 'k6': CPU mean 97%") for f in a.observations)
    assert any(f.text.startswith("Load generator 'k6' reached 97% CPU") for f in a.recommendations)


def test_a_failed_slo_never_gets_the_all_well_line():
    aggregates = make_aggregates([{"label": "", "count": 100, "failures": 0, "avg_ms": 900.0, "min_ms": 1.0,
                                   "max_ms": 2000.0, "p50": 800.0, "p90": 1500.0, "p95": 1700.0, "p99": 1900.0,
                                   "p99_9": 2000.0, "rps": 10.0}])
    a = analyze_run(frame_from([], [], []), rules("p95 < 1s"), aggregates=aggregates)
    assert not a.all_met and all(r.kind != "ok" for r in a.recommendations)
    assert a.recommendations[0].text.startswith("Bring p95 < 1s back under the limit; without per-request samples")
