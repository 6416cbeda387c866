"""Which processes a run starts: one tool process, or the tool's own distributed mode.

The seam between runners and adapters. An adapter may offer

    processes(launch: Launch, scenario, workers: int, net: Network) -> list[ToolProcess]

returning every process of a (possibly distributed) run in start order: a Locust master and N
workers, N jmeter-server engines and one client, ... The runner starts them as local processes or
as containers, waits for each `listens` port before starting the next process, and ends the run
when every `main` process has ended. Adapters without `processes()` get `fan_out()`: N independent
instances of `command()`, instance i with `Launch.worker = i` (what k6 execution segments need).

`Network` tells the adapter where its processes find each other: the same free ports on 127.0.0.1
for local processes and host-networked containers, container names on a run's private network;
`net.containers` says whether the processes run in containers. There `launch.binary` is the
program's name in the image (adapter attribute `container_binary`, default the tool's name), the
paths are the container's (/perforch/script read-only, /perforch/raw), and nothing of this
machine (a host path, sys.executable) may appear in an argv. An adapter whose command() does
use host files offers `container_command(launch, scenario)` for containers; fan_out uses it.
"""

from __future__ import annotations

import socket
from dataclasses import replace

from perforch.adapters.base import Launch, Network, ToolProcess

__all__ = ["Network", "ToolProcess"]  # declared with the adapter protocol; re-exported here


class LoopbackNetwork:
    """Local processes and host-networked containers: everyone on 127.0.0.1, each on a free port."""

    def __init__(self, containers: bool = False) -> None:
        self.containers = containers
        self._ports: dict[tuple[str, int], int] = {}

    def host(self, name: str) -> str:
        return "127.0.0.1"

    def bind(self, name: str) -> str:
        return "127.0.0.1"

    def port(self, name: str, default: int) -> int:
        key = (name, default)
        if key not in self._ports:
            taken = set(self._ports.values())
            port = free_port()
            while port in taken:
                port = free_port()
            self._ports[key] = port
        return self._ports[key]


class BridgeNetwork:
    """Containers on the run's private network: each reachable by its name, on its default port."""

    containers = True

    def host(self, name: str) -> str:
        return name

    def bind(self, name: str) -> str:
        return "0.0.0.0"

    def port(self, name: str, default: int) -> int:
        return default


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plan_processes(adapter: object, launch: Launch, scenario: object, workers: int, net: Network) -> list[ToolProcess]:
    """The processes of this run: the adapter's own plan when it has one, else `fan_out`."""
    planner = getattr(adapter, "processes", None)
    if planner is not None:
        plan = list(planner(launch, scenario, workers, net))
    else:
        plan = fan_out(adapter, launch, scenario, workers, containers=getattr(net, "containers", False))
    names = [p.name for p in plan]
    if len(set(names)) != len(names) or not any(p.main for p in plan):
        raise ValueError(f"{getattr(adapter, 'name', adapter)}: bad process plan {names}")
    return plan


def fan_out(adapter: object, launch: Launch, scenario: object, workers: int,
            containers: bool = False) -> list[ToolProcess]:
    """N independent instances of the tool, each told its index (k6: its execution segment)."""
    name = getattr(adapter, "name")
    command = getattr(adapter, "container_command", None) if containers else None
    command = command or adapter.command
    if workers == 1:
        return [ToolProcess(name, tuple(command(replace(launch, worker=None, workers=1), scenario)))]
    return [
        ToolProcess(f"{name}-{i}", tuple(command(replace(launch, worker=i, workers=workers), scenario)), worker=i)
        for i in range(workers)
    ]
