"""k6 outputs captured from real k6 v1.1.0 runs (tests/data/k6) -> the unified frame.

Expected values come from a plain reading of the same files (csv/json modules, rows in file order),
from k6's own summary export, or from the same run written in the other format.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perforch.adapters.k6 import ingest
from perforch.analysis.stats import step_stats
from perforch.frame import SAMPLE_COLUMNS

DATA = Path(__file__).resolve().parents[3] / "data" / "k6"
LABELS = {'health, "quoted" ünï', "unauthorized list", "wrong body", "slow report"}
WRONG_BODY = 'check failed: wrong body: body contains "nope"'


def reference(path: Path) -> pd.DataFrame:
    """Requests read the plain way: each http_req_duration row and the rows of its block."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            rows = [(r["metric_name"], r["timestamp"], float(r["metric_value"]), r) for r in csv.DictReader(fh)]
    else:
        docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        rows = [(d["metric"], d["data"]["time"], float(d["data"]["value"]), d["data"]["tags"])
                for d in docs if d["type"] == "Point"]
    out = []
    for i, (metric, stamp, value, tags) in enumerate(rows):
        if metric != "http_req_duration":
            continue
        block = {}
        for later in rows[i + 1:]:
            if later[0] in ("http_reqs", "http_req_duration"):
                break
            block.setdefault(later[0], later[2])
        end = _ns(stamp)
        out.append({"end_ns": end, "latency_ms": value,
                    "start_ns": end - round((value + block["http_req_blocked"]) * 1e6),
                    "ttfb_ms": block["http_req_waiting"],
                    "connect_ms": block["http_req_connecting"] + block["http_req_tls_handshaking"],
                    "label": tags["name"], "status": int(tags["status"]), "flow": tags["scenario"]})
    return pd.DataFrame(out).sort_values("start_ns", kind="stable", ignore_index=True)


def _ns(stamp: str) -> int:
    if stamp.isdigit():
        return int(stamp) * {10: 10**9, 13: 10**6, 16: 10**3, 19: 1}[len(stamp)]
    head, _, frac = stamp.rstrip("Z").partition(".")
    seconds = dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC).timestamp()
    return int(seconds) * 10**9 + int((frac + "000000000")[:9])


def assert_matches_reference(samples: pd.DataFrame, path: Path, ts_tolerance_ns: int = 0) -> None:
    expected = reference(path)
    assert len(samples) == len(expected)
    assert samples["label"].astype(str).tolist() == expected["label"].tolist()
    assert samples["status"].tolist() == expected["status"].tolist()
    assert samples["flow"].astype(str).tolist() == expected["flow"].tolist()
    assert np.array_equal(samples["latency_ms"].to_numpy(), expected["latency_ms"].to_numpy())
    assert np.array_equal(samples["ttfb_ms"].to_numpy(), expected["ttfb_ms"].to_numpy())
    assert np.allclose(samples["connect_ms"].to_numpy(), expected["connect_ms"].to_numpy(), rtol=0, atol=1e-12)
    gap = np.abs(pd.DatetimeIndex(samples["ts"]).as_unit("ns").asi8 - expected["start_ns"].to_numpy())
    assert gap.max() <= ts_tolerance_ns


@pytest.mark.parametrize("name", ["perforch.csv", "perforch.json", "defaults.csv", "rfc3339.csv"])
def test_every_captured_file_gives_the_requests_as_written(name: str) -> None:
    result = ingest.ingest_files([DATA / name])
    samples = result.samples
    assert list(samples.columns) == list(SAMPLE_COLUMNS)
    assert {c: str(t) for c, t in samples.dtypes.items()} == SAMPLE_COLUMNS
    assert len(samples) == (56 if name == "rfc3339.csv" else 55)
    assert set(samples["label"].cat.categories) == LABELS
    assert set(samples["flow"].astype(str)) == {"shopper", "browser"}
    assert (samples["tool"] == "k6").all() and (samples["method"] == "GET").all()
    assert samples["ts"].is_monotonic_increasing and samples["elapsed_s"].iloc[0] == 0
    unauthorized = samples[samples["label"] == "unauthorized list"]
    assert (unauthorized["status"] == 401).all() and not unauthorized["ok"].any()
    assert (unauthorized["error"] == "HTTP 401").all()
    assert samples["vus"].notna().all() and samples["vus"].between(1, 3).all()
    assert samples["bytes_in"].isna().all()
    assert_matches_reference(samples, DATA / name)


