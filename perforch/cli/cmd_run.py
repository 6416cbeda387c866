"""perforch run | demo: run a scenario with a tool, show progress, print the verdict.

Start-up time is part of every run's overhead: this module imports only typer and the console. The
scenario model and the runners load when a command runs; pandas, pyarrow, the tool's ingest module
and the report modules load in a background thread once the tool has started (see Prewarm).
"""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from perforch.analysis import METHODS
from perforch.cli import console

if TYPE_CHECKING:
    from perforch.pipeline import RunOptions, RunResult, Tick


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("demo")(demo)


def run(
    spec: Path = typer.Argument(..., help="Scenario YAML file."),
    tool: str = typer.Option("k6", "--tool", "-t", help="k6, locust or jmeter."),
    runner: str = typer.Option("local", "--runner",
                               help="local (the tool installed here), docker (the tool's image), or auto "
                                    "(local when installed, else docker)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Load generators (the tool's own distributed mode)."),
    image: str = typer.Option(None, "--image", help="Container image of the tool for --runner docker "
                                                     "(over tools.<tool>.image and the official image)."),
    on_worker_failure: str = typer.Option("continue", "--on-worker-failure",
                                          help="A load generator died mid-run: continue (report it) or stop."),
    target: str = typer.Option(None, "--target", help="Override target.base_url."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Where run directories go."),
    tool_bin: str = typer.Option(None, "--tool-bin", help="Path of the tool's executable."),
    percentile: str = typer.Option("linear", "--percentile", help="linear (k6) or nearest-rank (JMeter)."),
    timeout: float = typer.Option(None, "--timeout", help="Stop the tool after this many seconds."),
    allow_production: bool = typer.Option(False, "--allow-production", help="Allow target.environment: production."),
    monitor: bool = typer.Option(True, "--monitor/--no-monitor",
                                 help="Sample CPU/memory of the SUT and the load generators (system.parquet)."),
    cpus: float = typer.Option(None, "--cpus", help="With --runner docker: CPU limit of each tool container."),
    baseline: Path = typer.Option(None, "--baseline", help="A run directory to compare with (exit 3 on regression)."),
) -> None:
    """Generate the tool's script, run it, ingest its results and judge the SLOs."""
    from perforch.pipeline import RUNNERS, WORKER_FAILURE, RunOptions

    _check_method(percentile)
    _check_choice(runner, RUNNERS, "--runner")
    _check_choice(on_worker_failure, WORKER_FAILURE, "--on-worker-failure")
    options = RunOptions(tool=tool, runner=runner, workers=workers, runs_root=out, binary=tool_bin,
                         allow_production=allow_production, timeout_s=timeout, base_url=target, image=image,
                         on_worker_failure=on_worker_failure, monitor=monitor, cpus=cpus)
    result = execute(spec, options)
    raise typer.Exit(conclude(result, percentile, baseline))


def execute(spec: Path, options: RunOptions, reshape=None) -> RunResult:  # noqa: ANN001
    from perforch.adapters import get_adapter
    from perforch.pipeline import run_scenario

    get_adapter(options.tool)  # an unknown tool or a missing scenario is said before "running ..."
    if not spec.is_file():
        from perforch.spec import load_scenario

        load_scenario(spec)  # raises the error that says why, with a hint
    where = options.runner if options.workers == 1 else f"{options.runner}, {options.workers} workers"
    console.info(f"running {spec} with {options.tool} ({where}); Ctrl-C stops it and keeps the results")
    prewarm = Prewarm(options.tool)
    with Progress(prewarm) as progress:
        result = run_scenario(spec, options, progress.update, reshape)  # Ctrl-C: app.main says it
    prewarm.join()
    for message in result.warnings:
        console.warn(message)
    for event in result.record.events:
        console.warn(event) if _is_problem(event) else console.info(event)
    return result


class Prewarm:
    """Loads what comes after the test (pandas, pyarrow, the tool's ingest, the report modules and
    templates, matplotlib: ~1.5 s) in a background thread while the test runs. Started once the
    tool runs, so that it does not slow the start; only a head start: the real imports happen (and
    fail, if they must) where the modules are used."""

    def __init__(self, tool: str) -> None:
        self.modules = ["pandas", "pyarrow", "pyarrow.parquet", "perforch.monitor.system",
                        f"perforch.adapters.{tool}.ingest", "perforch.cli.show"]
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._load, daemon=True, name="perforch-prewarm")
            self.thread.start()

    def _load(self) -> None:
        for name in self.modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the real import reports it
                pass
        from perforch.report import prewarm

        prewarm()

    def join(self) -> None:
        """Wait for the imports (before the report forks chart processes: no import half done)."""
        if self.thread is not None:
            self.thread.join()


