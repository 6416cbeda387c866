"""The fast path: a k6 CSV or JSON output read by position, with numpy, over the mapped file.

It never parses most of the file. It maps it in pieces (ingest.PIECE: 16 MB) cut where a request's
block starts (pieces run on all cores), finds line starts with numpy, the `http_req_duration` lines
by one probed byte (the http_req_* names differ in their 10th), then their whole prefix, and their
siblings at fixed line offsets (blocked +1, connecting +2, TLS +3, waiting +5). A sibling repeats
the duration line's timestamp and tags, so its value's position and length follow from its line's
length. Fields are read as arrow view arrays over the mapped bytes and cast by arrow. The tags after
the value repeat from request to request: they are dictionary-encoded as raw bytes and only texts
not seen before are parsed (pyarrow, with the file's own header). Failed checks (value 0) and `vus`
gauges are few and parsed whole; a request's vu/iter text is only located, and read back from the
file if some check with its label failed. Every assumption is checked where it is used (the probed
byte of each sibling, the separators around each field, the parse of every value); any surprise
raises Layout, and the whole file goes to the general path (_general.py).

Where each field sits in a line is the format's business (_formats.py).
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from perforch.adapters.k6._raw import (ARROW_ERRORS, DURATION, SIBLING_OFFSETS, SIBLINGS, Layout, Part, Raw,
                                       add_failed_checks, make_part, ns_or_layout)

if TYPE_CHECKING:
    from perforch.adapters.k6._formats import Format

PAD = 128  # readable bytes before and after a piece: windows (<= PAD wide, from at most PAD before a
# line start) never leave the buffer, so they need no bounds checks
_SCAN = 1 << 20  # bytes searched for newlines at a time
_local = threading.local()  # per thread: the newline mask for _SCAN bytes


# --- pieces of a file -----------------------------------------------------------------------------


def read(path: Path, fmt: Format, piece_bytes: int) -> Raw:
    """Pieces of the file (about `piece_bytes` each) read on all cores; each piece's requests in file
    order. Layout if the file is not as expected."""
    raw = Raw(path=path)
    with path.open("rb") as fh:
        fd, size = fh.fileno(), os.fstat(fh.fileno()).st_size
        bounds = _bounds(fd, fmt.skip, size, fmt.anchor, piece_bytes)

        def work(i: int) -> Raw:
            piece, dropped = Piece.load(fd, bounds[i], bounds[i + 1], size, fmt.complete)
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
        add_failed_checks(raw, fmt.rows(pa.py_buffer(b"".join(raw.check_lines))))
    if raw.vus_lines:
        rows = fmt.rows(pa.py_buffer(b"".join(raw.vus_lines)))
        raw.vus_ns.append(ns_or_layout(rows["time"], fmt.scale))
        raw.vus_value.append(rows["value"].to_numpy())
    return raw


def _bounds(fd: int, skip: int, size: int, anchor: bytes, piece_bytes: int) -> list[int]:
    """Piece boundaries: about `piece_bytes` apart, each at a line beginning with `anchor` (the first
    row of a request's block) so that no block is split; else at a line start."""
    bounds = [skip] if size > skip else []
    target = skip + piece_bytes
    while target < size - piece_bytes // 4:
        window = os.pread(fd, 1 << 20, target)
        at = window.find(b"\n" + anchor)
        at = at if at >= 0 else window.find(b"\n")
        if at >= 0:
            bounds.append(target + at + 1)
        target = (bounds[-1] if at >= 0 else target) + piece_bytes
    if bounds:
        bounds.append(size)
    return bounds


class Piece:
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
             scan: bool = True) -> tuple[Piece, bytes | None]:
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
        """Length of the field at each `pos`, up to the byte `stop`; Layout if it is not closed within
        `width` bytes or its line ends first."""
        window = self.windows(pos, width)
        length = ((window == stop) | (window == 10)).argmax(axis=1)
        if len(pos) and not (window[np.arange(len(pos)), length] == stop).all():
            raise Layout
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
        except ARROW_ERRORS:
            raise Layout from None

    def gather(self, lines: np.ndarray) -> pa.Buffer:
        """Whole lines (with their newlines) copied into one buffer."""
        starts = self.starts[lines]
        joined = pc.cast(self.views(starts, self.ends[lines] - starts + 1, pa.binary_view()), pa.large_binary())
        return joined.buffers()[2] or pa.py_buffer(b"")


# --- lines -> requests ----------------------------------------------------------------------------


def _read_piece(piece: Piece, fmt: Format, last: bool) -> Raw:
    out = Raw()
    fmt.prepare(piece)
    letters = piece.probe(fmt.probe)  # the http_req_* names differ in this byte
    dur = np.flatnonzero(letters == ord("d"))
    if not last and len(dur) and dur[-1] + SIBLING_OFFSETS[-1] >= len(piece.starts):
        raise Layout  # a block runs past the piece: the anchor did not start blocks
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


def _requests(piece: Piece, fmt: Format, cand: np.ndarray) -> Part | None:
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
    return make_part(values["end_ns"], values["latency"], siblings, fmt.tags(tails), meta)


def _group(piece: Piece, fmt: Format, dur: np.ndarray, stamp: int,
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
            raise Layout
        pos.append(piece.starts[line] + len(own) + stamp + len(before))
        length.append(piece.ends[line] - piece.starts[line] - line_size[here] + len(prefix) - len(own) + size[here])
        which.append(np.full(len(here), i))
        rows.append(here)
    pos, length = np.concatenate(pos), np.concatenate(length)
    # the name's distinctive letter (above) and the comma right after the value, where the line's
    # length says it ends, pin each sibling down (JSON: also the `","value":` before it)
    if not ((length > 0) & (length < 40)).all() or not (piece.bytes_at(pos + length) == ord(",")).all() or (
            len(before) > 1 and not (piece.has(pos - len(before), before)).all()):
        raise Layout
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
