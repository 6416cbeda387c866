"""k6 raw output -> the unified frame.

k6 writes one *sample per metric* (reference §1): a request is nine rows written next to each other
in a fixed order (`http_reqs`, `http_req_duration`, `http_req_blocked`, `http_req_connecting`,
`http_req_tls_handshaking`, `http_req_sending`, `http_req_waiting`, `http_req_receiving`,
`http_req_failed`), all with the same timestamp and tags. Per request: ts = end time − duration −
blocked (k6 stamps the *end*); latency = http_req_duration (excludes connection setup); ttfb =
http_req_waiting; connect = connecting + TLS; vus = the last `vus` gauge at or before the start (the
first gauge value before the first one). A request is ok when k6 counted it expected AND every check
perforch emitted for it passed (checks are tied to requests by vu, iter and the step label).

Two readers produce the same parts:

* The fast path never parses most of the file. It maps it in ~16 MB pieces cut where a request's
  block starts (pieces run on all cores), finds line starts with numpy, the `http_req_duration`
  lines by one probed byte (the http_req_* names differ in their 10th), then their whole prefix, and
  their siblings at fixed line offsets (blocked +1, connecting +2, TLS +3, waiting +5). A sibling
  repeats the duration line's timestamp and tags, so its value's position and length follow from its
  line's length. Fields are read as arrow view arrays over the mapped bytes and cast by arrow. The
  tags after the value repeat from request to request: they are dictionary-encoded as raw bytes and
  only texts not seen before are parsed (pyarrow, with the file's own header). Failed checks (value
  0) and `vus` gauges are few and parsed whole; a request's vu/iter text is only located, and read
  back from the file if some check with its label failed. Every assumption is checked where it is
  used (the probed byte of each sibling, the separators around each field, the parse of every
  value); any surprise sends the whole file to
* the general path: pyarrow reads every row tolerantly (malformed rows skipped and counted, bad
  numbers dropped, invalid UTF-8 replaced) and a request's siblings are found inside its block of
  rows (from its `http_reqs` row to the next one) rather than by position.

Frames are built without copies beyond validate_frame's own, so that peak memory stays near twice
the frame's size (benchmarks/k6_ingest.py measures both).
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from perforch.frame import SAMPLE_COLUMNS, concat_frames, make_aggregates, validate_frame

TAGS = ("name", "method", "status", "error", "expected_response", "scenario")
DURATION = "http_req_duration"
SIBLINGS = ("http_req_blocked", "http_req_connecting", "http_req_tls_handshaking", "http_req_waiting")
SIBLING_OFFSETS = (1, 2, 3, 5)  # lines after http_req_duration in k6's block (reference §1.1)
PIECE = 16 << 20
PAD = 128  # readable bytes before and after a piece: windows (<= PAD wide, from at most PAD before a
# line start) never leave the buffer, so they need no bounds checks
CSV_HEAD = b"metric_name,timestamp,metric_value"
HINT = "expected what k6 writes with --out csv=FILE, --out json=FILE or --summary-export=FILE"
_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class _Layout(Exception):
    """The file is not laid out as the fast path assumes; read it with the general path."""


_Codes = tuple[np.ndarray, list[str]]  # codes into names (names may repeat): a cheap categorical


@dataclass
class _Part:
    """Requests of one piece of a file, in file order."""

    start_ns: np.ndarray
    latency: np.ndarray
    ttfb: np.ndarray
    connect: np.ndarray
    whole_seconds: bool
    tags: dict[str, _Codes]
    # vu/iter per request, text like "vu=1&iter=0" (CSV) or '{"vu":"1","iter":"0"}' (JSON): either the
    # strings, or (file offset, length) of each, read only if some check failed
    meta: pa.Array | tuple[np.ndarray, np.ndarray] | None


@dataclass
class _Raw:
    """What one raw file holds for the frame."""

    parts: list[_Part] = field(default_factory=list)
    failed_checks: list[tuple[str, str, str, str]] = field(default_factory=list)  # vu, iter, name, check
    vus_ns: list[np.ndarray] = field(default_factory=list)
    vus_value: list[np.ndarray] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None  # where (offset, length) metadata can be read
    check_lines: list[bytes] = field(default_factory=list)  # fast path: failed-check and `vus` lines,
    vus_lines: list[bytes] = field(default_factory=list)  # parsed together at the end
    foreign: int = 0  # fast path: lines that cannot be k6 rows (skipped)

    def add(self, other: _Raw) -> None:
        self.parts += other.parts
        self.failed_checks += other.failed_checks
        self.vus_ns += other.vus_ns
        self.vus_value += other.vus_value
        self.notes += other.notes
        self.check_lines += other.check_lines
        self.vus_lines += other.vus_lines
        self.foreign += other.foreign


# --- entry points ---------------------------------------------------------------------------------


def ingest_files(paths: Sequence[Path], workers: Sequence[str] | None = None) -> Ingested:
    """Read k6 CSV/JSON outputs (one per load generator) and/or a summary export."""
    frames, warnings, aggregates = [], [], None
    for i, path in enumerate(paths):
        kind = sniff(path)
        if kind == "summary":
            aggregates = read_summary(path)
            continue
        raw = read_raw(path, kind)
        _release()
        worker = workers[i] if workers else (path.stem if len(paths) > 1 else "")
        columns, notes = _assemble(raw, path, worker)
        del raw
        _release()
        warnings += notes
        if columns:
            frames.append(frame_of(columns))
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


def read_raw(path: Path, kind: str, fast: bool = True) -> _Raw:
    """One k6 CSV or JSON output -> _Raw, by the fast path unless the file surprises it."""
    try:
        fmt = _CsvFormat(path) if kind == "csv" else _JsonFormat()
        if fast:
            try:
                raw = _read_fast(path, fmt)
            except _Layout:
                raw = _Raw()
            if raw.parts:
                raw.parts = _compact(raw.parts)
                return raw
        raw = _read_csv_general(path, fmt) if isinstance(fmt, _CsvFormat) else _read_json_general(path)
        raw.parts = _compact(raw.parts)
        return raw
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None


# --- the fast path: pieces of a file --------------------------------------------------------------

_local = threading.local()
_SCAN = 1 << 20


class _Piece:
    """Whole lines of a file (mapped, not copied) and reads of a few bytes at many positions at once.
    Positions are relative to the piece; `padded` has PAD readable bytes on both sides."""

    def __init__(self, padded: np.ndarray, front: int, size: int, offset: int, scan: bool = True) -> None:
        self.padded, self.front, self.offset = padded, front, offset  # offset: of the piece in the file
        self.a = padded[front:front + size]
        self.probes: dict[int, np.ndarray] = {}
        self.starts = self.ends = np.zeros(0, np.int64)
        if scan:
            mask = getattr(_local, "mask", None)
            if mask is None:
                mask = _local.mask = np.empty(_SCAN, bool)
            found = []
            for at in range(0, size, _SCAN):  # newlines, in blocks: a small mask stays in cache
                block = self.a[at:at + _SCAN]
                found.append(np.flatnonzero(np.equal(block, 10, out=mask[:len(block)])) + at)
            self.ends = np.concatenate(found) if found else self.ends
            self.starts = np.empty_like(self.ends)
            if len(self.ends):
                self.starts[0] = 0
                self.starts[1:] = self.ends[:-1] + 1

    @classmethod
    def load(cls, fd: int, lo: int, hi: int, file_size: int, complete: Callable[[bytes], bool] | None = None,
             scan: bool = True) -> tuple[_Piece, bytes | None]:
        """Bytes [lo, hi) of the file. At the end of the file, a last line without a newline is kept if
        `complete(line)` says it is a whole row, else dropped and returned."""
        map_lo = max(0, lo - PAD) // mmap.ALLOCATIONGRANULARITY * mmap.ALLOCATIONGRANULARITY
        map_hi = min(file_size, hi + PAD)
        if hasattr(mmap, "MAP_POPULATE"):  # Linux: map the pages in one go rather than fault them in
            mapped = mmap.mmap(fd, map_hi - map_lo, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE,
                               prot=mmap.PROT_READ, offset=map_lo)
        else:
            mapped = mmap.mmap(fd, map_hi - map_lo, access=mmap.ACCESS_READ, offset=map_lo)
        data = np.frombuffer(mapped, np.uint8)
        front, size = lo - map_lo, hi - lo
        unterminated = complete is not None and hi == file_size and size and data[front + size - 1] != 10
        if front >= PAD and map_hi - hi >= PAD and not unterminated:
            return cls(data, front, size, lo, scan), None
        padded = np.zeros(PAD + size + 1 + PAD, np.uint8)
        padded[PAD:PAD + size] = data[front:front + size]
        del data
        mapped.close()
        dropped = None
        if unterminated:
            tail = padded[PAD:PAD + size].tobytes()
            last = tail.rfind(b"\n") + 1
            if complete(tail[last:]):  # type: ignore[misc]
                padded[PAD + size] = 10
                size += 1
            else:
                dropped, size = tail[last:], last
        return cls(padded, PAD, size, lo, scan), dropped

    def drop_lines(self, lines: np.ndarray) -> None:
        keep = np.ones(len(self.starts), bool)
        keep[lines] = False
        self.starts, self.ends = self.starts[keep], self.ends[keep]
        self.probes.clear()

    def windows(self, pos: np.ndarray, width: int) -> np.ndarray:
        """`width` (<= PAD) bytes from each position (n x width); bytes beyond the piece are arbitrary.
        (Indexing a 1-byte-strided array of `width`-byte items copies each window in one go.)"""
        items = np.ndarray((len(self.padded) - width,), np.dtype(f"V{width}"), self.padded, 0, (1,))
        return items[pos + self.front].view(np.uint8).reshape(len(pos), width)

    def bytes_at(self, pos: np.ndarray) -> np.ndarray:
        return self.padded[pos + self.front]

    def probe(self, at: int) -> np.ndarray:
        """Byte `at` of every line (cached)."""
        if at not in self.probes:
            self.probes[at] = self.bytes_at(self.starts + at)
        return self.probes[at]

    def has(self, pos: np.ndarray, expected: bytes) -> np.ndarray:
        return (self.windows(pos, len(expected)) == np.frombuffer(expected, np.uint8)).all(axis=1)

    def field_length(self, pos: np.ndarray, stop: int, width: int = 48) -> np.ndarray:
        """Length of the field at each `pos`, up to the byte `stop`; _Layout if it is not closed within
        `width` bytes or its line ends first."""
        window = self.windows(pos, width)
        length = ((window == stop) | (window == 10)).argmax(axis=1)
        if len(pos) and not (window[np.arange(len(pos)), length] == stop).all():
            raise _Layout
        return length

    def last_byte(self, ends: np.ndarray, byte: int, width: int) -> np.ndarray:
        """Position of the last `byte` in the `width` bytes before each end (-1 if none)."""
        window = self.windows(ends - width, width)[:, ::-1] == byte
        back = window.argmax(axis=1)
        return np.where(window[np.arange(len(ends)), back], ends - 1 - back, -1)

    def views(self, pos: np.ndarray, length: np.ndarray, kind: pa.DataType = pa.string_view(),
              head: np.ndarray | None = None) -> pa.Array:
        """Fields as an arrow view array over this piece: short ones inline, long ones by reference, so
        valid only while the piece lives (cast or encode before keeping). `head`: the fields' first 12
        bytes when the caller already read them."""
        view = np.empty((len(pos), 16), np.uint8)
        view[:, 4:] = self.windows(pos, 12) if head is None else head[:, :12]
        words = view.view(np.int32)  # per row: length, prefix (or inline bytes), buffer index, offset
        words[:, 0] = length
        long = length > 12
        if long.any():
            words[long, 2] = 0
            words[long, 3] = pos[long] + self.front
        return pa.Array.from_buffers(kind, len(pos), [None, pa.py_buffer(view), pa.py_buffer(self.padded)])

    def numbers(self, pos: np.ndarray, length: np.ndarray, head: np.ndarray | None = None) -> np.ndarray:
        try:
            return pc.cast(self.views(pos, length, head=head), pa.float64()).to_numpy()
        except _ERRORS:
            raise _Layout from None

    def gather(self, lines: np.ndarray) -> pa.Buffer:
        """Whole lines (with their newlines) copied into one buffer."""
        starts = self.starts[lines]
        joined = pc.cast(self.views(starts, self.ends[lines] - starts + 1, pa.binary_view()), pa.large_binary())
        return joined.buffers()[2] or pa.py_buffer(b"")


def _read_fast(path: Path, fmt: _CsvFormat | _JsonFormat) -> _Raw:
    """Pieces of the file read on all cores; each piece's requests in file order."""
    raw = _Raw(path=path)
    with path.open("rb") as fh:
        fd, size = fh.fileno(), os.fstat(fh.fileno()).st_size
        bounds = _bounds(fd, fmt.skip, size, fmt.anchor)

        def work(i: int) -> _Raw:
            piece, dropped = _Piece.load(fd, bounds[i], bounds[i + 1], size, fmt.complete)
            out = _read_piece(piece, fmt, last=bounds[i + 1] == size)
            if dropped is not None:
                out.notes.append(f"{path.name}: the last line is incomplete (was the file cut short?) and "
                                 f"was ignored: {dropped[:60].decode('utf-8', 'replace')!r}")
            return out

        if len(bounds) == 2:
            raw.add(work(0))
        elif len(bounds) > 2:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            pool = ThreadPoolExecutor(min(4, cores))
            try:
                for part in pool.map(work, range(len(bounds) - 1)):
                    raw.add(part)
            finally:
                pool.shutdown(cancel_futures=True)
    if raw.foreign:
        raw.notes.append(f"{path.name}: skipped {raw.foreign} line{'s' if raw.foreign > 1 else ''} that "
                         "cannot be k6 rows; every complete row is kept")
    if raw.check_lines:
        _add_failed_checks(raw, fmt.rows(pa.py_buffer(b"".join(raw.check_lines))))
    if raw.vus_lines:
        rows = fmt.rows(pa.py_buffer(b"".join(raw.vus_lines)))
        raw.vus_ns.append(_ns_or_layout(rows["time"], fmt.scale))
        raw.vus_value.append(rows["value"].to_numpy())
    return raw


