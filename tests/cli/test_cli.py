"""The command line as a newcomer meets it: help, each error path's exact text, exit codes."""

from __future__ import annotations

import sys

import pytest

from perforch.cli.app import main
from tests.conftest import SCENARIOS


def run_cli(args: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["perforch", *args])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_help_lists_every_command(capsys, monkeypatch):
    code, out, _ = run_cli(["--help"], capsys, monkeypatch)
    assert code == 0
    for command in ("init", "validate", "generate", "run", "ingest", "demo", "doctor", "schema"):
        assert command in out


def test_validate_ok(capsys, monkeypatch):
    code, out, _ = run_cli(["validate", str(SCENARIOS / "quickstart.yaml")], capsys, monkeypatch)
    assert code == 0
    assert out.startswith("ok: ") and "2 flow(s), 6 step(s)" in out


def test_validate_error_has_file_line_and_hint(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text((SCENARIOS / "arrival-rate.yaml").read_text().replace("    weight: 3", "    wieght: 3"))
    code, out, err = run_cli(["validate", str(bad)], capsys, monkeypatch)
    assert code == 1
    assert err.splitlines()[0] == f"error: {bad}:10: flows[0].wieght: unknown key 'wieght'"
    assert "hint: did you mean 'weight'?" in err
    assert "Traceback" not in err


def test_usage_error_exits_2(capsys, monkeypatch):
    code, _, err = run_cli(["run"], capsys, monkeypatch)
    assert code == 2
    assert "Missing argument" in err


def test_unknown_tool_is_said_before_anything_runs(capsys, monkeypatch):
    code, out, err = run_cli(["run", str(SCENARIOS / "quickstart.yaml"), "--tool", "gatling"], capsys, monkeypatch)
    assert code == 1
    assert err.splitlines()[:2] == ["error: unknown tool 'gatling'", "hint: choose one of: k6, locust, jmeter"]
    assert "running" not in out + err


def test_run_of_a_missing_scenario_says_so_before_running(tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(["run", str(tmp_path / "nothere.yaml")], capsys, monkeypatch)
    assert code == 1
    assert err.splitlines()[:2] == [f"error: {tmp_path / 'nothere.yaml'}: no such file",
                                    "hint: perforch init writes a starter scenario"]
    assert "running" not in out + err


def test_init_then_validate(tmp_path, capsys, monkeypatch):
    target = tmp_path / "scenario.yaml"
    assert run_cli(["init", str(target)], capsys, monkeypatch)[0] == 0
    assert run_cli(["validate", str(target)], capsys, monkeypatch)[0] == 0
    code, _, err = run_cli(["init", str(target)], capsys, monkeypatch)
    assert code == 1 and "already exists" in err


def test_generate_writes_script(tmp_path, capsys, monkeypatch):
    code, out, _ = run_cli(["generate", str(SCENARIOS / "quickstart.yaml"), "--tool", "k6", "-o", str(tmp_path)],
                           capsys, monkeypatch)
    assert code == 0
    assert (tmp_path / "script.js").is_file() and (tmp_path / "data" / "users.csv").is_file()


def test_schema_is_json(capsys, monkeypatch):
    import json

    code, out, _ = run_cli(["schema"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["title"] == "perforch scenario"


def test_unreachable_target(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["run", str(SCENARIOS / "arrival-rate.yaml"), "--target", "http://127.0.0.1:1",
                            "-o", str(tmp_path)], capsys, monkeypatch)
    assert code == 1
    assert err.startswith("error: target http://127.0.0.1:1 is not reachable")
    assert "hint: start the system under test first" in err


def test_k6_missing(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["run", str(SCENARIOS / "arrival-rate.yaml"), "--tool-bin", str(tmp_path / "no-k6"),
                            "-o", str(tmp_path)], capsys, monkeypatch)
    assert code == 1
    assert err.splitlines()[0] == f"error: k6 not found at {tmp_path / 'no-k6'}"


def test_unset_env_var(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PERFORCH_DEMO_SECRET", raising=False)
    code, _, err = run_cli(["run", str(SCENARIOS / "wire.yaml"), "-o", str(tmp_path)], capsys, monkeypatch)
    assert code == 1
    assert "error: environment variable PERFORCH_DEMO_SECRET not set" in err
    assert "hint: export PERFORCH_DEMO_SECRET=..." in err


def test_k6_crash_shows_command_exit_code_and_stderr(tmp_path, capsys, monkeypatch, demo_api):
    fake = tmp_path / "k6"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = version ]; then echo 'k6 v9.9.9'; exit 0; fi\n"
                    "echo 'panic: something broke' >&2\nexit 107\n")
    fake.chmod(0o755)
    code, _, err = run_cli(["run", str(SCENARIOS / "arrival-rate.yaml"), "--tool-bin", str(fake), "--target", demo_api,
                            "-o", str(tmp_path / "runs")], capsys, monkeypatch)
    assert code == 1
    first = err.splitlines()[0]
    assert first.startswith(f"error: k6 failed: `{fake} run") and first.endswith("exited with code 107")
    assert "  panic: something broke" in err
    assert "hint: full log: " in err and "k6.stderr.log; run directory: " in err
    run_dir = next((tmp_path / "runs").iterdir())
    assert '"status": "failed"' in (run_dir / "run.json").read_text()


def test_ingest_unknown_file(tmp_path, capsys, monkeypatch):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    code, _, err = run_cli(["ingest", str(junk), "-o", str(tmp_path)], capsys, monkeypatch)
    assert code == 1
    assert err.splitlines()[0] == f"error: {junk}: not a result file perforch recognises"


def test_bad_percentile_method(capsys, monkeypatch):
    code, _, err = run_cli(["run", str(SCENARIOS / "quickstart.yaml"), "--percentile", "median"], capsys, monkeypatch)
    assert code == 2
    assert "choose one of linear, nearest-rank" in err


def test_a_narrow_terminal_cuts_step_names_never_figures(capsys, monkeypatch):
    from perforch.cli import console

    rows = [["GET /a/very/long/endpoint/name/that/does/not/fit", "1,234", "12.3", "0.50%", "123.4", "100.0",
             "200.0", "300.0", "1,234.5"]]
    console.table("t", ["step", "requests", "req/s", "errors", "avg", "p50", "p95", "p99", "max"], rows)
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("GET"))
    assert row.split("│")[0] == "GET /a/very… "  # the name's floor of 12 characters; the figures stay whole
    assert "…" in row.split("│")[0] and row.split("│")[1:] == [
        "    1,234 ", "  12.3 ", "  0.50% ", " 123.4 ", " 100.0 ", " 200.0 ", " 300.0 ", " 1,234.5"]


def test_ingest_of_an_empty_file_says_it_is_empty(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "results.jtl"
    empty.write_bytes(b"")
    code, _, err = run_cli(["ingest", str(empty), "-o", str(tmp_path / "runs")], capsys, monkeypatch)
    assert code == 1
    assert err.splitlines()[:2] == [f"error: {empty}: the file is empty",
                                    "hint: did the tool run? its results are written while the test runs"]
