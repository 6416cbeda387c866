"""Start a tool as a local process: own process group, logs to files, graceful Ctrl-C, timeout.

Spawn and wait; never parse. The caller polls progress through `on_tick` while the tool runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perforch.errors import ToolFailed, ToolNotFound

TICK_S = 0.5
GRACE_S = 20.0  # after asking the tool to stop, how long it may take to write its results


@dataclass(frozen=True, slots=True)
class ProcessResult:
    name: str
    argv: tuple[str, ...]
    exit_code: int | None  # None when it had to be killed
    interrupted: bool  # stopped by the user (Ctrl-C)
    timed_out: bool
    stdout_log: Path
    stderr_log: Path
    started: float  # time.time()
    ended: float


class LocalProcess:
    """One tool process in its own session; stop() asks gracefully, then kills."""

    def __init__(self, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], logs_dir: Path) -> None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.argv = tuple(argv)
        self.stdout_log = logs_dir / f"{name}.stdout.log"
        self.stderr_log = logs_dir / f"{name}.stderr.log"
        self._out = self.stdout_log.open("wb")
        self._err = self.stderr_log.open("wb")
        self.started = time.time()
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=cwd, env=dict(env), stdout=self._out, stderr=self._err,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        except FileNotFoundError:
            self._close()
            raise ToolNotFound(f"cannot start {self.argv[0]}: not found",
                               hint="perforch doctor shows which tools are installed") from None
        except PermissionError:
            self._close()
            raise ToolNotFound(f"cannot start {self.argv[0]}: permission denied") from None

    def poll(self) -> int | None:
        return self.proc.poll()

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, grace_s: float = GRACE_S) -> int | None:
        """SIGINT the group (tools flush results on it), wait, then SIGKILL. Returns the exit code."""
        if self.proc.poll() is None:
            self.signal(signal.SIGINT)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.poll()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def result(self, interrupted: bool = False, timed_out: bool = False) -> ProcessResult:
        code = self.proc.poll()
        self._close()
        return ProcessResult(self.name, self.argv, code, interrupted, timed_out,
                             self.stdout_log, self.stderr_log, self.started, time.time())

    def _close(self) -> None:
        for fh in (self._out, self._err):
            if not fh.closed:
                fh.close()


def run_processes(
    processes: Sequence[LocalProcess],
    timeout_s: float,
    on_tick: Callable[[float], None] | None = None,
    main: int = 0,
) -> tuple[list[ProcessResult], bool]:
    """Wait for `processes[main]` (and the rest) to end; Ctrl-C stops them all gracefully.

    Returns the results and whether the run was interrupted. A second Ctrl-C kills at once.
    """
    start = time.monotonic()
    interrupted = timed_out = False
    try:
        while True:
            if all(p.poll() is not None for p in processes):
                break
            if processes[main].poll() is not None:
                # the coordinating process ended: give the others a moment, then stop them
                _stop_all(processes[main + 1:] if main == 0 else processes, grace_s=10)
                break
            elapsed = time.monotonic() - start
            if elapsed > timeout_s:
                timed_out = True
                _stop_all(processes)
                break
            if on_tick:
                on_tick(elapsed)
            time.sleep(TICK_S)
    except KeyboardInterrupt:
        interrupted = True
        try:
            _stop_all(processes)
        except KeyboardInterrupt:  # second Ctrl-C: no more waiting
            for p in processes:
                p.kill()
    return [p.result(interrupted=interrupted, timed_out=timed_out) for p in processes], interrupted


def _stop_all(processes: Sequence[LocalProcess], grace_s: float = GRACE_S) -> None:
    for p in processes:
        if p.poll() is None:
            p.signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for p in processes:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            p.proc.wait(remaining)
        except subprocess.TimeoutExpired:
            p.kill()


def stderr_tail(result: ProcessResult, lines: int = 20) -> str:
    text = ""
    for path in (result.stderr_log, result.stdout_log):
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if text:
            break
    return "\n".join(text.splitlines()[-lines:])


def failure(result: ProcessResult, what: str = "the tool") -> ToolFailed:
    return ToolFailed(
        f"{what} failed: `{' '.join(result.argv)}` exited with code {result.exit_code}",
        hint=f"full log: {result.stderr_log}",
        details=stderr_tail(result) or "(no output)",
    )
