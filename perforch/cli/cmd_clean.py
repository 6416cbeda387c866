"""perforch clean: remove what runs killed hard (SIGKILL, a lost terminal) left behind.

Containers, networks and volumes labelled perforch.run whose owning perforch process is gone, and
local processes (a SUT, tool processes) noted by such runs. Runs still in progress are left alone
unless --all.
"""

from __future__ import annotations

import typer

from perforch.cli import console


def register(app: typer.Typer) -> None:
    app.command("clean")(clean)


def clean(
    all_runs: bool = typer.Option(False, "--all", help="Also remove what runs still in progress use."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
) -> None:
    """Remove leftover containers, networks, volumes and processes of perforch runs."""
    from perforch.runners.cleanup import clean_leftovers

    report = clean_leftovers(include_live=all_runs, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for line in report.removed:
        console.info(f"{verb} {line}")
    for line in report.skipped:
        console.info(f"kept {line}")
    if report.engine_error:
        console.warn(f"Docker engine not checked: {report.engine_error}")
    if not report.removed:
        console.info("nothing to clean")
