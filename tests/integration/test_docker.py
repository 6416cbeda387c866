"""Real containers: k6 in its image, a containerized SUT, the errors users meet, and no leftovers.

The images come from images/*.sh (scripts/setup builds them; no registry here). In CI a missing
engine or image is a failure; PERFORCH_ALLOW_MISSING_TOOLS=1 makes it a skip on a partial machine.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from perforch.analysis.stats import step_stats
from perforch.errors import PerforchError, ToolFailed, ToolNotFound
from perforch.pipeline import RunOptions, choose_runner, run_scenario
from perforch.runners.sut import SutFailed
from tests.conftest import SCENARIOS, require_tool

pytestmark = pytest.mark.integration

K6_IMAGE = "perforch/k6:1.1.0"
SUT_IMAGE = "perforch/demo-api:1"


_CLIENTS: list = []


@pytest.fixture(autouse=True, scope="module")
def _close_clients():  # noqa: ANN202
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def docker_client():  # noqa: ANN201
    """One engine client per test module (closed at its end)."""
    from perforch.runners.docker import DockerUnavailable, connect

    if not _CLIENTS:
        try:
            _CLIENTS.append(connect(timeout_s=10))
        except DockerUnavailable as exc:
            _missing(f"no Docker engine: {exc.message}")
    return _CLIENTS[0]


def require_image(tag: str) -> str:
    from perforch.runners.images import _local

    if _local(docker_client(), tag) is None:
        _missing(f"image {tag} is missing; scripts/setup test builds it (images/*.sh)")
    return tag


def _missing(why: str) -> None:
    if os.environ.get("PERFORCH_ALLOW_MISSING_TOOLS"):
        pytest.skip(why)
    pytest.fail(why)


def leftovers_of(run_id: str) -> list[str]:
    from perforch.runners.docker import leftovers

    return leftovers(docker_client(), run_id)


def only_run_dir(root: Path) -> Path:
    [run_dir] = [p for p in root.iterdir() if p.is_dir()]
    return run_dir


def write_spec(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def sut_spec(tmp_path: Path, start: str, base_url: str = "http://127.0.0.1:8000", duration: str = "3s",
             rate: str = "20/s") -> Path:
    return write_spec(tmp_path, f"""
        version: 1
        name: sut-demo
        target:
          base_url: {base_url}
          environment: demo
          start: {start}
        flows:
          - name: reader
            steps:
              - {{name: health, get: /health}}
              - {{name: login, post: /auth/login, json: {{email: a@example.com, password: pw}}, expect: {{status: 200}}}}
        load: {{profile: constant-arrival-rate, rate: {rate}, duration: {duration}, max_vus: 10}}
        """)


# --- the tool in a container ---------------------------------------------------------------------


def test_k6_in_a_container_equals_k6_summary(demo_api, demo_stats, tmp_path):
    image = require_image(K6_IMAGE)
    result = run_scenario(SCENARIOS / "arrival-rate.yaml",
                          RunOptions(tool="k6", runner="docker", image=image, runs_root=tmp_path, base_url=demo_api))
    record = result.record
    assert (record.status, record.runner, record.tool_version) == ("complete", "docker", "1.1.0")
    assert record.exit_codes == {"k6": 0}
    assert record.commands["k6"][:2] == ["k6", "run"] and "csv=/perforch/raw/k6.csv" in record.commands["k6"]
    assert any(f"image {image} (host networking)" in e for e in record.events)
    summary = json.loads((result.run_dir / "raw" / "summary.json").read_text())["metrics"]
    stats = step_stats(result.samples).set_index("label")
    assert stats.loc["", "count"] == summary["http_req_duration"]["count"] == len(result.samples)
    assert abs(stats.loc["", "p95"] - summary["http_req_duration"]["p(95)"]) < 1e-6
    seen = demo_stats()["requests"]  # the container reached the API on the host's 127.0.0.1
    assert seen["GET /health"] == (result.samples["label"] == "health").sum()
    assert (result.run_dir / "logs" / "k6.stderr.log").is_file()
    system = pd.read_parquet(result.run_dir / "system.parquet")
    assert set(system["target"]) == {"k6"} and (system["mem_bytes"] > 0).all()
    assert leftovers_of(result.run_dir.name) == []


@pytest.mark.parametrize("tool,image,version", [("locust", "perforch/locust:2.47.0", "2.47.0"),
                                                ("jmeter", "perforch/jmeter:2.13", "2.13")])
def test_locust_and_jmeter_in_their_containers(tool, image, version, demo_api, demo_stats, tmp_path):
    from perforch.adapters import get_adapter

    require_image(image)
    adapter = get_adapter(tool)
    if tool == "jmeter" and not hasattr(adapter, "container_command"):
        pytest.xfail("the JMeter adapter's command() wraps JMeter in a host Python script; it needs "
                     "container_command() (runners/plan.py)")
    result = run_scenario(SCENARIOS / "arrival-rate.yaml",
                          RunOptions(tool=tool, runner="docker", image=image, runs_root=tmp_path, base_url=demo_api))
    record = result.record
    assert (record.status, record.runner, record.tool_version) == ("complete", "docker", version)
    assert 136 <= len(result.samples) <= 170  # 20 iterations/s for 8 s (JMeter paces within ~10 %)
    assert demo_stats()["requests"]["GET /health"] == (result.samples["label"] == "health").sum()
    assert leftovers_of(result.run_dir.name) == []


def test_the_official_image_missing_falls_back_to_the_local_build(demo_api, tmp_path):
    require_image(K6_IMAGE)
    result = run_scenario(SCENARIOS / "arrival-rate.yaml",
                          RunOptions(tool="k6", runner="docker", runs_root=tmp_path, base_url=demo_api))
    from perforch.runners.images import _local

    if _local(docker_client(), "grafana/k6:1.1.0") is None:
        assert any("used the local build perforch/k6:1.1.0 (images/k6.sh)" in w for w in result.warnings)
    assert result.record.status == "complete"


def test_runner_auto_prefers_the_installed_tool_then_docker(monkeypatch):
    require_tool("k6")
    from perforch.adapters.k6.tool import K6Adapter

    assert choose_runner("auto", K6Adapter()) == "local"
    assert choose_runner("auto", K6Adapter(), "/nonexistent/k6") == "docker"
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(ToolNotFound) as err:
        choose_runner("auto", K6Adapter(), "/nonexistent/k6")
    assert err.value.message.startswith("k6 is not installed here and no Docker engine answers")
    assert "images/k6.sh" in err.value.hint


# --- bad input -----------------------------------------------------------------------------------


def test_no_docker_engine_is_a_clear_error(demo_api, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(ToolNotFound) as err:
        run_scenario(SCENARIOS / "arrival-rate.yaml",
                     RunOptions(tool="k6", runner="docker", runs_root=tmp_path, base_url=demo_api))
    assert err.value.message.startswith("no Docker engine answers at unix:///nonexistent/docker.sock")
    assert "start Docker" in err.value.hint
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing started, no run directory


def test_an_image_missing_locally_says_how_to_build_it(demo_api, tmp_path):
    docker_client()
    with pytest.raises(ToolNotFound) as err:
        run_scenario(SCENARIOS / "arrival-rate.yaml",
                     RunOptions(tool="k6", runner="docker", image="perforch/k6:0.0.404", runs_root=tmp_path,
                                base_url=demo_api))
    assert err.value.message.startswith("the k6 image perforch/k6:0.0.404 is not on this machine and could not be pulled")
    assert err.value.hint.startswith("build a local k6 image without a registry: images/k6.sh")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_a_container_that_exits_at_once_fails_with_its_log(demo_api, tmp_path):
    image = require_image(K6_IMAGE)
    spec = write_spec(tmp_path, f"""
        version: 1
        name: bad-flag
        target: {{base_url: "{demo_api}", environment: demo}}
        flows: [{{name: f, steps: [{{get: /health}}]}}]
        load: {{profile: constant-vus, vus: 1, duration: 2s}}
        tools: {{k6: {{args: ["--no-such-flag"]}}}}
        """)
    with pytest.raises(ToolFailed) as err:
        run_scenario(spec, RunOptions(tool="k6", runner="docker", image=image, runs_root=tmp_path / "runs"))
    assert "exited with code" in err.value.message and "unknown flag: --no-such-flag" in err.value.details
    run_dir = only_run_dir(tmp_path / "runs")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert leftovers_of(run_dir.name) == []


# --- the system under test -----------------------------------------------------------------------


@pytest.mark.parametrize("runner", ["docker", "local"])
def test_a_containerized_sut_is_started_reached_monitored_and_removed(runner, tmp_path):
    require_image(SUT_IMAGE)
    require_image(K6_IMAGE) if runner == "docker" else require_tool("k6")
    spec = sut_spec(tmp_path, f'{{image: "{SUT_IMAGE}", port: 8000, ready: /health, ready_timeout: 20s}}')
    result = run_scenario(spec, RunOptions(tool="k6", runner=runner, image=K6_IMAGE, runs_root=tmp_path / "runs"))
    assert result.record.status == "complete"
    counts = result.samples["label"].value_counts()
    assert counts["health"] == counts["login"] in (60, 61) and (result.samples["status"] == 200).all()
    ready = next(e for e in result.record.events if e.startswith("system under test"))
    # the tool container reaches the SUT by name on the run's network; a local tool on a published port
    assert ready.endswith("http://sut:8000") if runner == "docker" else "http://127.0.0.1:" in ready
    system = pd.read_parquet(result.run_dir / "system.parquet")
    sut = system[system["target"] == "sut"]
    assert len(sut) >= 1 and (sut["mem_bytes"] > 1_000_000).all() and (sut["cpu_pct"] >= 0).all()
    assert str(system["ts"].dtype) == "datetime64[ns, UTC]"
    assert (result.run_dir / "logs" / "sut.stderr.log").is_file()
    assert leftovers_of(result.run_dir.name) == []


def test_a_sut_that_never_gets_ready_fails_in_bounded_time_with_its_log(tmp_path):
    require_image(SUT_IMAGE)
    require_tool("k6")
    spec = sut_spec(tmp_path, f'{{image: "{SUT_IMAGE}", port: 8000, ready: /not-there, ready_timeout: 2s}}')
    with pytest.raises(SutFailed) as err:
        run_scenario(spec, RunOptions(tool="k6", runs_root=tmp_path / "runs"))
    assert "was not ready after 2 s: GET http://127.0.0.1:" in err.value.message
    assert err.value.message.endswith("/not-there -> HTTP 404")
    assert "target.start.ready" in err.value.hint and "run directory:" in err.value.hint
    assert err.value.details
    run_dir = only_run_dir(tmp_path / "runs")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert leftovers_of(run_dir.name) == []


def test_a_missing_sut_image_is_refused_before_anything_starts(tmp_path):
    docker_client()
    require_tool("k6")
    spec = sut_spec(tmp_path, '{image: "perforch/no-such-sut:1", port: 8000}')
    with pytest.raises(PerforchError) as err:
        run_scenario(spec, RunOptions(tool="k6", runs_root=tmp_path / "runs"))
    assert err.value.message.startswith("the system under test's image perforch/no-such-sut:1 is not on this machine")
    assert not (tmp_path / "runs").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_sut_command_runs_as_a_local_process_tree_and_is_stopped(tmp_path):
    require_tool("k6")
    import psutil

    port = _free_port()
    spec = sut_spec(tmp_path, f'{{command: "{sys.executable} -m perforch.demo.app {port}", ready: /health}}',
                    base_url=f"http://127.0.0.1:{port}")
    result = run_scenario(spec, RunOptions(tool="k6", runs_root=tmp_path / "runs"))
    assert result.record.status == "complete" and len(result.samples) in (120, 122)
    assert result.record.commands["sut"][-1] == str(port)
    system = pd.read_parquet(result.run_dir / "system.parquet")
    assert (system.loc[system["target"] == "sut", "mem_bytes"] > 10_000_000).all()
    assert not [p for p in psutil.process_iter(["cmdline"]) if f"perforch.demo.app {port}" in " ".join(p.info["cmdline"] or [])]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_a_sut_port_already_in_use_is_refused(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        spec = sut_spec(tmp_path, '{command: "python3 -m http.server", ready: /}', base_url=f"http://127.0.0.1:{port}")
        with pytest.raises(SutFailed) as err:
            run_scenario(spec, RunOptions(tool="k6", runs_root=tmp_path / "runs"))
    assert err.value.message.startswith(f"port {port} on 127.0.0.1 is already in use")
    assert not (tmp_path / "runs").exists()


def test_a_sut_command_that_exits_at_once_shows_its_output(tmp_path):
    require_tool("k6")
    spec = sut_spec(tmp_path, f"""{{command: "{sys.executable} -c 'import sys; print(\\"no config\\", file=sys.stderr); sys.exit(3)'"}}""",
                    base_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(SutFailed) as err:
        run_scenario(spec, RunOptions(tool="k6", runs_root=tmp_path / "runs"))
    assert "exited with code 3 before it was ready" in err.value.message
    assert "no config" in err.value.details