def _is_problem(event: str) -> bool:
    return any(word in event for word in ("died", "interrupted", "timeout", "stopped", "Ctrl-C", "error"))


def conclude(result: RunResult, method: str, baseline: Path | None = None) -> int:
    """Write every report into the run directory, print the headline and the report paths, and
    return the exit code: 3 when an SLO is not met (or the baseline comparison finds a regression);
    130 after Ctrl-C and 1 after a timeout, whatever the partial figures say (a CI step must not
    pass on a test that did not run to its end)."""
    from perforch.cli import show
    from perforch.errors import ReportError, ToolFailed
    from perforch.report import write_reports

    report = write_reports(result.run_dir, percentile=method, baseline=baseline)
    show.report(report)
    if result.record.status == "interrupted":
        console.warn("the run was interrupted: these numbers cover only part of the planned test")
    if report.unjudged:
        console.error(ReportError(f"nothing to judge: {report.unjudged}",
                                  hint=f"the tool's own output is kept in {result.run_dir / 'raw'}"))
    if result.stopped == "ctrl-c":
        return console.EXIT_INTERRUPTED
    if result.stopped == "timeout":
        console.error(ToolFailed("the run was stopped at its timeout, before the test ended: the report covers "
                                 "only part of it", hint="raise --timeout, or see logs/ for what kept the tool "
                                                         f"running ({result.run_dir / 'logs'})"))
        return 1
    return report.exit_code


def _check_choice(value: str, choices: tuple[str, ...], option: str) -> None:
    if value not in choices:
        raise typer.BadParameter(f"choose one of {', '.join(choices)}", param_hint=option)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise typer.BadParameter(f"choose one of {', '.join(METHODS)}", param_hint="--percentile")


class Progress:
    """One live line while the tool runs (a line every 10 s when not on a terminal). The first tick
    of the running load starts the prewarm."""

    def __init__(self, prewarm: Prewarm | None = None) -> None:
        self.live = None
        self.last_print = time.monotonic()
        self.prewarm = prewarm

    def __enter__(self) -> Progress:
        if console.interactive():
            from rich.live import Live

            self.live = Live("", console=console.err, transient=True, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def update(self, tick: Tick) -> None:
        if tick.elapsed_s > 0 and self.prewarm is not None:
            self.prewarm.start()
        p = tick.progress
        rate = p.requests / tick.elapsed_s if tick.elapsed_s > 0 else 0.0
        errors = f"{p.errors:,} errors ({p.errors / p.requests * 100:.1f}%)" if p.requests else "0 errors"
        p95 = f"p95 {p.p95_ms:.1f} ms (last 10 s)" if p.p95_ms is not None else "p95 -"
        line = (f"[{tick.elapsed_s:5.0f}s / {tick.planned_s:.0f}s]  {p.requests:,} requests  "
                f"{rate:,.1f} req/s  {errors}  {p95}")
        if tick.note:
            line += f"  | {tick.note}"
        if self.live is not None:
            self.live.update(line)
        elif time.monotonic() - self.last_print >= 10:
            self.last_print = time.monotonic()
            console.err.print(line, markup=False)


def demo(
    tool: str = typer.Option("k6", "--tool", "-t", help="k6, locust or jmeter."),
    runner: str = typer.Option("local", "--runner", help="local, docker or auto (as for perforch run)."),
    image: str = typer.Option(None, "--image", help="Container image of the tool for --runner docker."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Where the run directory goes."),
    port: int = typer.Option(0, "--port", help="Port for the demo API (default: a free one)."),
) -> None:
    """Start the demo API on 127.0.0.1, run the quickstart scenario against it (~20 s), report."""
    from perforch.demo.server import demo_api_command, demo_scenario_path, free_port
    from perforch.pipeline import RUNNERS, RunOptions
    from perforch.spec.model import StartSpec

    _check_choice(runner, RUNNERS, "--runner")
    port = port or free_port()
    # The demo API is the run's system under test: perforch starts it, waits until it answers,
    # samples its CPU and memory beside the latency, and stops it (as target.start.command does).
    start = StartSpec(command=demo_api_command(port), ready="/health", ready_timeout=15.0)

    def with_demo_api(scenario):  # noqa: ANN001, ANN202
        return scenario.model_copy(update={"target": scenario.target.model_copy(update={"start": start})})

    console.info(f"demo API on http://127.0.0.1:{port} (started for the run, stopped after it)")
    result = execute(demo_scenario_path(), RunOptions(tool=tool, runner=runner, image=image, runs_root=out,
                                                       base_url=f"http://127.0.0.1:{port}"), reshape=with_demo_api)
    raise typer.Exit(conclude(result, "linear"))