def _bounds(fd: int, skip: int, size: int, anchor: bytes) -> list[int]:
    """Piece boundaries: about PIECE bytes apart, each at a line beginning with `anchor` (the first
    row of a request's block) so that no block is split; else at a line start."""
    bounds = [skip] if size > skip else []
    target = skip + PIECE
    while target < size - PIECE // 4:
        window = os.pread(fd, 1 << 20, target)
        at = window.find(b"\n" + anchor)
        at = at if at >= 0 else window.find(b"\n")
        if at >= 0:
            bounds.append(target + at + 1)
        target = (bounds[-1] if at >= 0 else target) + PIECE
    if bounds:
        bounds.append(size)
    return bounds


# --- the fast path: lines -> requests -------------------------------------------------------------


def _read_piece(piece: _Piece, fmt: _CsvFormat | _JsonFormat, last: bool) -> _Raw:
    out = _Raw()
    fmt.prepare(piece)
    letters = piece.probe(fmt.probe)  # the http_req_* names differ in this byte
    dur = np.flatnonzero(letters == ord("d"))
    if not last and len(dur) and dur[-1] + SIBLING_OFFSETS[-1] >= len(piece.starts):
        raise _Layout  # a block runs past the piece: the anchor did not start blocks
    if len(dur):
        part = _requests(piece, fmt, dur)
        if part is not None:
            out.parts.append(part)
    fmt.extras(piece, out)
    out.foreign = int(np.count_nonzero(~_ROW_START[piece.probe(0)]))
    return out


