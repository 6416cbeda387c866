"""JUnit XML: one testcase per SLO (and one per step when compared with a baseline), for CI."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from perforch.analysis.compare import WORSE, Comparison
from perforch.analysis.run import RunAnalysis
from perforch.analysis.stats import OVERALL
from perforch.store import RunRecord


def render_junit(record: RunRecord, analysis: RunAnalysis, comparison: Comparison | None = None,
                 headline: str = "") -> str:
    root = ET.Element("testsuites", name="perforch")
    suite = _suite(root, f"SLOs: {record.name}", record, analysis.duration_s)
    failures = 0
    for slo in analysis.slos:
        case = ET.SubElement(suite, "testcase", classname=f"perforch.slo.{_dotted(record.name)}", name=slo.rule,
                             time="0")
        if not slo.ok:
            failures += 1
            why = f"observed {slo.observed_text}" + (f" ({slo.note})" if slo.note else "")
            failure = ET.SubElement(case, "failure", message=f"SLO NOT MET: {slo.rule}: {why}", type="SLO")
            failure.text = f"{slo.rule}\nobserved: {slo.observed_text}\n{slo.note}".rstrip()
        else:
            ET.SubElement(case, "system-out").text = f"SLO MET: observed {slo.observed_text}"
    _close(suite, len(analysis.slos), failures, headline)
    total_tests, total_failures = len(analysis.slos), failures
    if comparison is not None:
        suite = _suite(root, f"regressions: {record.name}", record, analysis.duration_s)
        failures = 0
        changes = (*comparison.steps, comparison.overall)
        for change in changes:
            name = "all requests" if change.label == OVERALL else change.label
            case = ET.SubElement(suite, "testcase", classname=f"perforch.compare.{_dotted(record.name)}", name=name,
                                 time="0")
            if change.verdict == WORSE:
                failures += 1
                failure = ET.SubElement(case, "failure", message=f"regression: {'; '.join(change.reasons)}",
                                        type="regression")
                failure.text = "\n".join(change.reasons)
            else:
                ET.SubElement(case, "system-out").text = f"{change.verdict}: {'; '.join(change.reasons) or '-'}"
        _close(suite, len(changes), failures, "")
        total_tests += len(changes)
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    _clean(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, name: str, record: RunRecord, duration_s: float) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=name, timestamp=record.started_at.rstrip("Z")[:19],
                          hostname=record.host, time=f"{duration_s:.3f}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", record.run_id), ("tool", record.tool), ("tool_version", record.tool_version or ""),
                       ("status", record.status)):
        ET.SubElement(props, "property", name=key, value=str(value))
    return suite


def _close(suite: ET.Element, tests: int, failures: int, out: str) -> None:
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    if out:
        ET.SubElement(suite, "system-out").text = out


def _dotted(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "run"


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(element: ET.Element) -> None:
    """Characters XML 1.0 cannot carry (a label may hold anything) become U+FFFD."""
    for node in element.iter():
        node.attrib = {k: _NOT_XML.sub("\ufffd", v) for k, v in node.attrib.items()}
        if node.text:
            node.text = _NOT_XML.sub("\ufffd", node.text)
