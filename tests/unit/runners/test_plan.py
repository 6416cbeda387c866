"""Process plans: k6 execution segments, networks, worker names."""

from __future__ import annotations

from pathlib import Path

import pytest

from perforch.adapters.base import Launch
from perforch.adapters.k6.tool import K6Adapter
from perforch.runners.distributed import worker_names
from perforch.runners.plan import BridgeNetwork, LoopbackNetwork, ToolProcess, fan_out, plan_processes

LAUNCH = Launch(Path("/s"), Path("/r"), "k6")


def _option(argv: tuple[str, ...], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_one_worker_is_one_plain_process():
    [proc] = plan_processes(K6Adapter(), LAUNCH, None, 1, LoopbackNetwork())
    assert proc.name == "k6" and proc.main and proc.worker is None
    assert "--execution-segment" not in proc.argv
    assert "csv=/r/k6.csv" in proc.argv


def test_k6_workers_get_contiguous_segments_of_one_sequence():
    plan = plan_processes(K6Adapter(), LAUNCH, None, 3, LoopbackNetwork())
    assert [p.name for p in plan] == ["k6-0", "k6-1", "k6-2"]
    assert [p.worker for p in plan] == [0, 1, 2] and all(p.main for p in plan)
    assert [_option(p.argv, "--execution-segment") for p in plan] == ["0:1/3", "1/3:2/3", "2/3:1"]
    assert {_option(p.argv, "--execution-segment-sequence") for p in plan} == {"0,1/3,2/3,1"}
    assert [_option(p.argv, "--out") for p in plan] == ["csv=/r/k6-0.csv", "csv=/r/k6-1.csv", "csv=/r/k6-2.csv"]


def test_two_workers_split_in_halves():
    plan = fan_out(K6Adapter(), LAUNCH, None, 2)
    assert [_option(p.argv, "--execution-segment") for p in plan] == ["0:1/2", "1/2:1"]


class _Planner:
    name = "fake"

    def __init__(self, plan: list[ToolProcess]) -> None:
        self.plan = plan
        self.seen: tuple | None = None

    def processes(self, launch, scenario, workers, net):  # noqa: ANN001, ANN201
        self.seen = (launch, scenario, workers, net)
        return self.plan


def test_an_adapter_plan_is_used_and_checked():
    net = BridgeNetwork()
    good = _Planner([ToolProcess("m", ("x",), listens=5557), ToolProcess("w-0", ("y",), main=False, worker=0)])
    assert plan_processes(good, LAUNCH, "scn", 1, net) == good.plan
    assert good.seen == (LAUNCH, "scn", 1, net)
    with pytest.raises(ValueError, match="bad process plan"):
        plan_processes(_Planner([ToolProcess("a", ()), ToolProcess("a", ())]), LAUNCH, None, 2, net)
    with pytest.raises(ValueError, match="bad process plan"):
        plan_processes(_Planner([ToolProcess("a", (), main=False)]), LAUNCH, None, 1, net)


def test_loopback_network_gives_each_process_its_own_stable_port():
    net = LoopbackNetwork()
    a, b = net.port("master", 5557), net.port("server-0", 1099)
    assert a != b and net.port("master", 5557) == a
    assert net.host("master") == net.bind("master") == "127.0.0.1"


def test_bridge_network_uses_names_and_default_ports():
    net = BridgeNetwork()
    assert (net.host("locust-master"), net.port("locust-master", 5557), net.bind("x")) == ("locust-master", 5557, "0.0.0.0")


def test_worker_names_follow_file_numbers():
    files = [Path("k6-0.csv"), Path("k6-1.csv"), Path("k6-10.csv"), Path("k6-2.csv")]
    assert worker_names(files) == ["0", "1", "10", "2"]
    assert worker_names([Path("a.csv"), Path("b.csv")]) == ["a", "b"]
    assert worker_names([Path("k6.csv")]) is None


class _HostBound:
    """An adapter whose command() uses host files, with a container_command() for images."""

    name = "tool"

    def command(self, launch, scenario):  # noqa: ANN001, ANN201
        return ["/usr/bin/python3", "/host/wrapper.py", launch.binary]

    def container_command(self, launch, scenario):  # noqa: ANN001, ANN201
        return [launch.binary, str(launch.script_dir / "plan")]


def test_containers_use_container_command_when_the_adapter_has_one():
    container = Launch(Path("/perforch/script"), Path("/perforch/raw"), "tool")
    [inside] = plan_processes(_HostBound(), container, None, 1, LoopbackNetwork(containers=True))
    assert inside.argv == ("tool", "/perforch/script/plan")
    [local] = plan_processes(_HostBound(), LAUNCH, None, 1, LoopbackNetwork())
    assert local.argv == ("/usr/bin/python3", "/host/wrapper.py", "k6")
    assert BridgeNetwork.containers is True
