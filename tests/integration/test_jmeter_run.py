"""Real JMeter (Debian's 2.13 here, through the XStream launcher) against the demo API on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from perforch.adapters.base import Launch
from perforch.adapters.jmeter.ingest import ingest_files as ingest_jtl
from perforch.adapters.jmeter.tool import JMeterAdapter
from perforch.errors import ToolFailed
from perforch.pipeline import RunOptions, run_scenario
from perforch.runners.local import LocalProcess
from perforch.spec import load_scenario
from tests.conftest import SCENARIOS, require_tool

pytestmark = pytest.mark.integration
SECRET = "not-so-secret-value"


def write(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "scenario.yaml"
    spec.write_text(text, encoding="utf-8")
    return spec


def test_wire_reaches_the_server_byte_for_byte(demo_api, demo_stats, tmp_path, monkeypatch):
    require_tool("jmeter")
    monkeypatch.setenv("PERFORCH_DEMO_SECRET", SECRET)
    result = run_scenario(SCENARIOS / "wire.yaml", RunOptions(tool="jmeter", runs_root=tmp_path, base_url=demo_api))
    assert result.record.status == "complete" and result.record.tool_version
    samples = result.samples
    assert len(samples) == 24
    assert samples["ok"].all(), samples.loc[~samples["ok"], ["label", "error"]]
    assert demo_stats()["requests"] == {"POST /echo": 18, "GET /echo": 6}
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("name, planned", [("arrival-rate", {"health": 120, "search": 40}),
                                           ("ramping-arrival", {"slow report": 105})])
def test_arrival_rates_are_met(name, planned, demo_api, demo_stats, tmp_path):
    require_tool("jmeter")
    result = run_scenario(SCENARIOS / f"{name}.yaml", RunOptions(tool="jmeter", runs_root=tmp_path, base_url=demo_api))
    assert result.record.status == "complete"
    counts = result.samples["label"].value_counts()
    for label, expected in planned.items():
        print(f"\n{name} {label}: target {expected} iterations, started {counts[label]}")
        assert abs(counts[label] - expected) <= 0.05 * expected, (label, counts[label], expected)
    assert demo_stats()["unfilled"] == 0
    assert any(w.startswith(load_scenario(SCENARIOS / f"{name}.yaml").load.profile) for w in result.warnings)


RUNTIME = """
version: 1
name: runtime-values
target: {base_url: "http://127.0.0.1:8765"}
flows:
  - name: values
    steps:
      - name: first
        get: /echo
        query: {q: 'a "b" $${x} é'}
        extract: {p: {json: $.path_qs}, h: {header: content-type}}
      - name: json body
        post: /echo
        json: {v: "${p}", "w ${h}": ["${h}", 1, true], "2": null}
        expect: {json: {$.body: JSON_BODY}}
      - name: query
        get: /echo
        query: {r: "${p}", "k y": "${h}"}
        expect: {json: {$.path_qs: PATH_QS}}
      - name: form
        post: /echo
        form: {f: "${h}", n: 2}
        expect: {json: {$.body: FORM}}
      - name: raw
        post: /echo
        headers: {Content-Type: text/plain, X-Value: "${p}"}
        body: "${p}|$${x}|\\\\"
        expect: {json: {$.body: RAW, $.headers.X-Value: P}}
load: {profile: iterations, vus: 1, iterations: 2}
"""


def test_values_read_at_run_time_are_encoded_as_k6_encodes_them(demo_api, demo_stats, tmp_path):
    """Extracted values inside JSON, query strings, forms and raw bodies: every byte as k6 sends it."""
    p = "/echo?q=" + quote('a "b" ${x} é', safe="-_.!~*'()")
    h = "application/json; charset=utf-8"
    enc = lambda s: quote(s, safe="-_.!~*'()")  # noqa: E731
    values = {
        "JSON_BODY": json.dumps(json.dumps({"2": None, "v": p, f"w {h}": [h, 1, True]}, separators=(",", ":"),
                                           ensure_ascii=False), ensure_ascii=False),
        "PATH_QS": json.dumps(f"/echo?r={enc(p)}&k%20y={enc(h)}"),
        "FORM": json.dumps(f"f={enc(h)}&n=2"),
        "RAW": json.dumps(p + "|${x}|\\"),
        "P": json.dumps(p),
    }
    text = RUNTIME
    for key, value in values.items():  # expected values are data, not templates
        text = text.replace(key, value)
    spec = write(tmp_path, text)
    for tool in ("jmeter", "k6"):
        require_tool(tool)
        result = run_scenario(spec, RunOptions(tool=tool, runs_root=tmp_path / tool, base_url=demo_api))
        samples = result.samples
        assert len(samples) == 10, tool
        assert samples["ok"].all(), (tool, samples.loc[~samples["ok"], ["label", "error"]].to_dict("records"))


def test_a_failed_extraction_ends_the_iteration(demo_api, demo_stats, tmp_path):
    require_tool("jmeter")
    spec = write(tmp_path, """
