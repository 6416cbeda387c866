"""XML JTL files as JMeter writes them, read with vectorised string operations (pyarrow).

JMeter's XML writer (XStream's pretty printer) puts each sample's start tag on a line of its own,
top-level samples at column 0 and their children indented by two spaces, attribute values
XML-escaped (no raw quote or newline). So the file is read as lines, the lines that open a
top-level sample (or a child of a transaction's parent sample: those are the requests) are split
on '"' into keys and values, and every attribute becomes a column in a few passes over all rows.
Failure messages come from the (few) failed samples' own lines. Anything that does not look like
this (another writer, a damaged line pattern, invalid UTF-8) returns None: the expat reader in
ingest.py then reads the file element by element.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

KEYS = {"ts": "timeStamp", "t": "elapsed", "lb": "label", "rc": "responseCode", "rm": "responseMessage",
        "tn": "threadName", "dt": "dataType", "s": "success", "by": "bytes", "sby": "sentBytes",
        "na": "allThreads", "lt": "Latency", "ct": "Connect"}
INT32 = {"elapsed", "allThreads", "Latency", "Connect"}
INT64 = {"timeStamp", "bytes", "sentBytes"}
TC_MESSAGE = "Number of samples in transaction"
_FAILED = re.compile(r"<(failure|error)>true</\1>")
_MESSAGE = re.compile(r"<failureMessage>(.*?)</failureMessage>", re.S)


def read_lines(path: Path) -> pa.StringArray | None:
    """Every line of the file as one string (None when that is not possible: invalid UTF-8, ...)."""
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=["line"], block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False, double_quote=False,
                                             escape_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={"line": pa.string()}, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        return None
    return table.column("line").combine_chunks()


def read(path: Path) -> tuple[list[pa.RecordBatch], int] | None:
    """Record batches of requests in the columns ingest's collector takes, and how many sample lines
    were cut or damaged (left out); None when the file is not laid out as JMeter writes it."""
    lines = read_lines(path)
    if lines is None or len(lines) < 2:
        return None
    head = pc.utf8_slice_codeunits(lines, 0, 5)
    top = _mask(pc.or_(pc.equal(head, "<http"), pc.equal(head, "<samp")))
    rows = np.flatnonzero(top)
    if not len(rows):
        return None
    nested = _mask(pc.or_(pc.equal(head, "  <ht"), pc.equal(head, "  <sa")))
    closes = np.flatnonzero(_mask(pc.or_(pc.equal(lines, "</httpSample>"), pc.equal(lines, "</sample>"))))
    top_rows = _attributes(lines, rows)
    if top_rows is None:
        return None
    batches, damaged, rows = [top_rows[0]], top_rows[1], top_rows[2]
    # a transaction controller's parent sample: its children, one level in, are the requests
    parents = rows[top_rows[3] & top_rows[4]]
    if len(parents) and nested.any():
        ends = closes[np.minimum(np.searchsorted(closes, parents), len(closes) - 1)] if len(closes) else parents
        children = np.flatnonzero(nested)
        owner = np.searchsorted(parents, children, side="right") - 1
        inside = (owner >= 0) & (children < ends[np.maximum(owner, 0)])
        inside &= _last_top(rows, children) == parents[np.maximum(owner, 0)]
        if inside.any():
            child_rows = _attributes(lines, children[inside], indent=2)
            if child_rows is None or (child_rows[3] & child_rows[4]).any():
                return None  # a transaction parent inside another: the element reader follows the nesting
            batches.append(child_rows[0])
            damaged += child_rows[1]
    return batches, damaged


def _mask(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _last_top(rows: np.ndarray, children: np.ndarray) -> np.ndarray:
    """For each child line, the top-level line above it."""
    return rows[np.maximum(np.searchsorted(rows, children, side="right") - 1, 0)]


def _attributes(lines: pa.StringArray, at: np.ndarray, indent: int = 0):  # noqa: ANN202
    """(batch, damaged lines, the lines read, open element, transaction) for the start tags at `at`."""
    selected = lines.take(pa.array(at))
    if indent:
        selected = pc.utf8_slice_codeunits(selected, indent)
    parts = pc.split_pattern(selected, '"')
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    common = np.bincount(lengths).argmax()
    good = lengths == common
    first = parts[int(np.flatnonzero(good)[0])].as_py()
    keys = [k.strip().rstrip("=").split(" ")[-1] for k in first[0:-1:2]]
    if "t" not in keys or "ts" not in keys or "s" not in keys or "lb" not in keys:
        return None
    if (~good).sum() > max(10, len(good) // 100):
        return None  # not one layout: another writer, or much damage
    if not good.all():
        parts = parts.filter(pa.array(good))
        at = at[good]
    for position in range(2, len(first) - 1, 2):  # every line has the same attributes in the same order
        if not pc.all(pc.equal(pc.list_element(parts, position), first[position])).as_py():
            return None
    columns: dict[str, pa.Array] = {}
    for i, key in enumerate(keys):
        name = KEYS.get(key)
        if name is None:
            continue
        values = pc.list_element(parts, 2 * i + 1)
        if name == "success":
            columns[name] = pc.equal(values, "true")
        elif name in INT32 or name in INT64:
            columns[name] = pc.cast(pc.if_else(pc.equal(values, ""), None, values), pa.int32() if name in INT32 else pa.int64())
        else:
            columns[name] = _unescaped(values)
    tag_and_close = pc.list_element(parts, 0), pc.list_element(parts, len(first) - 1)
    is_open = _mask(pc.equal(pc.utf8_trim_whitespace(tag_and_close[1]), ">"))
    is_sample = _mask(pc.starts_with(tag_and_close[0], "<sample"))
    dtype = columns.get("dataType")
    message = columns.get("responseMessage")
    transaction = is_sample.copy()
    if dtype is not None:
        transaction &= _mask(pc.equal(dtype.cast(pa.string()), ""))
    if message is not None:
        transaction &= _mask(pc.starts_with(message.cast(pa.string()), TC_MESSAGE))
    columns["failureMessage"] = _failures(lines, at, is_open, columns["success"], indent)
    return pa.RecordBatch.from_pydict(columns), int((~good).sum()), at, is_open, transaction


def _unescaped(values: pa.Array) -> pa.DictionaryArray:
    encoded = pc.dictionary_encode(values)
    dictionary = [html.unescape(v) for v in encoded.dictionary.to_pylist()]
    return pa.DictionaryArray.from_arrays(encoded.indices, pa.array(dictionary, pa.string()))


def _failures(lines: pa.StringArray, at: np.ndarray, is_open: np.ndarray, success: pa.Array,
              indent: int) -> pa.DictionaryArray:
    """The first failed assertion's message of each failed sample (from its own lines)."""
    messages = [""]
    codes = np.zeros(len(at), np.int32)
    failed = np.flatnonzero(is_open & ~_mask(pc.fill_null(success, False)))
    if len(failed):
        end_tags = {" " * indent + "</httpSample>", " " * indent + "</sample>"}
        index = {"": 0}
        for row in failed:
            start, texts = int(at[row]) + 1, []
            while start < len(lines):
                line = lines[start].as_py()
                if line in end_tags:
                    break
                texts.append(line)
                start += 1
            message = _first_failure("\n".join(texts))
            codes[row] = index.setdefault(message, len(messages))
            if codes[row] == len(messages):
                messages.append(message)
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(messages, pa.string()))


def _first_failure(fragment: str) -> str:
    for block in fragment.split("</assertionResult>"):
        if _FAILED.search(block):
            found = _MESSAGE.search(block)
            return html.unescape(found.group(1)) if found else ""
    return ""
