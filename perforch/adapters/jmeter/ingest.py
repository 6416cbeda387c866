"""JMeter JTL files (CSV or XML) -> the unified frame.

Every shape a user may bring (reference §3): CSV with a header row (5.x default, all fields,
`sample_variables` columns, tab delimiter), header-less CSV recognised by shape (2.13's 12-column
default, 5.x's 17-column default) or with a caller-supplied column list, formatted timestamps
(`timestamp_format`: local time without a zone), quoted labels with commas and quotes, failure
messages spanning several lines; XML with nested sub-results (redirect hops, embedded resources,
children of a transaction controller) and transaction samples.

Rows that are not requests are left out: transaction-controller rows (empty dataType + JMeter's
"Number of samples in transaction" message, or an XML `<sample>` saying so) and nested XML
sub-results; so nothing is counted twice.

Speed: CSV goes through pyarrow's reader on the needed columns with quoted newlines allowed (pandas'
engine="pyarrow" cannot allow them and loses sync on big files). A file that the fast reader
refuses (binary garbage, a truncated quoted field) is read again line by line: every complete row
is kept and the rest is reported with counts. XML: xmlfast (JMeter's layout, vectorised) or
xmlslow (expat, element by element, for anything else).

Columns: ts = timeStamp (sample start; formatted stamps read in the local zone), latency_ms =
elapsed, ttfb_ms = Latency, connect_ms = Connect, bytes_in/out = bytes/sentBytes, vus = allThreads,
flow = threadName without its " N-M" suffix, error = failureMessage, else responseMessage for a
non-HTTP code, else "HTTP <code>". JTLs do not record the HTTP method: it is read from the plan
when the JTL sits in a perforch run directory, else from labels shaped "METHOD /path".

A distributed run's JTL (one file from the client, every engine's samples) has the sample variable
column perforch.worker: the worker column comes from it, vus is the sum of every engine's latest
allThreads, and a "host:port-" prefix on thread names (JMeter >= 3 engines) is not part of the flow.
"""

from __future__ import annotations

import csv
import ctypes
import io
import os
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from perforch.adapters.base import Ingested
from perforch.adapters.jmeter import xmlfast, xmlslow
from perforch.errors import IngestError
from perforch.frame import SAMPLE_COLUMNS, concat_frames, empty_frame, validate_frame

# Column sets JMeter writes without a header row (reference §3.2).
DEFAULT_2_13 = ("timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType",
                "success", "bytes", "grpThreads", "allThreads", "Latency")
DEFAULT_5 = ("timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType",
             "success", "failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "URL", "Latency",
             "IdleTime", "Connect")
KNOWN = {"timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType", "success",
         "failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "URL", "Filename", "Latency",
         "Encoding", "SampleCount", "ErrorCount", "Hostname", "IdleTime", "Connect"}
REQUIRED = ("timeStamp", "elapsed", "label", "success")
INT_COLUMNS = ("elapsed", "bytes", "sentBytes", "allThreads", "Latency", "Connect")
NARROW = ("elapsed", "allThreads", "Latency", "Connect")  # ms and thread counts: int32 (up to 24 days)
WORKER = "perforch.worker"  # the sample variable each engine of a distributed run saves (tool.py)
TEXT_COLUMNS = ("label", "responseCode", "responseMessage", "threadName", "dataType", "failureMessage", WORKER)
TC_MESSAGE = "Number of samples in transaction"
_THREAD_SUFFIX = re.compile(r" \d+-\d+$")
_ENGINE_PREFIX = re.compile(r"^\S+:\d+-")  # JMeter >= 3 names a remote engine's threads "host:port-Group 1-1"
_METHOD_LABEL = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /")
MAX_RECORD_LINES = 200  # a failure message longer than this many lines is not a JMeter row
BLOCK = 1 << 22  # bytes per block of the CSV reader
MAX_PARTS = 4  # a big CSV file is read in up to this many parts side by side (one per core)
PART_MIN_BYTES = 32 << 20


