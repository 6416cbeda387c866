"""System monitor: Docker stats arithmetic and the system.parquet frame."""

from __future__ import annotations

from perforch.monitor.system import COLUMNS, SystemMonitor, container_usage

STATS = {
    "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000, "percpu_usage": [1, 2]},
                  "system_cpu_usage": 20_000_000_000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}, "system_cpu_usage": 18_000_000_000},
    "memory_stats": {"usage": 50_000_000, "stats": {"cache": 10_000_000}},
}


def test_container_cpu_is_percent_of_one_core_and_memory_excludes_cache():
    cpu, mem = container_usage(STATS)
    assert cpu == 0.5e9 / 2e9 * 2 * 100  # 50 %: half of one core
    assert mem == 40_000_000


def test_cgroup_v2_inactive_file_is_subtracted():
    stats = {**STATS, "memory_stats": {"usage": 50_000_000, "stats": {"inactive_file": 5_000_000}}}
    assert container_usage(stats)[1] == 45_000_000


def test_first_stats_document_without_previous_sample_is_skipped():
    assert container_usage({**STATS, "precpu_stats": {}}) is None
    assert container_usage({**STATS, "precpu_stats": {**STATS["precpu_stats"], "system_cpu_usage": 20_000_000_000}}) is None


def test_monitor_frame_columns_and_dtypes():
    monitor = SystemMonitor(started=0.0)
    values = iter([(10.0, 100), None, (30.0, 300)])
    monitor._sources["sut"] = lambda: next(values)
    for _ in range(3):
        monitor.sample_once()
    frame = monitor.frame()
    assert list(frame.columns) == list(COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == COLUMNS
    assert frame["cpu_pct"].tolist() == [10.0, 30.0] and frame["mem_bytes"].tolist() == [100, 300]
    assert set(frame["target"]) == {"sut"}
    assert SystemMonitor().frame().empty