# A k6 row begins with a metric name ([A-Za-z_], k6 enforces it) in CSV, with `{` in JSON.
_ROW_START = np.zeros(256, bool)
_ROW_START[[*range(ord("a"), ord("z") + 1), *range(ord("A"), ord("Z") + 1), ord("_"), ord("{")]] = True


def _requests(piece: _Piece, fmt: _CsvFormat | _JsonFormat, cand: np.ndarray) -> _Part | None:
    """The requests of a piece, from its `http_req_duration` lines (among the candidate lines) and
    their siblings. Lines are handled in groups whose timestamps have one length (usually one group
    for CSV, a few for JSON's RFC 3339 times with trailing zeros trimmed)."""
    prefix, before = fmt.prefix(DURATION), fmt.before
    width, stop = len(prefix) + len(before) + 13, fmt.time_stop
    start = piece.starts[cand]
    known = np.flatnonzero(piece.has(start[:16], prefix))
    if not len(known):
        known = np.flatnonzero(piece.has(start, prefix))[:1]
        if not len(known):
            return None
    first = int(piece.field_length(start[known[:1]] + len(prefix), stop)[0])
    window = piece.windows(start, width + first)
    is_dur = (window[:, :len(prefix)] == np.frombuffer(prefix, np.uint8)).all(axis=1)
    regular = (is_dur & (window[:, len(prefix):len(prefix) + first] != stop).all(axis=1)
               & (window[:, len(prefix) + first:len(prefix) + first + len(before)] == np.frombuffer(before, np.uint8)).all(axis=1))
    if regular.all():
        groups = [(cand, first, window)]
    else:
        groups = [(cand[regular], first, window[regular])]
        odd = cand[is_dur & ~regular]
        if len(odd):
            stamp = piece.field_length(piece.starts[odd] + len(prefix), stop)
            for k in np.unique(stamp):
                lines = odd[stamp == k]
                groups.append((lines, int(k), piece.windows(piece.starts[lines], width + int(k))))
    found = [_group(piece, fmt, lines, k, w) for lines, k, w in groups if len(lines)]
    if len(found) == 1:
        values = found[0]
    else:
        order = np.argsort(np.concatenate([f["line"] for f in found]), kind="stable")
        values = {key: np.concatenate([f[key] for f in found])[order] for key in found[0]}
    tails = piece.views(values["tail"], values["tail_end"] - values["tail"], pa.binary_view())
    meta = (piece.offset + values["meta"], (values["meta_end"] - values["meta"]).astype(np.int16))
    siblings = [values[m] for m in SIBLINGS]
    return _part(values["end_ns"], values["latency"], siblings, fmt.tags(tails), meta)


def _group(piece: _Piece, fmt: _CsvFormat | _JsonFormat, dur: np.ndarray, stamp: int,
           window: np.ndarray) -> dict[str, np.ndarray]:
    """Duration lines whose timestamps are `stamp` bytes long; `window` holds each one's first bytes,
    through 13 bytes of its value. Siblings are found by line offset; as they repeat the duration
    line's timestamp and tags, their value's position and length follow from their line's length."""
    prefix, before = fmt.prefix(DURATION), fmt.before
    start, n_lines = piece.starts[dur], len(piece.starts)
    at = len(prefix) + stamp + len(before)
    head = window[:, at:]
    hit = head == ord(",")
    size = hit.argmax(axis=1)
    long = ~hit[np.arange(len(dur)), size]
    value = start + at
    if long.any():
        size[long] = piece.field_length(value[long], ord(","), 40)
    values = {"line": dur, "latency": piece.numbers(value, size, head),
              "end_ns": fmt.times(piece, start + len(prefix), stamp, window[:, len(prefix):])}
    line_size = piece.ends[dur] - start
    pos, length, which, rows = [], [], [], []
    for i, (name, offset) in enumerate(zip(SIBLINGS, SIBLING_OFFSETS)):
        own = fmt.prefix(name)
        line = dur + offset
        here = np.flatnonzero(line < n_lines)
        line = line[here]
        if not (piece.probe(fmt.probe)[line] == own[fmt.probe]).all():
            raise _Layout
        pos.append(piece.starts[line] + len(own) + stamp + len(before))
        length.append(piece.ends[line] - piece.starts[line] - line_size[here] + len(prefix) - len(own) + size[here])
        which.append(np.full(len(here), i))
        rows.append(here)
    pos, length = np.concatenate(pos), np.concatenate(length)
    # the name's distinctive letter (above) and the comma right after the value, where the line's
    # length says it ends, pin each sibling down (JSON: also the `","value":` before it)
    if not ((length > 0) & (length < 40)).all() or not (piece.bytes_at(pos + length) == ord(",")).all() or (
            len(before) > 1 and not (piece.has(pos - len(before), before)).all()):
        raise _Layout
    numbers = piece.numbers(pos, length)
    which, rows = np.concatenate(which), np.concatenate(rows)
    for i, name in enumerate(SIBLINGS):
        out = values[name] = np.full(len(dur), np.nan)
        mine = which == i
        out[rows[mine]] = numbers[mine]
    end = piece.ends[dur]
    end = end - (piece.bytes_at(end - 1) == 13)
    values["tail"], values["tail_end"], values["meta"], values["meta_end"] = fmt.split_tail(piece, value + size, end)
    return values


