"""A note on disk of the local processes a live run started, so `perforch clean` can stop them when
the run was killed hard (SIGKILL, a crashed terminal) and could not clean up itself.

One JSON file per live run in $PERFORCH_STATE_DIR (default $XDG_STATE_HOME/perforch or
~/.local/state/perforch), under active/. The run deletes it when it ends normally.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from perforch.runners.docker import owner_alive, owner_id


def state_dir() -> Path:
    if os.environ.get("PERFORCH_STATE_DIR"):
        return Path(os.environ["PERFORCH_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "perforch"


class Ledger:
    """Context manager: records process groups while the run lives; removes the note at the end."""

    def __init__(self, run_id: str, run_dir: Path) -> None:
        self.path = state_dir() / "active" / f"{run_id}.json"
        self.data = {"run_id": run_id, "run_dir": str(run_dir), "owner": owner_id(), "processes": []}

    def __enter__(self) -> Ledger:
        self._write()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass

    def add(self, name: str, pid: int) -> None:
        """A process started in its own session: its group id is its pid."""
        import psutil

        try:
            created = psutil.Process(pid).create_time()
        except psutil.Error:
            return
        self.data["processes"].append({"name": name, "pgid": pid, "created": created})
        self._write()

    def _write(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            pass  # best effort: a read-only home must not stop a run


@dataclass(frozen=True, slots=True)
class StaleRun:
    run_id: str
    run_dir: str
    path: Path
    processes: tuple[dict, ...]


def stale_runs(include_live: bool = False) -> list[StaleRun]:
    """Runs whose owner process is gone (all noted runs when include_live)."""
    found = []
    for path in sorted((state_dir() / "active").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        alive = owner_alive(str(data.get("owner", "")))
        if alive and not include_live:
            continue
        found.append(StaleRun(str(data.get("run_id", path.stem)), str(data.get("run_dir", "")), path,
                              tuple(data.get("processes", ()))))
    return found


def stop_processes(run: StaleRun) -> list[str]:
    """SIGKILL what is left of the run's process groups; remove the note. Returns what was stopped."""
    import psutil

    stopped = []
    for entry in run.processes:
        pgid, created = int(entry["pgid"]), float(entry["created"])
        members = []
        for proc in psutil.process_iter(["pid", "create_time"]):
            try:
                if os.getpgid(proc.pid) == pgid and proc.info["create_time"] >= created - 1:
                    members.append(proc)
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        if members:
            try:
                os.killpg(pgid, signal.SIGKILL)
                stopped.append(f"process group {pgid} ({entry.get('name')}, {len(members)} process(es))")
            except (ProcessLookupError, PermissionError):
                pass
    try:
        run.path.unlink()
    except OSError:
        pass
    return stopped
