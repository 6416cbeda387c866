"""k6 raw output -> the unified frame.

k6 writes one *sample per metric* (reference §1): a request is nine rows written next to each other
in a fixed order (`http_reqs`, `http_req_duration`, `http_req_blocked`, `http_req_connecting`,
`http_req_tls_handshaking`, `http_req_sending`, `http_req_waiting`, `http_req_receiving`,
`http_req_failed`), all with the same timestamp and tags. Per request: ts = end time − duration −
blocked (k6 stamps the *end*); latency = http_req_duration (excludes connection setup); ttfb =
http_req_waiting; connect = connecting + TLS; vus = the last `vus` gauge at or before the start (the
first gauge value before the first one). A request is ok when k6 counted it expected AND every check
perforch emitted for it passed (checks are tied to requests by vu, iter and the step label).

Two readers produce the same parts (_raw.py):

* the fast path (_fast.py) maps the file and reads only the fields it needs, by position, with
  numpy (where each field sits is the format's business: _formats.py); any surprise sends the whole
  file to
* the general path (_general.py): pyarrow reads every row tolerantly.

This module sniffs the files, picks the reader and assembles the parts into the frame; failed checks
are tied to their requests by _checks.py. Frames are built without copies beyond validate_frame's
own, so that peak memory stays near twice the frame's size (benchmarks/k6_ingest.py measures both).
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perforch.adapters.base import Ingested
from perforch.adapters.k6 import _checks, _fast, _general
from perforch.adapters.k6._formats import HINT, CsvFormat, Format, JsonFormat
from perforch.adapters.k6._raw import DURATION, TAGS, Codes, Layout, Part, Raw
from perforch.errors import IngestError
from perforch.frame import SAMPLE_COLUMNS, concat_frames, make_aggregates, validate_frame

PIECE = 16 << 20  # bytes of a file read at a time: a fast-path piece, a span of vu/iter texts read back
CSV_HEAD = b"metric_name,timestamp,metric_value"


# --- entry points ---------------------------------------------------------------------------------


def ingest_files(paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested:
    """Read k6 CSV/JSON outputs (one per load generator) and/or a summary export."""
    frames, warnings, aggregates = [], [], None
    for i, path in enumerate(paths):
        try:
            kind = sniff(path)
            if kind == "summary":
                aggregates = read_summary(path)
                continue
            raw = read_raw(path, kind)
        except IngestError as exc:
            if len(paths) == 1:
                raise
            # one generator that died before writing must not cost the others' results
            warnings.append(f"{exc.message}: left out; the other {len(paths) - 1} file(s) are read")
            continue
        _release()
        worker = workers[i] if workers else (path.stem if len(paths) > 1 else "")
        columns, notes = _assemble(raw, path, worker)
        del raw
        _release()
        warnings += notes
        if columns:
            frames.append(frame_of(columns))
    if not frames and aggregates is None and warnings and len(paths) > 1:
        raise IngestError(f"no readable results in {len(paths)} files", details="\n".join(warnings))
    return Ingested(samples=concat_frames(frames), aggregates=aggregates, warnings=tuple(warnings))


def _release() -> None:
    """Hand freed memory back to the OS between phases: reading leaves the heap fragmented (many
    small per-piece arrays) and arrow's pool keeps what it freed; the next phase would grow anew."""
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def sniff(path: Path) -> str:
    """'csv', 'json' or 'summary' from the first bytes of the file; IngestError otherwise."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    kind = sniff_bytes(head)
    if kind is None:
        raise IngestError(f"{path}: {'is empty' if not head else 'is not a k6 output'}", hint=HINT)
    return kind


def sniff_bytes(head: bytes) -> str | None:
    if head.startswith(CSV_HEAD):
        return "csv"
    stripped = head.lstrip()
    if stripped.startswith(b"{") and (b'"type":"Metric"' in head or b'"type":"Point"' in head):
        return "json"
    if stripped.startswith(b"{") and b'"metrics"' in head and (b'"root_group"' in head or b"http_req" in head):
        return "summary"
    return None


def read_raw(path: Path, kind: str, fast: bool = True) -> Raw:
    """One k6 CSV or JSON output -> Raw, by the fast path unless the file surprises it."""
    try:
        fmt = CsvFormat(path) if kind == "csv" else JsonFormat()
        if fast:
            try:
                raw = _read_fast(path, fmt)
            except Layout:
                raw = Raw()
            if raw.parts:
                raw.parts = _compact(raw.parts)
                return raw
        raw = _general.read_csv(path, fmt) if isinstance(fmt, CsvFormat) else _general.read_json(path)
        raw.parts = _compact(raw.parts)
        return raw
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _read_fast(path: Path, fmt: Format) -> Raw:
    """The fast path, in pieces of PIECE bytes; Layout if the file surprises it."""
    return _fast.read(path, fmt, PIECE)


# --- parts -> frame columns -----------------------------------------------------------------------


def _assemble(raw: Raw, path: Path, worker: str) -> tuple[dict | None, list[str]]:
    """Parts -> frame columns, sorted by start time (so that make_frame's sort is free). Part arrays are
    released as soon as they are merged: peak memory stays near the frame's size."""
    notes = list(raw.notes)
    parts = [p for p in raw.parts if len(p.start_ns)]
    raw.parts = []
    if not parts:
        return None, [*notes, f"{path.name}: no {DURATION} samples (no HTTP requests)"]
    if all(p.whole_seconds for p in parts):
        notes.append(f"{path.name}: timestamps are whole seconds (k6's CSV default); request times are "
                     "approximate — perforch runs set K6_CSV_TIME_FORMAT=unix_micro")
    sizes = [len(p.start_ns) for p in parts]
    n = sum(sizes)
    tags = {t: _union([p.tags.pop(t, None) for p in parts], sizes) for t in TAGS}
    status_tag = tags.pop("status")
    status = _status_numbers(status_tag)[status_tag.codes]
    expected = tags.pop("expected_response")
    said = np.asarray(expected.categories, dtype=object)
    ok = np.where((said == "")[expected.codes], (status >= 200) & (status < 400), (said == "true")[expected.codes])
    error = _errors(tags.pop("error"), status_tag)
    failed = _checks.failed_requests(raw, parts, tags["name"], PIECE)
    untied = sum(1 for vu, it, _, _ in raw.failed_checks if not vu or not it)
    if untied:
        notes.append(f"{path.name}: {untied} failed check{'s' if untied > 1 else ''} could not be tied to "
                     "requests (no vu/iter in the file); those requests keep k6's own verdict — run k6 with "
                     "--system-tags including vu,iter (perforch does)")
    for p in parts:
        p.meta = None
    if failed:
        ok[list(failed)] = False
        error = _checks.with_check_errors(error, failed)
    start_ns = _merge(parts, "start_ns")
    order = None if (np.diff(start_ns) >= 0).all() else np.argsort(start_ns, kind="stable")

    def arranged(values: np.ndarray | pd.Categorical) -> np.ndarray | pd.Categorical:
        return values if order is None else values.take(order)

    start_ns = arranged(start_ns)
    columns = {
        "ts": pd.DatetimeIndex(start_ns.view("datetime64[ns]")).tz_localize("UTC"),
        "tool": _constant(n, "k6"),
        "flow": arranged(tags["scenario"]),
        "label": arranged(tags["name"]),
        "method": arranged(tags["method"]),
        "status": arranged(status),
        "ok": arranged(ok),
        "latency_ms": arranged(_merge(parts, "latency")),
        "ttfb_ms": arranged(_merge(parts, "ttfb")),
        "connect_ms": arranged(_merge(parts, "connect")),
        "vus": _vus_at(raw, start_ns),
        "error": arranged(error),
        "worker": _constant(n, worker),
    }
    return columns, notes


def frame_of(columns: dict) -> pd.DataFrame:
    """_assemble's columns (already sorted by ts, in their final dtypes) -> the samples frame. Like
    frame.make_frame, but without its copies: validate_frame's own copy is the only one, so peak
    memory stays near twice the frame."""
    n = len(columns["ts"])
    columns["elapsed_s"] = (columns["ts"].asi8 - columns["ts"].asi8[0]) / 1e9 if n else np.zeros(0)
    columns["ts"] = pd.Series(columns["ts"], copy=False)
    for name in ("bytes_in", "bytes_out"):
        columns[name] = pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool))
    frame = pd.DataFrame({name: columns.pop(name) for name in SAMPLE_COLUMNS}, copy=False)
    return validate_frame(frame)