def _failed_check_lines(piece: _Piece, lines: np.ndarray, prefix: bytes, stop: int, gap: int) -> np.ndarray:
    """Of the candidate `lines`, those of checks that failed (value 0): the value is `gap` bytes after
    the timestamp, which ends at `stop`. Cheap when timestamps have the first one's length."""
    lines = lines[piece.has(piece.starts[lines], prefix)]
    if not len(lines):
        return lines
    start = piece.starts[lines] + len(prefix)
    k = int(piece.field_length(start[:1], stop)[0])
    regular = piece.bytes_at(start + k) == stop
    zero = lines[regular & (piece.bytes_at(start + k + gap) == ord("0"))]
    odd = lines[~regular]
    if len(odd):
        at = piece.starts[odd] + len(prefix)
        zero = np.sort(np.concatenate([zero, odd[piece.bytes_at(at + piece.field_length(at, stop) + gap) == ord("0")]]))
    return zero


def _part(end_ns: np.ndarray, latency: np.ndarray, siblings: list[np.ndarray], tags: dict[str, _Codes],
          meta: pa.Array | tuple[np.ndarray, np.ndarray] | None) -> _Part:
    blocked, connecting, tls, waiting = siblings
    start_ns = end_ns - np.round((latency + np.nan_to_num(blocked)) * 1e6).astype(np.int64)
    whole = bool(len(end_ns)) and not (end_ns % 1_000_000_000).any()
    return _Part(start_ns, latency, waiting, connecting + np.nan_to_num(tls), whole, tags, meta)


def _digits(text: np.ndarray) -> np.ndarray:
    """Rows of ASCII digits (n x k, k <= 18) -> int64, exactly (in parts of at most 9 digits, which
    float64 holds exactly); _Layout if a byte is not a digit."""
    digits = text.astype(np.float64) - 48
    if not ((digits >= 0) & (digits <= 9)).all():
        raise _Layout
    out = np.zeros(len(text), np.int64)
    for at in range(0, text.shape[1], 9):
        part = digits[:, at:at + 9]
        out = out * 10 ** part.shape[1] + (part @ 10.0 ** np.arange(part.shape[1] - 1, -1, -1)).astype(np.int64)
    return out


def _tag_codes(tails: pa.Array, known: dict[bytes, tuple], parse: Callable[[list[bytes]], list[tuple]],
               tags: list[str]) -> dict[str, _Codes]:
    """Raw tag texts -> per-tag codes. Texts repeat from request to request, so they are
    dictionary-encoded as bytes and only the distinct texts not seen in earlier pieces are parsed."""
    encoded = pc.dictionary_encode(tails)
    distinct = encoded.dictionary.to_pylist()
    new = [t for t in distinct if t not in known]
    parsed = dict(zip(new, parse(new))) if new else {}
    if len(known) < 10_000:
        known.update(parsed)
    rows = [parsed[t] if t in parsed else known[t] for t in distinct]
    codes = encoded.indices.to_numpy()
    return {tag: _categories(codes, [row[i] for row in rows]) for i, tag in enumerate(tags)}


def _categories(indices: np.ndarray, values: Sequence[object]) -> _Codes:
    dtype = np.int8 if len(values) < 128 else np.int16 if len(values) < 32768 else np.int32
    return np.asarray(indices, dtype), ["" if v is None else str(v) for v in values] or [""]


# --- timestamps -----------------------------------------------------------------------------------


def _time_scale(first: str) -> int | None:
    """ns per unit of a numeric k6 timestamp (K6_CSV_TIME_FORMAT unix/unix_milli/_micro/_nano), or
    None for RFC 3339 text."""
    if not first.isdigit():
        return None
    digits = len(first)
    return 1 if digits >= 18 else 1_000 if digits >= 15 else 1_000_000 if digits >= 12 else 1_000_000_000


def _to_ns(values: pa.Array | pa.ChunkedArray, scale: int | None) -> np.ndarray:
    """k6 times -> int64 ns since the epoch; raises an arrow error on a value it cannot read."""
    if scale is not None:
        ints = values if pa.types.is_integer(values.type) else pc.cast(values, pa.int64())
        return np.asarray(ints.to_numpy(zero_copy_only=False), np.int64) * scale
    if values.type == pa.string_view():
        values = pc.cast(values, pa.string())
    stamps = pc.cast(pc.cast(values, pa.string()), pa.timestamp("ns", "UTC"))
    return np.asarray(pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False), np.int64)


def _ns_or_layout(values: pa.Array, scale: int | None) -> np.ndarray:
    try:
        return _to_ns(values, scale)
    except _ERRORS:
        raise _Layout from None


# --- CSV ------------------------------------------------------------------------------------------


