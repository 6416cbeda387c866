"""Real Locust against the demo API on 127.0.0.1: the examples run, perforch's numbers equal the
rows and Locust's own table, every byte arrives as written, and failures say what happened."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from perforch.adapters.locust import ingest as ing
from perforch.adapters.locust.tool import LocustAdapter
from perforch.analysis.stats import step_stats
from perforch.errors import ToolFailed
from perforch.pipeline import RunOptions, ingest_files, run_scenario
from tests.conftest import SCENARIOS, require_tool
from tests.unit.adapters.locust.test_ingest import printed_tables

pytestmark = pytest.mark.integration
SECRET = "not-so-secret-value"


def options(tmp_path: Path, base_url: str, **kw) -> RunOptions:
    return RunOptions(tool="locust", runs_root=tmp_path, base_url=base_url, monitor=False, **kw)


def variant(tmp_path: Path, name: str, change) -> Path:  # noqa: ANN001
    """A copy of an example scenario, changed by `change(dict)`."""
    data = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8"))
    for source in data.get("data", {}).values():  # the copy lives elsewhere: its data files stay here
        source["file"] = str(SCENARIOS / source["file"])
    change(data)
    path = tmp_path / f"{name}-variant.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("user_class", ["fast", "http"])
def test_wire_every_byte_arrives_as_written(user_class, demo_api, demo_stats, tmp_path, monkeypatch) -> None:
    require_tool("locust")
    monkeypatch.setenv("PERFORCH_DEMO_SECRET", SECRET)
    spec = variant(tmp_path, "wire", lambda d: d.setdefault("tools", {}).update({"locust": {"user_class": user_class}}))
    result = run_scenario(spec, options(tmp_path / "runs", demo_api))
    assert result.record.status == "complete" and result.record.exit_codes == {"locust": 0}
    samples = result.samples
    assert len(samples) == 24, samples[["label", "error"]]
    assert samples["ok"].all(), samples.loc[~samples["ok"], ["label", "error"]]
    seen = demo_stats()
    assert seen["requests"] == {"POST /echo": 18, "GET /echo": 6}
    assert seen["unfilled"] == 6  # wire.yaml sends a literal ${not_a_ref} on purpose, once per iteration
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_ramping_arrival_starts_what_the_stages_integrate_to(demo_api, demo_stats, tmp_path) -> None:
    require_tool("locust")
    result = run_scenario(SCENARIOS / "ramping-arrival.yaml", options(tmp_path, demo_api))
    # 5 -> 15/s over 3 s (30), 15/s for 4 s (60), 15 -> 0/s over 2 s (15)
    assert abs(len(result.samples) - 105) <= 105 * 0.05
    assert demo_stats()["requests"]["GET /api/slow"] == len(result.samples)
    assert result.record.status == "complete" and result.record.exit_codes == {"locust": 0}


def test_numbers_equal_the_rows_and_locusts_printed_table(demo_api, tmp_path) -> None:
    require_tool("locust")
    result = run_scenario(SCENARIOS / "arrival-rate.yaml", options(tmp_path, demo_api))
    rows = ing.read_samples(result.run_dir / "raw" / "locust-requests.csv")[0]
    stats = step_stats(result.samples).set_index("label")
    for label in set(rows["label"]):
        mine = rows["latency_ms"][rows["label"] == label]
        assert stats.loc[label, "count"] == len(mine)
        assert stats.loc[label, "avg_ms"] == pytest.approx(mine.mean(), rel=1e-12)
        assert stats.loc[label, "max_ms"] == mine.max()
    log = result.run_dir / "logs" / "locust.stderr.log"
    (result.run_dir / "tables.txt").write_text(log.read_text().split("Shutting down", 1)[1].split("\n", 1)[1])
    printed, percentiles = printed_tables(result.run_dir / "tables.txt")
    table = ing.locust_table(result.samples).set_index(["method", "name"])
    for key, (reqs, fails, avg, low, high, med, *_rest) in printed.items():
        row = table.loc[key]
        assert (row["requests"], row["failures"], int(row["avg_ms"]), int(row["min_ms"]), int(row["max_ms"]),
                int(row["median_ms"])) == (reqs, fails, avg, low, high, med), key
        assert [int(row[c]) for c in ing.PERCENTILE_COLUMNS] + [reqs] == percentiles[key], key
    assert result.aggregates is not None and {"health", "search", ""} <= set(result.aggregates["label"])
    # Locust's _stats.csv holds the same numbers as its table, when its last rewrite came after the
    # last request (it is not rewritten at shutdown: then perforch warns and the rows win)
    aggregates = result.aggregates.set_index("label")
    for (method, name), (reqs, fails, avg, low, high, *_rest) in printed.items():
        label = "" if name == "Aggregated" else name
        if aggregates.loc[label, "count"] == reqs:
            agg = aggregates.loc[label]
            assert (agg["failures"], int(agg["avg_ms"]), int(agg["min_ms"]), int(agg["max_ms"])) == \
                (fails, avg, low, high), name
            assert [agg[c] for c in ("p50", "p90", "p95", "p99", "p99_9")] == \
                [percentiles[(method, name)][i] for i in (0, 4, 5, 7, 8)], name
        else:
            assert any("not at shutdown" in w for w in result.warnings)
    assert (result.run_dir / "aggregates.parquet").is_file()
    assert [p.split("/")[-1] for p in result.record.raw_files][:2] == ["locust-requests.csv", "locust_stats.csv"]


def test_a_locustfile_that_does_not_import_is_an_error(demo_api, tmp_path, monkeypatch) -> None:
    require_tool("locust")
    real = LocustAdapter.generate

    def broken(self, scenario):  # noqa: ANN001, ANN202
        script = real(self, scenario)
        files = dict(script.files)
        files["locustfile.py"] += "\nraise RuntimeError('a locustfile that does not import')\n"
        return type(script)(script.tool, script.entry, files, script.data_files, script.data_headers)

    monkeypatch.setattr(LocustAdapter, "generate", broken)
    with pytest.raises(ToolFailed) as err:
        run_scenario(SCENARIOS / "ramping-arrival.yaml", options(tmp_path, demo_api))
    error = err.value
    assert "exited with code 1" in error.message and "--perforch-samples" in error.message
    assert "RuntimeError: a locustfile that does not import" in error.details
    assert "locust.stderr.log" in error.hint and "run directory" in error.hint
    run_dir = next(tmp_path.iterdir())
    assert '"status": "failed"' in (run_dir / "run.json").read_text()


def test_a_locust_crash_is_an_error_with_its_log(demo_api, tmp_path) -> None:
    require_tool("locust")
    spec = variant(tmp_path, "ramping-arrival", lambda d: d.setdefault("tools", {}).update(
        {"locust": {"args": ["--no-such-option"]}}))
    with pytest.raises(ToolFailed) as err:
        run_scenario(spec, options(tmp_path / "runs", demo_api))
    assert "exited with code 2" in err.value.message and "--no-such-option" in err.value.message
    assert "unrecognized arguments" in err.value.details and "full log:" in err.value.hint


def _kill_locust_when(rows_file_glob: str, tmp_path: Path, rows: int, killed: list) -> threading.Thread:
    """SIGKILL the Locust process this test started (a child of this process, by its pid) once its
    request log has `rows` rows."""
    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            files = list(tmp_path.glob(rows_file_glob))
            if files and files[0].read_bytes().count(b"\n") > rows:
                for child in psutil.Process().children(recursive=True):
                    if any(part.endswith("locust") for part in child.cmdline()[:2]):
                        os.kill(child.pid, signal.SIGKILL)
                        killed.append(child.pid)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_killed_locust_loses_at_most_the_last_second(demo_api, demo_stats, tmp_path) -> None:
    require_tool("locust")
    killed: list[int] = []
    watcher = _kill_locust_when("*/raw/locust-requests.csv", tmp_path, 60, killed)
    with pytest.raises(ToolFailed) as err:
        run_scenario(SCENARIOS / "arrival-rate.yaml", options(tmp_path, demo_api))
    watcher.join(5)
    assert killed and "exited with code -9" in err.value.message
    run_dir = next(tmp_path.iterdir())
    sent = sum(demo_stats()["requests"].values())
    kept = len(ing.ingest_files([run_dir / "raw" / "locust-requests.csv"]).samples)
    # 20 iterations/s of one request each: what was not yet written out is at most about a second
    assert 60 <= kept <= sent and sent - kept <= 20 * 1.5, (kept, sent)
    assert (run_dir / "samples.parquet").is_file() and '"status": "failed"' in (run_dir / "run.json").read_text()


def test_a_timeout_stops_locust_and_keeps_what_it_measured(demo_api, tmp_path) -> None:
    require_tool("locust")
    result = run_scenario(SCENARIOS / "arrival-rate.yaml", options(tmp_path, demo_api, timeout_s=3))
    assert result.record.status == "interrupted" and any("timeout" in e for e in result.record.events)
    assert 30 <= len(result.samples) <= 100 and result.record.exit_codes["locust"] in (0, 3)


def test_perforch_ingest_recognises_locusts_own_csvs(demo_api, tmp_path) -> None:
    require_tool("locust")
    run = run_scenario(SCENARIOS / "ramping-arrival.yaml", options(tmp_path / "runs", demo_api))
    native = [run.run_dir / "raw" / f"locust{suffix}" for suffix in
              ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")]
    own = ingest_files(native, runs_root=tmp_path / "ingested", slos=["p95 < 1s"])
    assert own.record.tool == "locust" and len(own.samples) == 0
    overall = own.aggregates.set_index("label").loc[""]
    assert overall["count"] <= len(run.samples) and overall["max_ms"] <= run.samples["latency_ms"].max()
    rows = ingest_files([run.run_dir / "raw" / "locust-requests.csv"], runs_root=tmp_path / "rows")
    assert rows.record.tool == "locust" and len(rows.samples) == len(run.samples)


def test_distributed_master_and_workers_keep_the_rate_and_the_iteration_count(demo_api, demo_stats, tmp_path) -> None:
    """--workers 2: a master and two workers; each worker writes its own rows; the arrival rate is
    shared between them, and an iterations quota is exact even when one worker has no user."""
    require_tool("locust")
    result = run_scenario(SCENARIOS / "arrival-rate.yaml", options(tmp_path / "rate", demo_api, workers=2))
    assert result.record.status == "complete", result.record.events
    assert set(result.record.exit_codes) == {"locust-master", "locust-worker-0", "locust-worker-1"}
    assert abs(len(result.samples) - 160) <= 8 and sorted(result.samples["worker"].unique()) == ["0", "1"]
    raw = [p.split("/")[-1] for p in result.record.raw_files]
    assert raw[:2] == ["locust-requests-0.csv", "locust-requests-1.csv"] and "locust_stats.csv" in raw
    spec = variant(tmp_path, "wire", lambda d: d.update(
        variables={}, data={}, target={"base_url": d["target"]["base_url"]}, load={"profile": "iterations", "vus": 1, "iterations": 7, "max_duration": "30s"},
        flows=[{"name": "one", "steps": [{"name": "echo", "post": "/echo", "body": "x"}]}]))
    result = run_scenario(spec, options(tmp_path / "quota", demo_api, workers=2))
    assert len(result.samples) == 7 and demo_stats()["requests"]["POST /echo"] == 7


def test_a_failed_extraction_fails_its_step_and_ends_the_iteration(demo_api, demo_stats, tmp_path) -> None:
    """constant-vus, random data rows, think time; the second step's regex never matches: that step
    fails with the extraction named, the third step is never sent, and no think time follows."""
    require_tool("locust")
    (tmp_path / "users.csv").write_text("email,password\nann@x,1\nbo@x,2\ncy@x,3\n", encoding="utf-8")
    spec = tmp_path / "extract.yaml"
    spec.write_text(f"""
