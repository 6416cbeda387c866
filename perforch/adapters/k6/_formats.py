"""k6's CSV and JSON outputs: where the fast path finds each field in a line, and how whole lines
are parsed (pyarrow) when a reader needs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from perforch.adapters.k6._fast import PAD, Piece
from perforch.adapters.k6._raw import ARROW_ERRORS, TAGS, Codes, Layout, Raw, categories, ns_or_layout
from perforch.errors import IngestError

HINT = "expected what k6 writes with --out csv=FILE, --out json=FILE or --summary-export=FILE"


# --- CSV ------------------------------------------------------------------------------------------


class CsvFormat:
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
        except Layout:
            return False
        return True

    def prepare(self, piece: Piece) -> None:
        pass

    def times(self, piece: Piece, pos: np.ndarray, stamp: int, head: np.ndarray) -> np.ndarray:
        if self.scale is not None and stamp <= 18:  # digits: read them as a number right here
            return _digits(head[:, :stamp]) * self.scale
        return ns_or_layout(piece.views(pos, np.full(len(pos), stamp, np.int32), head=head), self.scale)

    def split_tail(self, piece: Piece, value_end: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
        """(tags start, tags end, metadata start, metadata end) after a value ending at `value_end`."""
        if not self.meta_last:
            return value_end + 1, end, end, end
        comma = piece.last_byte(end, ord(","), 32)
        far = comma < 0
        if far.any():
            comma[far] = piece.last_byte(end[far], ord(","), PAD)
        if not (comma >= value_end).all():
            raise Layout
        return value_end + 1, comma, comma + 1, end

    def tags(self, tails: pa.Array) -> dict[str, Codes]:
        """Tag columns from the raw text after the value: only distinct tails not seen before are parsed."""
        if not self.rename:
            return {}

        def parse(new: list[bytes]) -> list[tuple]:
            table = self.read_tails(pa.py_buffer(b"\n".join(new) + b"\n"))
            if table.num_rows != len(new):
                raise Layout
            return list(zip(*(table[column].to_pylist() for column in self.rename)))

        return _tag_codes(tails, self.known, parse, list(self.rename.values()))

    def extras(self, piece: Piece, out: Raw) -> None:
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
    """Parse header-less k6 CSV lines with the given column names; Layout on anything unexpected."""

    def refuse(row: object) -> str:
        return "error"

    read_options = pacsv.ReadOptions(column_names=names, block_size=1 << 22)
    parse_options = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=refuse)
    convert_options = pacsv.ConvertOptions(include_columns=list(types), column_types=types,
                                           strings_can_be_null=False, quoted_strings_can_be_null=False)

    def read(buffer: pa.Buffer) -> pa.Table:
        try:
            return pacsv.read_csv(pa.BufferReader(buffer), read_options, parse_options, convert_options)
        except ARROW_ERRORS:
            raise Layout from None

    return read


def _time_scale(first: str) -> int | None:
    """ns per unit of a numeric k6 timestamp (K6_CSV_TIME_FORMAT unix/unix_milli/_micro/_nano), or
    None for RFC 3339 text."""
    if not first.isdigit():
        return None
    digits = len(first)
    return 1 if digits >= 18 else 1_000 if digits >= 15 else 1_000_000 if digits >= 12 else 1_000_000_000


def _digits(text: np.ndarray) -> np.ndarray:
    """Rows of ASCII digits (n x k, k <= 18) -> int64, exactly (in parts of at most 9 digits, which
    float64 holds exactly); Layout if a byte is not a digit."""
    digits = text.astype(np.float64) - 48
    if not ((digits >= 0) & (digits <= 9)).all():
        raise Layout
    out = np.zeros(len(text), np.int64)
    for at in range(0, text.shape[1], 9):
        part = digits[:, at:at + 9]
        out = out * 10 ** part.shape[1] + (part @ 10.0 ** np.arange(part.shape[1] - 1, -1, -1)).astype(np.int64)
    return out


# --- JSON -----------------------------------------------------------------------------------------

_TAG_SCHEMA = pa.struct([(t, pa.string()) for t in (*TAGS, "check", "url")])
POINT_SCHEMA = pa.schema([
    ("metric", pa.string()),
    ("type", pa.string()),
    ("data", pa.struct([("time", pa.string()), ("value", pa.float64()), ("tags", _TAG_SCHEMA),
                        ("metadata", pa.struct([("vu", pa.string()), ("iter", pa.string())]))])),
])


def json_table(buffer: pa.Buffer, schema: pa.Schema) -> pa.Table:
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    return pajson.read_json(pa.BufferReader(buffer), pajson.ReadOptions(block_size=1 << 22), options)


def flatten_points(table: pa.Table) -> pa.Table:
    data = table["data"].combine_chunks()
    tags, meta = data.field("tags"), data.field("metadata")
    return pa.table({"metric": table["metric"], "type": table["type"], "time": data.field("time"),
                     "value": data.field("value"), "name": pc.coalesce(tags.field("name"), tags.field("url")),
                     **{t: tags.field(t) for t in (*TAGS[1:], "check")},
                     "vu": meta.field("vu"), "iter": meta.field("iter")})


class JsonFormat:
    """k6's JSON lines: `{"metric":"NAME","type":"Point","data":{"time":"…","value":V,"tags":{…}[,"metadata":{…}]}}`."""

    skip = 0
    anchor = b'{"metric":"http_reqs","type":"Point"'
    probe = 20  # the byte of `{"metric":"http_req_X` where the http_req_* names differ
    time_stop = ord('"')
    before = b'","value":'
    scale = None  # RFC 3339 times

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

    @staticmethod
    def rows(buffer: pa.Buffer) -> pa.Table:
        try:
            return flatten_points(json_table(buffer, POINT_SCHEMA))
        except ARROW_ERRORS:
            raise Layout from None

    def prepare(self, piece: Piece) -> None:
        """k6 writes a metric's {"type":"Metric"} line just before its first point, inside a block."""
        lines = np.flatnonzero(piece.probe(2) == ord("t"))
        described = lines[piece.has(piece.starts[lines], b'{"type":"Metric"')]
        if len(described):
            piece.drop_lines(described)

    def times(self, piece: Piece, pos: np.ndarray, stamp: int, head: np.ndarray) -> np.ndarray:
        return ns_or_layout(piece.views(pos, np.full(len(pos), stamp, np.int32), head=head), None)

    def split_tail(self, piece: Piece, value_end: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
        """(tags start, tags end, metadata start, metadata end): `,"tags":{…}` then, if present,
        `,"metadata":{…}` (its `{` is the line's last, within 64 bytes of the end), then `}}`."""
        if not piece.has(end - 2, b"}}").all():
            raise Layout
        brace = piece.last_byte(end, ord("{"), 64)
        with_meta = (brace >= 0) & piece.has(brace - 12, b',"metadata":')
        meta = np.where(with_meta, brace, end - 2)
        return value_end, np.where(with_meta, brace - 12, end - 2), meta, end - 2

    def tags(self, tails: pa.Array) -> dict[str, Codes]:
        """Tags from the raw `,"tags":{…}` text after the value: only distinct ones not seen before are
        parsed."""

        def parse(new: list[bytes]) -> list[tuple]:
            if any(not t.startswith(b',"tags":{') or b'"metadata":' in t for t in new):
                raise Layout
            try:
                table = json_table(pa.py_buffer(b"".join(b"{" + t[1:] + b"}\n" for t in new)),
                                    pa.schema([("tags", _TAG_SCHEMA)]))
            except ARROW_ERRORS:
                raise Layout from None
            if table.num_rows != len(new):
                raise Layout
            tags = table["tags"].combine_chunks()
            columns = {t: tags.field(t) for t in TAGS}
            columns["name"] = pc.coalesce(columns["name"], tags.field("url"))
            return list(zip(*(columns[t].to_pylist() for t in TAGS)))

        return _tag_codes(tails, self.known, parse, list(TAGS))

    def extras(self, piece: Piece, out: Raw) -> None:
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


# --- both formats ---------------------------------------------------------------------------------


def _failed_check_lines(piece: Piece, lines: np.ndarray, prefix: bytes, stop: int, gap: int) -> np.ndarray:
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


def _tag_codes(tails: pa.Array, known: dict[bytes, tuple], parse: Callable[[list[bytes]], list[tuple]],
               tags: list[str]) -> dict[str, Codes]:
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
    return {tag: categories(codes, [row[i] for row in rows]) for i, tag in enumerate(tags)}


Format = CsvFormat | JsonFormat