class _CsvFormat:
    """A k6 CSV: its header decides the columns; the first timestamp decides the time format."""

    anchor = b"http_reqs,"
    probe = 9  # http_req_duration / _blocked / _connecting / _tls… / _waiting: d b c t w
    time_stop = ord(",")
    before = b","

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            line = fh.readline()
            first = fh.readline()
        try:
            header = line.decode("utf-8").rstrip("\r\n").split(",")
        except UnicodeDecodeError:
            raise IngestError(f"{path}: the header is not UTF-8 text", hint=HINT) from None
        if header[:3] != ["metric_name", "timestamp", "metric_value"] or len(set(header)) != len(header):
            raise IngestError(f"{path}: not a k6 CSV header: {line[:120].decode('utf-8', 'replace')!r}", hint=HINT)
        self.header, self.skip = header, len(line)
        self.scale = _time_scale(first.split(b",", 2)[1].decode("utf-8", "replace") if first.count(b",") >= 2 else "")
        self.rename = {t: t for t in TAGS if t in header}  # column -> tag; `name` falls back to `url`
        if "name" not in self.rename and "url" in header:
            self.rename["url"] = "name"
        self.columns = ["metric_name", "timestamp", "metric_value", *self.rename,
                        *[c for c in ("check", "metadata") if c in header]]
        self.meta_last = header[-1] == "metadata"
        tail_columns = header[3:-1] if self.meta_last else header[3:]
        self.read_rows = _csv_reader(header, {c: pa.float64() if c == "metric_value" else pa.string()
                                              for c in self.columns})
        self.read_tails = _csv_reader(tail_columns, {c: pa.string() for c in self.rename})
        self.known: dict[bytes, tuple] = {}

    @staticmethod
    def prefix(metric: str) -> bytes:
        return metric.encode() + b","

    def complete(self, line: bytes) -> bool:
        try:
            self.read_rows(pa.py_buffer(line + b"\n"))
        except _Layout:
            return False
        return True

    def prepare(self, piece: _Piece) -> None:
        pass

    def times(self, piece: _Piece, pos: np.ndarray, stamp: int, head: np.ndarray) -> np.ndarray:
        if self.scale is not None and stamp <= 18:  # digits: read them as a number right here
            return _digits(head[:, :stamp]) * self.scale
        return _ns_or_layout(piece.views(pos, np.full(len(pos), stamp, np.int32), head=head), self.scale)

    def split_tail(self, piece: _Piece, value_end: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
        """(tags start, tags end, metadata start, metadata end) after a value ending at `value_end`."""
        if not self.meta_last:
            return value_end + 1, end, end, end
        comma = piece.last_byte(end, ord(","), 32)
        far = comma < 0
        if far.any():
            comma[far] = piece.last_byte(end[far], ord(","), PAD)
        if not (comma >= value_end).all():
            raise _Layout
        return value_end + 1, comma, comma + 1, end

    def tags(self, tails: pa.Array) -> dict[str, _Codes]:
        """Tag columns from the raw text after the value: only distinct tails not seen before are parsed."""
        if not self.rename:
            return {}

        def parse(new: list[bytes]) -> list[tuple]:
            table = self.read_tails(pa.py_buffer(b"\n".join(new) + b"\n"))
            if table.num_rows != len(new):
                raise _Layout
            return list(zip(*(table[column].to_pylist() for column in self.rename)))

        return _tag_codes(tails, self.known, parse, list(self.rename.values()))

    def extras(self, piece: _Piece, out: _Raw) -> None:
        """Failed checks and `vus` gauges. Their lines have a digit in the probed byte (a timestamp's)."""
        letters = piece.probe(self.probe)
        lines = np.flatnonzero((letters >= ord("0")) & (letters <= ord("9")))
        first = piece.probe(0)[lines]
        zero = _failed_check_lines(piece, lines[first == ord("c")], b"checks,", ord(","), 1)
        if len(zero):
            out.check_lines.append(piece.gather(zero).to_pybytes())
        vus = lines[first == ord("v")]
        vus = vus[piece.has(piece.starts[vus], b"vus,")]
        if len(vus):
            out.vus_lines.append(piece.gather(vus).to_pybytes())

    def rows(self, buffer: pa.Buffer) -> pa.Table:
        """Whole lines -> metric, time, value and the other columns ingest reads."""
        rows = self.read_rows(buffer)
        return rows.rename_columns([{"metric_name": "metric", "timestamp": "time", "metric_value": "value"}.get(c, c)
                                    for c in rows.column_names])


def _csv_reader(names: list[str], types: dict[str, pa.DataType]) -> Callable[[pa.Buffer], pa.Table]:
    """Parse header-less k6 CSV lines with the given column names; _Layout on anything unexpected."""

    def refuse(row: object) -> str:
        return "error"

    read_options = pacsv.ReadOptions(column_names=names, block_size=1 << 22)
    parse_options = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=refuse)
    convert_options = pacsv.ConvertOptions(include_columns=list(types), column_types=types,
                                           strings_can_be_null=False, quoted_strings_can_be_null=False)

    def read(buffer: pa.Buffer) -> pa.Table:
        try:
            return pacsv.read_csv(pa.BufferReader(buffer), read_options, parse_options, convert_options)
        except _ERRORS:
            raise _Layout from None

    return read


def _add_failed_checks(raw: _Raw, rows: pa.Table) -> None:
    rows = rows.filter(pc.equal(rows["value"], 0.0))
    if not rows.num_rows:
        return
    names, check = _column(rows, "name", "url"), _column(rows, "check")
    if "metadata" in rows.column_names:
        vu, it = _meta_field(rows["metadata"], "vu"), _meta_field(rows["metadata"], "iter")
    else:
        vu, it = _column(rows, "vu"), _column(rows, "iter")
    raw.failed_checks += zip(vu, it, names, check)


def _column(rows: pa.Table, *names: str) -> list[str]:
    for name in names:
        if name in rows.column_names:
            return [v or "" for v in rows[name].to_pylist()]
    return [""] * rows.num_rows


def _meta_field(meta: pa.Array | pa.ChunkedArray, key: str) -> list[str]:
    """`vu=1&iter=0` (CSV; key order varies per row) or `{"vu":"1","iter":"0"}` (JSON) -> `key`'s value."""
    extracted = pc.extract_regex(pc.fill_null(meta, ""), rf'(?:^|[&{{,])"?{key}"?[=:]"?(?P<v>[^&",}}]*)')
    return [v or "" for v in pc.struct_field(extracted, "v").to_pylist()]


# --- JSON -----------------------------------------------------------------------------------------

_TAG_SCHEMA = pa.struct([(t, pa.string()) for t in (*TAGS, "check", "url")])
_POINT_SCHEMA = pa.schema([
    ("metric", pa.string()),
    ("type", pa.string()),
    ("data", pa.struct([("time", pa.string()), ("value", pa.float64()), ("tags", _TAG_SCHEMA),
                        ("metadata", pa.struct([("vu", pa.string()), ("iter", pa.string())]))])),
])


def _json_table(buffer: pa.Buffer, schema: pa.Schema) -> pa.Table:
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    return pajson.read_json(pa.BufferReader(buffer), pajson.ReadOptions(block_size=1 << 22), options)


def _flatten_points(table: pa.Table) -> pa.Table:
    data = table["data"].combine_chunks()
    tags, meta = data.field("tags"), data.field("metadata")
    return pa.table({"metric": table["metric"], "type": table["type"], "time": data.field("time"),
                     "value": data.field("value"), "name": pc.coalesce(tags.field("name"), tags.field("url")),
                     **{t: tags.field(t) for t in (*TAGS[1:], "check")},
                     "vu": meta.field("vu"), "iter": meta.field("iter")})