version: 1
name: extract
target: {{base_url: "{demo_api}"}}
data: {{users: {{file: users.csv, order: random}}}}
flows:
  - name: f
    think: 200ms
    steps:
      - {{name: login, post: /auth/login, json: {{email: "${{users.email}}", password: "${{users.password}}"}},
         extract: {{token: {{json: $.token}}}}}}
      - {{name: missing, get: /health, think: 0s, extract: {{nothing: {{regex: "no such (text)"}}}}}}
      - {{name: never, get: "/echo/${{nothing}}"}}
load: {{profile: constant-vus, vus: 2, duration: 3s}}
""", encoding="utf-8")
    result = run_scenario(spec, options(tmp_path / "runs", demo_api))
    samples = result.samples
    logins, missing = (samples[samples["label"] == label] for label in ("login", "missing"))
    assert len(logins) == len(missing) > 4 and "never" not in set(samples["label"])
    assert missing["ok"].sum() == 0 and set(missing["error"]) == {"check failed: missing: extract nothing"}
    assert logins["ok"].all() and samples["vus"].max() == 2
    seen = demo_stats()
    assert set(seen["logins"]) <= {"ann@x", "bo@x", "cy@x"} and sum(seen["logins"].values()) == len(logins)
    assert "GET /echo" not in seen["requests"]
    # each iteration: login, 200 ms think, the failing step, then at once the next iteration's login
    by_user = samples.sort_values("ts")
    gaps = by_user["ts"].diff().dt.total_seconds()
    after_missing = gaps[(by_user["label"] == "login") & (by_user["label"].shift() == "missing")]
    assert len(after_missing) and after_missing.median() < 0.1


@pytest.mark.parametrize("user_class", ["fast", "http"])
def test_a_secret_in_a_failing_url_is_never_written(user_class, demo_api, tmp_path, monkeypatch) -> None:
    """Client errors quote the URL; a ${env.X} value in it is replaced by *** in every file of the run."""
    require_tool("locust")
    monkeypatch.setenv("PERFORCH_TEST_KEY", SECRET)
    spec = tmp_path / "secret.yaml"
    spec.write_text(f"""
version: 1
name: secret
target: {{base_url: "{demo_api}"}}
flows:
  - name: a
    steps:
      - {{name: slow, get: /api/slow, query: {{key: "${{env.PERFORCH_TEST_KEY}}"}}, timeout: 10ms}}
load: {{profile: iterations, iterations: 2}}
tools: {{locust: {{user_class: {user_class}}}}}
""", encoding="utf-8")
    result = run_scenario(spec, options(tmp_path / "runs", demo_api))
    assert len(result.samples) == 2 and not result.samples["ok"].any()
    errors = list(result.samples["error"])
    assert all("key=***" in e for e in errors if "key=" in e) and (user_class == "http" or "key=***" in errors[0])
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
