"""perforch capacity on real k6 traffic: the demo's /api/slow gets 4 ms slower per concurrent
request, so a p95 < 200 ms SLO (base 50-150 ms) holds at 5 users and breaks by 25."""

from __future__ import annotations

import json
import sys

import pytest

from perforch.cli.app import main
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

SPEC = """\
version: 1
name: cap
target: {base_url: "http://127.0.0.1:9"}
flows:
  - name: f
    steps: [{name: slow, get: /api/slow}]
load: {profile: constant-vus, vus: 1, duration: 1s}
slos: ["p95 < 200ms"]
"""


def test_capacity_finds_the_breaking_level(demo_api, tmp_path, monkeypatch, capsys):
    require_tool("k6")
    spec = tmp_path / "cap.yaml"
    spec.write_text(SPEC)
    monkeypatch.setattr(sys, "argv", ["perforch", "capacity", str(spec), "--target", demo_api, "--start", "5",
                                      "--step", "10", "--max", "25", "--hold", "4s", "--ramp", "1s",
                                      "-o", str(tmp_path / "runs")])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr().out
    assert info.value.code == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    found = json.loads((run_dir / "capacity.json").read_text())
    levels = {level["load"]: level for level in found["levels"]}
    assert levels[5]["ok"] and not levels[25]["ok"]
    assert found["breaking"] in (15, 25) and found["last_good"] == found["breaking"] - 10
    assert levels[25]["p95_ms"] > levels[5]["p95_ms"]
    assert "held every SLO" in out and (run_dir / "report.html").is_file()