def ingest_files(paths: Sequence[Path], workers: Sequence[str] | None = None,
                 columns: Sequence[str] | None = None) -> Ingested:
    """Read JTL files (one per load generator). `columns` names the fields of header-less CSVs."""
    frames, warnings = [], []
    for i, path in enumerate(paths):
        worker = workers[i] if workers else (path.stem if len(paths) > 1 else "")
        data, notes = read_jtl(path, columns)
        warnings += notes + log_warnings(path)
        if data is not None and len(data["ts"]):
            n = len(data["ts"])
            engines = data.pop(WORKER, None)  # a distributed run's JTL says which engine took each sample
            data["worker"] = engines if engines is not None and not workers else _constant(worker, n)
            data["tool"] = _constant("jmeter", n)
            data["method"] = _methods(path, data["label"], n)
            frames.append(_frame(data))
            del data
        elif data is not None:
            warnings.append(f"{path.name}: no request samples")
    samples = concat_frames(frames) if frames else empty_frame()
    return Ingested(samples=samples, warnings=tuple(warnings))


def sniff(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from None
    return sniff_bytes(head)


def sniff_bytes(head: bytes) -> str | None:
    """'csv' or 'xml' when the first bytes look like a JTL, else None."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<") and b"<testResults" in text[:1024]:
        return "xml"
    first = text.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    if re.match(r'^"?timeStamp"?[,\t;|]', first):
        return "csv"
    fields = _split_line(first)
    if fields and _layout_by_shape(fields) is not None:
        return "csv"
    return None


def read_jtl(path: Path, columns: Sequence[str] | None = None) -> tuple[dict | None, list[str]]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from None
    if size == 0:
        raise IngestError(f"{path}: the file is empty",
                          hint="JMeter wrote no sample; its log (jmeter.log) says why")
    kind = sniff(path)
    if kind == "xml":
        return read_xml(path)
    if kind is None and columns is None:
        raise IngestError(
            f"{path}: not a JMeter JTL perforch can read (unknown column layout)",
            hint="write results with a header row (jmeter.save.saveservice.print_field_names=true) or as XML; "
                 "header-less files must be JMeter 2.13's or 5.x's default columns")
    return read_csv(path, columns)


# --- CSV ------------------------------------------------------------------------------------------


def _split_line(line: str, delimiter: str = ",") -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return []


def _layout_by_shape(fields: list[str]) -> tuple[str, ...] | None:
    """A header-less row: JMeter 2.13's default (12 fields) or 5.x's (17), checked field by field."""
    for layout in (DEFAULT_2_13, DEFAULT_5):
        if len(fields) == len(layout):
            row = dict(zip(layout, fields))
            if row["elapsed"].isdigit() and row["success"] in ("true", "false") and row["timeStamp"][:1].isdigit():
                return layout
    return None


def _header(path: Path, columns: Sequence[str] | None) -> tuple[list[str], bool, str]:
    """(column names, whether the file has a header row, delimiter)."""
    with path.open("rb") as fh:
        first = fh.readline(1 << 20).lstrip(b"\xef\xbb\xbf").rstrip(b"\r\n").decode("utf-8", "replace")
    delimiter = "\t" if "\t" in first and ("timeStamp\t" in first or first.count("\t") >= first.count(",")) else ","
    fields = [f.strip('"') for f in _split_line(first, delimiter)]
    if "timeStamp" in fields or (set(fields) & KNOWN and "elapsed" in fields):
        return fields, True, delimiter
    if columns is not None:
        return list(columns), False, delimiter
    layout = _layout_by_shape(_split_line(first, delimiter))
    if layout is None:
        raise IngestError(f"{path}: unknown JTL column layout ({len(fields)} fields, no header row)",
                          hint="write results with a header row (jmeter.save.saveservice.print_field_names=true)")
    return list(layout), False, delimiter


def read_csv(path: Path, columns: Sequence[str] | None = None) -> tuple[dict | None, list[str]]:
    names, has_header, delimiter = _header(path, columns)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise IngestError(f"{path}: the JTL has no {', '.join(missing)} column(s)",
                          hint="perforch needs timeStamp, elapsed, label and success (JMeter's defaults)")
    notes: list[str] = []
    try:
        collected, skipped = _read_fast(path, names, has_header, delimiter)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        collected = None
    if collected is None:
        raw, bad, first_bad, lines = _read_careful(path, names, has_header, delimiter)
        notes.append(f"{path.name}: {bad} malformed line(s) skipped (the first at line {first_bad}) of {lines}; "
                     f"{len(raw['timeStamp'])} complete rows kept")
        collected = _from_strings(raw)
    elif skipped[0]:
        where = f" (the first near line {skipped[1]})" if skipped[1] else ""
        notes.append(f"{path.name}: {skipped[0]} row(s) with a wrong number of fields skipped{where}; "
                     "every complete row kept")
    return collected.finish(notes, path), notes


def _read_fast(path: Path, names: list[str], has_header: bool, delimiter: str) -> tuple[_Collector, tuple]:
    """pyarrow's CSV reader, streamed in blocks converted as they come (memory stays near the size of
    the final frame). A big file is cut at record boundaries into one part per core, read side by
    side: pyarrow parses without the GIL."""
    wanted = [c for c in ("timeStamp", *INT_COLUMNS, "success", *TEXT_COLUMNS) if c in names]
    numeric_ts = _first_value_is_digits(path, has_header, delimiter)
    types: dict[str, pa.DataType] = {c: pa.int32() if c in NARROW else pa.int64() for c in INT_COLUMNS}
    types["timeStamp"] = pa.int64() if numeric_ts else pa.string()
    types["success"] = pa.bool_()
    for c in TEXT_COLUMNS:
        types[c] = pa.dictionary(pa.int32(), pa.string())
    bounds = _parts(path, has_header, min(os.cpu_count() or 1, MAX_PARTS))
    skipped = [0, None]
    lock = threading.Lock()

    def on_bad_row(row: pacsv.InvalidRow) -> str:
        with lock:
            skipped[0] += 1
            if skipped[1] is None and len(bounds) == 2:
                skipped[1] = row.number
        return "skip"

    collector = _Collector()

    def read(part: int) -> None:
        reader = pacsv.open_csv(
            _Range(path, bounds[part], bounds[part + 1]),
            read_options=pacsv.ReadOptions(column_names=names, block_size=BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted, column_types={c: t for c, t in types.items() if c in wanted},
                strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[""] if numeric_ts else [],
                true_values=["true"], false_values=["false"]),
        )
        for seq, batch in enumerate(reader):
            with lock:
                collector.add(batch, (part, seq))
                if seq % 32 == 31:
                    _release_memory()
        del reader

    # pyarrow decodes a bad row's text for the handler; with invalid UTF-8 that fails before the
    # handler runs (reported as an "unraisable" exception) and the read raises: the careful path
    # then takes over, so the report is noise to silence.
    previous = sys.unraisablehook
    sys.unraisablehook = lambda info: None if isinstance(info.exc_value, UnicodeDecodeError) else previous(info)
    try:
        if len(bounds) == 2:
            read(0)
        else:
            with ThreadPoolExecutor(len(bounds) - 1) as pool:
                for done in [pool.submit(read, i) for i in range(len(bounds) - 1)]:
                    done.result()
    finally:
        sys.unraisablehook = previous
    _release_memory()
    return collector, (skipped[0], skipped[1])


class _Range(io.RawIOBase):
    """Bytes [start, end) of a file, as a stream for pyarrow."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._file.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        n = min(len(buffer), self._left)
        if n <= 0:
            return 0
        got = self._file.readinto(memoryview(buffer)[:n]) or 0
        self._left -= got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def _parts(path: Path, has_header: bool, parts: int) -> list[int]:
    """Offsets that cut the rows into `parts` pieces of about the same size, each at a line end where
    the quotes before it are balanced (so never inside a quoted multi-line message)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        start = len(fh.readline()) if has_header else 0
        bounds = [start]
        if size < PART_MIN_BYTES * 2 or parts < 2:
            return [start, size]
        quotes, pos = 0, start
        for i in range(1, parts):
            target = start + (size - start) * i // parts
            while pos < target:  # count the quotes up to the target, a block at a time
                block = fh.read(min(BLOCK, target - pos))
                quotes += block.count(b'"')
                pos += len(block)
            while True:  # then up to the first line end outside quotes
                line = fh.readline()
                if not line:
                    break
                quotes += line.count(b'"')
                pos += len(line)
                if quotes % 2 == 0:
                    break
            if pos >= size:
                break
            bounds.append(pos)
    return bounds + [size]


def _first_value_is_digits(path: Path, has_header: bool, delimiter: str) -> bool:
    with path.open("rb") as fh:
        if has_header:
            fh.readline()
        line = fh.readline(1 << 16).decode("utf-8", "replace")
    return line.split(delimiter, 1)[0].strip('"').isdigit()


class _Collector:
    """Blocks of JTL rows -> compact numpy columns (text as codes into one dictionary per column)
    and a mask of the requests (transaction-controller rows are not); `finish` keeps the requests,
    sorts them by start time and builds the frame's columns."""

    def __init__(self, parent_rows_hide_requests: bool = True) -> None:
        self.parent_rows_hide_requests = parent_rows_hide_requests  # CSV: a parent sample's children are not there
        self.parts: dict[str, list[tuple[tuple[int, int], np.ndarray]]] = {}
        self.index: dict[str, dict[str, int]] = {c: {} for c in TEXT_COLUMNS}
        self.values: dict[str, list[str]] = {c: [] for c in TEXT_COLUMNS}
        self.parents: dict[str, int] = {}
        self.key = (0, 0)

    def add(self, batch: pa.RecordBatch, key: tuple[int, int] = (0, 0)) -> None:
        """Convert one block; `key` (part, block) puts the blocks back in file order at the end."""
        self.key = key
        names = batch.schema.names
        text = {name: self._codes(batch.column(name), name) for name in TEXT_COLUMNS if name in names}
        keep = self._requests(batch, text)
        pick = (lambda a: a) if keep.all() else (lambda a: a[keep])  # noqa: E731
        for name, codes in text.items():
            self._put(name, pick(codes))
        for name in ("timeStamp", *INT_COLUMNS, "success"):
            if name not in names:
                continue
            column = batch.column(name)
            if column.null_count:
                self._put(name + ".null", pick(column.is_null().to_numpy(zero_copy_only=False)))
                column = column.fill_null(False if name == "success" else 0) if name != "timeStamp" or \
                    pa.types.is_integer(column.type) else column.fill_null("")
            values = pick(column.to_numpy(zero_copy_only=False))
            self._put(name, values.copy() if values.base is not None else values)  # not a view: let the block go

    def _put(self, name: str, values: np.ndarray) -> None:
        self.parts.setdefault(name, []).append((self.key, values))

    def _codes(self, column: pa.Array, name: str) -> np.ndarray:
        """Codes into this collector's dictionary for `name` (-1 where missing)."""
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        index, values = self.index[name], self.values[name]
        local = []
        for value in column.dictionary.to_pylist():
            value = "" if value is None else str(value)
            if value not in index:
                index[value] = len(values)
                values.append(value)
            local.append(index[value])
        lookup = np.array(local + [-1], dtype=np.int32)
        return lookup[column.indices.fill_null(-1).to_numpy(zero_copy_only=False)]

    def _requests(self, batch: pa.RecordBatch, text: dict[str, np.ndarray]) -> np.ndarray:
        """False for transaction-controller rows (empty dataType and JMeter's transaction message)."""
        n = batch.num_rows
        if "dataType" not in text:
            return np.ones(n, bool)
        empty = text["dataType"] == self.index["dataType"].get("", -2)
        if not empty.any():
            return np.ones(n, bool)
        if "responseMessage" not in text:
            return ~empty
        message = self.values["responseMessage"]
        tc_codes = [i for i, v in enumerate(message) if v.startswith(TC_MESSAGE)]
        tc = empty & np.isin(text["responseMessage"], tc_codes)
        if tc.any() and self.parent_rows_hide_requests and "Latency" in batch.schema.names:
            # A controller that generates a parent sample writes only that row to a CSV file
            # (latency 0): the requests inside it are not in the file at all.
            parents = tc & (batch.column("Latency").fill_null(1).to_numpy(zero_copy_only=False) == 0)
            for code in text["label"][parents]:
                label = self.values["label"][code]
                self.parents[label] = self.parents.get(label, 0) + 1
        return ~tc

    def _column(self, name: str) -> np.ndarray | None:
        parts = self.parts.get(name)
        if not parts:
            return None
        parts.sort(key=lambda kv: kv[0])
        return parts[0][1] if len(parts) == 1 else np.concatenate([values for _, values in parts])

    def finish(self, notes: list[str], path: Path) -> dict | None:
        if self.parents:
            notes.append(f"{path.name}: {sum(self.parents.values())} parent sample(s) of transaction controller(s) "
                         f"{', '.join(repr(x) for x in sorted(self.parents)[:5])} left out: JMeter writes the "
                         "requests inside them only to XML results (save as XML, or untick 'Generate parent sample')")
        ts = self._column("timeStamp")
        if ts is None:  # no row at all
            return {"ts": pd.DatetimeIndex([], tz="UTC")}
        keep = np.ones(len(ts), bool)
        if ts.dtype.kind in "iu":
            ts_ns = ts.astype(np.int64, copy=False) * 1_000_000
            null = self._column("timeStamp.null")
            if null is not None:
                keep &= ~null
        else:
            ts_ns, valid = _text_stamps(ts, notes, path)
            keep &= valid
        del ts
        self.parts.pop("timeStamp", None)
        order = None if keep.all() else np.flatnonzero(keep)
        keys = ts_ns if order is None else ts_ns[order]
        if len(keys) > 1 and not (keys[1:] >= keys[:-1]).all():
            sort = np.argsort(keys, kind="stable")
            order = sort if order is None else order[sort]
        pick = (lambda a: a) if order is None else (lambda a: a[order])  # noqa: E731
        cols: dict[str, object] = {"ts": pd.DatetimeIndex(pick(ts_ns).view("M8[ns]")).tz_localize("UTC")}
        del ts_ns
        n = len(cols["ts"])
        cols["latency_ms"] = pick(self._take("elapsed")).astype(np.float64)
        cols["ok"] = pick(self._take("success")).astype(bool, copy=False)
        cols["ttfb_ms"] = self._float("Latency", pick, n)
        cols["connect_ms"] = self._float("Connect", pick, n)
        cols["bytes_in"] = self._int("bytes", pick, n, "Int64")
        cols["bytes_out"] = self._int("sentBytes", pick, n, "Int64")
        cols["vus"] = self._int("allThreads", pick, n, "Int32")
        text = {name: pick(self._take(name)) for name in TEXT_COLUMNS if name in self.parts}
        cols["label"] = _categorical(text["label"], self.values["label"])
        code = (text["responseCode"], self.values["responseCode"]) if "responseCode" in text else None
        cols["status"] = _status(*code) if code else np.zeros(n, np.int16)
        threads = self.values["threadName"]
        if WORKER in text:  # a distributed run's JTL
            threads = [_ENGINE_PREFIX.sub("", v) for v in threads]
        cols["flow"] = _recode(text["threadName"], [_THREAD_SUFFIX.sub("", v) for v in threads]) \
            if "threadName" in text else _constant("", n)
        cols["error"] = _errors(cols["ok"], code, *(
            (text[c], self.values[c]) if c in text else None for c in ("responseMessage", "failureMessage")))
        if WORKER in text:
            cols[WORKER] = _recode(text[WORKER], [("" if v == "null" else v) for v in self.values[WORKER]])
            cols["vus"] = _all_engines(cols["vus"], cols[WORKER].codes)
        return cols

    def _take(self, name: str) -> np.ndarray:
        values = self._column(name)
        self.parts.pop(name, None)
        return values

    def _float(self, name: str, pick, n: int) -> np.ndarray:  # noqa: ANN001
        if name not in self.parts:
            return np.full(n, np.nan)
        values = pick(self._take(name)).astype(np.float64)
        null = self._column(name + ".null")
        if null is not None:
            values[pick(null)] = np.nan
        return values

    def _int(self, name: str, pick, n: int, dtype: str) -> pd.arrays.IntegerArray:  # noqa: ANN001
        if name not in self.parts:  # not in this JTL: unknown
            return pd.arrays.IntegerArray(np.zeros(n, np.int64 if dtype == "Int64" else np.int32), np.ones(n, bool))
        values = pick(self._take(name)).astype(np.int64 if dtype == "Int64" else np.int32)
        null = self._column(name + ".null")
        return pd.arrays.IntegerArray(values, pick(null) if null is not None else np.zeros(n, bool))


