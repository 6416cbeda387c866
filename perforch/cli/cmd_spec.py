"""perforch init | validate | generate | schema: the scenario and the scripts made from it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from perforch.cli import console
from perforch.errors import PerforchError


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("validate")(validate)
    app.command("generate")(generate)
    app.command("schema")(schema)


def init(
    path: Path = typer.Argument(Path("scenario.yaml"), help="Where to write the starter scenario."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a starter scenario to edit."""
    if path.exists() and not force:
        raise PerforchError(f"{path} already exists", hint="pass --force to overwrite it")
    path.write_text(resources.files("perforch.spec").joinpath("starter.yaml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    console.info(f"wrote {path}; edit target.base_url and the steps, then: perforch validate {path}")


def validate(spec: Path = typer.Argument(..., help="Scenario YAML file.")) -> None:
    """Check a scenario; errors name the file and line."""
    from perforch.adapters import TOOLS, get_adapter
    from perforch.spec import load_scenario

    scenario = load_scenario(spec)
    steps = sum(len(flow.walk()) for flow in scenario.flows)
    console.info(
        f"ok: {spec}: scenario {scenario.name!r}, {len(scenario.flows)} flow(s), {steps} step(s), "
        f"{scenario.load.profile} for {scenario.duration_s:g}s, {len(scenario.slos)} SLO(s)"
    )
    import os

    for name in scenario.env_names:
        if name not in os.environ:
            console.warn(f"${{env.{name}}} is not set in this shell; a run needs it")
    for tool in TOOLS:
        try:
            script = get_adapter(tool).generate(scenario)
        except PerforchError:
            continue
        for message in script.warnings:
            console.warn(f"{tool}: {message}")


def generate(
    spec: Path = typer.Argument(..., help="Scenario YAML file."),
    tool: str = typer.Option("k6", "--tool", "-t", help="k6, locust or jmeter."),
    out: Path = typer.Option(None, "--out", "-o", help="Directory to write into (default: ./<name>-<tool>)."),
) -> None:
    """Write the tool's script (and data files) without running it."""
    from perforch.adapters import get_adapter
    from perforch.spec import load_scenario

    scenario = load_scenario(spec)
    script = get_adapter(tool).generate(scenario)
    target = out or Path(f"{scenario.name}-{tool}")
    entry = script.write(target)
    for message in script.warnings:
        console.warn(message)
    console.info(f"wrote {entry}")


def schema(out: Path = typer.Option(None, "--out", "-o", help="Write to a file instead of stdout.")) -> None:
    """Print the JSON Schema of the scenario format (for editors)."""
    from perforch.spec.schema import scenario_schema_json

    text = scenario_schema_json()
    if out:
        out.write_text(text, encoding="utf-8")
        console.info(f"wrote {out}")
    else:
        console.out.print(text, markup=False, end="")
