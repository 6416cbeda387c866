"""Re-captures the JTL files in this folder from real JMeter runs (see README.md).

    PATH=/tmp/pv/bin:$PATH python tests/data/jmeter/capture.py [--out tests/data/jmeter]

Runs one small plan (capture.jmx, written next to the outputs) several times with different
save-service settings against the demo API and a local redirect server, then writes JMeter's own
Aggregate Report figures (AggregateReport.java, JMeter's classes) for the CSV and XML files.
"""

from __future__ import annotations

import argparse
import csv
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from perforch.adapters.jmeter import debian
from perforch.adapters.jmeter import jmx
from perforch.adapters.jmeter.jmx import bool_prop, element, int_prop, string_prop
from perforch.demo.server import free_port, running_demo_api

HERE = Path(__file__).resolve().parent

# name -> save-service properties (on top of JMeter 2.13's defaults)
SHAPES = {
    "default-2.13.csv.jtl": {},  # no header row, 12 columns
    "perforch.csv.jtl": {  # what perforch's runs write (tool.py SAVE_SERVICE)
        "print_field_names": "true", "assertion_results_failure_message": "true", "thread_counts": "true",
        "latency": "true", "connect_time": "true", "idle_time": "true", "sent_bytes": "true", "url": "false"},
    "all-fields.csv.jtl": {
        "print_field_names": "true", "assertion_results_failure_message": "true", "url": "true",
        "filename": "true", "encoding": "true", "sample_count": "true", "hostname": "true", "idle_time": "true",
        "connect_time": "true"},
    "formatted-time.csv.jtl": {
        "print_field_names": "true", "timestamp_format": "yyyy/MM/dd HH:mm:ss.SSS",
        "assertion_results_failure_message": "true"},
    "tab.csv.jtl": {"print_field_names": "true", "default_delimiter": "\\t"},
    "default.xml.jtl": {"output_format": "xml", "assertion_results": "all"},
}


class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(302)
        self.send_header("Location", self.target + "/health")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def sampler(name: str, url: str, method: str = "GET", body: str | None = None, redirects: bool = True) -> jmx.Node:
    args = []
    if body is not None:
        args.append(jmx.element_prop("", "HTTPArgument", [bool_prop("HTTPArgument.always_encode", False),
                                                          string_prop("Argument.value", body),
                                                          string_prop("Argument.metadata", "=")]))
    props = [jmx.element_prop("HTTPsampler.Arguments", "Arguments", [jmx.collection_prop("Arguments.arguments", args)],
                              guiclass="HTTPArgumentsPanel", testclass="Arguments", testname="args", enabled="true")]
    if body is not None:
        props.append(bool_prop("HTTPSampler.postBodyRaw", True))
    props += [string_prop("HTTPSampler.path", url), string_prop("HTTPSampler.method", method),
              string_prop("HTTPSampler.contentEncoding", "UTF-8"),
              bool_prop("HTTPSampler.follow_redirects", redirects), bool_prop("HTTPSampler.use_keepalive", True),
              string_prop("HTTPSampler.implementation", "HttpClient4")]
    return element("HTTPSamplerProxy", name, props, guiclass="HttpTestSampleGui")


def equals_assertion(expected: str) -> jmx.Node:
    return element("ResponseAssertion", "body equals", [
        jmx.collection_prop("Asserion.test_strings", [string_prop("0", expected)]),
        string_prop("Assertion.test_field", "Assertion.response_data"),
        bool_prop("Assertion.assume_success", False), int_prop("Assertion.test_type", 8)], guiclass="AssertionGui")


