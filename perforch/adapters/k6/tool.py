"""The k6 program: finding it, its version, the command line perforch runs, live progress."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from perforch.adapters.base import Ingested, Launch, LineTail, Progress, RecentLatencies, Script
from perforch.adapters.k6 import generate as gen
from perforch.errors import ToolNotFound
from perforch.frame import RESPONSE_TIME

RESULTS_CSV = "k6.csv"
SUMMARY = "summary.json"
# Only the tags ingest needs: every extra tag costs bytes on every one of ~11 rows per request.
SYSTEM_TAGS = "name,method,status,error,expected_response,group,scenario,check,vu,iter"
THRESHOLDS_CROSSED = 99  # k6's exit code when a threshold failed; perforch judges SLOs itself


class K6Adapter:
    name = "k6"
    response_time = RESPONSE_TIME["k6"]
    default_image = "grafana/k6:1.1.0"
    ok_exit_codes = (0, THRESHOLDS_CROSSED)

    def generate(self, scenario) -> Script:  # noqa: ANN001
        return gen.generate(scenario)

    def find_binary(self, configured: str | None = None) -> str:
        candidates = [configured] if configured else [
            os.environ.get("PERFORCH_K6"), shutil.which("k6"), str(Path(sys.executable).with_name("k6"))]
        for candidate in candidates:
            if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
                return candidate
        if configured:
            raise ToolNotFound(f"k6 not found at {configured}", hint="pass the path of the k6 binary")
        raise ToolNotFound(
            "k6 not found on PATH",
            hint="install k6 (https://grafana.com/docs/k6/latest/set-up/install-k6/), set PERFORCH_K6, "
                 "or use --runner docker",
        )

    def version(self, binary: str) -> str:
        try:
            out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        match = re.search(r"v(\d+\.\d+\.\d+\S*)", out)
        return match.group(1) if match else out.strip()[:40] or "unknown"

    def command(self, launch: Launch, scenario=None) -> list[str]:  # noqa: ANN001
        raw = launch.raw_dir
        suffix = "" if launch.worker is None else f"-{launch.worker}"
        # --address: k6's REST API on a free port, so parallel k6 processes never fight over 6565.
        argv = [launch.binary, "run", "--quiet", "--no-color", "--address", "127.0.0.1:0",
                "--out", f"csv={raw / f'k6{suffix}.csv'}",
                "--summary-export", str(raw / f"summary{suffix}.json"),
                "--system-tags", SYSTEM_TAGS]
        if launch.worker is not None and launch.workers > 1:
            cuts = ["0", *(f"{i}/{launch.workers}" for i in range(1, launch.workers)), "1"]
            argv += ["--execution-segment", f"{cuts[launch.worker]}:{cuts[launch.worker + 1]}",
                     "--execution-segment-sequence", ",".join(cuts)]
        if scenario is not None:
            argv += list(scenario.tools.k6.args)
        return argv + [str(launch.script_dir / gen.SCRIPT)]

    def environment(self, launch: Launch) -> dict[str, str]:
        return {"K6_CSV_TIME_FORMAT": "unix_micro", "K6_NO_USAGE_REPORT": "true"}

    def raw_files(self, raw_dir: Path) -> list[Path]:
        return sorted(raw_dir.glob("k6*.csv"))

    def ingest(self, paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested:
        from perforch.adapters.k6 import ingest as ing  # pandas and pyarrow: loaded once results exist

        return ing.ingest_files(list(paths), workers)

    def recognizes(self, path: Path, head: bytes) -> bool:
        from perforch.adapters.k6 import ingest as ing

        return ing.sniff_bytes(head) is not None

    def progress_reader(self, raw_dir: Path) -> K6Progress:
        return K6Progress(raw_dir)


class K6Progress:
    """Counts requests, failures and a recent p95 from the CSV k6 is writing."""

    def __init__(self, raw_dir: Path) -> None:
        self.raw_dir = raw_dir
        self.tails: dict[Path, LineTail] = {}
        self.stats = RecentLatencies()

    def poll(self) -> Progress:
        for path in self.raw_dir.glob("k6*.csv"):
            self.tails.setdefault(path, LineTail(path))
        now = time.monotonic()
        for tail in self.tails.values():
            for line in tail.new_lines():
                if line.startswith(b"http_req_duration,"):
                    parts = line.split(b",", 3)
                    try:
                        self.stats.add(float(parts[2]), True, now)
                    except (IndexError, ValueError):
                        continue
                elif line.startswith(b"http_req_failed,") and line.split(b",", 3)[2:3] == [b"1.000000"]:
                    self.stats.errors += 1
        return self.stats.snapshot(now)
