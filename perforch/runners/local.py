"""Start a tool as a local process: own process group, logs to files, graceful stop, kill.

Spawn and wait; never parse. `supervise.py` watches a run's processes (local or containers, which
show the same face: poll, signal, wait, kill, result).
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

GRACE_S = 20.0  # after asking the tool to stop, how long it may take to write its results


@dataclass(frozen=True, slots=True)
class ProcessResult:
    name: str
    argv: tuple[str, ...]
    exit_code: int | None  # None when it could not be told (killed and gone)
    interrupted: bool  # stopped by the user (Ctrl-C)
    timed_out: bool
    stdout_log: Path
    stderr_log: Path
    started: float  # time.time()
    ended: float
    stopped: bool = False  # perforch asked it to stop (the run was over, or a policy said so)


class LocalProcess:
    """One process in its own session (process group); stop() asks gracefully, then kills."""

    def __init__(self, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], logs_dir: Path) -> None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.argv = tuple(argv)
        self.stdout_log = logs_dir / f"{name}.stdout.log"
        self.stderr_log = logs_dir / f"{name}.stderr.log"
        self._out = self.stdout_log.open("wb")
        self._err = self.stderr_log.open("wb")
        self.started = time.time()
        self.stopped = False
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
        except OSError as exc:
            self._close()
            raise ToolNotFound(f"cannot start {self.argv[0]}: {exc.strerror or exc}") from None
        self.pid = self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self, timeout_s: float) -> int | None:
        try:
            return self.proc.wait(max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_s: float = GRACE_S) -> int | None:
        """SIGINT the group (tools flush results on it), wait, then SIGKILL. Returns the exit code."""
        if self.proc.poll() is None:
            self.stopped = True
            self.signal(signal.SIGINT)
            if self.wait(grace_s) is None:
                self.kill()
        return self.proc.poll()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)  # the whole group: also children the tool started
        self.wait(5)

    def result(self, interrupted: bool = False, timed_out: bool = False) -> ProcessResult:
        code = self.proc.poll()
        self._close()
        return ProcessResult(self.name, self.argv, code, interrupted, timed_out,
                             self.stdout_log, self.stderr_log, self.started, time.time(), self.stopped)

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
    """Wait for `processes[main]` to end (then stop the rest); Ctrl-C stops them all gracefully.

    Kept for callers of the first version; runs use `supervise.supervise`.
    """
    from perforch.runners.supervise import supervise

    outcome = supervise(processes, main=[i == main for i in range(len(processes))], timeout_s=timeout_s,
                        on_tick=on_tick)
    return list(outcome.results), outcome.interrupted


def log_tail(paths: Sequence[Path], lines: int = 20) -> str:
    """The last lines of the first of `paths` that has any text."""
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if text:
            return "\n".join(text.splitlines()[-lines:])
    return ""


def stderr_tail(result: ProcessResult, lines: int = 20) -> str:
    return log_tail([result.stderr_log, result.stdout_log], lines)


def last_line(path: Path, max_bytes: int = 4096) -> str:
    """The last non-empty line of a log file (for the live progress line), '' if none."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return ""
    for line in reversed(data.decode("utf-8", errors="replace").splitlines()):
        if line.strip():
            return line.strip()
    return ""


def failure(result: ProcessResult, what: str = "the tool") -> ToolFailed:
    return ToolFailed(
        f"{what} failed: `{' '.join(result.argv)}` exited with code {result.exit_code}",
        hint=f"full log: {result.stderr_log}",
        details=stderr_tail(result) or "(no output)",
    )
