"""Locust raw output -> the unified frame (exact rows) and Locust's own figures (aggregates).

Files, recognised by their first line (reference §2):
- `locust-requests*.csv`: the per-request rows perforch's locustfile writes (its request-event
  listener). These are exact: one row per request, the response time Locust measured.
- `<prefix>_stats.csv` (cumulative per endpoint), `_stats_history.csv` (per second), `_failures.csv`
  and `_exceptions.csv`: what `locust --csv` writes. Only aggregates: Locust's percentiles come
  from rounded buckets, and `_stats.csv` is last rewritten up to a second before the end.
- `locust-iterations*.json`: per-flow iteration counts from perforch's runtime (dropped starts).

`locust_table()` recomputes Locust's own printed table from exact rows with Locust's rules
(bucket_response_time and its percentile walk, §2.3), so the two can be put side by side.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from perforch.adapters.base import Ingested
from perforch.errors import IngestError
from perforch.frame import concat_frames, make_aggregates, make_frame

SAMPLES_HEADER = "start_time,response_time_ms,status,ok,bytes,users,flow,method,label,error"
SAMPLE_TYPES = {
    "start_time": pa.float64(), "response_time_ms": pa.float64(), "status": pa.int32(), "ok": pa.int8(),
    "bytes": pa.int64(), "users": pa.int32(), "flow": pa.string(), "method": pa.string(),
    "label": pa.string(), "error": pa.string(),
}
PERCENTILE_COLUMNS = ("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%")
PERCENTILES = (0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0)
_HEADS = {
    b"start_time,response_time_ms,status,ok,": "samples",
    b"Type,Name,Request Count,Failure Count,": "stats",
    b"Timestamp,User Count,Type,Name,Requests/s,": "history",
    b"Method,Name,Error,Occurrences": "failures",
    b"Count,Message,Traceback,Nodes": "exceptions",
}


def sniff_bytes(head: bytes) -> str | None:
    """Which Locust file this is, from its first bytes; None when it is none of them."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    for prefix, kind in _HEADS.items():
        if head.startswith(prefix):
            return kind
    stripped = head.lstrip()
    if stripped.startswith(b"{") and b'"flows"' in head and b'"workers"' in head:
        return "iterations"
    return None


