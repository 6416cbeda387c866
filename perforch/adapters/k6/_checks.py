"""Failed checks tied to the requests they judged, by vu, iter and the step label."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perforch.adapters.k6._fast import Piece
from perforch.adapters.k6._raw import ARROW_ERRORS, Part, Raw, meta_field


def failed_requests(raw: Raw, parts: list[Part], label: pd.Categorical, span_bytes: int) -> dict[int, str]:
    """Row -> "check failed: <first failed check>" for requests whose (vu, iter, label) failed a check.
    Only requests with a label that failed a check are looked at: a 64-bit hash of their vu/iter
    text is matched against the hashes of the texts the failed checks imply (both key orders, CSV and
    JSON spelling), and only the hits are read as text and compared exactly, from the file when the
    fast path only noted where they are (`span_bytes` of it mapped at a time)."""
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
    for part, lo, mine in _candidates(parts, wanted[label.codes], span_bytes):
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
    keys = zip(meta_field(meta, "vu"), meta_field(meta, "iter"), names[label.codes[rows]])
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


def _candidates(parts: list[Part], wanted: np.ndarray, span_bytes: int) -> Iterator[tuple[Part, int, np.ndarray]]:
    """(part, its first row, the wanted rows of it), in spans of at most `span_bytes` of the
    file when the part's metadata is there: reading them maps one span at a time."""
    lo = 0
    for part in parts:
        hi = lo + len(part.start_ns)
        mine = np.flatnonzero(wanted[lo:hi])
        if len(mine) and part.meta is not None:
            if isinstance(part.meta, tuple):
                span = part.meta[0][mine] // span_bytes
                cuts = np.flatnonzero(np.diff(span)) + 1
                for group in np.split(mine, cuts):
                    yield part, lo, group
            else:
                yield part, lo, mine
        lo = hi


def _meta_hashes(raw: Raw, part: Part, rows: np.ndarray) -> np.ndarray:
    if not isinstance(part.meta, tuple):
        return _hash_texts(*_padded([t.encode() for t in _metadata(raw, part, rows).to_pylist()]))
    offsets, lengths = part.meta[0][rows], part.meta[1][rows].astype(np.int64)
    piece = _region(raw.path, offsets, lengths)  # type: ignore[arg-type]
    return _hash_texts(piece.windows(offsets - piece.offset, 32), lengths)


def _metadata(raw: Raw, part: Part, rows: np.ndarray) -> pa.Array:
    """vu/iter texts of some of a part's requests (read from the file when the fast path only noted
    where they are)."""
    if not isinstance(part.meta, tuple):
        return pc.fill_null(pc.cast(part.meta, pa.large_string()).take(pa.array(rows)), "")
    offsets, lengths = part.meta[0][rows], part.meta[1][rows].astype(np.int32)
    piece = _region(raw.path, offsets, lengths)  # type: ignore[arg-type]
    texts = pc.cast(piece.views(offsets - piece.offset, lengths, pa.binary_view()), pa.large_binary())
    try:
        return pc.cast(texts, pa.large_string())
    except ARROW_ERRORS:
        return pa.array([t.decode("utf-8", "replace") for t in texts.to_pylist()], pa.large_string())


def _region(path: Path, offsets: np.ndarray, lengths: np.ndarray) -> Piece:
    """The part of the file holding the given fields, as a piece (not scanned for lines)."""
    with path.open("rb") as fh:
        lo, hi = int(offsets.min()), int((offsets + lengths).max())
        piece, _ = Piece.load(fh.fileno(), lo, hi, os.fstat(fh.fileno()).st_size, scan=False)
    return piece


def with_check_errors(error: pd.Categorical, failed: dict[int, str]) -> pd.Categorical:
    """Each failed request's "check failed: …" as its error, unless it has an error already."""
    rows = np.array(list(failed))
    rows = rows[np.asarray(error.categories, dtype=object)[error.codes[rows]] == ""]
    if not len(rows):
        return error
    texts = [failed[int(r)] for r in rows]
    error = error.add_categories(sorted(set(texts) - set(error.categories)))
    error[rows] = texts
    return error
