"""k6 raw output -> the unified frame.

k6 writes one *sample per metric* (reference §1): a request is nine rows (`http_reqs`,
`http_req_duration`, `http_req_blocked`, ...) written next to each other, so the k-th duration row,
the k-th blocked row and the k-th waiting row belong to the same request. We keep only the rows we
need and align them by position. Each file is streamed in blocks (pyarrow), so memory stays near
the size of the final frame however big the file is.

Per request: ts = end time − duration − blocked (k6 stamps the *end*); latency = http_req_duration
(excludes connection setup); ttfb = http_req_waiting; connect = connecting + TLS; vus = the last
`vus` gauge at or before the request. A request is ok when k6 counted it expected AND every check
perforch emitted for it passed (checks are tied to requests by vu, iter and the step label).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from perforch.adapters.base import Ingested
from perforch.errors import IngestError
from perforch.frame import concat_frames, make_aggregates, make_frame

TAGS = ("name", "method", "status", "error", "expected_response", "scenario")
PER_REQUEST = ("http_req_duration", "http_req_blocked", "http_req_connecting",
               "http_req_tls_handshaking", "http_req_waiting")
KEEP = PER_REQUEST + ("checks", "vus")
BLOCK = 1 << 24


@dataclass
class _Columns:
    """Rows of the metrics we keep, in file order, as arrow arrays per metric."""

    chunks: dict[str, list[pa.Table]] = field(default_factory=lambda: {m: [] for m in KEEP})

    def table(self, metric: str) -> pa.Table | None:
        parts = self.chunks[metric]
        return pa.concat_tables(parts) if parts else None


def ingest_files(paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested:
    """Read k6 CSV/JSON outputs (one per load generator) and/or a summary export."""
    frames, warnings, aggregates = [], [], None
    for i, path in enumerate(paths):
        kind = sniff(path)
        if kind == "summary":
            aggregates = read_summary(path)
            continue
        cols, notes = (_read_csv if kind == "csv" else _read_json)(path)
        worker = workers[i] if workers else (path.stem if len(paths) > 1 else "")
        columns, more = _assemble(cols, path, worker)
        warnings += notes + more
        if columns:
            frames.append(make_frame(columns))
    samples = concat_frames(frames)
    return Ingested(samples=samples, aggregates=aggregates, warnings=tuple(warnings))


def sniff(path: Path) -> str | None:
    """'csv', 'json', 'summary' or None, from the first bytes of the file."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from None
    return sniff_bytes(head)


def sniff_bytes(head: bytes) -> str | None:
    if head.startswith(b"metric_name,timestamp,metric_value"):
        return "csv"
    stripped = head.lstrip()
    if stripped.startswith(b"{") and (b'"type":"Metric"' in head or b'"type":"Point"' in head):
        return "json"
    if stripped.startswith(b"{") and b'"metrics"' in head and (b'"root_group"' in head or b"http_req" in head):
        return "summary"
    return None


# --- CSV ------------------------------------------------------------------------------------------


