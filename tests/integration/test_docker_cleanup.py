"""Kill `perforch run` at random moments; nothing may be left: no container, network, volume, process.

Ctrl-C and a second Ctrl-C must clean up by themselves; after SIGKILL, `perforch clean` removes
what the run left. Two kinds of runs: the tool and the SUT in containers (network included), and
the tool and the SUT as local processes. PERFORCH_KILL_ROUNDS=N repeats every case N times
(default 1); the random seed is in the failure message (PERFORCH_KILL_SEED=S replays it).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import require_tool
from tests.integration.test_docker import K6_IMAGE, SUT_IMAGE, docker_client, require_image, sut_spec

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("PERFORCH_KILL_SEED") or time.time())
ROUNDS = int(os.environ.get("PERFORCH_KILL_ROUNDS", "1"))
CASES = [(kind, how, n) for kind in ("docker", "local") for how in ("ctrl-c", "ctrl-c twice", "sigkill")
         for n in range(ROUNDS)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _owned(pid: int) -> list[str]:
    """Engine resources whose owner label names this process."""
    from perforch.runners.docker import OWNER_LABEL

    client = docker_client()
    flt = {"label": ["perforch.run"]}
    found = []
    for kind, objects in (("container", client.containers.list(all=True, filters=flt)),
                          ("network", client.networks.list(filters=flt)),
                          ("volume", client.volumes.list(filters=flt))):
        for obj in objects:
            attrs = obj.attrs or {}
            labels = attrs.get("Labels") or attrs.get("Config", {}).get("Labels") or {}
            if f":{pid}:" in labels.get(OWNER_LABEL, ""):
                found.append(f"{kind} {obj.name}")
    return found


def _alive(procs: dict[int, float]) -> list[str]:
    left = []
    for pid, created in procs.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.Error:
            continue
    return left


@pytest.mark.parametrize("kind,how,round_", CASES, ids=[f"{k}-{h.replace(' ', '-')}-{n}" for k, h, n in CASES])
def test_killed_at_a_random_moment_leaves_nothing(kind, how, round_, tmp_path):
    require_tool("k6")
    require_image(SUT_IMAGE)
    if kind == "docker":
        require_image(K6_IMAGE)
        spec = sut_spec(tmp_path, f'{{image: "{SUT_IMAGE}", port: 8000, ready: /health}}', duration="4s")
        extra = ["--runner", "docker", "--image", K6_IMAGE]
    else:
        port = _free_port()
        spec = sut_spec(tmp_path, f'{{command: "{sys.executable} -m perforch.demo.app {port}", ready: /health}}',
                        base_url=f"http://127.0.0.1:{port}", duration="4s")
        extra = ["--runner", "local"]
    rng = random.Random(f"{SEED}-{kind}-{how}-{round_}")
    moment = rng.uniform(0.3, 8.0)
    why = f"{kind}, {how} at {moment:.2f} s (PERFORCH_KILL_SEED={SEED})"
    env = {**os.environ, "PERFORCH_STATE_DIR": str(tmp_path / "state"), "CI": "1"}
    log = (tmp_path / "out.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "perforch", "run", str(spec), *extra, "--out", str(tmp_path / "runs")],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    seen: dict[int, float] = {}
    began = time.monotonic()
    while time.monotonic() - began < moment and proc.poll() is None:
        try:
            for child in psutil.Process(proc.pid).children(recursive=True):
                seen.setdefault(child.pid, child.create_time())
        except psutil.Error:
            pass
        time.sleep(0.05)
    if how == "sigkill":
        proc.send_signal(signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGINT)
        if how == "ctrl-c twice":
            time.sleep(0.3)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(60)
    finally:
        log.close()
    output = (tmp_path / "out.log").read_text(errors="replace")
    if how == "sigkill":
        assert code == -signal.SIGKILL, why
        cleaned = subprocess.run([sys.executable, "-m", "perforch", "clean"], env=env, capture_output=True,
                                 text=True, timeout=60)
        assert cleaned.returncode == 0, (why, cleaned.stderr)
    else:
        # Ctrl-C while Python still imports perforch: Python's own traceback and death by SIGINT
        # (perforch's handler is not installed yet, nothing was started)
        during_import = output.rstrip().endswith("KeyboardInterrupt") and not (tmp_path / "runs").exists()
        # a second Ctrl-C may land while Python shuts down (perforch has cleaned up by then): death by SIGINT
        died_of_sigint = code == -signal.SIGINT and (during_import or how == "ctrl-c twice")
        assert code in (0, 1, 3, 130) or died_of_sigint, (why, code, output[-2000:])
        assert "Traceback" not in output or during_import, (why, output[-3000:])
    time.sleep(0.2)
    assert _owned(proc.pid) == [], (why, output[-2000:])
    assert _alive(seen) == [], (why, output[-2000:])
    assert not list((tmp_path / "state" / "active").glob("*.json")), why


def test_clean_keeps_what_live_runs_use(tmp_path):
    """`perforch clean` must not touch a run in progress (another terminal, another test)."""
    require_image(K6_IMAGE)
    from perforch.runners.docker import DockerSession, leftovers

    with DockerSession(docker_client(), "clean-test-live") as session:
        session.private_network()
        out = subprocess.run([sys.executable, "-m", "perforch", "clean"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PERFORCH_STATE_DIR": str(tmp_path)})
        assert out.returncode == 0
        assert "kept run clean-test-live: still in progress" in out.stdout
        assert leftovers(docker_client(), "clean-test-live") == ["network perforch-clean-test-live"]
    assert leftovers(docker_client(), "clean-test-live") == []


def test_clean_removes_what_a_dead_owner_left(tmp_path):
    require_image(K6_IMAGE)
    from perforch.runners.docker import OWNER_LABEL, RUN_LABEL, leftovers

    client = docker_client()
    client.networks.create("perforch-clean-test-dead", labels={RUN_LABEL: "clean-test-dead",
                                                               OWNER_LABEL: f"{socket.gethostname()}:999999999:1"})
    out = subprocess.run([sys.executable, "-m", "perforch", "clean", "--dry-run"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PERFORCH_STATE_DIR": str(tmp_path)})
    assert "would remove network perforch-clean-test-dead (run clean-test-dead)" in out.stdout
    assert leftovers(client, "clean-test-dead") == ["network perforch-clean-test-dead"]
    out = subprocess.run([sys.executable, "-m", "perforch", "clean"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PERFORCH_STATE_DIR": str(tmp_path)})
    assert "removed network perforch-clean-test-dead (run clean-test-dead)" in out.stdout
    assert leftovers(client, "clean-test-dead") == []
