"""Distributed runs (--workers N) on the tools' own mechanisms, as processes and as containers.

The total load is the scenario's (not N times it), the raw results of all generators merge into
one frame with the `worker` column, percentiles are computed over all samples, and a generator
that dies mid-run is reported by name and time (the run goes on, or stops when asked).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from perforch.analysis.stats import step_stats
from perforch.errors import ToolFailed
from perforch.pipeline import RunOptions, Tick, run_scenario
from tests.conftest import require_tool
from tests.integration.test_docker import K6_IMAGE, docker_client, leftovers_of, only_run_dir, require_image, write_spec

pytestmark = pytest.mark.integration


def rate_spec(tmp_path: Path, base_url: str, rate: str = "60/s", duration: str = "5s") -> Path:
    return write_spec(tmp_path, f"""
        version: 1
        name: spread
        target: {{base_url: "{base_url}", environment: demo}}
        flows:
          - name: reader
            steps: [{{name: health, get: /health}}]
        load: {{profile: constant-arrival-rate, rate: {rate}, duration: {duration}, max_vus: 30}}
        slos: ["p99 < 1s"]
        """)


@pytest.mark.parametrize("runner,workers", [("local", 3), ("local", 2), ("docker", 3), ("docker", 2)])
def test_k6_workers_share_the_load_of_the_scenario(runner, workers, demo_api, demo_stats, tmp_path):
    require_tool("k6")
    if runner == "docker":
        require_image(K6_IMAGE)
    result = run_scenario(rate_spec(tmp_path, demo_api), RunOptions(
        tool="k6", runner=runner, workers=workers, image=K6_IMAGE, runs_root=tmp_path / "runs"))
    samples = result.samples
    assert result.record.status == "complete" and result.record.workers == workers
    assert result.record.exit_codes == {f"k6-{i}": 0 for i in range(workers)}
    # 60 iterations/s for 5 s in total, split by execution segments: not 60/s per worker
    assert 285 <= len(samples) <= 315, len(samples)
    assert demo_stats()["requests"]["GET /health"] == len(samples)
    per_worker = samples["worker"].value_counts()
    assert sorted(per_worker.index) == [str(i) for i in range(workers)]
    assert per_worker.max() - per_worker.min() <= 3
    # one frame: percentiles over every sample, not an average of the workers' percentiles
    stats = step_stats(samples).set_index("label")
    assert stats.loc["", "count"] == len(samples)
    assert stats.loc["", "p99"] == pytest.approx(np.percentile(samples["latency_ms"].to_numpy(), 99), abs=1e-9)
    assert any(e.startswith(f"distributed over {workers} load generators: k6-0") for e in result.record.events)
    if runner == "docker":
        assert leftovers_of(result.run_dir.name) == []


def _kill_worker_1(runner: str, tmp_path: Path, after_s: float):  # noqa: ANN202
    """An on_tick that kills load generator 1 once `after_s` seconds of load have passed."""
    done: list[float] = []

    def tick(t: Tick) -> None:
        if done or t.elapsed_s < after_s:
            return
        if runner == "local":
            for proc in psutil.process_iter(["cmdline"]):
                cmd = " ".join(proc.info["cmdline"] or [])
                if "k6-1.csv" in cmd and str(tmp_path) in cmd:
                    proc.send_signal(signal.SIGKILL)
                    done.append(t.elapsed_s)
        else:
            for container in docker_client().containers.list(filters={"label": "perforch.run"}):
                owner = (container.labels or {}).get("perforch.owner", "")
                if container.name.endswith("-k6-1") and f":{os.getpid()}:" in owner:
                    container.kill()
                    done.append(t.elapsed_s)

    return tick, done


@pytest.mark.parametrize("runner", ["local", "docker"])
def test_a_dead_worker_is_reported_and_the_run_goes_on(runner, demo_api, tmp_path):
    require_tool("k6")
    if runner == "docker":
        require_image(K6_IMAGE)
    tick, killed = _kill_worker_1(runner, tmp_path, 2.0)
    result = run_scenario(rate_spec(tmp_path, demo_api, duration="5s"), RunOptions(
        tool="k6", runner=runner, workers=3, image=K6_IMAGE, runs_root=tmp_path / "runs"), tick)
    assert killed, "worker 1 was not found to kill"
    assert result.record.status == "complete"
    died = next(e for e in result.record.events if e.startswith("worker 1 (k6-1) died"))
    seconds = float(died.split(" died ")[1].split(" s ")[0])
    assert abs(seconds - killed[0]) < 1.5, (died, killed)
    assert "2 of 3 load generators left" in died
    assert any("the run went on with 2 of 3 load generators" in e for e in result.record.events)
    assert result.record.exit_codes["k6-1"] in (-9, 137)
    counts = result.samples["worker"].value_counts()
    assert counts["1"] < counts["0"] - 20 and counts["0"] == pytest.approx(counts["2"], abs=3)
    if runner == "docker":
        assert leftovers_of(result.run_dir.name) == []


def test_a_dead_worker_stops_the_run_when_asked(demo_api, tmp_path):
    require_tool("k6")
    tick, killed = _kill_worker_1("local", tmp_path, 1.5)
    began = time.monotonic()
    with pytest.raises(ToolFailed) as err:
        run_scenario(rate_spec(tmp_path, demo_api, duration="20s"), RunOptions(
            tool="k6", workers=3, on_worker_failure="stop", runs_root=tmp_path / "runs"), tick)
    assert time.monotonic() - began < 15  # not the planned 20 s
    assert err.value.message.startswith("load generator k6-1 died (exit code -9); the run was stopped")
    import json

    record = json.loads((only_run_dir(tmp_path / "runs") / "run.json").read_text())
    assert record["status"] == "failed"
    assert any(e.startswith("worker 1 (k6-1) died") for e in record["events"])
    assert "the run was stopped because a worker died (--on-worker-failure stop)" in record["events"]


@pytest.mark.parametrize("runner,workers", [("local", 2), ("local", 3), ("docker", 2), ("docker", 3)])
@pytest.mark.parametrize("tool,image", [("locust", "perforch/locust:2.47.0"), ("jmeter", "perforch/jmeter:2.13")])
def test_locust_and_jmeter_workers_share_the_load(tool, image, runner, workers, demo_api, demo_stats, tmp_path):
    require_tool(tool)
    if runner == "docker":
        require_image(image)
    result = run_scenario(rate_spec(tmp_path, demo_api), RunOptions(
        tool=tool, runner=runner, workers=workers, image=image, runs_root=tmp_path / "runs"))
    samples = result.samples
    assert result.record.status == "complete", result.record.events
    assert 285 <= len(samples) <= 315, len(samples)  # 60/s for 5 s in total, not per worker
    assert demo_stats()["requests"]["GET /health"] == len(samples)
    assert sorted(samples["worker"].unique()) == [str(i) for i in range(workers)]
    stats = step_stats(samples).set_index("label")
    assert stats.loc["", "count"] == len(samples)
    if tool == "jmeter":  # N engines driven by one client that wrote one JTL
        assert stats.loc["", "p99"] == pytest.approx(np.percentile(samples["latency_ms"].to_numpy(), 99), abs=1e-9)
        assert result.record.exit_codes == {**{f"jmeter-server-{i}": 0 for i in range(workers)}, "jmeter": 0}
        per_worker = samples["worker"].value_counts()
        assert per_worker.max() - per_worker.min() <= 3  # each engine its share of the arrival tickets
        span = (samples["ts"].max() - samples["ts"].min()).total_seconds()
        assert len(samples) / 5 == pytest.approx(60, rel=0.05) and span < 5.2  # the engines started together
    if runner == "docker":
        assert leftovers_of(result.run_dir.name) == []


SECRET = "not-so-secret-value"


@pytest.mark.parametrize("runner,workers", [("local", 3), ("docker", 2)])
def test_jmeter_engines_share_iterations_and_data_rows_and_read_secrets_themselves(
        runner, workers, demo_api, demo_stats, tmp_path, monkeypatch):
    require_tool("jmeter")
    if runner == "docker":
        require_image("perforch/jmeter:2.13")
    monkeypatch.setenv("PERFORCH_DEMO_SECRET", SECRET)
    (tmp_path / "users.csv").write_text("email,password\n" + "".join(f"u{i}@example.com,pw{i}\n" for i in range(6)))
    spec = write_spec(tmp_path, f"""
        version: 1
        name: rows
        target: {{base_url: "{demo_api}", environment: demo}}
        data: {{users: {{file: users.csv}}}}
        flows:
          - name: shopper
            steps:
              - {{name: login, post: /auth/login, json: {{email: "${{users.email}}", password: "${{users.password}}"}}}}
              - name: secret
                get: /echo
                headers: {{Authorization: "Token ${{env.PERFORCH_DEMO_SECRET}}"}}
                expect: {{body_contains: "Token not-so-"}}
        load: {{profile: iterations, vus: 3, iterations: 6, max_duration: 30s}}
        """)
    result = run_scenario(spec, RunOptions(tool="jmeter", runner=runner, workers=workers,
                                           image="perforch/jmeter:2.13", runs_root=tmp_path / "runs"))
    samples = result.samples
    assert result.record.status == "complete", result.record.events
    assert len(samples) == 12 and samples["ok"].all(), samples.loc[~samples["ok"], ["label", "error"]]
    # 6 iterations in all; each engine reads its own rows, and together every row exactly once
    assert demo_stats()["logins"] == {f"u{i}@example.com": 1 for i in range(6)}
    assert demo_stats()["requests"] == {"POST /auth/login": 6, "GET /echo": 6}
    assert samples["worker"].value_counts().to_dict() == {str(w): 12 // workers for w in range(workers)}
    # each engine read the secret from its own environment; it is nowhere in the run directory
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    if runner == "docker":
        assert leftovers_of(result.run_dir.name) == []