def plan(api: str, redirect: str, closed_port: int) -> str:
    def tc(name: str, parent: bool, *children: jmx.Node) -> jmx.Node:
        return element("TransactionController", name, [bool_prop("TransactionController.parent", parent),
                                                       bool_prop("TransactionController.includeTimers", False)],
                       guiclass="TransactionControllerGui").add(*children)

    header = element("HeaderManager", "json", [jmx.collection_prop("HeaderManager.headers", [
        jmx.element_prop("", "Header", [string_prop("Header.name", "Content-Type"),
                                        string_prop("Header.value", "application/json")])])], guiclass="HeaderPanel")
    tg = element("ThreadGroup", "api_flow", [
        string_prop("ThreadGroup.on_sample_error", "continue"),
        jmx.element_prop("ThreadGroup.main_controller", "LoopController", [
            bool_prop("LoopController.continue_forever", False), string_prop("LoopController.loops", "6")],
            guiclass="LoopControlPanel", testclass="LoopController", testname="loop", enabled="true"),
        string_prop("ThreadGroup.num_threads", "2"), string_prop("ThreadGroup.ramp_time", "0"),
        bool_prop("ThreadGroup.scheduler", False)])
    tg.add(
        sampler("POST /auth/login", api + "/auth/login", "POST", '{"email": "a@b.c", "password": "x"}').add(header),
        sampler('GET "items", quoted, with commas', api + "/api/slow"),
        sampler("flaky ünïcødé ✓", api + "/api/flaky"),
        sampler("health (multi-line failure)", api + "/health").add(equals_assertion('{"status": "fine"}\nsecond line')),
        tc("checkout", False, sampler("health 1", api + "/health"), sampler("health 2", api + "/health")),
        tc("parent sample", True, sampler("child a", api + "/health"), sampler("child b", api + "/health")),
        sampler("redirected", redirect + "/r"),
        sampler("refused", f"http://127.0.0.1:{closed_port}/nothing"),
    )
    root = element("TestPlan", "capture", [bool_prop("TestPlan.functional_mode", False)]).add(tg)
    return jmx.render(root, "2.13")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    binary = shutil.which("jmeter")
    install = debian.describe(binary) if binary else None
    if install is None or install.home is None:
        print("jmeter not found", file=sys.stderr)
        return 1
    start = debian.launcher_argv(install.home) if install.needs_xstream_fix else [binary]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed_port = free_port()
    with running_demo_api() as api, tempfile.TemporaryDirectory() as tmp:
        _Redirect.target = api
        plan_path = Path(tmp) / "capture.jmx"
        plan_path.write_text(plan(api, f"http://127.0.0.1:{server.server_address[1]}", closed_port), encoding="utf-8")
        for name, props in SHAPES.items():
            out = args.out / name
            out.unlink(missing_ok=True)
            argv = [*start, "-n", "-t", str(plan_path), "-l", str(out), "-j", str(Path(tmp) / "jmeter.log"),
                    *[f"-Jjmeter.save.saveservice.{k}={v}" for k, v in props.items()]]
            subprocess.run(argv, check=True, capture_output=True, timeout=300)
            print(f"{name}: {out.stat().st_size} bytes")
    server.shutdown()
    derive_5x(args.out)
    for name in ("perforch.csv.jtl", "default.xml.jtl"):
        report = aggregate_report(install.home, args.out / name)
        (args.out / (name + ".aggregate.tsv")).write_text(report, encoding="utf-8")
    return 0


DEFAULT_5 = ("timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType", "success",
             "failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "URL", "Latency", "IdleTime",
             "Connect")


def derive_5x(out: Path) -> None:
    """JMeter 5.x's default columns, with and without the header row, from the all-fields capture:
    the rows of a real 2.13 run re-written in 5.x's column order (2.13 has no sentBytes: 0)."""
    with (out / "all-fields.csv.jtl").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for name, header in (("default-5x.csv.jtl", True), ("default-5x-noheader.csv.jtl", False)):
        with (out / name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            if header:
                writer.writerow(DEFAULT_5)
            for row in rows:
                writer.writerow([row.get(c, "0") if c != "sentBytes" else "0" for c in DEFAULT_5])


def aggregate_report(home: Path, jtl: Path) -> str:
    """JMeter's Aggregate Report figures for a JTL, computed by JMeter's own classes."""
    jars = [home / "bin" / "ApacheJMeter.jar", *sorted((home / "lib").glob("*.jar")),
            *sorted((home / "lib" / "ext").glob("*.jar"))]
    argv = ["java", f"-Djmeter.home={home}", "-cp", ":".join(map(str, jars)), str(HERE / "AggregateReport.java"), str(jtl)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=300).stdout
    return out[out.index("label\tcount"):]  # JMeter logs to stdout before it


if __name__ == "__main__":
    sys.exit(main())
