"""Start the processes of a run's plan (one tool process, or a distributed run) in order.

A process that `listens` (a Locust master, a jmeter-server engine) must accept connections before
the processes after it start; a process that exits during start-up fails the run with its log.
Where processes start (local or containers) is the caller's `start` function.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence

from perforch.errors import ToolFailed
from perforch.runners.local import log_tail
from perforch.runners.plan import ToolProcess

LISTEN_TIMEOUT_S = 60.0


def start_plan(
    plan: Sequence[ToolProcess],
    start: Callable[[ToolProcess], object],
    address: Callable[[object, int], tuple[str, int]],
    started: list,
    timeout_s: float = LISTEN_TIMEOUT_S,
) -> None:
    """Start every process of `plan` into `started` (the caller cleans them up, also on errors)."""
    from perforch.runners.supervise import deferring_sigint

    for proc in plan:
        with deferring_sigint():  # Ctrl-C waits until the process is started and recorded
            started.append(start(proc))
        handle = started[-1]
        if proc.listens is not None:
            wait_listening(handle, *address(handle, proc.listens), timeout_s=timeout_s)


def wait_listening(handle, host: str, port: int, timeout_s: float = LISTEN_TIMEOUT_S) -> float:  # noqa: ANN001
    began = time.monotonic()
    while True:
        code = handle.poll()
        if code is not None:
            raise ToolFailed(f"{handle.name} exited with code {code} while starting",
                             hint=f"full log: {handle.stderr_log}",
                             details=log_tail([handle.stderr_log, handle.stdout_log]) or "(no output)")
        try:
            with socket.create_connection((host, port), timeout=1):
                return time.monotonic() - began
        except OSError:
            pass
        if time.monotonic() - began > timeout_s:
            raise ToolFailed(f"{handle.name} did not listen on {host}:{port} within {timeout_s:.0f} s",
                             hint=f"full log: {handle.stderr_log}",
                             details=log_tail([handle.stderr_log, handle.stdout_log]) or "(no output)")
        time.sleep(0.1)


def worker_names(files: Sequence[object]) -> list[str] | None:
    """Worker labels for the raw files of a distributed run: the trailing number of each file name
    (k6-2.csv -> "2") when every file has one, else the file stems."""
    import re

    if len(files) < 2:
        return None
    stems = [getattr(f, "stem", str(f)) for f in files]
    numbers = [re.search(r"(\d+)$", s) for s in stems]
    if all(numbers):
        return [m.group(1) for m in numbers]  # type: ignore[union-attr]
    return stems


def host_address(handle, port: int) -> tuple[str, int]:  # noqa: ANN001
    """Local processes and host-networked containers listen on this machine's loopback."""
    return "127.0.0.1", port


def container_address(network: str) -> Callable[[object, int], tuple[str, int]]:
    """A container on a private bridge network: its IP there (reachable from the host on Linux)."""

    def address(handle, port: int) -> tuple[str, int]:  # noqa: ANN001
        container = handle.container
        for _ in range(20):
            container.reload()
            ip = (container.attrs.get("NetworkSettings", {}).get("Networks", {}).get(network) or {}).get("IPAddress")
            if ip:
                return ip, port
            time.sleep(0.1)
        return socket.gethostbyname("localhost"), port

    return address
