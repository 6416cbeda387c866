"""One run's moving parts: the SUT, the tool processes or containers, the monitor, the cleanup.

`prepare()` checks everything that can be checked before anything starts (tool or image present,
engine answering, SUT image present, SUT port free) and generates the script with the URL the tool
will use. `run()` starts, supervises and always removes what it started: an ExitStack unwinds
the monitor, the processes, the SUT and the Docker session (containers, network) on every path —
normal end, a crash, Ctrl-C, a second Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from perforch.adapters.base import Launch
from perforch.runners import sut as suts
from perforch.runners.distributed import container_address, host_address, start_plan
from perforch.runners.local import LocalProcess, last_line
from perforch.runners.plan import BridgeNetwork, LoopbackNetwork, ToolProcess, plan_processes
from perforch.runners.supervise import Supervised, deferring_sigint, ignoring_sigint, supervise

if TYPE_CHECKING:
    import pandas as pd

SUT_GRACE_S = 10.0


class Execution:
    def __init__(self, scenario, adapter, options, runner: str, spec_dir: Path) -> None:  # noqa: ANN001
        self.scenario = scenario
        self.adapter = adapter
        self.options = options
        self.runner = runner
        self.spec_dir = spec_dir
        self.in_docker = runner == "docker"
        self.start = scenario.target.start
        self.events: tuple[str, ...] = ()
        self.warnings: tuple[str, ...] = ()
        self.plan: list[ToolProcess] = []
        self.handles: list = []
        self.worker_names: set[str] = set()
        self.system: pd.DataFrame | None = None
        self.client = None
        self.image: str | None = None
        self.sut_argv: list[str] | None = None

    # --- before the run directory exists ---------------------------------------------------------

    def prepare(self) -> None:
        from perforch.runners.images import choose_image, missing_image_error, resolve_image

        start, adapter = self.start, self.adapter
        if self.in_docker or (start is not None and start.image):
            from perforch.runners.docker import connect

            self.client = connect()
        base_url = self.scenario.target.base_url
        self.address = suts.plan_address(start, base_url, self.in_docker) if start else None
        self.tool_scenario = self.scenario
        if self.address and self.address.tool_url != base_url:
            target = self.scenario.target.model_copy(update={"base_url": self.address.tool_url})
            self.tool_scenario = self.scenario.model_copy(update={"target": target})
        self.script = adapter.generate(self.tool_scenario)
        warnings = list(self.script.warnings)
        if self.in_docker:
            scenario_image = getattr(getattr(self.scenario.tools, adapter.name, None), "image", None)
            ref, explicit = choose_image(adapter.name, self.options.image, scenario_image, adapter.default_image)
            resolved = resolve_image(self.client, adapter.name, ref, explicit)
            self.image = resolved.ref
            self.version = resolved.version or "unknown"
            self.binary = getattr(adapter, "container_binary", adapter.name)
            if resolved.warning:
                warnings.append(resolved.warning)
        else:
            self.binary = adapter.find_binary(self.options.binary)
            self.version = adapter.version(self.binary)
        if start is not None and start.image:
            from perforch.runners.images import _local, _pull

            if _local(self.client, start.image) is None:
                reason = _pull(self.client, start.image, None)
                if _local(self.client, start.image) is None:
                    raise missing_image_error("sut", start.image, reason)
        if start is not None and start.command:
            suts.check_port_free(base_url)
        self.warnings = tuple(warnings)

    # --- the run ---------------------------------------------------------------------------------

    def run(self, run_dir: Path, tick: Callable[..., None]) -> Supervised:
        from perforch.runners.ledger import Ledger

        raw_dir, logs_dir, script_dir = run_dir / "raw", run_dir / "logs", run_dir / "script"
        monitor = None
        events: list[str] = []
        try:
            with contextlib.ExitStack() as stack:
                ledger = stack.enter_context(Ledger(run_dir.name, run_dir))
                session = None
                if self.client is not None:
                    from perforch.runners.docker import DockerSession

                    session = stack.enter_context(DockerSession(self.client, run_dir.name))
                if self.options.monitor and self.start is not None:  # the SUT is sampled from its start
                    monitor = _new_monitor(stack)
                if self.start is not None:
                    self._start_sut(stack, session, ledger, logs_dir, monitor, events, tick)
                # unwound before the SUT's stop: on any exit the load stops first, then its target
                stack.callback(_stop_local, self.handles)
                bridge = self.in_docker and self.start is not None and self.start.image is not None
                net = BridgeNetwork() if bridge else LoopbackNetwork(containers=self.in_docker)
                inside = self.in_docker
                from perforch.runners.docker import RAW_DIR, SCRIPT_DIR

                launch = Launch(SCRIPT_DIR if inside else script_dir, RAW_DIR if inside else raw_dir, self.binary,
                                None, self.options.workers)
                self.plan = plan_processes(self.adapter, launch, self.tool_scenario, self.options.workers, net)
                self.worker_names = {p.name for p in self.plan if p.worker is not None}
                if self.in_docker:
                    where = "the run's private network, next to the SUT" if bridge else "host networking"
                    events.append(f"{self.adapter.name} ran in containers of image {self.image} ({where})")
                if self.options.workers > 1:
                    events.append(f"distributed over {self.options.workers} load generators: "
                                  + ", ".join(p.name for p in self.plan))
                self.events = tuple(events)
                tick(0.0, f"starting {len(self.plan)} {self.adapter.name} process(es)")
                load_start, load_start_wall = time.monotonic(), time.time()
                starter = self._container_starter(session, raw_dir, script_dir, logs_dir, bridge) \
                    if self.in_docker else self._local_starter(ledger, script_dir, logs_dir)
                address = container_address(session.private_network()) if bridge else host_address
                start_plan(self.plan, starter, address, self.handles)
                if self.options.monitor:
                    # without a SUT the monitor (and pandas, which its module imports) comes once the
                    # tool runs: the tool starts ~0.5 s sooner
                    if monitor is None:
                        monitor = _new_monitor(stack)
                    monitor.started = load_start_wall
                    for h in self.handles:
                        if self.in_docker:
                            monitor.add_container(h.name, h.container)
                        else:
                            monitor.add_process(h.name, h.pid)
                    monitor.start()
                by_name = {p.name: p for p in self.plan}
                outcome = supervise(
                    self.handles, main=[by_name[h.name].main for h in self.handles],
                    workers=[by_name[h.name].worker for h in self.handles], ok_codes=self.adapter.ok_exit_codes,
                    timeout_s=self.options.timeout_s or self.scenario.duration_s + 120, on_tick=tick,
                    on_worker_failure=self.options.on_worker_failure, started=load_start,
                )
                if monitor is not None:
                    self.system = monitor.stop()
        finally:
            self.events = tuple(events)
        return outcome

    def _start_sut(self, stack, session, ledger, logs_dir: Path, monitor, events: list[str], tick) -> None:  # noqa: ANN001
        start = self.start
        what = suts.describe(start)
        tick(0.0, f"starting the system under test ({what})")
        if start.image:
            handle = suts.start_container(session, start, self.address, logs_dir)
        else:
            with deferring_sigint():  # Ctrl-C waits until the process is started and recorded
                handle = suts.start_command(start, self.spec_dir, logs_dir, os.environ)
                stack.callback(_stop_sut, handle)
                self.sut_argv = list(handle.argv)
                ledger.add(suts.SUT_NAME, handle.pid)
        took = suts.wait_ready(handle, self.address.check_url, start, what)
        events.append(f"system under test ({what}) ready after {took:.1f} s; the load went to {self.address.tool_url}")
        if monitor is not None:
            if start.image:
                monitor.add_container(suts.SUT_NAME, handle.container)
            else:
                monitor.add_process(suts.SUT_NAME, handle.pid)

    def _local_starter(self, ledger, script_dir: Path, logs_dir: Path) -> Callable[[ToolProcess], LocalProcess]:  # noqa: ANN001
        def start(proc: ToolProcess) -> LocalProcess:
            launch = Launch(script_dir, script_dir.parent / "raw", self.binary, proc.worker, self.options.workers)
            env = {**os.environ, **self.adapter.environment(launch), **proc.env}
            handle = LocalProcess(proc.name, proc.argv, script_dir, env, logs_dir)
            ledger.add(proc.name, handle.pid)
            return handle

        return start

    def _container_starter(self, session, raw_dir: Path, script_dir: Path, logs_dir: Path, bridge: bool):  # noqa: ANN001, ANN202
        from perforch.runners.docker import RAW_DIR, SCRIPT_DIR

        secrets = {n: os.environ[n] for n in self.scenario.env_names if n in os.environ}
        volumes = {str(script_dir): {"bind": str(SCRIPT_DIR), "mode": "ro"},
                   str(raw_dir): {"bind": str(RAW_DIR), "mode": "rw"}}
        network = session.private_network() if bridge else None

        def start(proc: ToolProcess):  # noqa: ANN202
            launch = Launch(SCRIPT_DIR, RAW_DIR, self.binary, proc.worker, self.options.workers)
            env = {"HOME": "/tmp", **self.adapter.environment(launch), **secrets, **proc.env}
            return session.start(proc.name, self.image, proc.argv, logs_dir, env=env, volumes=volumes,
                                 workdir=str(SCRIPT_DIR), network=network, user=f"{os.getuid()}:{os.getgid()}",
                                 entrypoint=(), cpus=self.options.cpus)

        return start

    def close(self) -> None:
        """Close the engine connection (the session removed what the run created)."""
        if self.client is not None:
            self.client.close()
            self.client = None

    # --- for the record and the progress line ----------------------------------------------------

    def commands(self) -> dict[str, list[str]]:
        out = {p.name: list(p.argv) for p in self.plan}
        if self.sut_argv:
            out[suts.SUT_NAME] = self.sut_argv
        return out

    def note(self) -> str:
        if not self.handles:
            return ""
        ok = self.adapter.ok_exit_codes
        dead = [h.name for h in self.handles if h.name in self.worker_names and h.poll() not in (None, *ok)]
        if dead:
            return "died: " + ", ".join(dead)
        main = next((h for h in self.handles if any(p.name == h.name and p.main for p in self.plan)), self.handles[0])
        return last_line(main.stderr_log)[:100]


def _new_monitor(stack: contextlib.ExitStack):  # noqa: ANN202
    from perforch.monitor.system import SystemMonitor

    monitor = SystemMonitor()
    stack.callback(monitor.stop)
    return monitor


def _stop_local(handles: list) -> None:
    """Processes still running after an error or Ctrl-C (containers go with the Docker session)."""
    for h in handles:
        if isinstance(h, LocalProcess) and h.poll() is None:
            try:
                h.stop(grace_s=5)
            except KeyboardInterrupt:
                with ignoring_sigint():
                    h.kill()


def _stop_sut(handle: LocalProcess) -> None:
    try:
        handle.stop(grace_s=SUT_GRACE_S)
    except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
        with ignoring_sigint():
            handle.kill()
    handle.result()