class _JsonFormat:
    """k6's JSON lines: `{"metric":"NAME","type":"Point","data":{"time":"…","value":V,"tags":{…}[,"metadata":{…}]}}`."""

    skip = 0
    anchor = b'{"metric":"http_reqs","type":"Point"'
    probe = 20  # the byte of `{"metric":"http_req_X` where the http_req_* names differ
    time_stop = ord('"')
    before = b'","value":'

    def __init__(self) -> None:
        self.known: dict[bytes, tuple] = {}

    @staticmethod
    def prefix(metric: str) -> bytes:
        return b'{"metric":"' + metric.encode() + b'","type":"Point","data":{"time":"'

    @staticmethod
    def complete(line: bytes) -> bool:
        try:
            return isinstance(json.loads(line), dict)
        except ValueError:
            return False

    scale = None

    @staticmethod
    def rows(buffer: pa.Buffer) -> pa.Table:
        try:
            return _flatten_points(_json_table(buffer, _POINT_SCHEMA))
        except _ERRORS:
            raise _Layout from None

    def prepare(self, piece: _Piece) -> None:
        """k6 writes a metric's {"type":"Metric"} line just before its first point, inside a block."""
        lines = np.flatnonzero(piece.probe(2) == ord("t"))
        described = lines[piece.has(piece.starts[lines], b'{"type":"Metric"')]
        if len(described):
            piece.drop_lines(described)

    def times(self, piece: _Piece, pos: np.ndarray, stamp: int, head: np.ndarray) -> np.ndarray:
        return _ns_or_layout(piece.views(pos, np.full(len(pos), stamp, np.int32), head=head), None)

    def split_tail(self, piece: _Piece, value_end: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
        """(tags start, tags end, metadata start, metadata end): `,"tags":{…}` then, if present,
        `,"metadata":{…}` (its `{` is the line's last, within 64 bytes of the end), then `}}`."""
        if not piece.has(end - 2, b"}}").all():
            raise _Layout
        brace = piece.last_byte(end, ord("{"), 64)
        with_meta = (brace >= 0) & piece.has(brace - 12, b',"metadata":')
        meta = np.where(with_meta, brace, end - 2)
        return value_end, np.where(with_meta, brace - 12, end - 2), meta, end - 2

    def tags(self, tails: pa.Array) -> dict[str, _Codes]:
        """Tags from the raw `,"tags":{…}` text after the value: only distinct ones not seen before are
        parsed."""

        def parse(new: list[bytes]) -> list[tuple]:
            if any(not t.startswith(b',"tags":{') or b'"metadata":' in t for t in new):
                raise _Layout
            try:
                table = _json_table(pa.py_buffer(b"".join(b"{" + t[1:] + b"}\n" for t in new)),
                                    pa.schema([("tags", _TAG_SCHEMA)]))
            except _ERRORS:
                raise _Layout from None
            if table.num_rows != len(new):
                raise _Layout
            tags = table["tags"].combine_chunks()
            columns = {t: tags.field(t) for t in TAGS}
            columns["name"] = pc.coalesce(columns["name"], tags.field("url"))
            return list(zip(*(columns[t].to_pylist() for t in TAGS)))

        return _tag_codes(tails, self.known, parse, list(TAGS))

    def extras(self, piece: _Piece, out: _Raw) -> None:
        """Failed checks and `vus` gauges (`{"metric":"checks","t…` / `{"metric":"vus","type…`)."""
        letters = piece.probe(self.probe)
        lines = np.flatnonzero((letters == ord("t")) | (letters == ord("e")))
        first = piece.bytes_at(piece.starts[lines] + 11)
        zero = _failed_check_lines(piece, lines[first == ord("c")], self.prefix("checks"), ord('"'), len(self.before))
        if len(zero):
            out.check_lines.append(piece.gather(zero).to_pybytes())
        vus = lines[first == ord("v")]
        vus = vus[piece.has(piece.starts[vus], self.prefix("vus"))]
        if len(vus):
            out.vus_lines.append(piece.gather(vus).to_pybytes())


# --- the general path -----------------------------------------------------------------------------

_NEEDED = ["http_reqs", DURATION, *SIBLINGS, "checks", "vus"]  # codes 0..7
_METRICS = pa.array(_NEEDED)


@dataclass
class _Rows:
    """What the general path keeps of each batch of rows: for every row of a needed metric its metric
    code, row number and value; for duration rows their time and tags; failed checks; vus gauges."""

    code: list[np.ndarray] = field(default_factory=list)
    row: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)
    durations: list[tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, _Codes], pa.Array | None]] = field(
        default_factory=list)  # per batch: rows, end ns, latency, tags, vu/iter texts
    raw: _Raw = field(default_factory=_Raw)
    skipped: int = 0
    first_skipped: str = ""
    dropped: int = 0
    number: int = 0

    def skip(self, text: str) -> None:
        self.skipped += 1
        self.first_skipped = self.first_skipped or text

    def add(self, table: pa.Table, scale: int | None) -> None:
        """A batch with columns metric, time, value (text or number), the tags, metadata or vu/iter."""
        rows = np.arange(self.number, self.number + table.num_rows)
        self.number += table.num_rows
        code = pc.fill_null(pc.index_in(table["metric"], value_set=_METRICS), -1).to_numpy()
        if "type" in table.column_names:
            code = np.where(pc.fill_null(pc.equal(table["type"], "Point"), False).to_numpy(zero_copy_only=False),
                            code, -1)
        keep = np.flatnonzero(code >= 0)
        table, code, rows = table.take(pa.array(keep)), code[keep].astype(np.int8), rows[keep]
        value = _numbers(table["value"])
        self.code.append(code)
        self.row.append(rows)
        self.value.append(value)
        for wanted, handle in ((1, self._durations), (6, self._checks), (7, self._gauges)):
            mine = np.flatnonzero(code == wanted)
            if len(mine):
                handle(table.take(pa.array(mine)), rows[mine], value[mine], scale)

    def _durations(self, table: pa.Table, rows: np.ndarray, value: np.ndarray, scale: int | None) -> None:
        ns, bad = _times(table["time"], scale)
        bad |= np.isnan(value)
        if bad.any():
            self.dropped += int(bad.sum())
            good = np.flatnonzero(~bad)
            table, rows, value, ns = table.take(pa.array(good)), rows[good], value[good], ns[good]
        tags = {}
        for tag in TAGS:
            if tag in table.column_names:
                encoded = pc.dictionary_encode(pc.fill_null(table[tag], "")).combine_chunks()
                tags[tag] = _categories(encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist())
        if "metadata" in table.column_names:
            meta = pc.fill_null(table["metadata"], "").combine_chunks()
        elif "vu" in table.column_names:
            meta = pc.binary_join_element_wise("vu=", pc.fill_null(table["vu"], ""), "&iter=",
                                               pc.fill_null(table["iter"], ""), "").combine_chunks()
        else:
            meta = None
        self.durations.append((rows, ns, value, tags, meta))

    def _checks(self, table: pa.Table, rows: np.ndarray, value: np.ndarray, scale: int | None) -> None:
        failed = np.flatnonzero(value == 0.0)
        if len(failed):
            _add_failed_checks(self.raw, table.take(pa.array(failed)).set_column(
                table.column_names.index("value"), "value", pa.array(value[failed])))

    def _gauges(self, table: pa.Table, rows: np.ndarray, value: np.ndarray, scale: int | None) -> None:
        ns, bad = _times(table["time"], scale)
        good = ~bad & ~np.isnan(value)
        self.raw.vus_ns.append(ns[good])
        self.raw.vus_value.append(value[good])