def _read_csv(path: Path) -> tuple[_Columns, list[str]]:
    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8").rstrip("\r\n").split(",")
    wanted = ["metric_name", "timestamp", "metric_value", *[t for t in (*TAGS, "check", "metadata") if t in header]]
    types = {c: pa.string() for c in wanted if c not in ("metric_value",)}
    types["metric_value"] = pa.float64()
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(include_columns=wanted, column_types=types,
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(f"{path}: not a readable k6 CSV: {exc}",
                          hint="expected the file k6 writes with --out csv=FILE") from None
    cols = _Columns()
    notes: list[str] = []
    keep = pa.array(KEEP)
    try:
        for batch in reader:
            table = pa.Table.from_batches([batch])
            table = table.filter(pc.is_in(table["metric_name"], keep))
            for metric in KEEP:
                part = table.filter(pc.equal(table["metric_name"], metric))
                if part.num_rows:
                    cols.chunks[metric].append(part)
    except pa.ArrowInvalid as exc:
        notes.append(f"{path.name}: stopped reading at a malformed row ({exc}); the rows before it are kept")
    return cols, notes


# --- JSON -----------------------------------------------------------------------------------------

_TAG_SCHEMA = pa.struct([(t, pa.string()) for t in (*TAGS, "check")])
_POINT_SCHEMA = pa.schema([
    ("metric", pa.string()),
    ("type", pa.string()),
    ("data", pa.struct([("time", pa.string()), ("value", pa.float64()), ("tags", _TAG_SCHEMA),
                        ("metadata", pa.struct([("vu", pa.string()), ("iter", pa.string())]))])),
])


def _read_json(path: Path) -> tuple[_Columns, list[str]]:
    cols = _Columns()
    notes: list[str] = []
    try:
        reader = pajson.open_json(
            path,
            read_options=pajson.ReadOptions(block_size=BLOCK),
            parse_options=pajson.ParseOptions(explicit_schema=_POINT_SCHEMA, unexpected_field_behavior="ignore"),
        )
        keep = pa.array(KEEP)
        for batch in reader:
            table = pa.Table.from_batches([batch])
            table = table.filter(pc.and_(pc.equal(table["type"], "Point"), pc.is_in(table["metric"], keep)))
            if not table.num_rows:
                continue
            data = table["data"].combine_chunks()
            tags = data.field("tags")
            meta = data.field("metadata")
            flat = {
                "metric_name": table["metric"],
                "timestamp": data.field("time"),
                "metric_value": data.field("value"),
                **{t: pc.fill_null(tags.field(t), "") for t in (*TAGS, "check")},
                "metadata": pc.binary_join_element_wise("vu=", pc.fill_null(meta.field("vu"), ""),
                                                         "&iter=", pc.fill_null(meta.field("iter"), ""), ""),
            }
            flat_table = pa.table(flat)
            for metric in KEEP:
                part = flat_table.filter(pc.equal(flat_table["metric_name"], metric))
                if part.num_rows:
                    cols.chunks[metric].append(part)
    except pa.ArrowInvalid as exc:
        notes.append(f"{path.name}: stopped reading at a malformed line ({exc}); the lines before it are kept")
    return cols, notes


# --- rows -> requests -----------------------------------------------------------------------------


def _timestamps(values: pa.ChunkedArray) -> np.ndarray:
    """k6 time column -> int64 ns since epoch, whatever K6_CSV_TIME_FORMAT was."""
    sample = next((v for v in values.slice(0, 1).to_pylist()), "")
    if sample and sample.isdigit():
        digits = len(sample)
        scale = 1 if digits >= 18 else 1_000 if digits >= 15 else 1_000_000 if digits >= 12 else 1_000_000_000
        return pc.cast(values, pa.int64()).to_numpy() * scale
    stamps = pd.to_datetime(values.to_numpy(zero_copy_only=False), utc=True, format="ISO8601")
    return stamps.asi8 if hasattr(stamps, "asi8") else stamps.view("int64")


def _assemble(cols: _Columns, path: Path, worker: str) -> tuple[dict | None, list[str]]:
    notes: list[str] = []
    duration = cols.table("http_req_duration")
    if duration is None:
        return None, [f"{path.name}: no http_req_duration samples (no HTTP requests)"]
    n = duration.num_rows
    per: dict[str, np.ndarray] = {}
    for metric in PER_REQUEST[1:]:
        table = cols.table(metric)
        if table is not None and table.num_rows == n:
            per[metric] = table["metric_value"].to_numpy()
        elif table is not None:
            notes.append(f"{path.name}: {metric} has {table.num_rows} rows for {n} requests; not used")
    end_ns = _timestamps(duration["timestamp"])
    if end_ns.size and int(end_ns[0]) % 1_000_000_000 == 0 and (end_ns % 1_000_000_000 == 0).all():
        notes.append(f"{path.name}: timestamps are whole seconds (k6's CSV default); request times are "
                     "approximate — perforch runs set K6_CSV_TIME_FORMAT=unix_micro")
    latency = duration["metric_value"].to_numpy()
    blocked = per.get("http_req_blocked", np.zeros(n))
    start_ns = end_ns - np.round((latency + blocked) * 1e6).astype(np.int64)
    status = pd.to_numeric(pd.Series(duration["status"].to_numpy(zero_copy_only=False)), errors="coerce").fillna(0)
    expected = duration["expected_response"].to_numpy(zero_copy_only=False) if "expected_response" in duration.column_names else None
    ok = (expected == "true") if expected is not None else ((status >= 200) & (status < 400)).to_numpy()
    error = _errors(duration, status.to_numpy())
    failed = _failed_checks(cols)
    if failed:
        keys = _request_keys(duration)
        for i in np.flatnonzero(np.isin(keys, list(failed))):
            ok[i] = False
            if not error[i]:
                error[i] = failed[keys[i]]
    columns = {
        "ts": pd.to_datetime(start_ns, utc=True),
        "tool": "k6",
        "flow": duration["scenario"].to_numpy(zero_copy_only=False) if "scenario" in duration.column_names else "",
        "label": duration["name"].to_numpy(zero_copy_only=False),
        "method": duration["method"].to_numpy(zero_copy_only=False) if "method" in duration.column_names else "",
        "status": status.to_numpy().astype(np.int16),
        "ok": ok,
        "latency_ms": latency,
        "ttfb_ms": per.get("http_req_waiting", np.full(n, np.nan)),
        "connect_ms": per.get("http_req_connecting", np.full(n, np.nan)) + per.get("http_req_tls_handshaking", np.zeros(n)),
        "vus": _vus_at(cols, start_ns),
        "error": error,
        "worker": worker,
    }
    return columns, notes


def _errors(duration: pa.Table, status: np.ndarray) -> np.ndarray:
    text = (duration["error"].to_numpy(zero_copy_only=False).astype(object)
            if "error" in duration.column_names else np.full(len(status), "", dtype=object))
    http_error = (text == "") & (status >= 400)
    text[http_error] = np.char.add("HTTP ", status[http_error].astype(str)).astype(object)
    return text


def _request_keys(table: pa.Table) -> np.ndarray:
    meta = table["metadata"] if "metadata" in table.column_names else pa.array([""] * table.num_rows)
    vu, it = _meta_field(meta, "vu"), _meta_field(meta, "iter")
    return pc.binary_join_element_wise(vu, it, table["name"], "\x1f").to_numpy(zero_copy_only=False)


def _meta_field(meta: pa.ChunkedArray, key: str) -> pa.ChunkedArray:
    extracted = pc.extract_regex(pc.fill_null(meta, ""), rf"(?:^|&){key}=(?P<v>\d*)")
    return pc.fill_null(pc.struct_field(extracted, "v"), "")


def _failed_checks(cols: _Columns) -> dict[str, str]:
    """(vu, iter, step label) -> the first failed check's name, for checks that failed."""
    checks = cols.table("checks")
    if checks is None or "metadata" not in checks.column_names:
        return {}
    failed = checks.filter(pc.equal(checks["metric_value"], 0.0))
    if not failed.num_rows:
        return {}
    keys = _request_keys(failed)
    names = failed["check"].to_pylist() if "check" in failed.column_names else [""] * len(keys)
    out: dict[str, str] = {}
    for key, name in zip(keys, names):
        out.setdefault(key, f"check failed: {name}")
    return out


def _vus_at(cols: _Columns, start_ns: np.ndarray) -> np.ndarray:
    vus = cols.table("vus")
    if vus is None or not vus.num_rows:
        return pd.array([pd.NA] * len(start_ns), dtype="Int32")
    at = _timestamps(vus["timestamp"])
    values = vus["metric_value"].to_numpy()
    order = np.argsort(at, kind="stable")
    at, values = at[order], values[order]
    # The gauge is sampled about once a second; requests before the first sample take its value.
    idx = np.clip(np.searchsorted(at, start_ns, side="right") - 1, 0, None)
    return pd.array(values[idx].astype(np.int32), dtype="Int32")


# --- summary export -------------------------------------------------------------------------------


def read_summary(path: Path) -> pd.DataFrame:
    """`--summary-export` -> aggregates: one row overall + one per `http_req_duration{name:...}`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        metrics = doc["metrics"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IngestError(f"{path}: not a k6 summary export: {exc}") from None
    rows = []
    failed = metrics.get("http_req_failed", {})
    reqs = metrics.get("http_reqs", {})
    for key, value in metrics.items():
        if key == "http_req_duration" or key.startswith("http_req_duration{name:"):
            label = "" if key == "http_req_duration" else key[len("http_req_duration{name:"):-1]
            rows.append({
                "label": label,
                "count": int(value.get("count", reqs.get("count", 0) if not label else 0)),
                "failures": int(failed.get("passes", 0)) if not label else 0,
                "avg_ms": value.get("avg"), "min_ms": value.get("min"), "max_ms": value.get("max"),
                "p50": value.get("med"), "p90": value.get("p(90)"), "p95": value.get("p(95)"),
                "p99": value.get("p(99)"), "p99_9": value.get("p(99.9)"),
                "rps": reqs.get("rate") if not label else np.nan,
            })
    return make_aggregates(rows)
