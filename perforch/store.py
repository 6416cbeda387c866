"""A run on disk (DESIGN.md §5): run.json beside parquet files, the unit report/compare work on.

run.json format history (bump FORMAT_VERSION and say how to upgrade when a field changes meaning):
  1  2026-11-28  first version.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from perforch import __version__
from perforch.errors import RunDirError
from perforch.frame import AGGREGATE_COLUMNS, SAMPLE_COLUMNS, empty_frame, validate_frame

if TYPE_CHECKING:  # pandas and pyarrow load where frames are read or written
    import pandas as pd

FORMAT_VERSION = 1
RECORD = "run.json"
SAMPLES = "samples.parquet"
AGGREGATES = "aggregates.parquet"
SYSTEM = "system.parquet"


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    name: str  # scenario name
    tool: str
    status: str  # complete | interrupted | failed | ingested
    started_at: str  # ISO 8601 UTC
    ended_at: str | None = None
    tool_version: str | None = None
    runner: str = "local"  # local | docker | ingest
    workers: int = 1
    host: str = field(default_factory=socket.gethostname)
    scenario_sha256: str | None = None
    planned_duration_s: float | None = None
    load: str = ""  # what load, in words
    slos: tuple[dict, ...] = ()  # as written: {"rule": "p99 < 200ms", "step": None}
    exit_codes: dict[str, int | None] = field(default_factory=dict)  # process -> exit code
    commands: dict[str, list[str]] = field(default_factory=dict)  # process -> argv
    response_time: str = ""  # what the tool's latency covers
    raw_files: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    events: tuple[str, ...] = ()  # things that happened during the run (a worker died, Ctrl-C)
    perforch_version: str = __version__
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        hoisted = {k: data.pop(k) for k in ("format_version", "run_id", "name", "tool", "tool_version",
                                             "runner", "status", "started_at", "ended_at")}
        return json.dumps({**hoisted, **data}, indent=2, ensure_ascii=False) + "\n"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_dir(root: Path, name: str, tool: str, now: datetime | None = None) -> Path:
    """runs/20261128-101500-checkout-k6 (a -2, -3 suffix when that second is taken)."""
    now = now or datetime.now(timezone.utc)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "run"
    base = root / f"{now:%Y%m%d-%H%M%S}-{slug}-{tool}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def write_record(run_dir: Path, record: RunRecord) -> None:
    tmp = run_dir / (RECORD + ".tmp")
    tmp.write_text(record.to_json(), encoding="utf-8")
    tmp.replace(run_dir / RECORD)


def read_record(run_dir: Path) -> RunRecord:
    path = run_dir / RECORD
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory",
                          hint="pass a directory under runs/ written by perforch run or perforch ingest")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing; {run_dir} is not a perforch run directory",
                          hint="perforch ingest FILES... makes a run directory from raw tool output") from None
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable: {exc}") from None
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise RunDirError(f"{path}: format_version {version!r}; this perforch reads {FORMAT_VERSION}",
                          hint="re-create it with perforch ingest on its raw/ files")
    known = {f.name for f in dataclasses.fields(RunRecord)}
    values = {k: v for k, v in data.items() if k in known}
    for key in ("slos", "raw_files", "warnings", "events"):
        values[key] = tuple(values.get(key, ()))
    try:
        return RunRecord(**values)
    except TypeError as exc:
        raise RunDirError(f"{path}: {exc}") from None


def write_frame(run_dir: Path, name: str, frame: pd.DataFrame) -> None:
    tmp = run_dir / (name + ".tmp")
    frame.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(run_dir / name)


def read_samples(run_dir: Path) -> pd.DataFrame:
    """The samples frame; an empty frame when the run has none; RunDirError when it is damaged."""
    import pandas as pd
    import pyarrow as pa

    path = run_dir / SAMPLES
    if not path.exists():
        return empty_frame()
    try:
        frame = pd.read_parquet(path)
        return validate_frame(frame[list(SAMPLE_COLUMNS)])
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise RunDirError(f"{path}: unreadable ({type(exc).__name__}: {str(exc)[:200]})",
                          hint="re-create it with perforch ingest on the run's raw/ files") from None


def read_optional(run_dir: Path, name: str) -> pd.DataFrame | None:
    import pandas as pd
    import pyarrow as pa

    path = run_dir / name
    if not path.exists():
        return None
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise RunDirError(f"{path}: unreadable: {str(exc)[:200]}") from None
    if name == AGGREGATES:
        return frame.astype(AGGREGATE_COLUMNS)
    return frame