version: 1
name: extraction
target: {base_url: "http://127.0.0.1:8765"}
flows:
  - name: f
    think: 1s
    steps:
      - {name: login, post: /auth/login, json: {email: a@b.c, password: x}, extract: {token: {json: $.token}}}
      - group: g
        steps:
          - {name: missing, get: /health, extract: {nope: {json: "$.items[0].id"}}}
          - {name: never, get: /api/slow}
      - {name: after, get: /nothing-here, expect: {status: 404}}
  - name: g
    steps:
      - {name: not found is expected, get: /nothing-here, expect: {status: [404]}}
load: {profile: iterations, vus: 2, iterations: 6}
""")
    result = run_scenario(spec, RunOptions(tool="jmeter", runs_root=tmp_path, base_url=demo_api))
    samples = result.samples
    counts = samples["label"].value_counts()
    assert counts["login"] == counts["missing"] == 3 and counts["not found is expected"] == 3
    assert "never" not in counts.index[counts > 0] and "after" not in counts.index[counts > 0]
    missing = samples[samples["label"] == "missing"]
    assert not missing["ok"].any() and (missing["error"] == "check failed: missing: extract nope").all()
    assert samples.loc[samples["label"] == "not found is expected", "ok"].all()
    assert demo_stats()["requests"].get("GET /api/slow", 0) == 0
    # the failed step's think time (1 s) is skipped: the next iteration starts right away
    flow_f = samples[samples["flow"] == "f"].sort_values("ts")
    logins = flow_f[flow_f["label"] == "login"]["ts"]
    assert (logins.diff().dropna().dt.total_seconds() < 1.5).all()  # only the login's own think (1 s)


def test_a_plan_jmeter_cannot_load_fails_the_run(tmp_path):
    binary = require_tool("jmeter")
    (tmp_path / "plan.jmx").write_text('<?xml version="1.0"?>\n<jmeterTestPlan version="1.2"><hashTree>'
                                       '<NoSuchElement testname="x"/><hashTree/></hashTree></jmeterTestPlan>\n')
    argv = JMeterAdapter().command(Launch(tmp_path, tmp_path, binary), None)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "JMeter could not run the plan" in done.stderr and "Error in NonGUIDriver" in done.stderr


def _long_run(tmp_path: Path, demo_api: str) -> Path:
    return write(tmp_path, f"""
version: 1
name: long
target: {{base_url: "{demo_api}"}}
flows:
  - {{name: f, think: 20ms, steps: [{{name: health, get: /health}}, {{name: flaky, get: /api/flaky}}]}}
load: {{profile: constant-vus, vus: 2, duration: 60s}}
""")


def test_ctrl_c_stops_jmeter_and_keeps_every_row(demo_api, tmp_path):
    binary = require_tool("jmeter")
    adapter = JMeterAdapter()
    script = adapter.generate(load_scenario(_long_run(tmp_path, demo_api)))
    script_dir, raw_dir = tmp_path / "script", tmp_path / "raw"
    script.write(script_dir)
    raw_dir.mkdir()
    launch = Launch(script_dir, raw_dir, binary)
    process = LocalProcess("jmeter", adapter.command(launch, None), script_dir,
                           {**__import__("os").environ, **adapter.environment(launch)}, tmp_path / "logs")
    results = raw_dir / "results.jtl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (not results.exists() or results.read_bytes().count(b"\n") < 40):
        time.sleep(0.5)
    seen = results.read_bytes().count(b"\n")
    started = time.monotonic()
    code = process.stop()  # what Ctrl-C does: SIGINT to the process group, then wait
    process.result(interrupted=True)
    assert code is not None and time.monotonic() - started < 20
    ingested = ingest_jtl([results])
    assert len(ingested.samples) >= seen - 1 and not any("skipped" in w for w in ingested.warnings)


def test_a_run_past_its_timeout_is_stopped_and_kept(demo_api, tmp_path):
    require_tool("jmeter")
    result = run_scenario(_long_run(tmp_path, demo_api), RunOptions(tool="jmeter", runs_root=tmp_path / "runs",
                                                                    base_url=demo_api, timeout_s=12))
    assert result.record.status == "interrupted"
    assert any("timeout" in e for e in result.record.events)
    assert len(result.samples) > 20 and (result.run_dir / "samples.parquet").is_file()


def test_jmeter_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JMETER_HOME", raising=False)
    monkeypatch.delenv("PERFORCH_JMETER", raising=False)
    with pytest.raises(Exception) as err:
        run_scenario(SCENARIOS / "quickstart.yaml", RunOptions(tool="jmeter", runs_root=tmp_path))
    assert "jmeter" in str(getattr(err.value, "message", err.value)).lower()
    assert not isinstance(err.value, ToolFailed)
