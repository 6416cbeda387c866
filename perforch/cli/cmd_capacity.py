"""perforch capacity: step the load up until an SLO breaks; report the breaking point."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from perforch.cli import console


def register(app: typer.Typer) -> None:
    app.command("capacity")(capacity)


def capacity(
    spec: Path = typer.Argument(..., help="Scenario YAML file (its SLOs decide where it breaks)."),
    tool: str = typer.Option("k6", "--tool", "-t", help="k6, locust or jmeter."),
    start: float = typer.Option(10, "--start", help="First load level (users, or iterations/s with --open)."),
    step: float = typer.Option(10, "--step", help="Added at each level."),
    maximum: float = typer.Option(100, "--max", help="Last level tried."),
    hold: str = typer.Option("30s", "--hold", help="How long each level is held."),
    ramp: str = typer.Option("5s", "--ramp", help="Time to move from one level to the next (not judged)."),
    open_model: bool = typer.Option(False, "--open", help="Levels are iterations/s (arrival rate), not users."),
    max_vus: int = typer.Option(500, "--max-vus", help="With --open: users available to sustain the rate."),
    runner: str = typer.Option("local", "--runner", help="local, docker or auto."),
    target: str = typer.Option(None, "--target", help="Override target.base_url."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Where the run directory goes."),
    percentile: str = typer.Option("linear", "--percentile", help="linear (k6) or nearest-rank (JMeter)."),
    allow_production: bool = typer.Option(False, "--allow-production", help="Allow target.environment: production."),
) -> None:
    """One staircase run; each level's hold window is judged on its own against the scenario's SLOs."""
    from perforch.analysis.capacity import judge_levels
    from perforch.capacity import Staircase, staircase_scenario
    from perforch.cli.cmd_run import _check_method, conclude, execute
    from perforch.errors import PerforchError
    from perforch.pipeline import RunOptions
    from perforch.spec import load_scenario
    from perforch.spec.units import parse_duration

    _check_method(percentile)
    try:
        plan = Staircase(start, step, maximum, parse_duration(hold), parse_duration(ramp), open_model, max_vus)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    scenario = load_scenario(spec)
    rules = scenario.slo_rules
    if not rules:
        raise PerforchError(f"{spec}: no slos: capacity needs SLOs to know when the system breaks",
                            hint="add e.g. slos: ['p99 < 500ms', 'error_rate < 1%']")
    _, windows = staircase_scenario(scenario, plan)
    console.info(f"capacity: {len(windows)} levels of {plan.unit} from {start:g} to {windows[-1].load:g}, "
                 f"{hold} each ({windows[-1].end_s:.0f} s in all)")
    options = RunOptions(tool=tool, runner=runner, runs_root=out, base_url=target, allow_production=allow_production)
    result = execute(spec, options, reshape=lambda s: staircase_scenario(s, plan)[0])
    conclude(result, percentile)
    found = judge_levels(result.samples, windows, rules, plan.unit, percentile)
    rows = []
    for v in found.levels:
        failed = ", ".join(r.rule for r in v.slos if not r.ok) or "-"
        rows.append([f"{v.level.load:g}", f"{v.requests:,}", f"{v.rps:.1f}", _ms(v.p95_ms), _ms(v.p99_ms),
                     f"{v.error_rate * 100:.2f}%" if not math.isnan(v.error_rate) else "-",
                     "ok" if v.ok else f"BROKEN ({failed})"])
    console.table(f"capacity per level ({plan.unit}; latency in ms)",
                  [plan.unit, "requests", "req/s", "p95", "p99", "errors", "SLOs"], rows)
    breaking, good = found.breaking, found.last_good
    if breaking is None:
        console.info(f"every level held its SLOs, up to {found.levels[-1].level.load:g} {plan.unit} "
                     f"({found.levels[-1].rps:.1f} req/s): raise --max to find the limit")
    elif good is None:
        console.info(f"already broken at the first level ({breaking.level.load:g} {plan.unit}): lower --start")
    else:
        console.info(f"capacity: {good.level.load:g} {plan.unit} ({good.rps:.1f} req/s) held every SLO; "
                     f"{breaking.level.load:g} {plan.unit} broke "
                     + ", ".join(r.rule + " (" + r.observed_text + ")" for r in breaking.slos if not r.ok))
    (result.run_dir / "capacity.json").write_text(json.dumps({
        "format_version": 1, "unit": plan.unit,
        "last_good": good.level.load if good else None,
        "breaking": breaking.level.load if breaking else None,
        "levels": [{"load": v.level.load, "window_s": [v.level.start_s, v.level.end_s], "requests": v.requests,
                    "rps": v.rps, "p95_ms": _num(v.p95_ms), "p99_ms": _num(v.p99_ms),
                    "error_rate": _num(v.error_rate), "ok": v.ok,
                    "slos": [{"rule": r.rule, "observed": r.observed, "ok": r.ok} for r in v.slos]}
                   for v in found.levels],
    }, indent=2) + "\n", encoding="utf-8")
    console.info(f"capacity.json: {result.run_dir / 'capacity.json'}")


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def _num(value: float) -> float | None:
    return None if math.isnan(value) else value
