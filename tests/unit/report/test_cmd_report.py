"""perforch report / compare as a user meets them: output, exit codes, error text."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from perforch.cli.app import main
from tests.unit.analysis.synthetic import steady
from tests.unit.report.rundir import write_run


def run_cli(args, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["perforch", *args])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_report_prints_headline_and_paths(tmp_path, capsys, monkeypatch):
    run_dir = write_run(tmp_path, steady(seconds=20), slos=("p99 < 2s",))
    code, out, err = run_cli(["report", str(run_dir), "--format", "md,junit"], capsys, monkeypatch)
    assert code == 0 and err == ""
    assert "SLO MET: p99 " in out and f"  md     {run_dir / 'report.md'}" in out
    assert f"  junit  {run_dir / 'junit.xml'}" in out and not (run_dir / "report.html").exists()


def test_report_exit_3_when_an_slo_fails(tmp_path, capsys, monkeypatch):
    run_dir = write_run(tmp_path, steady(seconds=20), slos=("p99 < 10ms",))
    code, out, _ = run_cli(["report", str(run_dir), "-f", "json"], capsys, monkeypatch)
    assert code == 3 and "NOT MET  p99 < 10ms" in out and "SLO NOT MET (1 of 1 failed)" in out


def test_report_on_a_damaged_run_says_what_is_missing(tmp_path, capsys, monkeypatch):
    run_dir = write_run(tmp_path, None)
    (run_dir / "samples.parquet").write_text("garbage")
    code, out, err = run_cli(["report", str(run_dir)], capsys, monkeypatch)
    # perforch could not read the results: exit 1 (not 3, which CI reads as a performance failure)
    assert code == 1 and "Traceback" not in err
    assert "warning: samples.parquet is unreadable" in err
    assert f"error: {run_dir}: nothing to judge: samples.parquet is unreadable" in err
    assert "hint: the reports written say what is missing; no SLO verdict was given" in err
    assert "SLO NOT MET (1 of 1 failed): no requests recorded" in out  # the report still says it


def test_report_on_a_directory_that_is_not_a_run(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["report", str(tmp_path)], capsys, monkeypatch)
    assert code == 1
    assert err.splitlines()[0] == f"error: {tmp_path / 'run.json'}: missing; {tmp_path} is not a perforch run directory"


def test_report_usage_errors(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["report", str(tmp_path), "--format", "pdf"], capsys, monkeypatch)
    assert code == 2 and "unknown report format pdf" in err
    code, _, err = run_cli(["report", str(tmp_path), "--percentile", "median"], capsys, monkeypatch)
    assert code == 2 and "choose one of linear, nearest-rank" in err


def test_compare_exit_3_on_regression(tmp_path, capsys, monkeypatch):
    base = write_run(tmp_path / "a", steady(seconds=60, seed=1))
    slower = steady(seconds=60, seed=2)
    slower["latency_ms"] = slower["latency_ms"] * np.where(slower["label"] == "login", 1.5, 1.0)
    new = write_run(tmp_path / "b", slower, run_id="20261128-110000-checkout-k6")
    code, out, _ = run_cli(["compare", str(base), str(new)], capsys, monkeypatch)
    assert code == 3
    assert out.splitlines()[0] == "baseline 20261128-100000-checkout-k6  →  20261128-110000-checkout-k6"
    assert "REGRESSION: login" in out
    code, out, _ = run_cli(["compare", str(base), str(base)], capsys, monkeypatch)
    assert code == 0 and out.rstrip().endswith("no regression")
    code, out, _ = run_cli(["compare", str(base), str(new), "--min-effect", "60"], capsys, monkeypatch)
    assert code == 0  # a 50% shift is below a 60% minimum effect
