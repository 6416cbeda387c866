"""The flow of DESIGN.md §1 as plain calls: run a scenario, ingest raw files, into a run directory.

The CLI only wires options to these functions and prints; tests call them directly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import yaml

from perforch.adapters import available_adapters, get_adapter
from perforch.adapters.base import Adapter, Ingested, Progress
from perforch.errors import IngestError, PerforchError, ToolFailed, ToolNotFound
from perforch.runners.local import ProcessResult, failure
from perforch.spec import check_environment, check_environment_allowed, load_scenario
from perforch.spec.model import Scenario, Target
from perforch.spec.units import format_duration
from perforch import store

if TYPE_CHECKING:  # pandas loads with the results (ingest), not before the tool starts
    import pandas as pd

RUNNERS = ("local", "docker", "auto")
WORKER_FAILURE = ("continue", "stop")


@dataclass(frozen=True, slots=True)
class RunOptions:
    tool: str = "k6"
    runner: str = "local"  # local | docker | auto (local when the tool is installed, else docker)
    workers: int = 1  # load generators, on the tool's own distributed mechanism
    runs_root: Path = Path("runs")
    binary: str | None = None
    allow_production: bool = False
    timeout_s: float | None = None  # default: planned duration + 2 minutes
    base_url: str | None = None  # run the same scenario against another target
    image: str | None = None  # the tool's container image (over tools.<tool>.image and the default)
    on_worker_failure: str = "continue"  # a load generator died mid-run: continue | stop
    monitor: bool = True  # sample CPU/memory of the SUT and the generators into system.parquet
    cpus: float | None = None  # --runner docker: CPU limit of each tool container (a generator's size)


@dataclass(frozen=True, slots=True)
class Tick:
    elapsed_s: float
    planned_s: float
    progress: Progress
    note: str = ""  # what is happening besides the load (starting the SUT, a worker died, a tool's log)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_dir: Path
    record: store.RunRecord
    samples: pd.DataFrame
    aggregates: pd.DataFrame | None = None
    warnings: tuple[str, ...] = field(default=())
    stopped: str = ""  # "ctrl-c" or "timeout" when the run did not end by itself


def run_scenario(spec_path: Path, options: RunOptions, on_tick: Callable[[Tick], None] | None = None,
                 reshape: Callable[[Scenario], Scenario] | None = None) -> RunResult:
    """Generate, start (SUT, tool processes or containers), supervise, clean up, ingest, save.

    `reshape` changes the loaded scenario before anything runs (perforch capacity swaps its load
    for a staircase).

    Whatever happens (a crash, Ctrl-C, a second Ctrl-C) every process and container the run
    started is stopped and removed before this returns or raises; the run directory says what
    happened (run.json status and events).
    """
    from perforch.runners.execution import Execution

    check_options(options)
    scenario = load_scenario(spec_path)
    if options.base_url:
        scenario = with_base_url(scenario, options.base_url)
    if reshape is not None:
        scenario = reshape(scenario)
    check_environment_allowed(scenario, options.allow_production)
    check_environment(scenario)
    adapter = get_adapter(options.tool)
    runner = choose_runner(options.runner, adapter, options.binary)
    execution = Execution(scenario, adapter, options, runner, spec_path.parent)
    try:
        return _run(execution, spec_path, scenario, adapter, options, runner, on_tick)
    finally:
        execution.close()


def _run(execution, spec_path: Path, scenario: Scenario, adapter: Adapter, options: RunOptions, runner: str,  # noqa: ANN001
         on_tick: Callable[[Tick], None] | None) -> RunResult:
    execution.prepare()  # before any run directory: a missing tool/image/engine/target is a plain error
    if scenario.target.start is None:
        check_reachable(scenario.target.base_url)
    planned = scenario.duration_s

    run_dir = store.new_run_dir(options.runs_root.resolve(), scenario.name, options.tool)
    raw_dir, logs_dir, script_dir = run_dir / "raw", run_dir / "logs", run_dir / "script"
    raw_dir.mkdir()
    write_resolved_scenario(run_dir / "scenario.yaml", scenario)
    execution.script.write(script_dir)
    record = store.RunRecord(
        run_id=run_dir.name, name=scenario.name, tool=options.tool, status="running",
        started_at=store.utc_now(), tool_version=execution.version, runner=runner, workers=options.workers,
        scenario_sha256=hashlib.sha256(spec_path.read_bytes()).hexdigest(),
        planned_duration_s=planned, load=describe_load(scenario),
        slos=tuple({"rule": r.text, "step": r.step} for r in scenario.slo_rules), response_time=adapter.response_time,
        warnings=execution.warnings,
    )
    store.write_record(run_dir, record)
    reader = adapter.progress_reader(raw_dir)

    def tick(elapsed: float, note: str = "") -> None:
        if on_tick:
            on_tick(Tick(elapsed, planned, reader.poll() if elapsed else Progress(), note or execution.note()))

    try:
        outcome = execution.run(run_dir, tick)
    except BaseException as exc:  # PerforchError, Ctrl-C before the load started, a bug: record, re-raise
        interrupted = isinstance(exc, KeyboardInterrupt)
        events = execution.events + (("interrupted by the user (Ctrl-C) before the load started",)
                                     if interrupted else ())
        if isinstance(exc, PerforchError):
            events += (f"error: {exc.message}",)
        store.write_record(run_dir, replace(record, status="interrupted" if interrupted else "failed",
                                            ended_at=store.utc_now(), events=events,
                                            commands=execution.commands()))
        if isinstance(exc, PerforchError):
            raise type(exc)(exc.message, hint=_with_run_dir(exc.hint, run_dir), details=exc.details) from None
        raise
    redact_secrets(logs_dir, [os.environ[n] for n in scenario.env_names if os.environ.get(n)])
    results = outcome.results
    crashed = [r for r in results if r.exit_code not in adapter.ok_exit_codes and not r.interrupted
               and not r.stopped and r.name not in outcome.died]
    generators = [r for r in results if r.name in execution.worker_names]
    all_died = bool(generators) and all(r.name in outcome.died for r in generators)
    failed = bool(crashed) or all_died or outcome.stopped_by_policy
    status = "interrupted" if outcome.interrupted or outcome.timed_out else "failed" if failed else "complete"
    record = replace(
        record, status=status, ended_at=store.utc_now(), events=execution.events + outcome.events,
        exit_codes={r.name: r.exit_code for r in results}, commands=execution.commands(),
    )
    if execution.system is not None and len(execution.system):
        store.write_frame(run_dir, store.SYSTEM, execution.system)
    try:
        ingested = _ingest_run(adapter, raw_dir, options.workers)
    except KeyboardInterrupt:  # the raw files stay; `perforch ingest` can read them later
        store.write_record(run_dir, replace(record, status="interrupted", events=record.events + (
            "interrupted by the user (Ctrl-C) while reading the results; raw/ holds them",)))
        raise
    record = replace(record, raw_files=tuple(str(p.relative_to(run_dir)) for p in adapter.raw_files(raw_dir)),
                     warnings=record.warnings + ingested.warnings)
    _save(run_dir, record, ingested)
    if outcome.interrupted:
        pass  # the user stopped it: what was measured until then is the result
    elif outcome.stopped_by_policy:
        dead = next(r for r in results if r.name in outcome.died)
        raise ToolFailed(
            f"load generator {dead.name} died (exit code {dead.exit_code}); the run was stopped "
            "(--on-worker-failure stop)",
            hint=f"its log: {dead.stderr_log}; run directory: {run_dir}", details=_tail(dead))
    elif crashed or all_died:
        error = failure((crashed or generators)[0], options.tool)
        raise ToolFailed(error.message, hint=f"{error.hint}; run directory: {run_dir}", details=error.details)
    stopped = "ctrl-c" if outcome.interrupted else "timeout" if outcome.timed_out else ""
    return RunResult(run_dir, record, ingested.samples, ingested.aggregates, record.warnings, stopped)


def check_options(options: RunOptions) -> None:
    if options.runner not in RUNNERS:
        raise PerforchError(f"unknown runner {options.runner!r}", hint="choose one of: " + ", ".join(RUNNERS))
    if options.on_worker_failure not in WORKER_FAILURE:
        raise PerforchError(f"unknown --on-worker-failure {options.on_worker_failure!r}",
                            hint="choose one of: " + ", ".join(WORKER_FAILURE))
    if options.workers < 1:
        raise PerforchError(f"--workers must be 1 or more, got {options.workers}")
    if options.cpus is not None and (options.cpus <= 0 or options.runner == "local"):
        raise PerforchError("--cpus limits tool containers: a positive number, with --runner docker",
                            hint=f"got --cpus {options.cpus:g} with --runner {options.runner}")


def choose_runner(runner: str, adapter: Adapter, binary: str | None = None) -> str:
    """local | docker; `auto` = local when the tool is installed, else docker when an engine answers."""
    if runner != "auto":
        return runner
    try:
        adapter.find_binary(binary)
        return "local"
    except ToolNotFound as missing:
        from perforch.runners.docker import engine_answers

        if engine_answers():
            return "docker"
        raise ToolNotFound(
            f"{adapter.name} is not installed here and no Docker engine answers ({missing.message})",
            hint=f"install {adapter.name} (perforch doctor shows what perforch finds), or start Docker for "
                 f"--runner docker (images/{adapter.name}.sh builds its image without a registry)",
        ) from None


def _tail(result: ProcessResult) -> str:
    from perforch.runners.local import stderr_tail

    return stderr_tail(result) or "(no output)"


def _with_run_dir(hint: str | None, run_dir: Path) -> str:
    return f"{hint}; run directory: {run_dir}" if hint else f"run directory: {run_dir}"


def _ingest_run(adapter: Adapter, raw_dir: Path, workers: int) -> Ingested:
    from perforch.runners.distributed import worker_names

    import pandas as pd

    files = adapter.raw_files(raw_dir)
    if not files:
        return Ingested(samples=pd.DataFrame(), warnings=("the tool wrote no results",))
    names = worker_names(files) if workers > 1 else None
    try:
        return adapter.ingest(files, names)
    except IngestError as exc:
        return Ingested(samples=pd.DataFrame(), warnings=(f"results unreadable: {exc.message}",))


def _save(run_dir: Path, record: store.RunRecord, ingested: Ingested) -> None:
    if len(ingested.samples.columns):
        store.write_frame(run_dir, store.SAMPLES, ingested.samples)
    if ingested.aggregates is not None:
        store.write_frame(run_dir, store.AGGREGATES, ingested.aggregates)
    store.write_record(run_dir, record)


# --- ingest files a user brings ------------------------------------------------------------------


def detect_tool(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from None
    for tool, adapter in available_adapters().items():
        if adapter.recognizes(path, head):
            return tool
    return None


def ingest_files(paths: Sequence[Path], tool: str | None = None, runs_root: Path = Path("runs"),
                 name: str | None = None, slos: Sequence[str] = ()) -> RunResult:
    """Raw results from the user's own runs -> a run directory. Several files of one tool merge into
    one run, each file's samples tagged in the `worker` column."""
    if not paths:
        raise IngestError("no files given", hint="perforch ingest results.csv [more files...]")
    for path in paths:
        if not path.is_file():
            raise IngestError(f"{path}: no such file")
        if not path.stat().st_size:
            raise IngestError(f"{path}: the file is empty",
                              hint="did the tool run? its results are written while the test runs")
    tools = {p: tool or detect_tool(p) for p in paths}
    unknown = [p for p, t in tools.items() if t is None]
    if unknown:
        raise IngestError(
            f"{unknown[0]}: not a result file perforch recognises",
            hint="k6 --out csv/json or --summary-export, Locust --csv files, JMeter JTL (CSV or XML); "
                 "or pass --tool",
        )
    kinds = set(tools.values())
    if len(kinds) > 1:
        raise IngestError("these files come from different tools: " + ", ".join(sorted(kinds)),
                          hint="ingest one tool's files at a time")
    tool = kinds.pop()
    adapter = get_adapter(tool)
    from perforch.spec.slo import parse_slo

    try:
        rules = [parse_slo(text) for text in slos]
    except ValueError as exc:
        raise IngestError(str(exc)) from None
    label = name or paths[0].stem
    run_dir = store.new_run_dir(runs_root, label, tool)
    raw_dir = run_dir / "raw"
    raw_dir.mkdir()
    copies = []
    for i, path in enumerate(paths):
        target = raw_dir / (path.name if path.name not in {c.name for c in copies} else f"{i}-{path.name}")
        shutil.copyfile(path, target)
        copies.append(target)
    workers = [p.stem for p in paths] if len(paths) > 1 else None
    ingested = adapter.ingest(copies, workers)
    samples = ingested.samples
    started = samples["ts"].min().isoformat() if len(samples) else store.utc_now()
    ended = samples["ts"].max().isoformat() if len(samples) else None
    record = store.RunRecord(
        run_id=run_dir.name, name=label, tool=tool, status="ingested", started_at=started, ended_at=ended,
        tool_version=ingested.tool_version, runner="ingest", workers=max(1, len(paths)),
        response_time=adapter.response_time, slos=tuple({"rule": r.text, "step": r.step} for r in rules),
        raw_files=tuple(str(c.relative_to(run_dir)) for c in copies), warnings=ingested.warnings,
        load=f"ingested from {len(paths)} file{'s' if len(paths) > 1 else ''}",
    )
    _save(run_dir, record, ingested)
    return RunResult(run_dir, record, samples, ingested.aggregates, ingested.warnings)


