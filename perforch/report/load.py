"""Read a run directory for the report: run.json, samples, the tool's aggregates, system metrics.

A damaged or missing data file is not fatal: it becomes a `problem` the report states, and the
report is written from what remains. Only a missing or unreadable run.json stops here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from perforch import store
from perforch.errors import RunDirError
from perforch.frame import SAMPLE_COLUMNS, empty_frame

# The columns the report reads: reading only these is several times faster on a large run.
REPORT_COLUMNS = ("ts", "elapsed_s", "label", "status", "ok", "latency_ms", "vus", "error")


@dataclass(frozen=True, slots=True)
class LoadedRun:
    run_dir: Path
    record: store.RunRecord
    samples: pd.DataFrame
    aggregates: pd.DataFrame | None
    system: pd.DataFrame | None
    problems: tuple[str, ...]
    unjudged: str | None = None  # why there is nothing to judge (no readable samples, no aggregates)


def load_run(run_dir: Path) -> LoadedRun:
    record = store.read_record(run_dir)
    problems: list[str] = []
    samples = read_report_samples(run_dir, problems)
    unreadable = problems[-1] if problems else None
    aggregates = _optional(run_dir, store.AGGREGATES, problems)
    system = _optional(run_dir, store.SYSTEM, problems)
    if system is not None and not {"cpu_pct", "mem_bytes"} <= set(system.columns):
        problems.append(f"{store.SYSTEM} lacks cpu_pct/mem_bytes columns: system metrics left out")
        system = None
    if not len(samples) and not (run_dir / store.SAMPLES).exists() and aggregates is None:
        why = "; ".join(record.warnings) if record.warnings else "the run recorded no per-request results"
        problems.append(f"{store.SAMPLES} is missing from {run_dir.name} ({why})")
        unreadable = problems[-1]
    unjudged = unreadable if aggregates is None else None
    return LoadedRun(run_dir, record, samples, aggregates, system, tuple(problems), unjudged)


def read_report_samples(run_dir: Path, problems: list[str]) -> pd.DataFrame:
    """The samples frame restricted to REPORT_COLUMNS; an empty frame (and a problem) when the file
    is damaged."""
    path = run_dir / store.SAMPLES
    if not path.exists():
        return empty_frame()[list(REPORT_COLUMNS)]
    try:
        frame = pd.read_parquet(path, columns=list(REPORT_COLUMNS))
        if any(str(frame[c].dtype) != SAMPLE_COLUMNS[c] for c in REPORT_COLUMNS):
            frame = store.read_samples(run_dir)[list(REPORT_COLUMNS)]  # coerces the dtypes
        return frame
    except RunDirError as exc:
        problems.append(f"{store.SAMPLES} is unreadable: {exc.message.split(': ', 1)[-1]}; "
                        "re-create it with perforch ingest on the run's raw/ files")
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        problems.append(f"{store.SAMPLES} is unreadable ({type(exc).__name__}: {str(exc)[:160]}); "
                        "re-create it with perforch ingest on the run's raw/ files")
    return empty_frame()[list(REPORT_COLUMNS)]


def _optional(run_dir: Path, name: str, problems: list[str]) -> pd.DataFrame | None:
    try:
        return store.read_optional(run_dir, name)
    except RunDirError as exc:
        problems.append(f"{name} is unreadable and left out ({exc.message.split(': ', 1)[-1]})")
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{name} is unreadable and left out ({type(exc).__name__}: {str(exc)[:160]})")
    return None