def _compact(parts: list[Part]) -> list[Part]:
    """The parts of a file as one: a few large arrays instead of many small ones (which, freed later,
    would leave the heap fragmented and the process's memory high)."""
    parts = [p for p in parts if len(p.start_ns)]
    if len(parts) <= 1:
        return parts
    sizes = [len(p.start_ns) for p in parts]
    numbers = {}
    for name in ("start_ns", "latency", "ttfb", "connect"):
        numbers[name] = _merge(parts, name)
        _release()  # the freed small arrays' pages, before the next column is merged
    tags = {}
    for tag in TAGS:
        codes = [p.tags.pop(tag, None) for p in parts]
        if any(c is not None for c in codes):
            merged = _union(codes, sizes)
            tags[tag] = (merged.codes, list(merged.categories))
    metas = [p.meta for p in parts]
    if all(m is None for m in metas):
        meta = None
    elif all(isinstance(m, tuple) for m in metas):
        meta = (np.concatenate([m[0] for m in metas]), np.concatenate([m[1] for m in metas]))
    else:
        meta = pa.concat_arrays([pc.cast(m, pa.large_string()) if m is not None and not isinstance(m, tuple)
                                 else pa.nulls(n, pa.large_string()) for m, n in zip(metas, sizes)])
    whole = all(p.whole_seconds for p in parts)
    return [Part(numbers["start_ns"], numbers["latency"], numbers["ttfb"], numbers["connect"], whole, tags, meta)]


