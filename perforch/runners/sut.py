"""Start the system under test for a run (target.start), wait until it is ready, stop it after.

- `command`: a local process (argv split like a shell would, no shell), in its own process group,
  cwd = start.cwd relative to the scenario file. Its port must be free before it starts: a server
  already answering there would be measured instead.
- `image`: a container on the run's private network, reachable by the tool containers as `sut`,
  and published on a free 127.0.0.1 port for the ready check and for local tools.

Readiness: GET base_url + start.ready answers 2xx, within start.ready_timeout; when it does not (or
the SUT exits first), the error shows the end of the SUT's log.
"""

from __future__ import annotations

import os
import shlex
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from perforch.errors import PerforchError
from perforch.runners.local import LocalProcess, log_tail
from perforch.runners.plan import free_port

SUT_NAME = "sut"
READY_POLL_S = 0.2


class SutFailed(PerforchError):
    """The system under test did not start or did not become ready."""


@dataclass(frozen=True, slots=True)
class SutAddress:
    tool_url: str  # the base URL the load tool uses
    check_url: str  # the base URL perforch checks readiness on (from this machine)
    host_port: int | None = None  # container SUT: the 127.0.0.1 port it is published on


def plan_address(start, base_url: str, tool_in_container: bool) -> SutAddress:  # noqa: ANN001
    """Where the tool and perforch reach the SUT, known before it starts (so the script is generated once)."""
    if start.image is None:
        return SutAddress(base_url, base_url)
    host_port = free_port()
    local = _with_host(base_url, "127.0.0.1", host_port)
    tool = _with_host(base_url, SUT_NAME, start.port) if tool_in_container else local
    return SutAddress(tool, local, host_port)


def _with_host(url: str, host: str, port: int | None) -> str:
    parts = urlsplit(url)
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def check_port_free(base_url: str) -> None:
    """A local SUT's port must not be answering already (then we would test someone else's server)."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "127.0.0.1"
    try:
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError:
        return
    raise SutFailed(
        f"port {port} on {host} is already in use: something answers there before target.start.command runs, "
        "and perforch would measure it instead of the server it starts",
        hint=f"stop whatever listens on {host}:{port} (e.g. `ss -ltnp 'sport = :{port}'`), or change the port "
             "in target.base_url and target.start.command",
    )


def start_command(start, spec_dir: Path, logs_dir: Path, env: Mapping[str, str]) -> LocalProcess:  # noqa: ANN001
    try:
        argv = shlex.split(start.command)
    except ValueError as exc:
        raise SutFailed(f"target.start.command: cannot split {start.command!r}: {exc}") from None
    if not argv:
        raise SutFailed("target.start.command is empty")
    cwd = (spec_dir / start.cwd).resolve() if start.cwd else spec_dir.resolve()
    if not cwd.is_dir():
        raise SutFailed(f"target.start.cwd: {cwd} is not a directory")
    try:
        return LocalProcess(SUT_NAME, argv, cwd, {**env, **start.env}, logs_dir)
    except PerforchError as exc:
        raise SutFailed(f"target.start.command: {exc.message}", hint="check the command and PATH") from None


def start_container(session, start, address: SutAddress, logs_dir: Path):  # noqa: ANN001, ANN201
    return session.start(
        SUT_NAME, start.image, None, logs_dir, role=SUT_NAME, env=dict(start.env),
        network=session.private_network(), publish={f"{start.port}/tcp": ("127.0.0.1", address.host_port)},
        init=False,
    )


def wait_ready(handle, check_url: str, start, what: str) -> float:  # noqa: ANN001
    """Poll until the ready path answers 2xx; seconds it took. SutFailed (with its log) otherwise."""
    url = check_url + (start.ready if start.ready.startswith("/") else "/" + start.ready)
    began = time.monotonic()
    deadline = began + start.ready_timeout
    last = "no answer yet"
    while True:
        code = handle.poll()
        if code is not None:
            raise SutFailed(f"the system under test ({what}) exited with code {code} before it was ready",
                            hint=f"its log: {handle.stderr_log}", details=_logs(handle))
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if 200 <= response.status < 300:
                    return time.monotonic() - began
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", None) or exc)[:120]
        if time.monotonic() > deadline:
            raise SutFailed(
                f"the system under test ({what}) was not ready after {start.ready_timeout:g} s: "
                f"GET {url} -> {last}",
                hint="check target.start.ready (a path answering 2xx once it can serve) and target.start.port; "
                     "raise target.start.ready_timeout if it starts slowly",
                details=_logs(handle),
            )
        time.sleep(READY_POLL_S)


def _logs(handle) -> str:  # noqa: ANN001
    time.sleep(0.2)  # let the log threads write what the SUT printed last
    text = log_tail([handle.stderr_log, handle.stdout_log], 20)
    return ("last lines of its log:\n" + text) if text else "(it wrote nothing)"


def describe(start) -> str:  # noqa: ANN001
    return f"image {start.image}" if start.image else f"command {start.command!r}"


def sut_environment() -> dict[str, str]:
    return dict(os.environ)
