"""Find and remove leftovers of runs that could not clean up after themselves (killed hard)."""

from __future__ import annotations

from dataclasses import dataclass

from perforch.runners import ledger
from perforch.runners.docker import (
    RUN_LABEL,
    DockerUnavailable,
    connect,
    leftovers,
    owner_alive,
    remove_labelled,
    runs_in_engine,
)


@dataclass(frozen=True, slots=True)
class CleanReport:
    removed: tuple[str, ...]
    skipped: tuple[str, ...]  # resources of runs still in progress
    engine_error: str | None = None


def clean_leftovers(include_live: bool = False, dry_run: bool = False) -> CleanReport:
    removed: list[str] = []
    skipped: list[str] = []
    for run in ledger.stale_runs(include_live=include_live):
        if dry_run:
            removed += [f"process group {p['pgid']} ({p.get('name')}) of run {run.run_id}" for p in run.processes]
        else:
            removed += [f"{what} of run {run.run_id}" for what in ledger.stop_processes(run)]
    try:
        client = connect(timeout_s=10)
    except DockerUnavailable as exc:
        return CleanReport(tuple(removed), tuple(skipped), exc.message)
    try:
        for run_id, owner in sorted(runs_in_engine(client).items()):
            alive = owner_alive(owner)
            if alive and not include_live:
                skipped.append(f"run {run_id}: still in progress (owner {owner})")
                continue
            if alive is None and not include_live and owner:
                skipped.append(f"run {run_id}: started on another host ({owner}); use --all to remove")
                continue
            if dry_run:
                removed += [f"{name} (run {run_id})" for name in leftovers(client, run_id)]
            else:
                removed += [f"{name} (run {run_id})" for name in remove_labelled(client, {RUN_LABEL: run_id})]
    finally:
        client.close()
    return CleanReport(tuple(removed), tuple(skipped))


__all__ = ["CleanReport", "clean_leftovers"]