# --- small pieces --------------------------------------------------------------------------------


def with_base_url(scenario: Scenario, base_url: str) -> Scenario:
    try:
        url = Target._url(base_url)
    except ValueError as exc:
        raise PerforchError(f"--target: {exc}") from None
    return scenario.model_copy(update={"target": scenario.target.model_copy(update={"base_url": url})})


def check_reachable(base_url: str, timeout_s: float = 3.0) -> None:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return
    except OSError as exc:
        raise PerforchError(
            f"target {base_url} is not reachable: {exc.strerror or exc}",
            hint="start the system under test first (or set target.start), and check target.base_url",
        ) from None


def write_resolved_scenario(path: Path, scenario: Scenario) -> None:
    """The scenario as perforch understood it. ${env.X} stays a reference: no secret is written."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    text = "# The scenario as perforch resolved it (durations in seconds, rates per second).\n"
    path.write_text(text + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def describe_load(scenario: Scenario) -> str:
    load = scenario.load
    flows = ", ".join(f"{f.name} ×{f.weight}" for f in scenario.flows)
    if load.profile == "constant-vus":
        what = f"{load.vus} users for {format_duration(load.duration)}"
    elif load.profile == "ramping-vus":
        what = "users " + " → ".join([str(load.start_vus)] + [f"{s.target} ({format_duration(s.duration)})" for s in load.stages])
    elif load.profile == "constant-arrival-rate":
        what = f"{load.rate:g} iterations/s for {format_duration(load.duration)} (≤ {load.max_vus} users)"
    elif load.profile == "ramping-arrival-rate":
        what = "iterations/s " + " → ".join([f"{load.start_rate:g}"] + [f"{s.target:g} ({format_duration(s.duration)})" for s in load.stages])
    else:
        what = f"{load.iterations} iterations by {load.vus} users"
    return f"{load.profile}: {what}; flows: {flows}"


def redact_secrets(directory: Path, secrets: Sequence[str]) -> None:
    """Replace the values of ${env.X} variables in every log file with ***."""
    secrets = [s for s in secrets if len(s) >= 4]
    if not secrets or not directory.exists():
        return
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            new = data
            for secret in secrets:
                new = new.replace(secret.encode(), b"***")
            if new != data:
                path.write_bytes(new)


__all__ = ["RunOptions", "RunResult", "Tick", "ingest_files", "run_scenario"]
