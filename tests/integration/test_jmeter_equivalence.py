"""The quickstart scenario on k6 and on JMeter against the demo API, which counts what it receives:
the same traffic (per-step proportions, filled values, authorized steps, think time), and
perforch's numbers for the JMeter run equal JMeter's own Aggregate Report (JMeter's classes)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from perforch.adapters.jmeter import debian
from perforch.analysis.stats import step_stats
from perforch.pipeline import RunOptions, run_scenario
from tests.conftest import SCENARIOS, require_tool

pytestmark = pytest.mark.integration
AGGREGATE_REPORT = Path(__file__).resolve().parents[1] / "data" / "jmeter" / "AggregateReport.java"


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5).read()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def runs(demo_api, tmp_path_factory):
    """One quickstart run per tool (20 s each), with what the demo API saw during it."""
    out = {}
    for tool in ("k6", "jmeter"):
        require_tool(tool)
        _post(demo_api + "/__reset")
        result = run_scenario(SCENARIOS / "quickstart.yaml",
                              RunOptions(tool=tool, runs_root=tmp_path_factory.mktemp(tool), base_url=demo_api))
        assert result.record.status == "complete", tool
        out[tool] = (result, _get(demo_api + "/__stats"))
    return out


def test_numbers_equal_jmeters_aggregate_report(runs):
    result, _ = runs["jmeter"]
    home = debian.describe(require_tool("jmeter")).home
    jars = [home / "bin" / "ApacheJMeter.jar", *sorted((home / "lib").glob("*.jar")),
            *sorted((home / "lib" / "ext").glob("*.jar"))]
    done = subprocess.run(["java", f"-Djmeter.home={home}", "-cp", ":".join(map(str, jars)), str(AGGREGATE_REPORT),
                           str(result.run_dir / "raw" / "results.jtl")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout[done.stdout.index("label\tcount"):]
    report = pd.read_csv(__import__("io").StringIO(table), sep="\t", keep_default_na=False).set_index("label")
    ours = step_stats(result.samples, method="nearest-rank").set_index("label")
    labels = set(result.samples["label"].cat.categories)
    assert labels == {"login", "list items", "create order", "order status", "slow report", "flaky search"}
    assert set(report.index) == labels | {"checkout"}  # the group's transaction rows, which are no requests
    for label in labels:
        jmeter, mine = report.loc[label], ours.loc[label]
        assert (mine["count"], mine["failures"]) == (jmeter["count"], jmeter["errors"]), label
        for our_key, key in [("avg_ms", "mean"), ("min_ms", "min"), ("max_ms", "max"), ("p50", "median"),
                             ("p90", "p90"), ("p95", "p95"), ("p99", "p99")]:
            assert mine[our_key] == pytest.approx(jmeter[key], abs=1e-9), (label, key, mine[our_key], jmeter[key])


def test_both_tools_send_the_same_traffic(runs):
    shares = {}
    for tool, (result, seen) in runs.items():
        assert seen["unfilled"] == 0 and seen["unauthorized"] == 0, (tool, seen)
        counts = result.samples["label"].value_counts()
        # the server saw every request the tool reported, step by step
        assert seen["requests"]["POST /auth/login"] == counts["login"], tool
        assert seen["requests"]["GET /api/orders/{order_id}"] == counts["order status"], tool
        assert seen["requests"]["GET /api/slow"] == counts["slow report"], tool
        # an iteration runs every step of its flow (iterations that started complete)
        assert counts["login"] == counts["list items"] == counts["create order"] == counts["order status"], tool
        assert counts["slow report"] == counts["flaky search"], tool
        logins = sorted(seen["logins"].values())
        assert logins[-1] - logins[0] <= 1, (tool, seen["logins"])  # data rows taken in turn, shared by users
        shares[tool] = counts / counts.sum()
    table = pd.DataFrame(shares)
    print("\nstep shares k6 / jmeter:\n" + table.assign(ratio=table["jmeter"] / table["k6"]).round(4).to_string())
    for label, k6_share in shares["k6"].items():
        assert shares["jmeter"][label] == pytest.approx(k6_share, rel=0.05), (label, shares)


def test_think_time_is_paid_after_each_step(runs):
    result, _ = runs["jmeter"]
    raw = pd.read_csv(result.run_dir / "raw" / "results.jtl", keep_default_na=False)
    raw = raw[raw["dataType"] != ""].sort_values(["threadName", "timeStamp"])  # requests, per thread in order
    gap = raw.groupby("threadName")["timeStamp"].shift(-1) - (raw["timeStamp"] + raw["elapsed"])
    raw = raw.assign(gap=gap, flow=raw["threadName"].str.replace(r" \d+-\d+$", "", regex=True)).dropna()
    for flow, expected in (("shopper", 100.0), ("browser", 100.0)):  # 50ms..150ms uniform; 100ms fixed
        mean_gap = raw.loc[raw["flow"] == flow, "gap"].mean()
        print(f"\n{flow}: mean gap between a response and the next request {mean_gap:.1f} ms (think {expected:g} ms)")
        assert mean_gap == pytest.approx(expected, rel=0.10), (flow, mean_gap)
