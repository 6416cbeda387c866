"""Locust ingest on files captured from real runs (tests/data/locust, see its README)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perforch.adapters.k6.tool import K6Adapter
from perforch.adapters.locust import ingest as ing
from perforch.adapters.locust.tool import LocustAdapter
from perforch.analysis.stats import step_stats
from perforch.errors import IngestError
from perforch.frame import SAMPLE_COLUMNS

DATA = Path(__file__).resolve().parents[3] / "data" / "locust"
QUICK = DATA / "quickstart"
HAND = DATA / "handwritten"


def printed_tables(path: Path) -> tuple[dict, dict]:
    """Locust's end-of-run tables as printed: {(method, name): (reqs, fails, avg, min, max, med)} and
    {(method, name): [11 percentiles] + [reqs]}."""
    stats, percentiles = {}, {}
    lines = path.read_text(encoding="utf-8").splitlines()
    split = next(i for i, line in enumerate(lines) if line.startswith("Response time percentiles"))
    for line in lines[:split]:
        if "|" not in line or line.startswith(("Type", "-")):
            continue
        left, middle, _ = line.split("|")
        method, rest = line[:8].strip(), left[9:].split()
        name, reqs, fails = " ".join(rest[:-2]), int(rest[-2]), int(rest[-1].split("(")[0])
        stats[(method, name)] = (reqs, fails, *(float(v) for v in re.findall(r"\d+(?:\.\d+)?", middle)))
    for line in lines[split + 2:]:
        if line.startswith("-") or not line.strip() or line.startswith("Error report"):
            if line.startswith("Error report"):
                break
            continue
        method, fields = line[:8].strip(), line[9:].split()
        percentiles[(method, " ".join(fields[:-12]))] = [int(v) for v in fields[-12:]]
    return stats, percentiles


def test_sniffing_tells_every_file_apart() -> None:
    kinds = {p.name: ing.sniff(p) for p in sorted([*QUICK.iterdir(), *HAND.iterdir()])}
    assert kinds == {
        "locust-iterations.json": "iterations", "locust-requests.csv": "samples",
        "locust_exceptions.csv": "exceptions", "locust_failures.csv": "failures", "locust_stats.csv": "stats",
        "locust_stats_history.csv": "history", "printed-tables.txt": None, "locustfile.py": None,
        "tricky_exceptions.csv": "exceptions", "tricky_failures.csv": "failures", "tricky_stats.csv": "stats",
        "tricky_stats_history.csv": "history",
    }
    locust, k6 = LocustAdapter(), K6Adapter()
    head = (QUICK / "locust-requests.csv").read_bytes()[:8192]
    assert locust.recognizes(QUICK / "locust-requests.csv", head) and not k6.recognizes(QUICK / "x", head)
    assert not locust.recognizes(Path("k6.csv"), b"metric_name,timestamp,metric_value,check\n")
    assert not locust.recognizes(Path("s.json"), b'{"metrics": {"http_reqs": {}}, "root_group": {}}')


def test_request_rows_become_the_unified_frame() -> None:
    result = ing.ingest_files([QUICK / "locust-requests.csv"])
    samples = result.samples
    assert list(samples.columns) == list(SAMPLE_COLUMNS)
    assert {c: str(t) for c, t in samples.dtypes.items()} == SAMPLE_COLUMNS
    assert len(samples) == 154 and result.warnings == ()
    assert set(samples["flow"]) == {"shopper", "browser"} and set(samples["tool"]) == {"locust"}
    assert samples["ts"].is_monotonic_increasing and samples["elapsed_s"].iloc[0] == 0
    first = pd.read_csv(QUICK / "locust-requests.csv").sort_values("start_time", kind="stable").iloc[0]
    assert samples["latency_ms"].iloc[0] == first["response_time_ms"]
    assert samples["bytes_in"].iloc[0] == first["bytes"] and samples["vus"].iloc[0] == first["users"]
    failed = samples[~samples["ok"]]
    assert list(failed["label"]) == ["flaky search"] and list(failed["error"]) == ["HTTP 500"]
    assert list(failed["status"]) == [500]
    assert samples["ttfb_ms"].isna().all() and samples["bytes_out"].isna().all()


def test_per_step_count_mean_max_equal_the_rows() -> None:
    samples = ing.ingest_files([QUICK / "locust-requests.csv"]).samples
    rows = pd.read_csv(QUICK / "locust-requests.csv")
    stats = step_stats(samples).set_index("label")
    for label, group in rows.groupby("label"):
        assert stats.loc[label, "count"] == len(group)
        assert stats.loc[label, "avg_ms"] == pytest.approx(group["response_time_ms"].mean(), rel=1e-12)
        assert stats.loc[label, "max_ms"] == group["response_time_ms"].max()
        assert stats.loc[label, "failures"] == (group["ok"] == 0).sum()


def test_rows_reproduce_locusts_printed_table() -> None:
    """The rows, bucketed with Locust's rule (reference §2.3), give every number Locust printed."""
    samples = ing.ingest_files([QUICK / "locust-requests.csv"]).samples
    printed, percentiles = printed_tables(QUICK / "printed-tables.txt")
    table = ing.locust_table(samples).set_index(["method", "name"])
    assert set(table.index) == set(printed)
    for key, (reqs, fails, avg, low, high, med, *_rates) in printed.items():
        row = table.loc[key]
        assert (row["requests"], row["failures"]) == (reqs, fails), key
        # Locust prints avg/min/max/median with %d: truncated
        assert (int(row["avg_ms"]), int(row["min_ms"]), int(row["max_ms"]), int(row["median_ms"])) == \
            (avg, low, high, med), key
        assert [int(row[c]) for c in ing.PERCENTILE_COLUMNS] + [row["requests"]] == percentiles[key], key