def _release_memory() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise: thousands of block-sized
    arrays, freed by several threads, would stay in the process's resident size)."""
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _categorical(codes: np.ndarray, values: list[str]) -> pd.Categorical:
    """The values used, in sorted order whatever order the file (or its parts) showed them in;
    labels only seen on transaction rows are left out."""
    used = np.bincount(codes[codes >= 0], minlength=len(values)) > 0 if len(values) else np.zeros(0, bool)
    kept = sorted((v, i) for i, (v, u) in enumerate(zip(values, used)) if u)
    remap = np.full(len(values) + 1, -1, np.int32)  # the last slot: code -1 (missing) stays -1
    for new, (_, old) in enumerate(kept):
        remap[old] = new
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index([v for v, _ in kept], dtype=object),
                                     validate=False)


def _status(codes: np.ndarray, values: list[str]) -> np.ndarray:
    numeric = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").fillna(0).clip(0, 32767)
    lookup = np.append(numeric.to_numpy().astype(np.int16), np.int16(0))  # code -1 (missing) -> 0
    return lookup[codes]


def _errors(ok: np.ndarray, code, message, failure) -> pd.Categorical:  # noqa: ANN001
    """"" for requests that passed; for the others what JMeter says went wrong (reference §4)."""
    failed = np.flatnonzero(~ok)

    def texts(column) -> list[str]:  # noqa: ANN001
        if column is None:
            return [""] * len(failed)
        codes, values = column
        return [values[c] if c >= 0 else "" for c in codes[failed]]

    errors = [_error_text(c, m, f) for c, m, f in zip(texts(code), texts(message), texts(failure))]
    distinct = [""] + sorted(set(errors) - {""})
    index = {text: i for i, text in enumerate(distinct)}
    codes = np.zeros(len(ok), np.int32)
    codes[failed] = [index[e] for e in errors]
    return pd.Categorical.from_codes(codes, categories=pd.Index(distinct, dtype=object), validate=False)