def test_a_check_that_failed_on_a_200_fails_its_request() -> None:
    for name in ("perforch.csv", "perforch.json", "rfc3339.csv"):
        samples = ingest.ingest_files([DATA / name]).samples
        wrong = samples[samples["label"] == "wrong body"]
        assert (wrong["status"] == 200).all() and not wrong["ok"].any(), name
        assert (wrong["error"] == WRONG_BODY).all(), name
        fine = samples[samples["label"].isin(['health, "quoted" ünï', "slow report"])]
        assert fine["ok"].all() and (fine["error"] == "").all(), name


def test_without_vu_and_iter_failed_checks_are_not_guessed_and_the_user_is_told() -> None:
    result = ingest.ingest_files([DATA / "defaults.csv"])
    wrong = result.samples[result.samples["label"] == "wrong body"]
    assert wrong["ok"].all()  # k6's own verdict: the response was expected
    assert any("could not be tied to requests" in w and "vu,iter" in w for w in result.warnings)
    assert any("whole seconds" in w for w in result.warnings)


def test_csv_and_json_of_one_run_give_the_same_frame() -> None:
    # the CSV has microseconds, the JSON nanoseconds: two requests less than a microsecond apart may
    # come in another order, so requests are paired by label and duration
    order = ["label", "latency_ms"]
    from_csv = ingest.ingest_files([DATA / "perforch.csv"]).samples
    from_json = ingest.ingest_files([DATA / "perforch.json"]).samples
    assert (from_csv["ts"] - from_json["ts"]).abs().median() < pd.Timedelta(microseconds=1)
    from_csv = from_csv.sort_values(order, kind="stable", ignore_index=True)
    from_json = from_json.sort_values(order, kind="stable", ignore_index=True)
    for column in ("label", "flow", "method", "status", "ok", "error", "vus"):
        assert from_csv[column].astype(str).tolist() == from_json[column].astype(str).tolist(), column
    for column in ("latency_ms", "ttfb_ms", "connect_ms"):
        assert np.allclose(from_csv[column], from_json[column], rtol=0, atol=1e-6), column
    assert (from_csv["ts"] - from_json["ts"]).abs().max() <= pd.Timedelta(microseconds=1)
    assert (from_csv["elapsed_s"] - from_json["elapsed_s"]).abs().max() < 2e-6


def test_per_step_figures_equal_k6s_summary_export() -> None:
    summary = json.loads((DATA / "perforch-summary.json").read_text())["metrics"]
    stats = step_stats(ingest.ingest_files([DATA / "perforch.csv"]).samples).set_index("label")
    keys = {"avg": "avg_ms", "min": "min_ms", "med": "p50", "max": "max_ms", "p(90)": "p90", "p(95)": "p95",
            "p(99)": "p99", "p(99.9)": "p99_9"}
    # k6 has no per-name figures for the label with a comma (its threshold syntax cannot name it)
    labels = [key[len("http_req_duration{name:"):-1] for key in summary if key.startswith("http_req_duration{name:")]
    assert set(labels) == LABELS - {'health, "quoted" ünï'}
    for label in [*labels, ""]:
        k6 = summary["http_req_duration" + (f"{{name:{label}}}" if label else "")]
        assert stats.loc[label, "count"] == k6["count"]
        for k6_key, ours in keys.items():
            assert abs(stats.loc[label, ours] - k6[k6_key]) <= 1e-6, (label, k6_key)