def test_stats_csv_becomes_aggregates_and_names_its_staleness() -> None:
    result = ing.ingest_files([QUICK / "locust-requests.csv", QUICK / "locust_stats.csv"])
    aggregates = result.aggregates.set_index("label")
    assert aggregates.loc["", "count"] == 152 and len(result.samples) == 154
    assert any("counts 152 requests, the per-request rows 154" in w for w in result.warnings)
    alone = ing.ingest_files([QUICK / "locust_stats.csv"])
    assert len(alone.samples) == 0 and list(alone.samples.columns) == list(SAMPLE_COLUMNS)
    stats = pd.read_csv(QUICK / "locust_stats.csv")
    login = stats[stats["Name"] == "login"].iloc[0]
    assert len(alone.aggregates) == len(stats)
    assert alone.aggregates.set_index("label").loc["login", "avg_ms"] == login["Average Response Time"]
    assert alone.aggregates.set_index("label").loc["login", "p99"] == login["99%"]


def test_handwritten_locust_csvs_with_awkward_cells() -> None:
    files = sorted(HAND.glob("tricky_*.csv"))
    result = ing.ingest_files(files, [p.stem for p in files])
    aggregates = result.aggregates.set_index("label")
    assert aggregates.loc['GET, "quoted" ünï', "count"] == 49 and aggregates.loc["", "failures"] == 47
    failures = next(w for w in result.warnings if w.startswith("Locust recorded"))
    assert "47 failed requests" in failures and 'custom failure, with ""quotes""' not in failures
    assert "ConnectionRefusedError(111, 'Connection refused')" in failures
    exceptions = next(w for w in result.warnings if "raised" in w)
    assert "14 exceptions" in exceptions and "user code broke, on purpose" in exceptions


def test_history_alone_gives_cumulative_totals() -> None:
    result = ing.ingest_files([HAND / "tricky_stats_history.csv"])
    history = pd.read_csv(HAND / "tricky_stats_history.csv")
    last = history.iloc[-1]
    overall = result.aggregates.set_index("label").loc[""]
    assert overall["count"] == last["Total Request Count"] and overall["max_ms"] == last["Total Max Response Time"]
    assert any("per-second history" in w for w in result.warnings)
    full = ing.ingest_files([QUICK / "locust_stats_history.csv"])
    assert full.aggregates.set_index("label")["p99"].isna().all()
    assert any("--csv-full-history" in w for w in full.warnings)