def _error_text(code: str, message: str, failure: str) -> str:
    if failure and failure != "nan":
        return failure
    if code and not code.isdigit():
        return message if message and message != "nan" else code
    if code.isdigit() and int(code) >= 400:
        return f"HTTP {code}"
    return "failed (no failure message in the JTL)"


def _text_stamps(values: np.ndarray, notes: list[str], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Formatted stamps (timestamp_format): JMeter writes the JVM's local time with no zone."""
    sample = next((v for v in values if v), "")
    if str(sample).isdigit():
        numbers = pd.to_numeric(pd.Series(values), errors="coerce")
        return numbers.fillna(0).astype(np.int64).to_numpy() * 1_000_000, numbers.notna().to_numpy()
    from dateutil.tz import tzlocal
    from pandas.tseries.api import guess_datetime_format

    fmt = guess_datetime_format(str(sample))
    parsed = pd.to_datetime(pd.Series(values), format=fmt, errors="coerce") if fmt else \
        pd.to_datetime(pd.Series(values), errors="coerce", format="mixed")
    if parsed.dt.tz is None:
        zone = tzlocal()
        parsed = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        notes.append(f"{path.name}: timestamps are formatted text without a zone ({sample!r}); read as this "
                     f"machine's local time ({pd.Timestamp.now(tz=zone).strftime('%Z, UTC%z')})")
    valid = parsed.notna().to_numpy()
    out = parsed.dt.tz_convert("UTC").dt.as_unit("ns").fillna(pd.Timestamp(0, tz="UTC")).astype("int64").to_numpy()
    bad = int((~valid).sum())
    if bad:
        notes.append(f"{path.name}: {bad} row(s) with an unreadable timeStamp skipped")
    return out, valid


# --- CSV, careful path: line by line, every complete row kept ------------------------------------


def _read_careful(path: Path, names: list[str], has_header: bool, delimiter: str) -> tuple[dict, int, int, int]:
    """Rows as strings. A record starts on a line and runs on while a quote is open (a multi-line
    message); a record that does not parse as a JMeter row is skipped, and reading resumes on the
    next line, so garbage costs only its own lines."""
    width = len(names)
    index = {name: i for i, name in enumerate(names)}
    wanted = [c for c in ("timeStamp", *INT_COLUMNS, "success", *TEXT_COLUMNS) if c in index]
    out: dict[str, list[str]] = {c: [] for c in wanted}
    text = path.read_bytes().replace(b"\x00", b"").decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 1 if has_header else 0
    bad, first_bad = 0, 0
    while i < len(lines):
        j, record = i, lines[i]
        while record.count('"') % 2 and j + 1 < len(lines) and j - i < MAX_RECORD_LINES:
            j += 1
            record += "\n" + lines[j]
        fields = _split_line(record.replace("\r\n", "\n").rstrip("\r"), delimiter) if record.count('"') % 2 == 0 else []
        if len(fields) == width and _plausible(fields, index):
            for c in wanted:
                out[c].append(fields[index[c]])
            i = j + 1
        else:
            bad += 1
            first_bad = first_bad or i + 1
            i += 1
    return out, bad, first_bad, len(lines)


def _plausible(fields: list[str], index: dict[str, int]) -> bool:
    ts, elapsed, success = fields[index["timeStamp"]], fields[index["elapsed"]], fields[index["success"]]
    return bool(ts) and ts[0].isdigit() and elapsed.isdigit() and success in ("true", "false")


def _from_strings(raw: dict[str, list]) -> _Collector:
    """Columns of strings (careful path or XML) -> the collector the fast path fills."""
    arrays = {}
    for name, values in raw.items():
        if name in INT_COLUMNS:
            numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
            arrays[name] = pa.array(numbers.round(), type=pa.float64(), from_pandas=True).cast(pa.int64())
        elif name == "success":
            arrays[name] = pa.array([v == "true" for v in values], pa.bool_())
        elif name == "timeStamp":
            digits = all(v.isdigit() for v in values[:100])
            arrays[name] = pa.array([int(v) if v.isdigit() else None for v in values], pa.int64()) if digits \
                else pa.array(values, pa.string())
        else:
            arrays[name] = pa.array(values, pa.string()).dictionary_encode()
    collector = _Collector()
    table = pa.table(arrays)
    for seq, batch in enumerate(table.to_batches()):
        collector.add(batch, (0, seq))
    return collector


# --- XML ------------------------------------------------------------------------------------------


def read_xml(path: Path) -> tuple[dict | None, list[str]]:
    notes: list[str] = []
    fast = xmlfast.read(path)
    if fast is not None:
        batches, damaged = fast
        if damaged:
            notes.append(f"{path.name}: {damaged} sample line(s) cut short or damaged left out (the XML ends early or "
                         "was altered); every complete sample kept")
        collector = _Collector(parent_rows_hide_requests=False)
        for i, batch in enumerate(batches):
            collector.add(batch, (i, 0))
        return collector.finish(notes, path), notes
    raw = xmlslow.read(path, notes)
    if raw is None:
        return None, notes
    return _from_strings(raw).finish(notes, path), notes


# --- extras ---------------------------------------------------------------------------------------


def log_warnings(path: Path) -> list[str]:
    """Errors JMeter logged while the run went on (BeanShell failures, ...), with counts: the log
    beside the results, and those of a distributed run's engines (where the plan runs)."""
    out = []
    for log in [path.with_name("jmeter.log"), *sorted(path.parent.glob("jmeter-server-*.log"))]:
        if not log.is_file() or log.stat().st_size > 200 << 20:
            continue
        counts: dict[str, int] = {}
        first: dict[str, str] = {}
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.search(r"\b(ERROR|FATAL)\b\s*-?\s*(.*)", line)
            if not match:
                continue
            key = re.sub(r"\d+", "N", match.group(2))[:80]
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(key, match.group(2).strip()[:200])
        out += [f"{log.name}: {n} error line(s) like: {first[k]}" for k, n in counts.items()]
    return out


def _frame(columns: dict) -> pd.DataFrame:
    """The samples frame from columns already sorted by start time (make_frame's result, without its
    copies: at 5M rows they would cost more memory than the frame itself)."""
    ts = columns["ts"]
    columns["elapsed_s"] = (ts.asi8 - ts.asi8[0]) / 1e9 if len(ts) else np.empty(0)
    frame = pd.DataFrame({name: columns.pop(name) for name in SAMPLE_COLUMNS}, copy=False)
    return validate_frame(frame)


def _methods(path: Path, labels: pd.Categorical, n: int) -> pd.Categorical:
    """The HTTP method of each label: from the plan of a perforch run, else from "METHOD /path"."""
    plan = path.parent.parent / "script" / "plan.jmx"
    mapping: dict[str, str] = {}
    if plan.is_file():
        try:
            for el in ET.parse(plan).iter("HTTPSamplerProxy"):
                method = el.find("stringProp[@name='HTTPSampler.method']")
                name = el.get("testname", "")
                if method is not None and "${" not in name:
                    mapping[name] = "" if mapping.get(name, method.text) != method.text else (method.text or "")
        except ET.ParseError:
            mapping = {}
    categories = [str(c) for c in labels.categories]
    methods = []
    for label in categories:
        if label in mapping:
            methods.append(mapping[label])
        else:
            match = _METHOD_LABEL.match(label)
            methods.append(match.group(1) if match else "")
    if not categories:
        return _constant("", n)
    return _recode(labels.codes, methods)


def _all_engines(vus: pd.arrays.IntegerArray, engines: np.ndarray) -> pd.arrays.IntegerArray:
    """A distributed run's active threads: each sample carries its own engine's count (allThreads);
    the run's is the sum of every engine's latest count (rows are in time order; an engine counts
    from its first sample on)."""
    values = vus.to_numpy(dtype=np.int64, na_value=0)
    total = np.zeros(len(values), np.int64)
    for code in np.unique(engines):
        rows = np.flatnonzero(engines == code)
        latest = np.searchsorted(rows, np.arange(len(values)), side="right") - 1
        total += np.where(latest >= 0, values[rows[np.maximum(latest, 0)]], 0)
    return pd.arrays.IntegerArray(total.astype(np.int32), np.asarray(vus.isna()))


def _constant(value: str, n: int) -> pd.Categorical:
    return pd.Categorical.from_codes(np.zeros(n, np.int8), categories=pd.Index([value], dtype=object), validate=False)


def _recode(codes: np.ndarray, values: list[str]) -> pd.Categorical:
    """A categorical whose row i is values[codes[i]] (codes from another categorical)."""
    distinct = sorted(set(values))
    lookup = np.array([distinct.index(v) for v in values] + [-1], dtype=np.int32)
    return pd.Categorical.from_codes(lookup[np.asarray(codes)], categories=pd.Index(distinct, dtype=object),
                                     validate=False)


__all__ = ["ingest_files", "read_jtl", "sniff", "sniff_bytes"]
