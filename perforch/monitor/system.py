"""CPU and memory of the system under test (and of the load generators), once a second.

A local process is sampled with psutil over its whole process tree (a server's workers count);
a container through the Docker stats API. Rows go to system.parquet:

    ts (UTC), elapsed_s (since the load started), cpu_pct (100 = one core), mem_bytes, target

`target` names what was sampled: "sut" for the system under test, the process names of the load
generators otherwise ("k6", "k6-1", "locust-master", ...) — a generator near 100 % per core is
itself the bottleneck.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

import pandas as pd

COLUMNS = {
    "ts": "datetime64[ns, UTC]",
    "elapsed_s": "float64",
    "cpu_pct": "float64",
    "mem_bytes": "int64",
    "target": "category",
}
INTERVAL_S = 1.0


def empty_system_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in COLUMNS.items()})


class ProcessTree:
    """A local process and all its descendants; cpu_pct sums them (psutil needs two looks per pid)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(pid)
        self._known: dict[int, object] = {}

    def sample(self) -> tuple[float, int] | None:
        psutil = self._psutil
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return None
        cpu = 0.0
        mem = 0
        alive: dict[int, object] = {}
        for proc in procs:
            known = self._known.get(proc.pid, proc)
            try:
                with known.oneshot():
                    value = known.cpu_percent(None)  # first call per process: 0.0 (a baseline)
                    mem += known.memory_info().rss
            except psutil.Error:
                continue
            cpu += value
            alive[proc.pid] = known
        self._known = alive
        return (cpu, mem) if alive else None


class ContainerStats:
    """One container through the Docker stats API: a one-shot reading per sample, CPU from the
    difference to the previous reading (so every HTTP response is read to its end and closed)."""

    def __init__(self, container) -> None:  # noqa: ANN001
        self.container = container
        self._previous: dict | None = None

    def sample(self) -> tuple[float, int] | None:
        try:
            stats = self.container.client.api.stats(self.container.id, stream=False, one_shot=True)
        except Exception:  # the container went away
            return None
        previous, self._previous = self._previous, stats
        if previous is None or not stats.get("cpu_stats"):
            return None
        return container_usage({**stats, "precpu_stats": previous.get("cpu_stats") or {}})


def container_usage(stats: dict) -> tuple[float, int] | None:
    """(cpu %, memory bytes) from one Docker stats document, as `docker stats` computes them."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    try:
        cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        system_delta = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    except (KeyError, TypeError):
        return None
    if system_delta <= 0:
        return None
    online = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or []) or 1
    memory = stats.get("memory_stats") or {}
    inner = memory.get("stats") or {}
    # cgroup v1 counts page cache in usage ("cache"), v2 calls it inactive_file; docker stats subtracts it
    cache = inner.get("total_inactive_file", inner.get("inactive_file", inner.get("cache", 0)))
    usage = max(0, int(memory.get("usage", 0)) - int(cache or 0))
    return cpu_delta / system_delta * online * 100.0, usage


class SystemMonitor:
    """Samples every added source once a second in a background thread until stop()."""

    def __init__(self, started: float | None = None, interval_s: float = INTERVAL_S) -> None:
        self.started = started if started is not None else time.time()  # wall clock of elapsed_s = 0
        self.interval_s = interval_s
        self.rows: list[tuple[datetime, float, float, int, str]] = []
        self._sources: dict[str, Callable[[], tuple[float, int] | None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_process(self, target: str, pid: int) -> None:
        import psutil

        try:
            tree = ProcessTree(pid)
        except psutil.Error:
            return
        tree.sample()  # the baseline for cpu_percent
        with self._lock:
            self._sources[target] = tree.sample

    def add_container(self, target: str, container) -> None:  # noqa: ANN001
        stats = ContainerStats(container)
        stats.sample()  # the first reading is the baseline for CPU
        with self._lock:
            self._sources[target] = stats.sample

    def start(self) -> SystemMonitor:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="system-monitor")
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_once()

    def sample_once(self) -> None:
        now = time.time()
        with self._lock:
            sources = list(self._sources.items())
        for target, sample in sources:
            try:
                value = sample()
            except Exception:
                value = None
            if value is not None:
                self.rows.append((datetime.fromtimestamp(now, timezone.utc), now - self.started,
                                  float(value[0]), int(value[1]), target))

    def stop(self) -> pd.DataFrame:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        return self.frame()

    def frame(self) -> pd.DataFrame:
        if not self.rows:
            return empty_system_frame()
        frame = pd.DataFrame(self.rows, columns=list(COLUMNS))
        return frame.astype(COLUMNS).sort_values(["target", "ts"], kind="stable").reset_index(drop=True)
