"""Real k6 against the demo API on 127.0.0.1: perforch's numbers equal k6's own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from perforch.adapters.k6 import ingest as k6_ingest
from perforch.adapters.k6.tool import K6Adapter
from perforch.analysis.stats import step_stats
from perforch.pipeline import RunOptions, ingest_files, run_scenario
from perforch.spec import load_scenario
from tests.conftest import SCENARIOS, example_scenarios, require_tool

pytestmark = pytest.mark.integration


def test_quickstart_numbers_equal_k6_summary(demo_api, demo_stats, tmp_path):
    require_tool("k6")
    result = run_scenario(SCENARIOS / "quickstart.yaml", RunOptions(tool="k6", runs_root=tmp_path, base_url=demo_api))
    assert result.record.status == "complete"
    summary = json.loads((result.run_dir / "raw" / "summary.json").read_text())["metrics"]
    stats = step_stats(result.samples).set_index("label")
    keys = {"avg": "avg_ms", "max": "max_ms", "min": "min_ms", "p(90)": "p90", "p(95)": "p95", "p(99)": "p99",
            "med": "p50", "p(99.9)": "p99_9"}
    for label in [*load_scenario(SCENARIOS / "quickstart.yaml").labels, ""]:
        k6 = summary["http_req_duration" + (f"{{name:{label}}}" if label else "")]
        ours = stats.loc[label]
        assert ours["count"] == k6["count"], label
        for k6_key, our_key in keys.items():
            assert abs(ours[our_key] - k6[k6_key]) <= 1e-6, (label, k6_key, ours[our_key], k6[k6_key])
    # k6 counts as failed only unexpected statuses; perforch also fails requests whose checks failed.
    assert int((~result.samples["ok"]).sum()) >= summary["http_req_failed"]["passes"]
    # what the server saw: every step ran, in the proportions of the flows, nothing unfilled
    seen = demo_stats()
    assert seen["unfilled"] == 0 and seen["unauthorized"] == 0
    counts = result.samples["label"].value_counts()
    assert seen["requests"]["POST /auth/login"] == counts["login"]
    assert seen["requests"]["GET /api/orders/{order_id}"] == counts["order status"]
    assert counts["login"] == counts["list items"] == counts["create order"] == counts["order status"]
    assert (result.run_dir / "samples.parquet").is_file()


@pytest.mark.parametrize("spec", [s for s in example_scenarios() if s.stem != "quickstart"], ids=lambda p: p.stem)
def test_every_example_runs_on_k6(spec, demo_api, demo_stats, tmp_path, monkeypatch):
    require_tool("k6")
    monkeypatch.setenv("PERFORCH_DEMO_SECRET", "not-so-secret-value")
    result = run_scenario(spec, RunOptions(tool="k6", runs_root=tmp_path, base_url=demo_api))
    assert result.record.status == "complete"
    assert len(result.samples) > 0
    if spec.stem != "wire":  # wire.yaml sends a literal ${not_a_ref} on purpose
        assert demo_stats()["unfilled"] == 0
    else:  # every byte arrived as written: all expectations held
        assert result.samples["ok"].all(), result.samples.loc[~result.samples["ok"], ["label", "error"]]
        assert len(result.samples) == 24
        for path in result.run_dir.rglob("*"):
            if path.is_file():
                assert b"not-so-secret-value" not in path.read_bytes(), path


def test_csv_and_json_outputs_ingest_to_the_same_frame(demo_api, tmp_path):
    binary = require_tool("k6")
    adapter = K6Adapter()
    script = adapter.generate(load_scenario(SCENARIOS / "quickstart.yaml"))
    script_dir = tmp_path / "script"
    script.write(script_dir)
    text = (script_dir / "script.js").read_text().replace('"http://127.0.0.1:8765"', json.dumps(demo_api))
    text = text.replace('"duration": "10s"', '"duration": "2s"')
    (script_dir / "script.js").write_text(text)
    subprocess.run([binary, "run", "--quiet", "--out", f"csv={tmp_path / 'a.csv'}", "--out", f"json={tmp_path / 'a.json'}",
                    "--system-tags", "name,method,status,error,expected_response,group,scenario,check,vu,iter",
                    "script.js"], cwd=script_dir, check=True, capture_output=True,
                   env={"K6_CSV_TIME_FORMAT": "rfc3339_nano", "K6_NO_USAGE_REPORT": "true", "PATH": "/usr/bin:/bin"})
    from_csv = k6_ingest.ingest_files([tmp_path / "a.csv"]).samples
    from_json = k6_ingest.ingest_files([tmp_path / "a.json"]).samples
    assert len(from_csv) == len(from_json) > 100
    for column in ("label", "status", "ok", "method", "flow"):
        assert from_csv[column].astype(str).tolist() == from_json[column].astype(str).tolist(), column
    assert np.allclose(from_csv["latency_ms"], from_json["latency_ms"], atol=1e-6)
    assert (from_csv["ts"] - from_json["ts"]).abs().max().total_seconds() < 1e-6


def test_several_k6_files_merge_into_one_run(demo_api, tmp_path):
    require_tool("k6")
    runs = [run_scenario(SCENARIOS / "arrival-rate.yaml", RunOptions(tool="k6", runs_root=tmp_path / "r", base_url=demo_api))
            for _ in range(2)]
    files = []
    for i, run in enumerate(runs):
        target = tmp_path / f"generator{i}.csv"
        target.write_bytes((run.run_dir / "raw" / "k6.csv").read_bytes())
        files.append(target)
    merged = ingest_files(files, runs_root=tmp_path / "merged", slos=["p99 < 1s"])
    assert len(merged.samples) == sum(len(r.samples) for r in runs)
    assert sorted(merged.samples["worker"].unique()) == ["generator0", "generator1"]
    all_latencies = np.concatenate([r.samples["latency_ms"].to_numpy() for r in runs])
    stats = step_stats(merged.samples).set_index("label")
    assert stats.loc["", "p99"] == pytest.approx(np.percentile(all_latencies, 99), abs=1e-9)
    assert Path(merged.run_dir / "samples.parquet").is_file()


def _perforch(args: list[str], tmp_path: Path, interrupt_after_s: float | None = None) -> tuple[int, str]:
    import os
    import signal
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "perforch", *args, "-o", str(tmp_path / "runs")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    if interrupt_after_s is not None:
        time.sleep(interrupt_after_s)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


def test_ctrl_c_keeps_a_readable_run_and_exits_130(demo_api, tmp_path):
    require_tool("k6")
    code, out = _perforch(["run", str(SCENARIOS / "quickstart.yaml"), "--target", demo_api], tmp_path, 6.0)
    assert code == 130, out  # not 0: a CI step must not pass on a test stopped half-way
    assert "interrupted by the user (Ctrl-C)" in out and out.rstrip().endswith(
        "interrupted (Ctrl-C): everything perforch had started is stopped and removed")
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert (run_dir / "samples.parquet").is_file()
    assert "incomplete: the run was interrupted" in (run_dir / "report.md").read_text()


def test_a_run_stopped_at_its_timeout_exits_1(demo_api, tmp_path):
    require_tool("k6")
    code, out = _perforch(["run", str(SCENARIOS / "quickstart.yaml"), "--target", demo_api, "--timeout", "4"],
                          tmp_path)
    assert code == 1, out
    assert "error: the run was stopped at its timeout, before the test ended" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "report.md").is_file() and (run_dir / "samples.parquet").is_file()
