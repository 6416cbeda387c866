"""perforch report | compare: regenerate a run's reports; compare two runs per step."""

from __future__ import annotations

from pathlib import Path

import typer

from perforch.cli import console
from perforch.cli.cmd_run import _check_method
from perforch.report import FORMATS


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("compare")(compare)


def report(
    run: Path = typer.Argument(..., help="A run directory (runs/...)."),
    baseline: Path = typer.Option(None, "--baseline", help="An earlier run directory: adds a 'what changed' section."),
    format: str = typer.Option(",".join(FORMATS), "--format", "-f", help="Comma-separated: md,html,junit,json."),
    percentile: str = typer.Option("linear", "--percentile", help="linear (k6) or nearest-rank (JMeter)."),
) -> None:
    """Write report.md, report.html, junit.xml and summary.json into a run directory.

    Exit code 3 when an SLO is not met or the baseline comparison finds a regression.
    """
    from perforch.cli import show
    from perforch.errors import ReportError
    from perforch.report import parse_formats, write_reports

    _check_method(percentile)
    try:
        formats = parse_formats(format)
    except ReportError as exc:
        raise typer.BadParameter(f"{exc.message}; {exc.hint}", param_hint="--format") from None
    result = write_reports(run, formats, percentile, baseline)
    show.report(result)
    if result.unjudged:
        raise ReportError(f"{run}: nothing to judge: {result.unjudged}",
                          hint="the reports written say what is missing; no SLO verdict was given")
    raise typer.Exit(result.exit_code)


def compare(
    base: Path = typer.Argument(..., help="The baseline run directory."),
    new: Path = typer.Argument(..., help="The run directory to judge against it."),
    percentile: str = typer.Option("linear", "--percentile", help="linear (k6) or nearest-rank (JMeter)."),
    min_effect: float = typer.Option(10.0, "--min-effect", min=0.0, help="Smallest change that counts, in percent."),
    alpha: float = typer.Option(0.01, "--alpha", min=1e-9, max=0.5, help="Significance level of the tests."),
) -> None:
    """Compare two runs per step (Mann-Whitney U, p95 confidence intervals, error rates).

    Exit code 3 when a step (or all requests) got significantly worse.
    """
    from perforch.cli import show
    from perforch.report import compare_dirs

    _check_method(percentile)
    result = compare_dirs(base, new, percentile, min_effect / 100.0, alpha)
    console.info(f"baseline {result.base.run_id}  →  {result.new.run_id}")
    show.comparison_lines(result.comparison, result.notes)
    raise typer.Exit(result.exit_code)
