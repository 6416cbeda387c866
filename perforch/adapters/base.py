"""The face every tool adapter shows (DESIGN.md §2): generate, command, ingest, progress, version.

All knowledge of one tool lives in its adapter folder. Runners start what `command()` returns and
never parse tool output; ingest turns raw files into the unified frame.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # only a type here: the CLI and the tool start without loading pandas
    import pandas as pd


@dataclass(frozen=True, slots=True)
class Script:
    """What a generator produced: files to write (relative path -> text) and data files to copy."""

    tool: str
    entry: str  # the main file, relative to the script directory
    files: Mapping[str, str]
    data_files: Mapping[str, Path] = field(default_factory=dict)  # relative path -> source CSV
    data_headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # for header-less CSVs
    warnings: tuple[str, ...] = ()

    def write(self, directory: Path) -> Path:
        """Write every file under `directory`; data files always get a header row."""
        directory.mkdir(parents=True, exist_ok=True)
        for rel, text in self.files.items():
            target = directory / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
        for rel, source in self.data_files.items():
            target = directory / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            header = self.data_headers.get(rel)
            if header:
                with target.open("w", newline="", encoding="utf-8") as out:
                    csv.writer(out, lineterminator="\n").writerow(header)
                    out.write(source.read_text(encoding="utf-8-sig"))
            else:
                shutil.copyfile(source, target)
        return directory / self.entry


@dataclass(frozen=True, slots=True)
class Launch:
    """Where a tool process reads its script and writes its results (local paths or in a container)."""

    script_dir: Path
    raw_dir: Path
    binary: str
    worker: int | None = None  # index of this load generator in a distributed run
    workers: int = 1


@dataclass(frozen=True, slots=True)
class Ingested:
    samples: pd.DataFrame  # the unified frame (may be empty when only aggregates exist)
    aggregates: pd.DataFrame | None = None  # the tool's own summary figures, if that is all there is
    warnings: tuple[str, ...] = ()
    tool_version: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    requests: int = 0
    errors: int = 0
    p95_ms: float | None = None  # over the last few seconds


class ProgressReader(Protocol):
    def poll(self) -> Progress: ...


@dataclass(frozen=True, slots=True)
class ToolProcess:
    name: str  # unique in the run: "k6", "k6-1", "locust-master", "jmeter-server-2"; names log files
    argv: tuple[str, ...]
    main: bool = True  # the run ends when every main process has ended (the others are then stopped)
    worker: int | None = None  # load-generator index: a worker that dies is reported by this number
    env: Mapping[str, str] = field(default_factory=dict)  # on top of adapter.environment()
    listens: int | None = None  # a port it serves; later processes start once it accepts connections


class Network(Protocol):
    containers: bool  # the processes run in containers (container paths, the image's programs)

    def host(self, name: str) -> str:
        """The address the other processes of the run reach process `name` at."""
        ...

    def bind(self, name: str) -> str:
        """The address process `name` should listen on."""
        ...

    def port(self, name: str, default: int) -> int:
        """The port process `name` should listen on (`default` where it has a host of its own)."""
        ...


class Adapter(Protocol):
    name: str
    response_time: str  # what the tool's response time covers, quoted in reports
    default_image: str  # container image for --runner docker
    ok_exit_codes: tuple[int, ...]  # exit codes that mean "the test ran" (SLOs are judged by perforch)

    def generate(self, scenario: object) -> Script: ...

    def find_binary(self, configured: str | None = None) -> str: ...

    def version(self, binary: str) -> str: ...

    def command(self, launch: Launch, scenario: object) -> list[str]: ...

    def environment(self, launch: Launch) -> dict[str, str]: ...

    def raw_files(self, raw_dir: Path) -> list[Path]: ...

    def ingest(self, paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested: ...

    def recognizes(self, path: Path, head: bytes) -> bool: ...

    def progress_reader(self, raw_dir: Path) -> ProgressReader: ...

    # Optional (see runners/plan.py): processes(launch, scenario, workers, net) -> list[ToolProcess]
    # for a tool's own distributed mode; container_command(launch, scenario) when command() uses
    # host files; container_binary, the program's name inside the image.


class LineTail:
    """Complete lines appended to a file since the last call (for live progress while a tool runs)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def new_lines(self, max_bytes: int = 1 << 24) -> list[bytes]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read(max_bytes)
        except OSError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return lines


class RecentLatencies:
    """Request counts and a p95 over the last `window_s` seconds of wall clock, for progress lines."""

    def __init__(self, window_s: float = 10.0) -> None:
        import collections

        self.window_s = window_s
        self.requests = 0
        self.errors = 0
        self._recent: collections.deque[tuple[float, float]] = collections.deque()

    def add(self, latency_ms: float, ok: bool, now: float) -> None:
        self.requests += 1
        self.errors += not ok
        self._recent.append((now, latency_ms))

    def snapshot(self, now: float) -> Progress:
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        values = sorted(v for _, v in self._recent)
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))] if values else None
        return Progress(self.requests, self.errors, p95)
