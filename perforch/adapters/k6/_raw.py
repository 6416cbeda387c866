"""What both k6 readers produce, and the helpers they share.

A reader turns one raw file into a `Raw`: its requests in `Part`s (per-request numbers, tags as
cheap categoricals, vu/iter metadata), the failed checks, the `vus` gauge and notes for the user.
ingest.py assembles those into the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TAGS = ("name", "method", "status", "error", "expected_response", "scenario")
DURATION = "http_req_duration"
SIBLINGS = ("http_req_blocked", "http_req_connecting", "http_req_tls_handshaking", "http_req_waiting")
SIBLING_OFFSETS = (1, 2, 3, 5)  # lines after http_req_duration in k6's block (reference §1.1)
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class Layout(Exception):
    """The file is not laid out as the fast path assumes; read it with the general path."""


Codes = tuple[np.ndarray, list[str]]  # codes into names (names may repeat): a cheap categorical


@dataclass
class Part:
    """Requests of one piece of a file, in file order."""

    start_ns: np.ndarray
    latency: np.ndarray
    ttfb: np.ndarray
    connect: np.ndarray
    whole_seconds: bool
    tags: dict[str, Codes]
    # vu/iter per request, text like "vu=1&iter=0" (CSV) or '{"vu":"1","iter":"0"}' (JSON): either the
    # strings, or (file offset, length) of each, read only if some check failed
    meta: pa.Array | tuple[np.ndarray, np.ndarray] | None


@dataclass
class Raw:
    """What one raw file holds for the frame."""

    parts: list[Part] = field(default_factory=list)
    failed_checks: list[tuple[str, str, str, str]] = field(default_factory=list)  # vu, iter, name, check
    vus_ns: list[np.ndarray] = field(default_factory=list)
    vus_value: list[np.ndarray] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None  # where (offset, length) metadata can be read
    check_lines: list[bytes] = field(default_factory=list)  # fast path: failed-check and `vus` lines,
    vus_lines: list[bytes] = field(default_factory=list)  # parsed together at the end
    foreign: int = 0  # fast path: lines that cannot be k6 rows (skipped)

    def add(self, other: Raw) -> None:
        self.parts += other.parts
        self.failed_checks += other.failed_checks
        self.vus_ns += other.vus_ns
        self.vus_value += other.vus_value
        self.notes += other.notes
        self.check_lines += other.check_lines
        self.vus_lines += other.vus_lines
        self.foreign += other.foreign


# --- what both readers share ----------------------------------------------------------------------


def make_part(end_ns: np.ndarray, latency: np.ndarray, siblings: list[np.ndarray], tags: dict[str, Codes],
              meta: pa.Array | tuple[np.ndarray, np.ndarray] | None) -> Part:
    """Requests from their end times, latency and sibling values (blocked, connecting, TLS, waiting)."""
    blocked, connecting, tls, waiting = siblings
    start_ns = end_ns - np.round((latency + np.nan_to_num(blocked)) * 1e6).astype(np.int64)
    whole = bool(len(end_ns)) and not (end_ns % 1_000_000_000).any()
    return Part(start_ns, latency, waiting, connecting + np.nan_to_num(tls), whole, tags, meta)


def categories(indices: np.ndarray, values: Sequence[object]) -> Codes:
    dtype = np.int8 if len(values) < 128 else np.int16 if len(values) < 32768 else np.int32
    return np.asarray(indices, dtype), ["" if v is None else str(v) for v in values] or [""]


def to_ns(values: pa.Array | pa.ChunkedArray, scale: int | None) -> np.ndarray:
    """k6 times -> int64 ns since the epoch; raises an arrow error on a value it cannot read."""
    if scale is not None:
        ints = values if pa.types.is_integer(values.type) else pc.cast(values, pa.int64())
        return np.asarray(ints.to_numpy(zero_copy_only=False), np.int64) * scale
    stamps = pc.cast(pc.cast(values, pa.string()), pa.timestamp("ns", "UTC"))
    return np.asarray(pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False), np.int64)


def ns_or_layout(values: pa.Array, scale: int | None) -> np.ndarray:
    try:
        return to_ns(values, scale)
    except ARROW_ERRORS:
        raise Layout from None


def add_failed_checks(raw: Raw, rows: pa.Table) -> None:
    rows = rows.filter(pc.equal(rows["value"], 0.0))
    if not rows.num_rows:
        return
    names, check = _column(rows, "name", "url"), _column(rows, "check")
    if "metadata" in rows.column_names:
        vu, it = meta_field(rows["metadata"], "vu"), meta_field(rows["metadata"], "iter")
    else:
        vu, it = _column(rows, "vu"), _column(rows, "iter")
    raw.failed_checks += zip(vu, it, names, check)


def _column(rows: pa.Table, *names: str) -> list[str]:
    for name in names:
        if name in rows.column_names:
            return [v or "" for v in rows[name].to_pylist()]
    return [""] * rows.num_rows


def meta_field(meta: pa.Array | pa.ChunkedArray, key: str) -> list[str]:
    """`vu=1&iter=0` (CSV; key order varies per row) or `{"vu":"1","iter":"0"}` (JSON) -> `key`'s value."""
    extracted = pc.extract_regex(pc.fill_null(meta, ""), rf'(?:^|[&{{,])"?{key}"?[=:]"?(?P<v>[^&",}}]*)')
    return [v or "" for v in pc.struct_field(extracted, "v").to_pylist()]