def _read_csv_general(path: Path, fmt: _CsvFormat) -> _Raw:
    rows = _Rows()

    def invalid(row: pacsv.InvalidRow) -> str:
        rows.skip(row.text or "")
        return "skip"

    notes = []
    names = {"metric_name": "metric", "timestamp": "time", "metric_value": "value", **fmt.rename}
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 24, skip_rows=1, column_names=fmt.header),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(include_columns=fmt.columns,
                                                 column_types={c: pa.binary() for c in fmt.columns},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        for batch in reader:
            table = pa.Table.from_batches([batch])
            rows.add(_utf8(table.rename_columns([names.get(c, c) for c in table.column_names])), fmt.scale)
    except pa.ArrowInvalid as exc:
        notes.append(f"{path.name}: stopped reading at a malformed row ({exc}); the rows before it are kept")
    raw = _from_rows(rows, path)
    raw.notes[:0] = notes
    return raw


def _utf8(table: pa.Table) -> pa.Table:
    """Binary columns -> strings; bytes that are not UTF-8 become U+FFFD instead of failing."""
    out = {}
    for name in table.column_names:
        column = table[name]
        if pa.types.is_binary(column.type):
            try:
                column = pc.cast(column, pa.string())
            except pa.ArrowInvalid:
                column = pa.array([None if v is None else v.decode("utf-8", "replace") for v in column.to_pylist()],
                                  pa.string())
        out[name] = column
    return pa.table(out)


def _read_json_general(path: Path) -> _Raw:
    rows = _Rows()
    with path.open("rb") as fh:
        while True:
            data = fh.read(1 << 23)
            if not data:
                break
            if not data.endswith(b"\n"):
                data += fh.readline()
            try:
                table = _flatten_points(_json_table(pa.py_buffer(data), _POINT_SCHEMA))
            except _ERRORS:
                table = _json_lines(data, rows)
            rows.add(table, None)
    return _from_rows(rows, path)


def _json_lines(data: bytes, rows: _Rows) -> pa.Table:
    """Line by line, for a piece pyarrow refused: broken lines are skipped and counted."""
    records = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            body = doc["data"]
            tags, meta, value = body.get("tags") or {}, body.get("metadata") or {}, body.get("value")
            point = doc.get("type") == "Point"
            if not isinstance(doc["metric"], str) or point and (isinstance(value, bool) or not isinstance(
                    value, int | float) or not isinstance(body.get("time"), str)):
                raise TypeError
            records.append({"metric": doc["metric"], "type": doc.get("type"), "time": body.get("time"),
                            "value": float(value) if point else None,
                            "name": _text(tags.get("name", tags.get("url"))),
                            **{t: _text(tags.get(t)) for t in (*TAGS[1:], "check")},
                            "vu": _text(meta.get("vu")), "iter": _text(meta.get("iter"))})
        except (ValueError, TypeError, KeyError, AttributeError):
            rows.skip(line[:60].decode("utf-8", "replace"))
    schema = pa.schema([("metric", pa.string()), ("type", pa.string()), ("time", pa.string()),
                        ("value", pa.float64()), *[(t, pa.string()) for t in (*TAGS, "check", "vu", "iter")]])
    return pa.Table.from_pylist(records, schema)


def _text(value: object) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _from_rows(rows: _Rows, path: Path) -> _Raw:
    """The kept rows -> _Raw: a request's siblings are found inside its block of rows (from its
    `http_reqs` row to the next one; if the file has no such rows, from its duration row on)."""
    raw = rows.raw
    if rows.skipped:
        raw.notes.append(f"{path.name}: skipped {rows.skipped} malformed row{'s' if rows.skipped > 1 else ''} "
                         f"(first: {rows.first_skipped[:60]!r}); every complete row is kept")
    if rows.dropped:
        raw.notes.append(f"{path.name}: dropped {rows.dropped} {DURATION} row(s) with an unreadable time or value")
    if not rows.durations:
        return raw
    code, row, value = (np.concatenate(x) for x in (rows.code, rows.row, rows.value))
    rows.code, rows.row, rows.value = [], [], []
    dur_rows = np.concatenate([d[0] for d in rows.durations])
    anchors = row[code == 0]
    if len(anchors) != int((code == 1).sum()):  # not k6's usual blocks
        anchors = dur_rows
    dur_block = np.searchsorted(anchors, dur_rows, side="right") - 1
    siblings = []
    for i, _ in enumerate(SIBLINGS, start=2):
        mine = np.flatnonzero((code == i) & ~np.isnan(value))
        first_block, first = np.unique(np.searchsorted(anchors, row[mine], side="right") - 1, return_index=True)
        at = np.minimum(np.searchsorted(first_block, dur_block), max(len(first_block) - 1, 0))
        found = first_block[at] == dur_block if len(first_block) else np.zeros(len(dur_rows), bool)
        out = np.full(len(dur_rows), np.nan)
        out[found] = value[mine[first[at[found]]]]
        siblings.append(out)
    lo = 0
    for batch_rows, ns, latency, tags, meta in rows.durations:
        hi = lo + len(batch_rows)
        raw.parts.append(_part(ns, latency, [s[lo:hi] for s in siblings], tags, meta))
        lo = hi
    rows.durations = []
    return raw


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_floating(column.type):
        return pc.fill_null(column, np.nan).to_numpy()
    try:
        return pc.cast(column, pa.float64()).to_numpy()
    except _ERRORS:
        return pd.to_numeric(pd.Series(column.to_numpy(), dtype=object), errors="coerce").to_numpy(dtype=float)


def _times(column: pa.ChunkedArray, scale: int | None) -> tuple[np.ndarray, np.ndarray]:
    """-> (int64 ns, unreadable mask); unreadable times are 0 and flagged."""
    column = pc.fill_null(column, "")
    try:
        return _to_ns(column, scale), np.zeros(len(column), bool)
    except _ERRORS:
        pass
    if scale is not None:
        good = pc.match_substring_regex(column, r"^[0-9]{1,19}$")
        return _to_ns(pc.if_else(good, column, "0"), scale), ~good.to_numpy()
    stamps = pd.to_datetime(pd.Series(column.to_numpy(), dtype=object), utc=True, format="ISO8601", errors="coerce")
    bad = stamps.isna().to_numpy()
    return stamps.where(~bad, pd.Timestamp(0, tz="UTC")).dt.as_unit("ns").astype("int64").to_numpy(), bad


# --- parts -> frame columns -----------------------------------------------------------------------


def _assemble(raw: _Raw, path: Path, worker: str) -> tuple[dict | None, list[str]]:
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
    failed = _failed_requests(raw, parts, tags["name"])
    untied = sum(1 for vu, it, _, _ in raw.failed_checks if not vu or not it)
    if untied:
        notes.append(f"{path.name}: {untied} failed check{'s' if untied > 1 else ''} could not be tied to "
                     "requests (no vu/iter in the file); those requests keep k6's own verdict — run k6 with "
                     "--system-tags including vu,iter (perforch does)")
    for p in parts:
        p.meta = None
    if failed:
        ok[list(failed)] = False
        error = _with_check_errors(error, failed)
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


def _compact(parts: list[_Part]) -> list[_Part]:
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
    return [_Part(numbers["start_ns"], numbers["latency"], numbers["ttfb"], numbers["connect"], whole, tags, meta)]


def _merge(parts: list[_Part], name: str) -> np.ndarray:
    merged = np.concatenate([getattr(p, name) for p in parts])
    for p in parts:
        setattr(p, name, None)
    return merged


def _union(parts: list[_Codes | None], sizes: list[int]) -> pd.Categorical:
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


def _failed_requests(raw: _Raw, parts: list[_Part], label: pd.Categorical) -> dict[int, str]:
    """Row -> "check failed: <first failed check>" for requests whose (vu, iter, label) failed a check.
    Only requests with a label that failed a check are looked at: a 64-bit hash of their vu/iter
    text is matched against the hashes of the texts the failed checks imply (both key orders, CSV and
    JSON spelling), and only the hits are read as text and compared exactly."""
    if not raw.failed_checks or all(p.meta is None for p in parts):
        return {}
    failed: dict[tuple[str, str, str], str] = {}
    for vu, it, name, check in raw.failed_checks:
        failed.setdefault((vu, it, name), f"check failed: {check}")
    forms = [form.encode() for vu, it, _ in failed for form in (
        f"vu={vu}&iter={it}", f"iter={it}&vu={vu}", f'{{"vu":"{vu}","iter":"{it}"}}', f'{{"iter":"{it}","vu":"{vu}"}}')]
    known = np.unique(_hash_texts(*_padded(forms)))
    maybe = np.zeros(1 << 22, bool)  # a bitmap of the known hashes' low bits: a cheap first filter
    maybe[(known & np.uint64((1 << 22) - 1)).astype(np.int64)] = True
    names = np.asarray(label.categories, dtype=object)
    wanted = np.isin(names, [k[2] for k in failed])
    rows, metas = [], []
    for part, lo, hi, mine in _candidates(parts, wanted[label.codes]):
        hashes = _meta_hashes(raw, part, mine)
        first = maybe[(hashes & np.uint64((1 << 22) - 1)).astype(np.int64)]
        mine, hashes = mine[first], hashes[first]
        mine = mine[known[np.minimum(np.searchsorted(known, hashes), len(known) - 1)] == hashes]
        if len(mine):
            rows.append(lo + mine)
            metas.append(_metadata(raw, part, mine))
    if not rows:
        return {}
    meta, rows = pa.chunked_array(metas, pa.large_string()), np.concatenate(rows)
    keys = zip(_meta_field(meta, "vu"), _meta_field(meta, "iter"), names[label.codes[rows]])
    return {int(row): failed[key] for row, key in zip(rows, keys) if key in failed}


_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], np.uint64)


