"""The perforch image (the repository's Dockerfile, built offline by images/perforch.sh):
`docker run perforch run scenario.yaml` works as a CI step would use it."""

from __future__ import annotations

import json
import subprocess
import tomllib

import pytest

from tests.conftest import ROOT, SCENARIOS
from tests.integration.test_docker import require_image

pytestmark = pytest.mark.integration

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"perforch/perforch:{VERSION}"


def _docker_run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", *args], capture_output=True, text=True, timeout=timeout)


def test_the_image_carries_k6_locust_and_jmeter():
    require_image(IMAGE)
    out = _docker_run(IMAGE, "doctor")
    assert out.returncode == 0, out.stderr
    lines = out.stdout
    assert "k6      1.1.0" in lines and "/usr/local/bin/k6" in lines
    assert "locust  2.47.0" in lines
    assert "jmeter " in lines  # 2.13 from Debian (found once the JMeter adapter is in the image's perforch)


def test_docker_run_perforch_run_scenario(demo_api, tmp_path):
    require_image(IMAGE)
    out_dir = tmp_path / "runs"
    out_dir.mkdir()
    out = _docker_run("--network", "host", "--user", "0:0", "-v", f"{SCENARIOS}:/work:ro", "-v", f"{out_dir}:/out",
                      IMAGE, "run", "arrival-rate.yaml", "--target", demo_api, "--out", "/out")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SLO MET" in out.stdout
    [run_dir] = list(out_dir.iterdir())
    record = json.loads((run_dir / "run.json").read_text())
    assert (record["status"], record["tool"], record["tool_version"]) == ("complete", "k6", "1.1.0")
    assert (run_dir / "samples.parquet").is_file()
