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
is kept and the rest is reported with counts. XML is streamed through expat, keeping top-level
samples only.

Columns: ts = timeStamp (sample start; formatted stamps read in the local zone), latency_ms =
elapsed, ttfb_ms = Latency, connect_ms = Connect, bytes_in/out = bytes/sentBytes, vus = allThreads,
flow = threadName without its " N-M" suffix, error = failureMessage, else responseMessage for a
non-HTTP code, else "HTTP <code>". JTLs do not record the HTTP method: it is read from the plan
when the JTL sits in a perforch run directory, else from labels shaped "METHOD /path".
"""

from __future__ import annotations

import csv
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from perforch.adapters.base import Ingested
from perforch.errors import IngestError
from perforch.frame import concat_frames, empty_frame, make_frame

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
TEXT_COLUMNS = ("label", "responseCode", "responseMessage", "threadName", "dataType", "failureMessage")
TC_MESSAGE = "Number of samples in transaction"
_THREAD_SUFFIX = re.compile(r" \d+-\d+$")
_METHOD_LABEL = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /")
XML_ATTRS = {"ts": "timeStamp", "t": "elapsed", "lb": "label", "rc": "responseCode", "rm": "responseMessage",
             "tn": "threadName", "dt": "dataType", "s": "success", "by": "bytes", "sby": "sentBytes",
             "na": "allThreads", "lt": "Latency", "ct": "Connect"}
MAX_RECORD_LINES = 200  # a failure message longer than this many lines is not a JMeter row


def ingest_files(paths: Sequence[Path], workers: Sequence[str] | None = None,
                 columns: Sequence[str] | None = None) -> Ingested:
    """Read JTL files (one per load generator). `columns` names the fields of header-less CSVs."""
    frames, warnings = [], []
    for i, path in enumerate(paths):
        worker = workers[i] if workers else (path.stem if len(paths) > 1 else "")
        data, notes = read_jtl(path, columns)
        warnings += notes + log_warnings(path)
        if data is not None and len(data["ts"]):
            data["worker"] = worker
            data["method"] = _methods(path, data["label"])
            frames.append(make_frame(data))
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
        table, skipped = _read_fast(path, names, has_header, delimiter)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        table = None
    if table is None:
        raw, bad, first_bad, lines = _read_careful(path, names, has_header, delimiter)
        notes.append(f"{path.name}: {bad} malformed line(s) skipped (the first at line {first_bad}) of {lines}; "
                     f"{len(raw['timeStamp'])} complete rows kept")
        data = _from_strings(raw, notes, path)
    else:
        if skipped[0]:
            where = f" (the first near line {skipped[1]})" if skipped[1] else ""
            notes.append(f"{path.name}: {skipped[0]} row(s) with a wrong number of fields skipped{where}; "
                         "every complete row kept")
        data = _from_table(table, notes, path)
    return data, notes


def _read_fast(path: Path, names: list[str], has_header: bool, delimiter: str) -> tuple[pa.Table, tuple]:
    wanted = [c for c in ("timeStamp", *INT_COLUMNS, "success", *TEXT_COLUMNS) if c in names]
    numeric_ts = _first_value_is_digits(path, has_header, delimiter)
    types: dict[str, pa.DataType] = {c: pa.int64() for c in INT_COLUMNS}
    types["timeStamp"] = pa.int64() if numeric_ts else pa.string()
    types["success"] = pa.bool_()
    for c in TEXT_COLUMNS:
        types[c] = pa.dictionary(pa.int32(), pa.string())
    skipped = [0, None]

    def on_bad_row(row: pacsv.InvalidRow) -> str:
        skipped[0] += 1
        if skipped[1] is None:
            skipped[1] = row.number
        return "skip"

    # pyarrow decodes a bad row's text for the handler; with invalid UTF-8 that fails before the
    # handler runs (reported as an "unraisable" exception) and the read raises: the careful path
    # then takes over, so the report is noise to silence.
    previous = sys.unraisablehook
    sys.unraisablehook = lambda info: None if isinstance(info.exc_value, UnicodeDecodeError) else previous(info)
    try:
        table = _read_csv(path, names, has_header, delimiter, wanted, types, numeric_ts, on_bad_row)
    finally:
        sys.unraisablehook = previous
    return table, (skipped[0], skipped[1])


def _read_csv(path: Path, names: list[str], has_header: bool, delimiter: str, wanted: list[str],  # noqa: PLR0913
              types: dict, numeric_ts: bool, on_bad_row) -> pa.Table:  # noqa: ANN001
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=None if has_header else names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_bad_row),
        convert_options=pacsv.ConvertOptions(
            include_columns=wanted, column_types={c: t for c, t in types.items() if c in wanted},
            strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[""] if numeric_ts else [],
            true_values=["true"], false_values=["false"]),
    )


def _first_value_is_digits(path: Path, has_header: bool, delimiter: str) -> bool:
    with path.open("rb") as fh:
        if has_header:
            fh.readline()
        line = fh.readline(1 << 16).decode("utf-8", "replace")
    return line.split(delimiter, 1)[0].strip('"').isdigit()


def _from_table(table: pa.Table, notes: list[str], path: Path) -> dict:
    """Arrow columns -> frame columns, transaction rows dropped, sorted by start time."""
    keep = _request_rows(table, notes, path)
    cols: dict[str, np.ndarray | pd.Categorical] = {}
    ts = table.column("timeStamp")
    ts_ns, valid = _ts_ns(ts, notes, path)
    if valid is not None:
        keep &= valid
    order = np.flatnonzero(keep)
    order = order[np.argsort(ts_ns[order], kind="stable")]
    cols["ts"] = pd.to_datetime(ts_ns[order], utc=True)
    del ts
    elapsed = _ints(table, "elapsed")
    cols["latency_ms"] = elapsed[order].astype(np.float64)
    cols["ok"] = table.column("success").to_numpy(zero_copy_only=False).astype(bool)[order]
    cols["label"] = _category(table, "label", order).remove_unused_categories()
    code = _category(table, "responseCode", order) if "responseCode" in table.column_names else None
    cols["status"] = _status(code) if code is not None else np.zeros(len(order), np.int16)
    cols["flow"] = _flows(_category(table, "threadName", order)) if "threadName" in table.column_names else ""
    cols["ttfb_ms"] = _optional_float(table, "Latency", order)
    cols["connect_ms"] = _optional_float(table, "Connect", order)
    cols["bytes_in"] = _optional_int(table, "bytes", order, "Int64")
    cols["bytes_out"] = _optional_int(table, "sentBytes", order, "Int64")
    cols["vus"] = _optional_int(table, "allThreads", order, "Int32")
    message = _category(table, "responseMessage", order) if "responseMessage" in table.column_names else None
    failure = _category(table, "failureMessage", order) if "failureMessage" in table.column_names else None
    cols["error"] = _errors(cols["ok"], code, message, failure)
    cols["tool"] = "jmeter"
    return cols


def _request_rows(table: pa.Table, notes: list[str], path: Path) -> np.ndarray:
    """False for transaction-controller rows (empty dataType and JMeter's transaction message)."""
    n = table.num_rows
    if "dataType" not in table.column_names:
        return np.ones(n, bool)
    dtype = table.column("dataType").to_pandas()
    empty = (dtype == "").to_numpy(dtype=bool)
    if not empty.any():
        return np.ones(n, bool)
    if "responseMessage" not in table.column_names:
        return ~empty
    msg = table.column("responseMessage").to_pandas()
    tc = empty & msg.astype(object).str.startswith(TC_MESSAGE).fillna(False).to_numpy(dtype=bool)
    if tc.any() and "Latency" in table.column_names:
        # A controller that generates a parent sample writes only that row to a CSV file (latency 0):
        # the requests inside it are not in the file at all.
        parents = tc & (table.column("Latency").fill_null(1).to_numpy(zero_copy_only=False) == 0)
        if parents.any():
            labels = sorted({str(x) for x in np.asarray(table.column("label").to_pandas())[parents]})
            notes.append(f"{path.name}: {int(parents.sum())} parent sample(s) of transaction controller(s) "
                         f"{', '.join(repr(x) for x in labels[:5])} left out: JMeter writes the requests inside "
                         "them only to XML results (save as XML, or untick 'Generate parent sample')")
    return ~tc


def _ints(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        col = col.fill_null(0)
    return col.to_numpy()


def _optional_float(table: pa.Table, name: str, order: np.ndarray) -> np.ndarray:
    if name not in table.column_names:
        return np.full(len(order), np.nan)
    col = table.column(name)
    values = col.to_numpy(zero_copy_only=False).astype(np.float64)
    return values[order]


def _optional_int(table: pa.Table, name: str, order: np.ndarray, dtype: str) -> pd.arrays.IntegerArray:
    if name not in table.column_names:
        return pd.array([pd.NA] * len(order), dtype=dtype)
    col = table.column(name)
    mask = col.is_null().to_numpy(zero_copy_only=False)[order] if col.null_count else np.zeros(len(order), bool)
    values = col.fill_null(0).to_numpy().astype(np.int64 if dtype == "Int64" else np.int32)[order]
    return pd.arrays.IntegerArray(values, mask)


def _category(table: pa.Table, name: str, order: np.ndarray) -> pd.Categorical:
    values = table.column(name).to_pandas()
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("category")
    codes = values.cat.codes.to_numpy()[order]
    return pd.Categorical.from_codes(codes, categories=values.cat.categories.astype(object))


def _status(code: pd.Categorical) -> np.ndarray:
    numeric = pd.to_numeric(pd.Series(code.categories), errors="coerce").fillna(0).clip(0, 32767).astype(np.int16)
    lookup = np.append(numeric.to_numpy(), np.int16(0))  # code -1 (missing) -> 0
    return lookup[code.codes]


def _flows(threads: pd.Categorical) -> pd.Categorical:
    names = [_THREAD_SUFFIX.sub("", str(t)) for t in threads.categories]
    return pd.Categorical(np.asarray(names, dtype=object)[threads.codes]) if len(names) else threads.remove_unused_categories()


def _errors(ok: np.ndarray, code, message, failure) -> np.ndarray:  # noqa: ANN001
    out = np.full(len(ok), "", dtype=object)
    failed = np.flatnonzero(~ok)
    if not len(failed):
        return out
    codes = np.asarray(code)[failed] if code is not None else np.full(len(failed), "", object)
    msgs = np.asarray(message)[failed] if message is not None else np.full(len(failed), "", object)
    fails = np.asarray(failure)[failed] if failure is not None else np.full(len(failed), "", object)
    for j, i in enumerate(failed):
        out[i] = _error_text(str(codes[j]), str(msgs[j]), str(fails[j]))
    return out


def _error_text(code: str, message: str, failure: str) -> str:
    if failure and failure != "nan":
        return failure
    if code and not code.isdigit():
        return message if message and message != "nan" else code
    if code.isdigit() and int(code) >= 400:
        return f"HTTP {code}"
    return "failed (no failure message in the JTL)"


def _ts_ns(ts: pa.ChunkedArray, notes: list[str], path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """JTL timeStamp -> int64 ns since the epoch, and where it could be read (None: everywhere)."""
    if pa.types.is_integer(ts.type):
        valid = None if not ts.null_count else ~ts.is_null().to_numpy(zero_copy_only=False)
        return ts.fill_null(0).to_numpy() * 1_000_000, valid
    return _text_stamps(ts.to_numpy(zero_copy_only=False), notes, path)


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


def _from_strings(raw: dict[str, list], notes: list[str], path: Path) -> dict:
    """Columns of strings (careful path or XML) -> the same arrow table shape as the fast path."""
    arrays = {}
    for name, values in raw.items():
        if name in INT_COLUMNS:
            arrays[name] = pa.array(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"), type=pa.float64()) \
                .cast(pa.int64(), safe=False) if values else pa.array([], pa.int64())
        elif name == "success":
            arrays[name] = pa.array([v == "true" for v in values], pa.bool_())
        elif name == "timeStamp":
            digits = all(v.isdigit() for v in values[:100])
            arrays[name] = pa.array([int(v) if v.isdigit() else 0 for v in values], pa.int64()) if digits \
                else pa.array(values, pa.string())
        else:
            arrays[name] = pa.array(values, pa.string()).dictionary_encode()
    return _from_table(pa.table(arrays), notes, path)


# --- XML ------------------------------------------------------------------------------------------


class _XmlRows:
    """expat callbacks: the attributes of top-level samples (and of the children of a transaction
    controller's parent sample: those are the requests), each with its first failure message.
    Deeper samples (redirect hops, embedded resources) belong to their parent and are skipped."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self.failures: list[str] = []
        self.depth = 0
        self.rows_open: list[tuple[int, int]] = []  # (depth, index in rows) of the samples being read
        self.tc_depth = 0  # depth of an open transaction parent sample, 0 if none
        self.field: str | None = None
        self.text: list[str] = []
        self.assertion: dict[str, str] = {}
        self.parser: expat.XMLParserType | None = None

    def attach(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        parser.buffer_text = True
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        depth = self.depth
        if name in ("httpSample", "sample") and (depth == 2 or (self.tc_depth and depth == self.tc_depth + 1)):
            if name == "sample" and attrs.get("dt", "") == "" and attrs.get("rm", "").startswith(TC_MESSAGE):
                self.tc_depth = depth
            self.rows.append(attrs)
            self.failures.append("")
            self.rows_open.append((depth, len(self.rows) - 1))
        elif self.rows_open and name == "assertionResult" and depth == self.rows_open[-1][0] + 1:
            self.assertion = {}
        elif self.rows_open and name in ("failure", "error", "failureMessage") and depth == self.rows_open[-1][0] + 2:
            self.field = name
            self.text = []
            self.parser.CharacterDataHandler = self.text.append  # type: ignore[union-attr]

    def end(self, name: str) -> None:
        depth = self.depth
        if self.field is not None:
            self.assertion[self.field] = "".join(self.text)
            self.field = None
            self.parser.CharacterDataHandler = None  # type: ignore[union-attr]
        elif self.rows_open and name == "assertionResult" and depth == self.rows_open[-1][0] + 1:
            failed = self.assertion.get("failure", "").strip() == "true" or self.assertion.get("error", "").strip() == "true"
            index = self.rows_open[-1][1]
            if failed and not self.failures[index]:
                self.failures[index] = self.assertion.get("failureMessage", "")
        elif self.rows_open and depth == self.rows_open[-1][0]:
            self.rows_open.pop()
            if depth == self.tc_depth:
                self.tc_depth = 0
        self.depth -= 1


def read_xml(path: Path) -> tuple[dict | None, list[str]]:
    data = path.read_bytes()
    rows = _XmlRows()
    notes: list[str] = []
    offset, skipped_bytes, resyncs = 0, 0, 0
    prefix = b""
    while offset < len(data):
        parser = expat.ParserCreate("UTF-8")
        rows.depth = 0
        rows.attach(parser)
        try:
            if prefix:
                parser.Parse(prefix, False)
            parser.Parse(data[offset:], True)
            break
        except expat.ExpatError as exc:
            where = offset + max(0, parser.CurrentByteIndex - len(prefix))
            if exc.code == expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS] or where >= len(data) - 1:
                notes.append(f"{path.name}: the XML ends early (JMeter did not close it); every complete sample kept")
                break
            following = _next_sample(data, where + 1)
            if following < 0:
                notes.append(f"{path.name}: the XML ends early or is damaged near its end (byte {where}: {exc}); "
                             f"every complete sample before it kept")
                break
            for _, index in sorted(rows.rows_open, key=lambda r: -r[1]):  # cut by the damage: incomplete
                del rows.rows[index]
                del rows.failures[index]
            rows.rows_open, rows.tc_depth, rows.field = [], 0, None
            skipped_bytes += following - where
            resyncs += 1
            offset, prefix = following, b"<testResults>"
    if resyncs:
        notes.append(f"{path.name}: {resyncs} unreadable part(s) of the XML skipped ({skipped_bytes} bytes); "
                     f"{len(rows.rows)} complete samples kept")
    raw: dict[str, list[str]] = {name: [] for name in XML_ATTRS.values()}
    raw["failureMessage"] = []
    kept = 0
    for attrs, failure in zip(rows.rows, rows.failures):
        if attrs.get("dt", "") == "" and attrs.get("rm", "").startswith(TC_MESSAGE):
            continue  # a transaction controller's own sample
        for key, name in XML_ATTRS.items():
            raw[name].append(attrs.get(key, ""))
        raw["failureMessage"].append(failure)
        kept += 1
    if not rows.rows:
        return None, notes + [f"{path.name}: no samples in the XML"]
    present = {name for key, name in XML_ATTRS.items() if any(key in a for a in rows.rows[:1000])}
    raw = {k: v for k, v in raw.items() if k in present or k in ("failureMessage", *REQUIRED)}
    return _from_strings(raw, notes, path), notes


def _next_sample(data: bytes, start: int) -> int:
    found = [i for i in (data.find(b"<httpSample ", start), data.find(b"<sample ", start)) if i >= 0]
    return min(found) if found else -1


# --- extras ---------------------------------------------------------------------------------------


def log_warnings(path: Path) -> list[str]:
    """Errors JMeter logged while the run went on (BeanShell failures, ...), with counts."""
    log = path.with_name("jmeter.log")
    if not log.is_file() or log.stat().st_size > 200 << 20:
        return []
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.search(r"\b(ERROR|FATAL)\b\s*-?\s*(.*)", line)
        if not match:
            continue
        key = re.sub(r"\d+", "N", match.group(2))[:80]
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, match.group(2).strip()[:200])
    return [f"jmeter.log: {n} error line(s) like: {first[k]}" for k, n in counts.items()]


def _methods(path: Path, labels: pd.Categorical) -> pd.Categorical | str:
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
        return ""
    return pd.Categorical(np.asarray(methods, dtype=object)[np.asarray(labels.codes)])


__all__ = ["ingest_files", "read_jtl", "sniff", "sniff_bytes"]
