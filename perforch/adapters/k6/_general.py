"""The general path: pyarrow reads every row of a k6 CSV or JSON output tolerantly.

Malformed rows are skipped and counted, bad numbers dropped, invalid UTF-8 replaced, and a
request's siblings are found inside its block of rows (from its `http_reqs` row to the next one)
rather than by position. The fast path (_fast.py) sends here every file that surprises it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from perforch.adapters.k6._formats import POINT_SCHEMA, CsvFormat, flatten_points, json_table
from perforch.adapters.k6._raw import (ARROW_ERRORS, DURATION, SIBLINGS, TAGS, Codes, Raw, add_failed_checks,
                                       categories, make_part, to_ns)

_NEEDED = ["http_reqs", DURATION, *SIBLINGS, "checks", "vus"]  # codes 0..7
_METRICS = pa.array(_NEEDED)


@dataclass
class _Rows:
    """What the general path keeps of each batch of rows: for every row of a needed metric its metric
    code, row number and value; for duration rows their time and tags; failed checks; vus gauges."""

    code: list[np.ndarray] = field(default_factory=list)
    row: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)
    durations: list[tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Codes], pa.Array | None]] = field(
        default_factory=list)  # per batch: rows, end ns, latency, tags, vu/iter texts
    raw: Raw = field(default_factory=Raw)
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
                tags[tag] = categories(encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist())
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
            add_failed_checks(self.raw, table.take(pa.array(failed)).set_column(
                table.column_names.index("value"), "value", pa.array(value[failed])))

    def _gauges(self, table: pa.Table, rows: np.ndarray, value: np.ndarray, scale: int | None) -> None:
        ns, bad = _times(table["time"], scale)
        good = ~bad & ~np.isnan(value)
        self.raw.vus_ns.append(ns[good])
        self.raw.vus_value.append(value[good])


def read_csv(path: Path, fmt: CsvFormat) -> Raw:
    """A k6 CSV, row by row: malformed rows are skipped and counted."""
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


def read_json(path: Path) -> Raw:
    """k6 JSON lines, in blocks; a block pyarrow refuses is read line by line."""
    rows = _Rows()
    with path.open("rb") as fh:
        while True:
            data = fh.read(1 << 23)
            if not data:
                break
            if not data.endswith(b"\n"):
                data += fh.readline()
            try:
                table = flatten_points(json_table(pa.py_buffer(data), POINT_SCHEMA))
            except ARROW_ERRORS:
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


def _from_rows(rows: _Rows, path: Path) -> Raw:
    """The kept rows -> Raw: a request's siblings are found inside its block of rows (from its
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
        raw.parts.append(make_part(ns, latency, [s[lo:hi] for s in siblings], tags, meta))
        lo = hi
    rows.durations = []
    return raw


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_floating(column.type):
        return pc.fill_null(column, np.nan).to_numpy()
    try:
        return pc.cast(column, pa.float64()).to_numpy()
    except ARROW_ERRORS:
        return pd.to_numeric(pd.Series(column.to_numpy(), dtype=object), errors="coerce").to_numpy(dtype=float)


def _times(column: pa.ChunkedArray, scale: int | None) -> tuple[np.ndarray, np.ndarray]:
    """-> (int64 ns, unreadable mask); unreadable times are 0 and flagged."""
    column = pc.fill_null(column, "")
    try:
        return to_ns(column, scale), np.zeros(len(column), bool)
    except ARROW_ERRORS:
        pass
    if scale is not None:
        good = pc.match_substring_regex(column, r"^[0-9]{1,19}$")
        return to_ns(pc.if_else(good, column, "0"), scale), ~good.to_numpy()
    stamps = pd.to_datetime(pd.Series(column.to_numpy(), dtype=object), utc=True, format="ISO8601", errors="coerce")
    bad = stamps.isna().to_numpy()
    return stamps.where(~bad, pd.Timestamp(0, tz="UTC")).dt.as_unit("ns").astype("int64").to_numpy(), bad