def test_the_summary_export_reads_as_aggregates() -> None:
    result = ingest.ingest_files([DATA / "perforch-summary.json"])
    assert result.samples.empty
    aggregates = result.aggregates.set_index("label")
    assert set(aggregates.index) == LABELS - {'health, "quoted" ünï'} | {""}
    assert aggregates.loc["", "count"] == 55 and aggregates.loc["", "failures"] == 16


@pytest.mark.parametrize("name", ["perforch.csv", "perforch.json", "defaults.csv", "rfc3339.csv"])
def test_the_fast_path_reads_real_files_and_agrees_with_the_general_path(name: str) -> None:
    path = DATA / name
    fmt = ingest._CsvFormat(path) if path.suffix == ".csv" else ingest._JsonFormat()
    assert ingest._read_fast(path, fmt).parts  # no fallback for k6's own layout
    fast = ingest.frame_of(ingest._assemble(ingest.read_raw(path, ingest.sniff(path)), path, "")[0])
    general = ingest.frame_of(ingest._assemble(ingest.read_raw(path, ingest.sniff(path), fast=False), path, "")[0])
    pd.testing.assert_frame_equal(fast, general, check_categorical=False)


# --- the same run, written differently --------------------------------------------------------------


def rewrite_csv(tmp_path: Path, name: str, change) -> Path:  # noqa: ANN001
    """perforch.csv with `change(header, row) -> row` applied (header rows too), quoted like k6 does."""
    with (DATA / "perforch.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(change(rows[0], row))
    target = tmp_path / name
    target.write_text(out.getvalue(), encoding="utf-8")
    return target


def micro_to(text: str, fmt: str) -> str:
    micros = int(text)
    if fmt == "unix":
        return str(micros // 10**6)
    if fmt == "unix_milli":
        return str(micros // 10**3)
    if fmt == "unix_nano":
        return str(micros * 10**3)
    stamp = dt.datetime.fromtimestamp(micros // 10**6, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{micros % 10**6:06d}".rstrip("0")
    if fmt == "rfc3339_offset":  # k6 writes local time: the same instant, another zone
        local = dt.datetime.fromtimestamp(micros // 10**6, dt.timezone(dt.timedelta(hours=2)))
        return local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "+02:00"
    return stamp + (f".{fraction}" if fraction else "") + "Z"


@pytest.mark.parametrize(("fmt", "resolution_ns"), [
    ("unix", 10**9), ("unix_milli", 10**6), ("unix_nano", 0), ("rfc3339", 0), ("rfc3339_offset", 0)])
def test_every_csv_time_format_gives_the_same_requests(tmp_path: Path, fmt: str, resolution_ns: int) -> None:
    path = rewrite_csv(tmp_path, f"{fmt}.csv",
                       lambda header, row: row if row is header else [row[0], micro_to(row[1], fmt), *row[2:]])
    expected = ingest.ingest_files([DATA / "perforch.csv"]).samples
    samples = ingest.ingest_files([path]).samples
    assert len(samples) == len(expected)
    by_request = ["label", "latency_ms"]
    ours = samples.sort_values(by_request, kind="stable", ignore_index=True)
    theirs = expected.sort_values(by_request, kind="stable", ignore_index=True)
    gap = (ours["ts"] - theirs["ts"]).abs().max()
    assert gap <= pd.Timedelta(resolution_ns, "ns")
    assert ours["ttfb_ms"].tolist() == theirs["ttfb_ms"].tolist()
    assert ours["ok"].tolist() == theirs["ok"].tolist()


def test_any_set_of_tag_columns_is_read_from_the_header(tmp_path: Path) -> None:
    drop = {"method", "group", "error"}

    def change(header: list[str], row: list[str]) -> list[str]:
        kept = [value for column, value in zip(header, row) if column not in drop]
        # an extra custom tag column before the metadata, as --tag or tags:{...} would add
        return [*kept[:-1], "my_tag" if row is header else "x,y", kept[-1]]

    path = rewrite_csv(tmp_path, "fewer-tags.csv", change)
    fmt = ingest._CsvFormat(path)
    assert ingest._read_fast(path, fmt).parts
    samples = ingest.ingest_files([path]).samples
    expected = ingest.ingest_files([DATA / "perforch.csv"]).samples
    assert (samples["method"] == "").all()
    for column in ("label", "status", "ok", "error", "latency_ms", "ts", "vus"):
        assert samples[column].astype(str).tolist() == expected[column].astype(str).tolist(), column


def test_another_order_inside_a_block_is_read_by_the_general_path(tmp_path: Path) -> None:
    """A build of k6 that wrote blocked after connecting: the fast path notices, the general path pairs
    rows by name within each request's block."""
    lines = (DATA / "perforch.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("http_req_blocked,") and lines[i + 1].startswith("http_req_connecting,"):
            lines[i], lines[i + 1] = lines[i + 1], line
    path = tmp_path / "swapped.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ingest._Layout):
        ingest._read_fast(path, ingest._CsvFormat(path))
    result = ingest.ingest_files([path])
    assert result.warnings == ()
    assert_matches_reference(result.samples, DATA / "perforch.csv")


def test_several_files_merge_with_their_worker_names(tmp_path: Path) -> None:
    result = ingest.ingest_files([DATA / "perforch.csv", DATA / "rfc3339.csv"], workers=["gen-a", "gen-b"])
    samples = result.samples
    assert len(samples) == 55 + 56
    assert samples["worker"].value_counts().to_dict() == {"gen-b": 56, "gen-a": 55}
    assert samples["ts"].is_monotonic_increasing


@pytest.mark.parametrize("name", ["perforch.csv", "perforch.json", "rfc3339.csv"])
def test_a_file_read_in_many_pieces_gives_the_same_frame(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = ingest.ingest_files([DATA / name])
    monkeypatch.setattr(ingest, "PIECE", 4096)  # pieces cut at request blocks, read on several threads
    fmt = ingest._CsvFormat(DATA / name) if name.endswith(".csv") else ingest._JsonFormat()
    assert len(ingest._read_fast(DATA / name, fmt).parts) > 5
    pieces = ingest.ingest_files([DATA / name])
    pd.testing.assert_frame_equal(pieces.samples, whole.samples)
    assert pieces.warnings == whole.warnings


def test_without_http_reqs_rows_requests_are_still_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file filtered to some metrics: pieces cannot be cut where blocks start, and the general path
    pairs each duration row with the rows that follow it."""
    lines = (DATA / "perforch.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "no-http-reqs.csv"
    path.write_text("".join(line for line in lines if not line.startswith("http_reqs,")), encoding="utf-8")
    monkeypatch.setattr(ingest, "PIECE", 4096)
    assert_matches_reference(ingest.ingest_files([path]).samples, DATA / "perforch.csv")


def test_one_generator_without_results_does_not_cost_the_others(tmp_path: Path) -> None:
    for i in (0, 2):
        (tmp_path / f"k6-{i}.csv").write_bytes((DATA / "perforch.csv").read_bytes())
    (tmp_path / "k6-1.csv").write_bytes(b"")  # died before its first flush
    one = ingest.ingest_files([DATA / "perforch.csv"]).samples
    got = ingest.ingest_files(sorted(tmp_path.glob("k6-*.csv")), ["0", "1", "2"])
    assert len(got.samples) == 2 * len(one) and sorted(got.samples["worker"].unique()) == ["0", "2"]
    assert got.samples["vus"].max() == 2 * one["vus"].max()  # users of both generators, added up
    assert got.warnings[0] == f"{tmp_path / 'k6-1.csv'}: is empty: left out; the other 2 file(s) are read"
