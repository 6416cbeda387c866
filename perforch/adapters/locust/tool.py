"""The Locust program: finding it, its version, the command lines perforch runs, live progress.

One load generator: one standalone `locust --headless` process. Several (--workers N): Locust's own
distributed mode through the runners' process plan (runners/plan.py): a master, which runs no
users and writes Locust's CSVs, and N workers, each writing its rows to locust-requests-<i>.csv.

Exit codes: Locust exits 1 both when requests failed and when it could not start at all (a
locustfile that does not import, a bad option). perforch therefore passes --exit-code-on-error 3
so that "it ran, some requests failed" (3) differs from a crash (1, 2, -1); SLOs are judged by
perforch either way.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from perforch.adapters.base import Ingested, Launch, LineTail, Progress, RecentLatencies, Script, ToolProcess
from perforch.adapters.locust import generate as gen
from perforch.errors import PerforchError, ToolNotFound
from perforch.frame import RESPONSE_TIME
from perforch.spec import model as m

CSV_PREFIX = "locust"  # raw/locust_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv
NATIVE_CSVS = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")
FAILURES_EXIT = 3  # --exit-code-on-error: the test ran and some requests failed
STOP_TIMEOUT_S = 30  # users finish their current iteration when the load ends, like k6's gracefulStop
EXPECT_WORKERS_S = 60  # a worker that dies before it connects fails the run then (Locust waits forever)
MASTER_PORT = 5557  # Locust's default; local runs get a free port from the runner's network


class LocustAdapter:
    name = "locust"
    response_time = RESPONSE_TIME["locust"]
    default_image = "locustio/locust:2.47.0"
    ok_exit_codes = (0, FAILURES_EXIT)

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
        """One standalone Locust process (distributed runs: processes())."""
        raw = launch.raw_dir
        return [*self._common(launch), "--csv", str(raw / CSV_PREFIX), "--csv-full-history",
                "--perforch-samples", str(raw / "locust-requests.csv"), *_extra(scenario)]

    def processes(self, launch: Launch, scenario, workers: int, net) -> list:  # noqa: ANN001
        """Locust's own distributed mode: a master (it runs no users, writes Locust's CSVs) and
        `workers` workers, each writing its request rows to locust-requests-<i>.csv. The runners'
        seam (runners/plan.py) asks adapters for this plan."""

        if workers <= 1:
            return [ToolProcess(self.name, tuple(self.command(launch, scenario)))]
        if scenario is not None:
            _check_arrival_users(scenario, workers)
        raw = launch.raw_dir
        port = net.port("locust-master", MASTER_PORT)
        master = [*self._common(launch), "--csv", str(raw / CSV_PREFIX), "--csv-full-history", "--master",
                  "--master-bind-host", net.bind("locust-master"), "--master-bind-port", str(port),
                  "--expect-workers", str(workers), "--expect-workers-max-wait", str(EXPECT_WORKERS_S),
                  *_extra(scenario)]
        plan = [ToolProcess("locust-master", tuple(master), main=True, listens=port)]
        for i in range(workers):
            argv = [*self._common(launch), "--worker", "--master-host", net.host("locust-master"),
                    "--master-port", str(port), "--perforch-samples", str(raw / f"locust-requests-{i}.csv"),
                    "--perforch-worker", f"{i}/{workers}", *_extra(scenario)]
            plan.append(ToolProcess(f"locust-worker-{i}", tuple(argv), main=False, worker=i))
        return plan

    def _common(self, launch: Launch) -> list[str]:
        return [launch.binary, "-f", str(launch.script_dir / gen.LOCUSTFILE), "--headless", "--only-summary",
                "--exit-code-on-error", str(FAILURES_EXIT), "--stop-timeout", str(STOP_TIMEOUT_S)]

    def environment(self, launch: Launch) -> dict[str, str]:
        # Unbuffered logs survive a kill; no __pycache__ in the run's script directory.
        return {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}

    def raw_files(self, raw_dir: Path) -> list[Path]:
        """Per-request rows first (one file per load generator), then Locust's own CSVs."""
        files = sorted(raw_dir.glob("locust-requests*.csv"))
        files += [raw_dir / f"{CSV_PREFIX}{suffix}" for suffix in NATIVE_CSVS if (raw_dir / f"{CSV_PREFIX}{suffix}").is_file()]
        return files + sorted(raw_dir.glob("locust-iterations*.json"))

    def ingest(self, paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested:
        from perforch.adapters.locust import ingest as ing  # pandas: loaded once results exist

        return ing.ingest_files(list(paths), workers)

    def recognizes(self, path: Path, head: bytes) -> bool:
        from perforch.adapters.locust import ingest as ing

        return ing.sniff_bytes(head) is not None

    def progress_reader(self, raw_dir: Path) -> LocustProgress:
        return LocustProgress(raw_dir)


def _extra(scenario) -> list[str]:  # noqa: ANN001
    return list(scenario.tools.locust.args) if scenario is not None else []


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


def _check_arrival_users(scenario, workers: int) -> None:  # noqa: ANN001
    """Each worker starts its share of an arrival rate's iterations with its own users of the flow:
    a flow with fewer users (max_vus after the weights) than workers would miss part of its rate."""
    from perforch.spec.split import split_load

    for flow, load in zip(scenario.flows, split_load(scenario.load, [f.weight for f in scenario.flows])):
        if isinstance(load, (m.ConstantArrivalRate, m.RampingArrivalRate)) and load.max_vus < workers:
            raise PerforchError(
                f"flow {flow.name!r} has {load.max_vus} user(s) at most (max_vus after the weights) for "
                f"{workers} Locust workers: the workers without one would not start their share of its rate",
                hint=f"raise load.max_vus to at least {workers} per flow, or use fewer workers")
