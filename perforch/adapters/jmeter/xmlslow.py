"""XML JTL files read element by element with expat: any writer's layout, and damage.

ingest.py tries xmlfast first (JMeter's own layout, vectorised); this reader takes every other
file. It keeps top-level samples and the children of a transaction controller's parent sample
(those are the requests); deeper samples (redirect hops, embedded resources) belong to their
parent. After a damaged part (binary garbage, a cut), it resumes at the next sample.
"""

from __future__ import annotations

from pathlib import Path
from xml.parsers import expat

TC_MESSAGE = "Number of samples in transaction"
REQUIRED = ("timeStamp", "elapsed", "label", "success")
XML_ATTRS = {"ts": "timeStamp", "t": "elapsed", "lb": "label", "rc": "responseCode", "rm": "responseMessage",
             "tn": "threadName", "dt": "dataType", "s": "success", "by": "bytes", "sby": "sentBytes",
             "na": "allThreads", "lt": "Latency", "ct": "Connect"}


class _XmlRows:
    """expat callbacks: the attributes of top-level samples (and of the children of a transaction
    controller's parent sample: those are the requests), each with its first failure message.
    Deeper samples (redirect hops, embedded resources) belong to their parent and are skipped."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self.failures: list[str] = []
        self.depth = 0
        self.rows_open: list[tuple[int, int]] = []  # (depth, index in rows) of the samples being read
        self.tc_depths: list[int] = []  # depths of the open transaction parent samples, nested ones last
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
        in_transaction = bool(self.tc_depths) and depth == self.tc_depths[-1] + 1
        if name in ("httpSample", "sample") and (depth == 2 or in_transaction):
            if name == "sample" and attrs.get("dt", "") == "" and attrs.get("rm", "").startswith(TC_MESSAGE):
                self.tc_depths.append(depth)
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
            if self.tc_depths and depth == self.tc_depths[-1]:
                self.tc_depths.pop()
        self.depth -= 1


def read(path: Path, notes: list[str]) -> dict[str, list[str]] | None:
    """Columns of strings from the top-level samples (None when there is none)."""
    data = path.read_bytes()
    rows = _XmlRows()
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
            rows.rows_open, rows.tc_depths, rows.field = [], [], None
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
        notes.append(f"{path.name}: no samples in the XML")
        return None
    present = {name for key, name in XML_ATTRS.items() if any(key in a for a in rows.rows[:1000])}
    return {k: v for k, v in raw.items() if k in present or k in ("failureMessage", *REQUIRED)}


def _next_sample(data: bytes, start: int) -> int:
    found = [i for i in (data.find(b"<httpSample ", start), data.find(b"<sample ", start)) if i >= 0]
    return min(found) if found else -1
