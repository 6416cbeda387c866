"""The JMeter program: finding it, its version, the command line perforch runs, live progress.

    jmeter -n -t plan.jmx -l raw/results.jtl -j raw/jmeter.log -J<save-service properties>

run through supervise.py (a plan JMeter 2.13 cannot load still exits 0; the wrapper turns that into
exit code 1 with the reason). Debian 12's jmeter 2.13 package is started through a small launcher
that works around its XStream allow-list (debian.py).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from perforch.adapters.base import Ingested, Launch, LineTail, Progress, RecentLatencies, Script
from perforch.adapters.jmeter import debian
from perforch.adapters.jmeter import generate as gen
from perforch.adapters.jmeter import ingest as ing
from perforch.errors import PerforchError, ToolNotFound
from perforch.frame import RESPONSE_TIME

RESULTS = "results.jtl"
LOG = "jmeter.log"

# What the JTL must hold for the frame (reference §3.1), as CSV with a header row. The URL is left
# out on purpose: a ${env.X} secret in a path or query would land in the results file.
SAVE_SERVICE = {
    "output_format": "csv",
    "print_field_names": "true",
    "default_delimiter": ",",
    "timestamp_format": "ms",
    "time": "true",
    "label": "true",
    "response_code": "true",
    "response_message": "true",
    "thread_name": "true",
    "data_type": "true",
    "successful": "true",
    "assertion_results_failure_message": "true",
    "bytes": "true",
    "sent_bytes": "true",  # JMeter >= 3.1; ignored by 2.13
    "thread_counts": "true",
    "latency": "true",
    "connect_time": "true",
    "idle_time": "true",
    "url": "false",
    "encoding": "false",
    "hostname": "false",
    "sample_count": "false",
    "filename": "false",
    "response_data": "false",
    "samplerData": "false",
    "autoflush": "true",  # every row is on disk when Ctrl-C or a timeout stops JMeter
}
OTHER_PROPERTIES = {
    "httpclient4.retrycount": "0",  # k6 and Locust never resend a request
    "summariser.interval": "10",
}


class JMeterAdapter:
    name = "jmeter"
    response_time = RESPONSE_TIME["jmeter"]
    default_image = "justb4/jmeter:5.5"  # falls back to perforch/jmeter:2.13 (images/jmeter.sh) offline
    ok_exit_codes = (0,)

    def generate(self, scenario) -> Script:  # noqa: ANN001
        return gen.generate(scenario)

    def find_binary(self, configured: str | None = None) -> str:
        home = os.environ.get("JMETER_HOME")
        candidates = [configured] if configured else [
            os.environ.get("PERFORCH_JMETER"), shutil.which("jmeter"),
            str(Path(home) / "bin" / "jmeter") if home else None]
        for candidate in candidates:
            if candidate and Path(candidate).is_dir():
                candidate = str(Path(candidate) / "bin" / "jmeter")
            if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
                return candidate
        if configured:
            raise ToolNotFound(f"jmeter not found at {configured}",
                               hint="pass the path of the jmeter launcher (JMETER_HOME/bin/jmeter) or its home")
        raise ToolNotFound(
            "jmeter not found on PATH",
            hint="install Apache JMeter (https://jmeter.apache.org/download_jmeter.cgi; Debian: apt-get install "
                 "jmeter jmeter-http), set JMETER_HOME or PERFORCH_JMETER, or use --runner docker",
        )

    def version(self, binary: str) -> str:
        install = debian.describe(binary)
        if install.version != "unknown":
            return install.version
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        match = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
        return match.group(1) if match else "unknown"

    def command(self, launch: Launch, scenario=None) -> list[str]:  # noqa: ANN001
        """The local command: JMeter (through the XStream launcher for Debian's 2.13) under supervise.py."""
        install = debian.describe(launch.binary)
        start = debian.launcher_argv(install.home) if install.needs_xstream_fix and install.home else [launch.binary]
        supervisor = Path(__file__).with_name("supervise.py")
        return [sys.executable, str(supervisor), str(launch.raw_dir / LOG), "--",
                *self._jmeter_args(start, launch, scenario)]

    def container_command(self, launch: Launch, scenario=None) -> list[str]:  # noqa: ANN001
        """In a container: the image's own `jmeter` (perforch/jmeter:2.13 brings the launcher), no
        host file. Without the supervisor a plan JMeter cannot load shows as a run with no results
        and the log's error in the warnings."""
        return self._jmeter_args([launch.binary], launch, scenario)

    def _jmeter_args(self, start: list[str], launch: Launch, scenario) -> list[str]:  # noqa: ANN001
        if launch.workers > 1:
            raise PerforchError("JMeter runs as one process in perforch for now; --workers is not available for it",
                                hint="run with --workers 1 (one JMeter uses every core of the machine)")
        raw = launch.raw_dir
        argv = [*start, "-n", "-t", str(launch.script_dir / gen.PLAN), "-l", str(raw / RESULTS), "-j", str(raw / LOG)]
        argv += [f"-Jjmeter.save.saveservice.{k}={v}" for k, v in SAVE_SERVICE.items()]
        argv += [f"-J{k}={v}" for k, v in OTHER_PROPERTIES.items()]
        if scenario is not None:
            argv += list(scenario.tools.jmeter.args)
        return argv

    def environment(self, launch: Launch) -> dict[str, str]:
        return {"JVM_ARGS": os.environ.get("JVM_ARGS", "-Djava.awt.headless=true")}

    def raw_files(self, raw_dir: Path) -> list[Path]:
        return sorted(raw_dir.glob("results*.jtl"))

    def ingest(self, paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested:
        return ing.ingest_files(list(paths), workers)

    def recognizes(self, path: Path, head: bytes) -> bool:
        return ing.sniff_bytes(head) is not None

    def progress_reader(self, raw_dir: Path) -> JMeterProgress:
        return JMeterProgress(raw_dir)


class JMeterProgress:
    """Counts requests, failures and a recent p95 from the CSV JTL JMeter is writing."""

    def __init__(self, raw_dir: Path) -> None:
        self.raw_dir = raw_dir
        self.tail: LineTail | None = None
        self.columns: dict[str, int] | None = None
        self.stats = RecentLatencies()

    def poll(self) -> Progress:
        path = self.raw_dir / RESULTS
        if self.tail is None and path.exists():
            self.tail = LineTail(path)
        now = time.monotonic()
        for line in self.tail.new_lines() if self.tail else []:
            text = line.decode("utf-8", "replace").rstrip("\r")
            if self.columns is None:
                self.columns = {name: i for i, name in enumerate(next(csv.reader([text])))}
                continue
            try:
                row = next(csv.reader([text]))
                if len(row) != len(self.columns) or not row[self.columns["dataType"]]:
                    continue  # a continuation line of a multi-line message, or a transaction row
                self.stats.add(float(row[self.columns["elapsed"]]), row[self.columns["success"]] == "true", now)
            except (csv.Error, KeyError, ValueError, StopIteration):
                continue
        return self.stats.snapshot(now)