def test_truncated_and_malformed_rows_keep_every_complete_row(tmp_path: Path) -> None:
    data = (QUICK / "locust-requests.csv").read_bytes()
    torn = tmp_path / "locust-requests-0.csv"
    torn.write_bytes(data[:-25])  # a kill while writing the last row
    result = ing.ingest_files([torn])
    assert len(result.samples) == 153 and "last row is incomplete" in result.warnings[0]
    lines = data.decode().splitlines(keepends=True)
    bad = tmp_path / "locust-requests-1.csv"
    bad.write_text("".join([lines[0], lines[1], "1.5,not-a-number,200,1,0,1,a,GET,x,\n", "1,2,3\n", *lines[2:]]))
    result = ing.ingest_files([bad])
    assert len(result.samples) == 154 and "2 malformed rows skipped" in result.warnings[0]
    both = ing.ingest_files([torn, bad])
    assert len(both.samples) == 307 and sorted(both.samples["worker"].unique()) == ["0", "1"]
    empty = tmp_path / "locust-requests-2.csv"
    empty.write_text(lines[0])
    assert len(ing.ingest_files([empty]).samples) == 0


def test_wrong_files_are_errors_with_hints(tmp_path: Path) -> None:
    other = tmp_path / "x.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError) as err:
        ing.ingest_files([other])
    assert "not a Locust result file" in err.value.message and "_stats.csv" in err.value.hint
    header_only = tmp_path / "s_stats.csv"
    header_only.write_text("Type,Name,Request Count,Failure Count,Median\n,Aggregated,1\n")
    with pytest.raises(IngestError) as err:
        ing.read_stats(header_only)
    assert "without column(s)" in err.value.message
    cut = tmp_path / "cut_stats.csv"
    data = (QUICK / "locust_stats.csv").read_bytes()
    cut.write_bytes(data[:data.index(b"\n", 400) + 30])  # a copy stopped mid-row
    aggregates, notes = ing.read_stats(cut)
    assert len(aggregates) == data[:data.index(b"\n", 400)].count(b"\n") and "incomplete" in notes[0]
    cut.write_bytes(data[:data.index(b"\n") + 20])
    with pytest.raises(IngestError) as err:
        ing.read_stats(cut)
    assert "no complete row" in err.value.message


def test_locust_bucketing_rule() -> None:
    values = np.array([0.4, 0.5, 1.5, 2.5, 99.4, 99.5, 104.9, 105.0, 115.0, 994.0, 995.0, 1049.0, 1050.0, 1150.0,
                       9949.0, 9950.0, 10500.0, 11500.0])
    assert ing.locust_bucket(values).tolist() == [round(v) if v < 100 else int(round(v, -1)) if v < 1000 else
                                                  int(round(v, -2)) if v < 10000 else int(round(v, -3))
                                                  for v in values.tolist()]
    assert ing.locust_bucket(values).tolist()[:6] == [0, 0, 2, 2, 99, 100]
    buckets = ing.locust_bucket(np.array([150.0, 154.7, 2.0, 3.0]))
    assert ing.locust_percentile(buckets, 0.99) == 150 and ing.locust_percentile(buckets, 1.0) == 150
    assert ing.locust_percentile(buckets, 0.5) == 150 and ing.locust_percentile(buckets, 0.25) == 3
    assert ing.locust_percentile(np.array([]), 0.5) == 0


def test_iteration_summary_names_dropped_starts(tmp_path: Path) -> None:
    summary = tmp_path / "locust-iterations.json"
    summary.write_text('{"flows": {"reader": {"iterations": 90, "dropped": 3}, "b": {"iterations": 1, "dropped": 0}},'
                       ' "worker": 0, "workers": 1}')
    notes = ing.iteration_notes(summary)
    assert notes == ["flow 'reader': 3 iteration starts dropped because every user was busy; raise max_vus"]
    shutil.copy(QUICK / "locust-iterations.json", tmp_path / "q.json")
    assert ing.iteration_notes(tmp_path / "q.json") == []


def test_one_worker_without_rows_does_not_cost_the_others(tmp_path: Path) -> None:
    for i in (0, 2):
        shutil.copy(QUICK / "locust-requests.csv", tmp_path / f"locust-requests-{i}.csv")
    (tmp_path / "locust-requests-1.csv").write_bytes(b"")  # died before writing its header
    one = ing.ingest_files([QUICK / "locust-requests.csv"]).samples
    got = ing.ingest_files(sorted(tmp_path.glob("locust-requests-*.csv")))
    assert len(got.samples) == 2 * len(one) and sorted(got.samples["worker"].unique()) == ["0", "2"]
    assert got.samples["vus"].max() == 2 * one["vus"].max()  # users of both generators, added up
    assert got.warnings[0] == "locust-requests-1.csv: no request rows (empty or cut short): left out"