def _hash_texts(window: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Texts as rows of 32 bytes (beyond their length: anything) -> a 64-bit hash of each one's first
    32 bytes and its length."""
    window = window.copy()
    window[np.arange(32) >= length[:, None]] = 0
    h = np.bitwise_xor.reduce(window.view(np.uint64) * _MIX, axis=1) ^ length.astype(np.uint64)
    h ^= h >> np.uint64(31)  # splitmix64's finaliser: every output bit depends on every input bit
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _padded(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    window = np.frombuffer(b"".join(t[:32].ljust(32, b"\0") for t in texts), np.uint8).reshape(len(texts), 32)
    return window, np.array([len(t) for t in texts], np.int64)


def _candidates(parts: list[_Part], wanted: np.ndarray) -> Iterator[tuple[_Part, int, int, np.ndarray]]:
    """(part, its first row, its end, the wanted rows of it), in spans of at most PIECE bytes of the
    file when the part's metadata is there: reading them maps one span at a time."""
    lo = 0
    for part in parts:
        hi = lo + len(part.start_ns)
        mine = np.flatnonzero(wanted[lo:hi])
        if len(mine) and part.meta is not None:
            if isinstance(part.meta, tuple):
                span = part.meta[0][mine] // PIECE
                cuts = np.flatnonzero(np.diff(span)) + 1
                for group in np.split(mine, cuts):
                    yield part, lo, hi, group
            else:
                yield part, lo, hi, mine
        lo = hi


def _meta_hashes(raw: _Raw, part: _Part, rows: np.ndarray) -> np.ndarray:
    if not isinstance(part.meta, tuple):
        return _hash_texts(*_padded([t.encode() for t in _metadata(raw, part, rows).to_pylist()]))
    offsets, lengths = part.meta[0][rows], part.meta[1][rows].astype(np.int64)
    piece = _region(raw.path, offsets, lengths)  # type: ignore[arg-type]
    return _hash_texts(piece.windows(offsets - piece.offset, 32), lengths)


def _metadata(raw: _Raw, part: _Part, rows: np.ndarray) -> pa.Array:
    """vu/iter texts of some of a part's requests (read from the file when the fast path only noted
    where they are)."""
    if not isinstance(part.meta, tuple):
        return pc.fill_null(pc.cast(part.meta, pa.large_string()).take(pa.array(rows)), "")
    offsets, lengths = part.meta[0][rows], part.meta[1][rows].astype(np.int32)
    piece = _region(raw.path, offsets, lengths)  # type: ignore[arg-type]
    texts = pc.cast(piece.views(offsets - piece.offset, lengths, pa.binary_view()), pa.large_binary())
    try:
        return pc.cast(texts, pa.large_string())
    except _ERRORS:
        return pa.array([t.decode("utf-8", "replace") for t in texts.to_pylist()], pa.large_string())


def _region(path: Path, offsets: np.ndarray, lengths: np.ndarray) -> _Piece:
    """The part of the file holding the given fields, as a piece (not scanned for lines)."""
    with path.open("rb") as fh:
        lo, hi = int(offsets.min()), int((offsets + lengths).max())
        piece, _ = _Piece.load(fh.fileno(), lo, hi, os.fstat(fh.fileno()).st_size, scan=False)
    return piece


def _with_check_errors(error: pd.Categorical, failed: dict[int, str]) -> pd.Categorical:
    rows = np.array(list(failed))
    rows = rows[np.asarray(error.categories, dtype=object)[error.codes[rows]] == ""]
    if not len(rows):
        return error
    texts = [failed[int(r)] for r in rows]
    error = error.add_categories(sorted(set(texts) - set(error.categories)))
    error[rows] = texts
    return error


def _vus_at(raw: _Raw, start_ns: np.ndarray) -> pd.arrays.IntegerArray:
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
