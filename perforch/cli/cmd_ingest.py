"""perforch ingest: raw results from your own runs -> a run directory and the same numbers."""

from __future__ import annotations

from pathlib import Path

import typer

from perforch.cli import console
from perforch.cli.cmd_run import _check_method, conclude


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


def ingest(
    files: list[Path] = typer.Argument(..., help="k6 CSV/JSON/summary, Locust CSVs, JMeter JTL; several "
                                                  "files of one test (one per load generator) merge into one run."),
    tool: str = typer.Option(None, "--tool", "-t", help="k6, locust or jmeter (default: recognised by content)."),
    name: str = typer.Option(None, "--name", help="Name of the run (default: the first file's name)."),
    slo: list[str] = typer.Option([], "--slo", help="An SLO to judge, e.g. 'p99 < 200ms' (repeatable)."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Where run directories go."),
    percentile: str = typer.Option("linear", "--percentile", help="linear (k6) or nearest-rank (JMeter)."),
    baseline: Path = typer.Option(None, "--baseline", help="A run directory to compare with (exit 3 on regression)."),
) -> None:
    """Turn existing raw results into a run directory and judge them."""
    from perforch.pipeline import ingest_files

    _check_method(percentile)
    result = ingest_files(files, tool=tool, runs_root=out, name=name, slos=slo)
    for message in result.warnings:
        console.warn(message)
    raise typer.Exit(conclude(result, percentile, baseline))