def sniff(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return sniff_bytes(fh.read(4096))
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from None


SAMPLES_STEM = "locust-requests"  # perforch's per-request rows: locust-requests[-<worker>].csv


def ingest_files(paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested:
    """Read Locust outputs; per-request rows become samples, Locust's CSVs aggregates."""
    kinds, frames, warnings = {}, [], []
    for path in paths:
        kind = sniff(path)
        if kind is None and len(paths) > 1 and path.stem.startswith(SAMPLES_STEM):
            # a worker that died before writing its rows must not cost the others' results
            warnings.append(f"{path.name}: no request rows (empty or cut short): left out")
            continue
        if kind is None:
            raise IngestError(f"{path}: not a Locust result file",
                              hint="expected perforch's locust-requests.csv or Locust's --csv files "
                                   "(_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv)")
        kinds[path] = kind
    samples_files = [p for p in kinds if kinds[p] == "samples"]
    for i, path in enumerate(paths):
        if kinds.get(path) != "samples":
            continue
        worker = _worker_of(workers[i]) if workers else (_worker_of(path.stem) if len(samples_files) > 1 else "")
        columns, notes = read_samples(path, worker)
        warnings += notes
        if columns is not None:
            frames.append(make_frame(columns))
    aggregates = None
    by_kind = {kind: [p for p in kinds if kinds[p] == kind] for kind in set(kinds.values())}
    if by_kind.get("stats"):
        aggregates, notes = read_stats(by_kind["stats"][0])
        warnings += notes
        if len(by_kind["stats"]) > 1:
            warnings.append("several _stats.csv files given; Locust's figures are taken from the first "
                            f"({by_kind['stats'][0].name}); they cannot be combined")
    elif by_kind.get("history"):
        aggregates, notes = read_history(by_kind["history"][0])
        warnings += notes
    for path in by_kind.get("failures", []):
        warnings += failure_notes(path)
    for path in by_kind.get("exceptions", []):
        warnings += exception_notes(path)
    for path in by_kind.get("iterations", []):
        warnings += iteration_notes(path)
    samples = concat_frames(frames)
    if len(samples) and aggregates is not None:
        overall = aggregates.loc[aggregates["label"] == "", "count"]
        if len(overall) and int(overall.iloc[0]) != len(samples):
            warnings.append(
                f"Locust's _stats.csv counts {int(overall.iloc[0])} requests, the per-request rows {len(samples)}: "
                "Locust rewrites that file every second and not at shutdown; perforch's numbers come from the rows"
            )
    if not frames and aggregates is None and not by_kind.get("failures") and not by_kind.get("exceptions"):
        samples = concat_frames([])
    return Ingested(samples=samples, aggregates=aggregates, warnings=tuple(warnings))


def _worker_of(name: str) -> str:
    """locust-requests-2 -> "2"; any other name stays as it is."""
    return name[len(SAMPLES_STEM) + 1:] if name.startswith(SAMPLES_STEM + "-") else name


# --- per-request rows ------------------------------------------------------------------------------


def read_samples(path: Path, worker: str = "") -> tuple[dict | None, list[str]]:
    """perforch's per-request CSV -> frame columns. A torn last row (a killed run) and malformed rows
    are skipped with a warning; every complete row is kept."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    header, _, rest = data.partition(b"\n")
    if header.rstrip(b"\r").decode("utf-8", "replace") != SAMPLES_HEADER:
        raise IngestError(f"{path}: not perforch's Locust request log (unexpected header)",
                          hint=f"the first line should be: {SAMPLES_HEADER}")
    notes: list[str] = []
    if rest and not rest.endswith(b"\n"):
        cut = rest.rfind(b"\n") + 1
        notes.append(f"{path.name}: the last row is incomplete (the run was stopped while writing it); "
                     "it is left out, every complete row is kept")
        rest = rest[:cut]
    table, bad = _parse_rows(header + b"\n" + rest)
    if bad:
        notes.append(f"{path.name}: {bad} malformed row{'s' if bad > 1 else ''} skipped; every complete row is kept")
    if table.num_rows == 0:
        notes.append(f"{path.name}: no requests recorded")
        return None, notes
    start_ns = np.round(table["start_time"].to_numpy() * 1e6).astype(np.int64) * 1000
    status = table["status"].to_numpy()
    columns = {
        "ts": pd.to_datetime(start_ns, utc=True),
        "tool": "locust",
        "flow": table["flow"].to_numpy(zero_copy_only=False),
        "label": table["label"].to_numpy(zero_copy_only=False),
        "method": table["method"].to_numpy(zero_copy_only=False),
        "status": status.astype(np.int16),
        "ok": table["ok"].to_numpy() == 1,
        "latency_ms": table["response_time_ms"].to_numpy(),
        "bytes_in": pd.array(table["bytes"].to_numpy(), dtype="Int64"),
        "vus": pd.array(table["users"].to_numpy(), dtype="Int32"),
        "error": table["error"].to_numpy(zero_copy_only=False),
        "worker": worker,
    }
    return columns, notes


def _parse_rows(data: bytes) -> tuple[pa.Table, int]:
    """Fast path: pyarrow. On a value that does not parse, the csv module row by row."""
    skipped = [0]

    def skip(_row: object) -> str:
        skipped[0] += 1
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(column_types=SAMPLE_TYPES, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False),
        )
        if table.num_rows and (pc.any(pc.is_null(table["start_time"])).as_py()
                               or pc.any(pc.is_null(table["response_time_ms"])).as_py()):
            raise pa.ArrowInvalid("empty number")
        return table, skipped[0]
    except pa.ArrowInvalid:
        return _parse_rows_slowly(data)


def _parse_rows_slowly(data: bytes) -> tuple[pa.Table, int]:
    rows: dict[str, list] = {name: [] for name in SAMPLE_TYPES}
    bad = 0
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
    next(reader, None)
    for record in reader:
        if len(record) != len(SAMPLE_TYPES):
            bad += 1
            continue
        try:
            values = (float(record[0]), float(record[1]), int(record[2]), int(record[3]), int(record[4]),
                      int(record[5]))
        except ValueError:
            bad += 1
            continue
        if not all(math.isfinite(v) for v in values[:2]) or record[3] not in ("0", "1"):
            bad += 1
            continue
        for name, value in zip(SAMPLE_TYPES, (*values, *record[6:])):
            rows[name].append(value)
    table = pa.table({name: pa.array(values, type=SAMPLE_TYPES[name]) for name, values in rows.items()})
    return table, bad


# --- Locust's own CSVs -----------------------------------------------------------------------------


def _read_csv(path: Path, kind: str) -> tuple[pd.DataFrame, list[str]]:
    """A Locust CSV; a last row cut short (a copy taken while Locust was writing) is left out."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from None
    notes = []
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        notes.append(f"{path.name}: the last row is incomplete; it is left out")
    try:
        frame = pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=["N/A", ""],
                            dtype={"Type": str, "Name": str, "Method": str}, encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise IngestError(f"{path}: unreadable Locust {kind} file: {exc}",
                          hint="expected the file `locust --csv PREFIX` writes, complete") from None
    return frame, notes


def read_stats(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """`_stats.csv` -> aggregates: one row per (method, name), the `Aggregated` row as label ""."""
    frame, notes = _read_csv(path, "stats")
    _require(frame, path, ["Name", "Request Count", "Failure Count", "Average Response Time",
                           "Min Response Time", "Max Response Time", "Requests/s"])
    complete = frame.dropna(subset=["Name", "Request Count", "Failure Count"])
    if len(complete) < len(frame):
        notes.append(f"{path.name}: {len(frame) - len(complete)} incomplete row(s) left out")
    if not len(complete):
        raise IngestError(f"{path}: the Locust stats file has no complete row",
                          hint="expected the file `locust --csv PREFIX` writes, complete")
    rows = []
    for record in complete.to_dict("records"):
        total = record["Name"] == "Aggregated" and not isinstance(record.get("Type"), str)
        rows.append({
            "label": "" if total else str(record["Name"]),
            "count": int(record["Request Count"]),
            "failures": int(record["Failure Count"]),
            "avg_ms": _number(record["Average Response Time"]),
            "min_ms": _number(record["Min Response Time"]),
            "max_ms": _number(record["Max Response Time"]),
            **_percentiles(record),
            "rps": _number(record["Requests/s"]),
        })
    return make_aggregates(rows), notes


def read_history(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """`_stats_history.csv` alone -> aggregates from its last row per endpoint (cumulative totals)."""
    frame, notes = _read_csv(path, "stats history")
    _require(frame, path, ["Timestamp", "Name", "Total Request Count", "Total Failure Count",
                           "Total Average Response Time", "Total Min Response Time", "Total Max Response Time"])
    if not len(frame):
        raise IngestError(f"{path}: the Locust stats history has no rows")
    last = frame.groupby(["Type", "Name"], dropna=False, sort=False).tail(1)
    full = (frame["Name"] != "Aggregated").any()
    start, end = frame["Timestamp"].min(), frame["Timestamp"].max()
    rows = []
    for record in last.to_dict("records"):
        total = record["Name"] == "Aggregated" and not isinstance(record.get("Type"), str)
        count = int(record["Total Request Count"])
        rows.append({
            "label": "" if total else str(record["Name"]),
            "count": count,
            "failures": int(record["Total Failure Count"]),
            "avg_ms": record["Total Average Response Time"],
            "min_ms": record["Total Min Response Time"],
            "max_ms": record["Total Max Response Time"],
            **({k: float("nan") for k in ("p50", "p90", "p95", "p99", "p99_9")} if full else _percentiles(record)),
            "p50": record.get("Total Median Response Time", float("nan")),
            "rps": count / (end - start) if end > start else float("nan"),
        })
    notes += [f"{path.name}: figures from Locust's per-second history (its last row per endpoint); "
             "request rate over the history's span"]
    if full:
        notes.append(f"{path.name}: written with --csv-full-history, so its percentile columns cover only the "
                     "last ~10 s; only the median is cumulative")
    return make_aggregates(rows), notes


def _percentiles(record: dict) -> dict[str, float]:
    keys = {"p50": "50%", "p90": "90%", "p95": "95%", "p99": "99%", "p99_9": "99.9%"}
    return {ours: _number(record.get(theirs)) for ours, theirs in keys.items()}


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _require(frame: pd.DataFrame, path: Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise IngestError(f"{path}: Locust CSV without column(s) {', '.join(missing)}",
                          hint="expected the file `locust --csv PREFIX` writes (Locust 2.x)")


def failure_notes(path: Path) -> list[str]:
    frame, _ = _read_csv(path, "failures")
    _require(frame, path, ["Method", "Name", "Error", "Occurrences"])
    if not len(frame):
        return []
    frame = frame.sort_values("Occurrences", ascending=False, kind="stable")
    total = int(frame["Occurrences"].sum())
    top = "; ".join(f"{r['Method']} {r['Name']}: {str(r['Error'])[:120]} ×{int(r['Occurrences'])}"
                    for r in frame.head(3).to_dict("records"))
    return [f"Locust recorded {total} failed request{'s' if total != 1 else ''} ({path.name}): {top}"]


def exception_notes(path: Path) -> list[str]:
    frame, _ = _read_csv(path, "exceptions")
    _require(frame, path, ["Count", "Message"])
    if not len(frame):
        return []
    total = int(frame["Count"].sum())
    top = "; ".join(f"{str(r['Message'])[:120]} ×{int(r['Count'])}" for r in frame.head(3).to_dict("records"))
    return [f"the locustfile raised {total} exception{'s' if total != 1 else ''} in user code "
            f"({path.name}): {top}"]


def iteration_notes(path: Path) -> list[str]:
    try:
        flows = json.loads(path.read_text(encoding="utf-8"))["flows"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{path.name}: unreadable iteration summary ({exc})"]
    return [f"flow {name!r}: {info['dropped']} iteration start{'s' if info['dropped'] != 1 else ''} dropped "
            "because every user was busy; raise max_vus" for name, info in flows.items() if info.get("dropped")]


# --- Locust's own table, recomputed from exact rows ------------------------------------------------


def locust_bucket(values: np.ndarray) -> np.ndarray:
    """Locust's bucket_response_time: 1 ms below 100, 10 ms below 1 000, 100 ms below 10 000, else
    1 s, with Python's round (ties to even) as in locust/stats.py."""
    values = np.asarray(values, dtype=float)
    scale = np.select([values < 100, values < 1000, values < 10000], [1.0, 10.0, 100.0], 1000.0)
    scaled = values / scale
    out = np.rint(scaled) * scale
    # values / scale can land a hair off an exact tie: redo those with Python's correctly rounded round()
    near = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
    for i in near.tolist():
        out[i] = round(float(values[i]), -int(round(math.log10(scale[i]))))
    return out.astype(np.int64)


def locust_percentile(buckets: np.ndarray, q: float) -> int:
    """Locust's calculate_response_time_percentile over bucketed values (q in 0..1)."""
    n = len(buckets)
    if not n:
        return 0
    keep = int(n * q)
    values, counts = np.unique(buckets, return_counts=True)
    processed = 0
    for value, count in zip(values[::-1].tolist(), counts[::-1].tolist()):
        processed += count
        if n - processed <= keep:
            return int(value)
    return 0


def locust_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Locust's end-of-run tables (per method and name, then Aggregated) from exact rows: requests,
    failures, average, min, max, median (clamped into [min, max] like Locust's) and the 11 percentiles."""
    rows = []
    groups = [((m, n), g) for (m, n), g in samples.groupby(["method", "label"], observed=True, sort=True)]
    for (method, name), group in [*groups, (("", "Aggregated"), samples)]:
        latency = group["latency_ms"].to_numpy(dtype=float)
        buckets = locust_bucket(latency)
        low, high = float(latency.min()), float(latency.max())
        median = locust_percentile(buckets, 0.5)
        row = {"method": method, "name": name, "requests": len(group), "failures": int((~group["ok"]).sum()),
               "avg_ms": float(latency.mean()), "min_ms": low, "max_ms": high,
               "median_ms": high if median > high else low if median < low else median}
        row.update({column: locust_percentile(buckets, q) for column, q in zip(PERCENTILE_COLUMNS, PERCENTILES)})
        rows.append(row)
    return pd.DataFrame(rows)
