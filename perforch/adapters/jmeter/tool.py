"""The JMeter program: finding it, its version, the command lines perforch runs, live progress.

    jmeter -n -t plan.jmx -l raw/results.jtl -j raw/jmeter.log -J<save-service properties>

run through supervise.py (a plan JMeter 2.13 cannot load still exits 0; the wrapper turns that into
exit code 1 with the reason). Debian 12's jmeter 2.13 package is started through a small launcher
that works around its XStream allow-list (debian.py).

Several load generators (--workers N): JMeter's own distributed mode, through the runners' process
plan (runners/plan.py). N engines `jmeter -s` (jmeter-server-0..N-1), then one client
`jmeter -n -t plan.jmx -R host:port,...` that sends them the plan, starts them and writes every
sample they send back into the one raw/results.jtl. Each engine runs the plan with its own part
of the load, given by properties on its command line (shares.py, perforch.js: users, arrival-rate
and iteration tickets, data rows round robin, like k6's execution segments), so the engines
together run the scenario's load once; they start their clocks together (perforch.sync: the raw
directory, where each says when it is ready). Each engine tags its samples with the sample
variable perforch.worker, the JTL's column of that name and the frame's worker column. Engines
read ${env.X} values from their own environment (nothing on a command line). Samples come back
in JMeter's StrippedBatch mode (see SAMPLE_SENDER).
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
from dataclasses import replace
from pathlib import Path

from perforch.adapters.base import Ingested, Launch, LineTail, Network, Progress, RecentLatencies, Script, ToolProcess
from perforch.adapters.jmeter import debian
from perforch.adapters.jmeter import generate as gen
from perforch.adapters.jmeter import ingest as ing
from perforch.adapters.jmeter import shares
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

# Distributed runs (processes()): ports on a host of their own (containers on the run's network);
# local processes get free ports from the runner's network.
SERVER_PORT = 1099  # an engine's RMI registry (JMeter's default server_port)
SERVER_RMI_PORT = 50000  # + i: engine i's own RMI object
CLIENT_RMI_PORT = 60000  # the client's listener, which the engines call back with samples
WORKER_VARIABLE = shares.WORKER  # set by perforch.js in each engine, saved in every sample
# Every sample of every engine reaches the client's JTL (StrippedBatch flushes what it holds when the
# engine's test ends, before the engine reports the end; the Asynch modes report first and may lose
# the tail; Statistical keeps no samples). A batch leaves an engine at 100 samples or after 1 s.
SAMPLE_SENDER = {"mode": "StrippedBatch", "num_sample_threshold": "100", "time_threshold": "1000"}
DISTRIBUTED = {
    "sample_variables": WORKER_VARIABLE,
    **SAMPLE_SENDER,
    "server.rmi.ssl.disable": "true",  # JMeter >= 4.0 wants an RMI keystore otherwise; 2.13 has no RMI SSL
}
ENGINE = {
    "server.exitaftertest": "true",  # an engine ends with its test...
    "jmeterengine.remote.system.exit": "true",  # ...and its JVM too
}
CLIENT = {
    "client.tries": "3",  # an engine's registry may answer a moment before the engine is bound in it
    "client.retries_delay": "1000",
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
        return self._supervised(self._jmeter_args(self._start(launch, False), launch, scenario), launch.raw_dir)

    def container_command(self, launch: Launch, scenario=None) -> list[str]:  # noqa: ANN001
        """In a container: the image's own `jmeter` (perforch/jmeter:2.13 brings the launcher), no
        host file. Without the supervisor a plan JMeter cannot load shows as a run with no results
        and the log's error in the warnings."""
        return self._jmeter_args([launch.binary], launch, scenario)

    def processes(self, launch: Launch, scenario, workers: int, net: Network) -> list[ToolProcess]:  # noqa: ANN001
        """One JMeter, or JMeter's distributed mode: `workers` engines (jmeter-server-i, each
        listening on its RMI registry port) and the client `jmeter` that drives them with -R and
        writes raw/results.jtl. The runners' seam (runners/plan.py) asks adapters for this plan."""
        single = replace(launch, worker=None, workers=1)
        if workers <= 1:
            command = self.container_command if net.containers else self.command
            return [ToolProcess(self.name, tuple(command(single, scenario)))]
        raw, start = launch.raw_dir, self._start(launch, net.containers)
        plan, remotes = [], []
        for i in range(workers):
            name = f"jmeter-server-{i}"
            port, rmi, host = net.port(name, SERVER_PORT), net.port(f"{name}-rmi", SERVER_RMI_PORT + i), net.host(name)
            part = {**shares.engine_properties(scenario, i, workers), "perforch.sync": str(raw)}
            argv = [*start, "-s", f"-Dserver_port={port}", f"-Jserver.rmi.localport={rmi}",
                    f"-Djava.rmi.server.hostname={host}", "-j", str(raw / f"{name}.log")]
            argv += [f"-J{k}={v}" for k, v in {**part, **DISTRIBUTED, **ENGINE, **OTHER_PROPERTIES}.items()]
            plan.append(ToolProcess(name, tuple(argv), main=False, worker=i, listens=port))
            remotes.append(f"{host}:{port}")
        client = self._jmeter_args(start, single, scenario, extra=[
            "-R", ",".join(remotes), f"-Jclient.rmi.localport={net.port('jmeter-client', CLIENT_RMI_PORT)}",
            f"-Djava.rmi.server.hostname={net.host(self.name)}",
            *(f"-J{k}={v}" for k, v in {**DISTRIBUTED, **CLIENT}.items())])
        if not net.containers:
            client = self._supervised(client, raw)
        return [*plan, ToolProcess(self.name, tuple(client), main=True)]

    def _start(self, launch: Launch, containers: bool) -> list[str]:
        """How JMeter starts: the image's own program in a container; here through the XStream
        launcher for Debian's 2.13."""
        if containers:
            return [launch.binary]
        install = debian.describe(launch.binary)
        return debian.launcher_argv(install.home) if install.needs_xstream_fix and install.home else [launch.binary]

    def _supervised(self, argv: list[str], raw_dir: Path) -> list[str]:
        supervisor = Path(__file__).with_name("supervise.py")
        return [sys.executable, str(supervisor), str(raw_dir / LOG), "--", *argv]

    def _jmeter_args(self, start: list[str], launch: Launch, scenario,  # noqa: ANN001
                     extra: Sequence[str] = ()) -> list[str]:
        if launch.workers > 1:
            raise PerforchError("one JMeter command cannot run a share of the load: several load generators are "
                                "JMeter's distributed mode (JMeterAdapter.processes)",
                                hint="perforch run --workers N starts the engines and their client")
        raw = launch.raw_dir
        argv = [*start, "-n", "-t", str(launch.script_dir / gen.PLAN), "-l", str(raw / RESULTS), "-j", str(raw / LOG)]
        argv += [f"-Jjmeter.save.saveservice.{k}={v}" for k, v in SAVE_SERVICE.items()]
        argv += [f"-J{k}={v}" for k, v in OTHER_PROPERTIES.items()]
        argv += list(extra)
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
