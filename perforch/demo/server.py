"""Start the demo API in a child process for `perforch demo` and the tests."""

from __future__ import annotations

import contextlib
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from perforch.errors import PerforchError


def demo_scenario_path() -> Path:
    return Path(str(resources.files("perforch.demo").joinpath("quickstart.yaml")))


def demo_api_command(port: int) -> str:
    """The command that serves the demo API on 127.0.0.1:port (for target.start.command)."""
    return f"{shlex.quote(sys.executable)} -m perforch.demo.app {port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_demo_api(port: int = 0, timeout_s: float = 15.0) -> Iterator[str]:
    """Yield the base URL of a demo API running in a child process; stop it afterwards."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "perforch.demo.app", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
                raise PerforchError(f"the demo API exited at start (code {proc.returncode})",
                                    hint="is the port in use? try --port", details=err.strip() or None)
            try:
                with urllib.request.urlopen(base_url + "/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise PerforchError(f"the demo API did not answer on {base_url} within {timeout_s:.0f}s") from None
                time.sleep(0.1)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
