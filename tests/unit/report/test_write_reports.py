"""write_reports on synthetic run directories: every file, the numbers, and bad input."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from perforch.errors import ReportError, RunDirError
from perforch.frame import make_aggregates
from perforch.report import write_reports
from tests.unit.analysis.synthetic import frame_from, staircase, steady
from tests.unit.report.rundir import write_run


def test_full_report_from_a_run_with_degradation(tmp_path):
    run_dir = write_run(tmp_path, staircase(knee_users=40), slos=("p99 < 500ms", ("login", "p95 < 200ms")))
    result = write_reports(run_dir)
    assert set(result.paths) == {"md", "html", "junit", "json"}
    assert result.verdict == "SLO NOT MET" and result.exit_code == 3
    md = (run_dir / "report.md").read_text()
    for part in ("### Performance Test Report: checkout", "**Test Date:** 2026-11-28 10:00:00 UTC",
                 "**Scenario:** ramping-vus", "k6 1.1.0 (local)", "**Performance SLOs:**", "- `login: p95 < 200ms`",
                 "**Results:** ❌ **SLO NOT MET**", "| Step | Requests |", "**Analysis & Observations:**",
                 "Latency rose with load: up to ~40 users (80.0 req/s)", "**Recommendations:**",
                 "- **[RECOMMENDATION]** Degradation began near 40 users / 80.0 req/s",
                 "exact, linear interpolation", "excludes connection setup", "![Response time over time](charts/"):
        assert part in md, part
    charts = sorted(p.name for p in (run_dir / "charts").glob("*.png"))
    assert charts == ["distribution.png", "latency_over_time.png", "load_curve.png", "steps.png",
                      "steps_over_time.png", "throughput.png"]
    html = (run_dir / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == len(charts)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["format_version"] == 1 and summary["verdict"] == "SLO NOT MET"
    assert summary["degradation"]["load"] == 40 and summary["percentile_method"] == "linear"
    assert len(summary["timeseries"]["t_s"]) == 160 and summary["files"]["html"] == "report.html"
    junit = ET.parse(run_dir / "junit.xml").getroot()
    cases = junit.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["p99 < 500ms", "login: p95 < 200ms"]
    assert junit.get("tests") == "2" and junit.get("failures") == str(sum(1 for c in cases if c.find("failure") is not None))


def test_every_number_of_the_step_table_is_in_summary_json(tmp_path):
    run_dir = write_run(tmp_path, steady(seconds=30), slos=("p95 < 1s",))
    write_reports(run_dir, ["json", "md"], percentile="nearest-rank")
    summary = json.loads((run_dir / "summary.json").read_text())
    md = (run_dir / "report.md").read_text()
    assert "nearest rank k = round(n·p) (JMeter Aggregate Report's definition)" in md
    for step in summary["steps"]:
        row = next(line for line in md.splitlines() if line.startswith(f"| {step['label']} |"))
        assert f"{step['count']:,}" in row and f"{step['p99']:,.1f}" in row


def test_formats_can_be_chosen_and_unknown_ones_refused(tmp_path):
    run_dir = write_run(tmp_path, steady(seconds=10))
    result = write_reports(run_dir, "junit")
    assert set(result.paths) == {"junit"} and not (run_dir / "report.html").exists()
    with pytest.raises(ReportError, match="unknown report format pdf"):
        write_reports(run_dir, "md,pdf")


def test_github_step_summary_gets_the_markdown(tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_reports(write_run(tmp_path, steady(seconds=10)), "json")
    text = summary.read_text()
    assert text.startswith("earlier step\n### Performance Test Report: checkout")
    assert "charts/" not in text  # images would not resolve in a job summary


def test_an_unwritable_github_step_summary_is_a_problem_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "missing-dir" / "summary.md"))
    result = write_reports(write_run(tmp_path, steady(seconds=10)), "json")
    assert result.problems[-1].startswith("could not append the report to GITHUB_STEP_SUMMARY")
    assert result.exit_code == 0  # the verdict survives


def test_github_step_summary_is_cut_to_its_size_limit(tmp_path, monkeypatch):
    from perforch.report import STEP_SUMMARY_MAX_BYTES

    labels = [f"GET /api/items/{i:05d}" for i in range(12_000)]  # an un-normalised URL per request
    df = frame_from(np.arange(len(labels)) * 0.002, labels, np.full(len(labels), 5.0))
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run_dir = write_run(tmp_path, df)
    write_reports(run_dir, "md")
    assert (run_dir / "report.md").stat().st_size > STEP_SUMMARY_MAX_BYTES
    text = summary.read_text()
    assert len(text.encode()) <= STEP_SUMMARY_MAX_BYTES + 200
    assert text.rstrip().endswith(f"the whole report is {run_dir / 'report.md'})*")


def test_baseline_adds_what_changed_and_exit_3_on_regression(tmp_path):
    base = write_run(tmp_path / "a", steady(seconds=60, seed=1), slos=("p99 < 5s",))
    slower = steady(seconds=60, seed=2)
    slower["latency_ms"] = slower["latency_ms"] * np.where(slower["label"] == "checkout", 1.3, 1.0)
    new = write_run(tmp_path / "b", slower, slos=("p99 < 5s",))
    result = write_reports(new, baseline=base)
    assert result.all_met and result.regression and result.exit_code == 3
    md = (new / "report.md").read_text()
    assert "**What changed since `20261128-100000-checkout-k6`**" in md and "REGRESSION: 1 step worse" in md
    assert "| checkout | **worse** |" in md
    assert json.loads((new / "summary.json").read_text())["comparison"]["regression"] is True
    suites = ET.parse(new / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["SLOs: checkout", "regressions: checkout"]


# --- bad input: a clear message and a report that says what is missing -----------------------


def test_empty_run(tmp_path):
    run_dir = write_run(tmp_path, frame_from([], [], []))
    result = write_reports(run_dir)
    assert result.exit_code == 3 and result.problems == (
        "no requests were recorded: no statistics, SLO verdicts or charts",)
    md = (run_dir / "report.md").read_text()
    assert "> [!WARNING]\n> no requests were recorded" in md and "| `p99 < 500ms` | no data (no requests) |" in md
    assert list((run_dir / "charts").glob("*.png")) == []
    assert "No charts: the run recorded no requests." in (run_dir / "report.html").read_text()


def test_missing_samples_file(tmp_path):
    run_dir = write_run(tmp_path, None, warnings=("the tool wrote no results",))
    result = write_reports(run_dir)
    assert result.problems[0] == ("samples.parquet is missing from 20261128-100000-checkout-k6 "
                                  "(the tool wrote no results)")
    assert "samples.parquet is missing" in (run_dir / "report.html").read_text()


def test_corrupt_samples_file(tmp_path):
    run_dir = write_run(tmp_path, None)
    (run_dir / "samples.parquet").write_bytes(b"PAR1 this is not parquet")
    result = write_reports(run_dir)
    assert result.problems[0].startswith("samples.parquet is unreadable")
    assert "re-create it with perforch ingest" in result.problems[0]
    assert "samples.parquet is unreadable" in (run_dir / "report.md").read_text()


def test_only_failures(tmp_path):
    df = frame_from(np.linspace(0, 30, 300), "login", np.full(300, 3.0), ok=np.zeros(300, dtype=bool),
                    status=np.zeros(300, dtype=np.int16), error=["request timeout"] * 300)
    run_dir = write_run(tmp_path, df, slos=("error_rate < 1%",))
    result = write_reports(run_dir)
    md = (run_dir / "report.md").read_text()
    assert result.exit_code == 3 and "300 of 300 requests failed (100.00%)" in md
    assert "got no response (request timeout)" in md


def test_nan_latencies(tmp_path):
    df = frame_from(np.linspace(0, 30, 300), "login", np.full(300, np.nan))
    run_dir = write_run(tmp_path, df)
    result = write_reports(run_dir)
    assert "none of the 300 requests has a response time" in result.problems[0]
    charts = sorted(p.name for p in (run_dir / "charts").glob("*.png"))
    assert charts == ["throughput.png"]  # counts over time still mean something; latency charts would be garbage
    assert "| `p99 < 500ms` | no data (no timed requests) |" in (run_dir / "report.md").read_text()


def test_aggregates_only(tmp_path):
    aggregates = make_aggregates([{"label": "", "count": 50, "failures": 0, "avg_ms": 10.0, "min_ms": 1.0,
                                   "max_ms": 20.0, "p50": 9.0, "p90": 15.0, "p95": 17.0, "p99": 19.0,
                                   "p99_9": 20.0, "rps": 5.0}])
    run_dir = write_run(tmp_path, None, aggregates=aggregates)
    result = write_reports(run_dir)
    assert result.all_met and result.problems[0].startswith("no per-request samples: the figures are the tool's own")
    md = (run_dir / "report.md").read_text()
    assert "Percentiles: the tool's own figures (k6 aggregates), not recomputed by perforch." in md


def test_not_a_run_directory(tmp_path):
    with pytest.raises(RunDirError, match="run.json: missing"):
        write_reports(tmp_path)


def test_system_metrics_are_charted(tmp_path):
    system = pd.DataFrame({"ts": pd.date_range("2026-11-28 10:00:00", periods=30, freq="1s", tz="UTC"),
                           "elapsed_s": np.arange(30.0), "cpu_pct": np.linspace(5, 95, 30),
                           "mem_bytes": np.full(30, 2**27), "target": "sut"})
    run_dir = write_run(tmp_path, steady(seconds=30), system=system)
    write_reports(run_dir)
    assert (run_dir / "charts" / "system.png").exists()
    assert "The system under test: CPU mean 50%, peak 95%" in (run_dir / "report.md").read_text()


def test_an_interrupted_run_is_marked_incomplete(tmp_path):
    run_dir = write_run(tmp_path, steady(seconds=20), status="interrupted")
    write_reports(run_dir, "md,html")
    md = (run_dir / "report.md").read_text()
    assert ("**Test Date:** 2026-11-28 10:00:00 UTC — **incomplete: the run was interrupted**, the figures cover "
            "only part of the test") in md
    assert "The run was interrupted after 20.1 s of the planned 2 min 00 s" in md
    assert "incomplete: the run was interrupted" in (run_dir / "report.html").read_text()


def test_headroom_is_never_rounded_to_a_misleading_figure():
    from perforch.analysis import fmt

    assert [fmt.headroom(x) for x in (0.38, -0.22, 0.9965, 0.004, 0.0, 1.0, None)] == [
        "38%", "-22%", "99.7%", "0.4%", "0%", "100%", "-"]
