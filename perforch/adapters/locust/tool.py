"""The Locust program: finding it, its version, the command line perforch runs, live progress.

Exit codes: Locust exits 1 both when requests failed and when it could not start at all (a
locustfile that does not import, a bad option). perforch therefore passes --exit-code-on-error 3
so that "it ran, some requests failed" (3) differs from a crash (1, 2, -1); SLOs are judged by
perforch either way.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from perforch.adapters.base import Ingested, Launch, LineTail, Progress, RecentLatencies, Script
from perforch.adapters.locust import generate as gen
from perforch.adapters.locust import ingest as ing
from perforch.errors import ToolNotFound
from perforch.frame import RESPONSE_TIME

CSV_PREFIX = "locust"  # raw/locust_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv
NATIVE_CSVS = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")
FAILURES_EXIT = 3  # --exit-code-on-error: the test ran and some requests failed
STOP_TIMEOUT_S = 30  # users finish their current iteration when the load ends, like k6's gracefulStop


class LocustAdapter:
    name = "locust"
    response_time = RESPONSE_TIME["locust"]
    default_image = "locustio/locust:2.47.0"
    ok_exit_codes = (0, FAILURES_EXIT)

    def __init__(self) -> None:
        self._ports: dict[Path, int] = {}

    def generate(self, scenario) -> Script:  # noqa: ANN001
        return gen.generate(scenario)

    def find_binary(self, configured: str | None = None) -> str:
        candidates = [configured] if configured else [
            os.environ.get("PERFORCH_LOCUST"), shutil.which("locust"), str(Path(sys.executable).with_name("locust"))]
        for candidate in candidates:
            if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
                return candidate
        if configured:
            raise ToolNotFound(f"locust not found at {configured}", hint="pass the path of the locust program")
        raise ToolNotFound(
            "locust not found on PATH",
            hint="pip install locust (https://docs.locust.io/en/stable/installation.html), set PERFORCH_LOCUST, "
                 "or use --runner docker",
        )

    def version(self, binary: str) -> str:
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        match = re.search(r"locust (\d+\.\d+\S*)", out.stdout + out.stderr)
        return match.group(1) if match else (out.stdout.strip()[:40] or "unknown")

    def command(self, launch: Launch, scenario=None) -> list[str]:  # noqa: ANN001
        """Standalone when there is one load generator; else launch 0 is the master (it runs no
        users) and launches 1..N-1 are its workers."""
        raw = launch.raw_dir
        argv = [launch.binary, "-f", str(launch.script_dir / gen.LOCUSTFILE), "--headless", "--only-summary",
                "--exit-code-on-error", str(FAILURES_EXIT), "--stop-timeout", str(STOP_TIMEOUT_S)]
        distributed = launch.worker is not None and launch.workers > 1
        if not distributed or launch.worker == 0:
            argv += ["--csv", str(raw / CSV_PREFIX), "--csv-full-history"]
        if not distributed:
            argv += ["--perforch-samples", str(raw / "locust-requests.csv")]
        elif launch.worker == 0:
            argv += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(self._port(raw)),
                     "--expect-workers", str(launch.workers - 1)]
        else:
            index = launch.worker - 1
            argv += ["--worker", "--master-host", "127.0.0.1", "--master-port", str(self._port(raw)),
                     "--perforch-samples", str(raw / f"locust-requests-{index}.csv"),
                     "--perforch-worker", f"{index}/{launch.workers - 1}"]
        if scenario is not None:
            argv += list(scenario.tools.locust.args)
        return argv

    def _port(self, raw_dir: Path) -> int:
        """One free port per run for the master and its workers."""
        if raw_dir not in self._ports:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                self._ports[raw_dir] = sock.getsockname()[1]
        return self._ports[raw_dir]

    def environment(self, launch: Launch) -> dict[str, str]:
        # Unbuffered logs survive a kill; no __pycache__ in the run's script directory.
        return {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}

    def raw_files(self, raw_dir: Path) -> list[Path]:
        """Per-request rows first (one file per load generator), then Locust's own CSVs."""
        files = sorted(raw_dir.glob("locust-requests*.csv"))
        files += [raw_dir / f"{CSV_PREFIX}{suffix}" for suffix in NATIVE_CSVS if (raw_dir / f"{CSV_PREFIX}{suffix}").is_file()]
        return files + sorted(raw_dir.glob("locust-iterations*.json"))

    def ingest(self, paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested:
        return ing.ingest_files(list(paths), workers)

    def recognizes(self, path: Path, head: bytes) -> bool:
        return ing.sniff_bytes(head) is not None

    def progress_reader(self, raw_dir: Path) -> LocustProgress:
        return LocustProgress(raw_dir)


class LocustProgress:
    """Counts requests, failures and a recent p95 from the request rows the locustfile writes."""

    def __init__(self, raw_dir: Path) -> None:
        self.raw_dir = raw_dir
        self.tails: dict[Path, LineTail] = {}
        self.stats = RecentLatencies()

    def poll(self) -> Progress:
        for path in self.raw_dir.glob("locust-requests*.csv"):
            self.tails.setdefault(path, LineTail(path))
        now = time.monotonic()
        for tail in self.tails.values():
            for line in tail.new_lines():
                parts = line.split(b",", 4)  # start_time,response_time_ms,status,ok,...
                try:
                    self.stats.add(float(parts[1]), parts[3] == b"1", now)
                except (IndexError, ValueError):
                    continue  # the header
        return self.stats.snapshot(now)