def _merge(parts: list[Part], name: str) -> np.ndarray:
    merged = np.concatenate([getattr(p, name) for p in parts])
    for p in parts:
        setattr(p, name, None)
    return merged


def _union(parts: list[Codes | None], sizes: list[int]) -> pd.Categorical:
    """Per-part codes -> one Categorical over the distinct names of all parts."""
    if all(p is None for p in parts):
        return _constant(sum(sizes), "")
    parts = [p if p is not None else (np.zeros(n, np.int32), [""]) for p, n in zip(parts, sizes)]
    names = np.array([name for _, part_names in parts for name in part_names], dtype=object)
    unique, inverse = np.unique(names, return_inverse=True)
    offsets = np.cumsum([0] + [len(part_names) for _, part_names in parts])
    codes = np.concatenate([inverse[offset + part_codes] for (part_codes, _), offset in zip(parts, offsets)])
    dtype = np.int8 if len(unique) < 128 else np.int16 if len(unique) < 32768 else np.int32
    return pd.Categorical.from_codes(codes.astype(dtype), categories=pd.Index(unique, dtype=object), validate=False)


def _constant(n: int, text: str) -> pd.Categorical:
    return pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[text])


def _status_numbers(status: pd.Categorical) -> np.ndarray:
    """The status categories as int16 (0 for text that is not a number)."""
    numbers = pd.to_numeric(pd.Series(status.categories, dtype=object), errors="coerce").fillna(0)
    return numbers.clip(-32768, 32767).to_numpy().astype(np.int16)


def _errors(error: pd.Categorical, status: pd.Categorical) -> pd.Categorical:
    """The error tag; for an HTTP error without one, "HTTP <status>" (worked out per distinct pair)."""
    texts, numbers = np.asarray(error.categories, dtype=object), _status_numbers(status)
    pairs = error.codes.astype(np.int64) * len(numbers) + status.codes
    labels = [texts[e] if texts[e] or numbers[s] < 400 else f"HTTP {numbers[s]}"
              for e in range(len(texts)) for s in range(len(numbers))]
    return _union([(pairs, labels)], [len(pairs)])


def _vus_at(raw: Raw, start_ns: np.ndarray) -> pd.arrays.IntegerArray:
    if not raw.vus_ns:
        return pd.arrays.IntegerArray(np.zeros(len(start_ns), np.int32), np.ones(len(start_ns), bool))
    at = np.concatenate(raw.vus_ns)
    values = np.concatenate(raw.vus_value)
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
        rows = _summary_rows(doc["metrics"])
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        raise IngestError(f"{path}: not a k6 summary export ({reason})",
                          hint="expected the JSON file k6 writes with --summary-export=FILE") from None
    return make_aggregates(rows)


def _summary_rows(metrics: dict) -> list[dict]:
    rows = []
    failed, reqs = metrics.get("http_req_failed", {}), metrics.get("http_reqs", {})
    for key, value in metrics.items():
        if key == DURATION or key.startswith(DURATION + "{name:"):
            label = "" if key == DURATION else key[len(DURATION + "{name:"):-1]
            rows.append({
                "label": label,
                "count": int(value.get("count", reqs.get("count", 0) if not label else 0)),
                "failures": int(failed.get("passes", 0)) if not label else 0,
                "avg_ms": value.get("avg"), "min_ms": value.get("min"), "max_ms": value.get("max"),
                "p50": value.get("med"), "p90": value.get("p(90)"), "p95": value.get("p(95)"),
                "p99": value.get("p(99)"), "p99_9": value.get("p(99.9)"),
                "rps": reqs.get("rate") if not label else np.nan,
            })
    return rows


# Names tests/unit/adapters/k6/test_ingest.py reaches for (they lived here before the readers had
# modules of their own).
_CsvFormat, _JsonFormat, _Layout = CsvFormat, JsonFormat, Layout
