"""The same scenario on k6 and on Locust against the demo API, the demo API counting what it got.

quickstart (login -> token -> authorized requests, a flaky step, think time, CSV data) must send
the steps in the same proportions (±5%), fill every ${...}, be authorized, and run as many
iterations as the profile implies (±10%); arrival-rate must start iterations at its rate (±5%).
"""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pandas as pd
import pytest

from perforch.pipeline import RunOptions, run_scenario
from perforch.spec import load_scenario
from perforch.spec import model as m
from perforch.spec.split import split_load
from tests.conftest import SCENARIOS, require_tool

pytestmark = pytest.mark.integration
TOOLS = ("k6", "locust")
ENDPOINTS = {  # step label -> what the demo API counts it as
    "login": "POST /auth/login", "list items": "GET /api/items", "create order": "POST /api/orders",
    "order status": "GET /api/orders/{order_id}", "slow report": "GET /api/slow", "flaky search": "GET /api/flaky",
    "health": "GET /health", "search": "GET /api/flaky",
}


def _server(base_url: str, path: str, method: str = "GET") -> dict:
    request = urllib.request.Request(base_url + path, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def runs(demo_api, tmp_path_factory) -> dict:
    """quickstart and arrival-rate, each run once per tool: (result, what the server counted)."""
    for tool in TOOLS:
        require_tool(tool)
    out = {}
    for spec in ("quickstart", "arrival-rate"):
        for tool in TOOLS:
            _server(demo_api, "/__reset", "POST")
            result = run_scenario(SCENARIOS / f"{spec}.yaml", RunOptions(
                tool=tool, runs_root=tmp_path_factory.mktemp(f"{spec}-{tool}"), base_url=demo_api, monitor=False))
            assert result.record.status == "complete", (tool, spec, result.record.events)
            out[spec, tool] = result, _server(demo_api, "/__stats")
    return out


def test_quickstart_steps_arrive_in_the_same_proportions(runs) -> None:
    shares = {}
    for tool in TOOLS:
        _, seen = runs["quickstart", tool]
        counts = pd.Series({label: seen["requests"].get(ENDPOINTS[label], 0) for label in
                            load_scenario(SCENARIOS / "quickstart.yaml").labels})
        shares[tool] = counts / counts.sum()
    ratio = shares["locust"] / shares["k6"]
    print("\nstep shares k6 / locust:\n" + pd.DataFrame({**shares, "ratio": ratio}).round(4).to_string())
    assert ((ratio - 1).abs() <= 0.05).all(), ratio


def test_every_template_filled_and_every_request_authorized(runs) -> None:
    for (spec, tool), (result, seen) in runs.items():
        assert seen["unfilled"] == 0, (spec, tool)
        assert seen["unauthorized"] == 0, (spec, tool)
        if tool == "locust":  # the per-request rows hold exactly what the server received
            counts = result.samples["label"].value_counts()
            for label, n in counts.items():
                endpoint = ENDPOINTS[label]
                same = [lbl for lbl in counts.index if ENDPOINTS[lbl] == endpoint]
                assert sum(counts[lbl] for lbl in same) == seen["requests"][endpoint], (spec, label)
    # CSV data: iteration i of the flow took row i mod 4, so logins are spread evenly over the users
    _, seen = runs["quickstart", "locust"]
    logins = sorted(seen["logins"].values())
    assert len(logins) == 4 and logins[-1] - logins[0] <= 1, seen["logins"]


def _user_seconds(load: m.RampingVus) -> float:
    """The area under k6's ramping-vus schedule: in a ramp from a to b over d, the k-th change
    happens at k*d/|b-a|."""
    area, users = 0.0, load.start_vus
    for stage in load.stages:
        change = stage.target - users
        if change == 0 or stage.duration == 0:
            area += users * stage.duration
        else:
            step = stage.duration / abs(change)
            sign = 1 if change > 0 else -1
            area += sum((users + sign * k) * step for k in range(abs(change)))
        users = stage.target
    return area


def test_quickstart_iterations_match_what_the_profile_implies(runs) -> None:
    """Closed model: iterations = user-seconds / iteration time (step latencies + think time)."""
    scenario = load_scenario(SCENARIOS / "quickstart.yaml")
    loads = split_load(scenario.load, [f.weight for f in scenario.flows])
    lines = []
    for tool in TOOLS:
        result, _ = runs["quickstart", tool]
        latency = result.samples.groupby("label", observed=True)["latency_ms"].mean() / 1000
        for flow, load in zip(scenario.flows, loads):
            steps = flow.walk()
            seconds = sum(latency[step.label] + sum(flow.think_after(step)) / 2 for _, step in steps)
            implied = _user_seconds(load) / seconds
            measured = int((result.samples["label"] == steps[0][1].label).sum())
            lines.append(f"{tool:6} {flow.name:8} implied {implied:7.1f} measured {measured:5d} "
                         f"ratio {measured / implied:.3f}")
            assert abs(measured / implied - 1) <= 0.10, lines[-1]
    print("\n" + "\n".join(lines))


def test_arrival_rate_starts_iterations_at_the_target_rate(runs) -> None:
    scenario = load_scenario(SCENARIOS / "arrival-rate.yaml")
    loads = split_load(scenario.load, [f.weight for f in scenario.flows])
    lines = []
    for tool in TOOLS:
        result, seen = runs["arrival-rate", tool]
        for flow, load in zip(scenario.flows, loads):
            label = flow.walk()[0][1].label
            started = result.samples.loc[result.samples["label"] == label, "ts"]
            target = load.rate * load.duration
            lines.append(f"{tool:6} {flow.name:8} target {target:5.0f} started {len(started):4d} "
                         f"({len(started) / load.duration:.2f}/s over {load.duration:g}s)")
            assert abs(len(started) / target - 1) <= 0.05, lines[-1]
            # paced, not bunched: the starts spread over the whole duration
            span = (started.max() - started.min()).total_seconds()
            assert span >= load.duration * 0.9, lines[-1]
            gaps = np.diff(np.sort((started - started.min()).dt.total_seconds().to_numpy()))
            assert np.median(gaps) == pytest.approx(1 / load.rate, rel=0.25), lines[-1]
    print("\n" + "\n".join(lines))


def test_json_bodies_and_form_encoding_are_spelled_as_in_k6(tmp_path) -> None:
    """perforch_wire.json_text / encode_component against JavaScript's own JSON.stringify and
    encodeURIComponent, run by k6 (the two tools must put the same bytes on the wire)."""
    import subprocess

    from perforch.adapters.locust.runtime import perforch_wire as w

    binary = require_tool("k6")
    values = [1.0, 1.5, 0.1, 1e21, 1e20, 123456789012345678901, 1e-7, 0.000001, 5e-324, -2.5e25, 2**53 + 1,
              1.7976931348623157e308, 100, -0.0, {"a": [1, "x", None, True, {"b": 2.50}]},
              "quote \" back \\ nl \n tab \t ctl \x01 del \x7f ü ✓ \u2028 😀"]
    texts = ["o'brien & co", '100% = "all"', "é/?#[]@$+,;= ~!*'()", "😀 ✓"]
    out = tmp_path / "out.json"
    script = tmp_path / "spell.js"
    script.write_text(
        f"const values = {json.dumps(values)};\nconst texts = {json.dumps(texts)};\n"
        "export const options = { vus: 1, iterations: 1 };\nexport default function () {}\n"
        "export function handleSummary() {\n"
        f"  return {{ {json.dumps(str(out))}: JSON.stringify({{ json: values.map((v) => JSON.stringify(v)),"
        " uri: texts.map((t) => encodeURIComponent(t)) }) };\n}\n", encoding="utf-8")
    subprocess.run([binary, "run", "--quiet", str(script)], check=True, capture_output=True, timeout=60,
                   env={"K6_NO_USAGE_REPORT": "true", "PATH": "/usr/bin:/bin"})
    spelled = json.loads(out.read_text(encoding="utf-8"))
    assert [w.json_text(v) for v in values] == spelled["json"]
    assert [w.encode_component(t) for t in texts] == spelled["uri"]
