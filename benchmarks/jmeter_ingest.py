"""Benchmark: ingest + per-step stats of synthetic JMeter JTLs, against naive pandas / ElementTree.

    python benchmarks/jmeter_ingest.py [--requests 1000000 5000000] [--dir /tmp/perforch-bench] [--xml]

CSV files are shaped like JMeter 5.x's default (17 columns, header row, reference §3.2), ~140 B a
row: labels with quoted commas and quotes, a transaction controller row after every 4 requests,
and a failing request every 97 whose assertion message spans several lines inside a quoted field,
as real Equals/Response assertion messages do. The XML file has the same rows as <httpSample>
elements (controllers as <sample>, failures with <assertionResult> children, a redirect nested
under its request every 50). Each measurement runs in a fresh process, so its peak RSS is its own.
Naive = pandas.read_csv on the whole file + groupby (count, errors, mean, min, max, percentiles);
naive XML = ElementTree.parse + a loop over the top-level elements + the same groupby.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HEADER = ("timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,"
          "sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n")
LABELS = ["POST /auth/login", "GET /api/items", '"GET ""items"", quoted, with commas"', "flaky search"]
XML_LABELS = ["POST /auth/login", "GET /api/items", "GET &quot;items&quot;, quoted, with commas", "flaky search"]
FAILURE = ('"Test failed: text expected to contain /confirmed/\n\n****** received  : {""status"": ""[[[pending""}]]]\n'
           '\n****** comparison: {""status"": ""[[[confirmed""}]]]\n\n/"')
XML_FAILURE = ("Test failed: text expected to contain /confirmed/\n\n****** received  : {&quot;status&quot;: "
               "&quot;[[[pending&quot;}]]]\n\n****** comparison: {&quot;status&quot;: &quot;[[[confirmed&quot;}]]]\n\n/")
T0 = 1_795_000_000_000
MB = 1024 * 1024


def make_csv(path: Path, rows: int) -> None:
    rng = random.Random(1)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        buf: list[str] = []
        for i in range(rows):
            ts = T0 + i // 4
            thread = f"shopper 1-{i % 50 + 1}"
            if i % 5 == 4:  # a transaction controller's own row
                buf.append(f"{ts},{rng.randint(20, 90)},checkout,200,\"Number of samples in transaction : 4, number of "
                           f"failing samples : 0\",{thread},,true,,900,400,50,50,null,30,12,0\n")
                continue
            label = LABELS[i % 4]
            elapsed = int(rng.expovariate(1 / 20)) + 1
            if i % 97 == 0:
                buf.append(f"{ts},{elapsed},{label},200,OK,{thread},text,false,{FAILURE},220,100,50,50,"
                           f"http://127.0.0.1:8765/api/items,{elapsed},0,0\n")
            else:
                code, ok = ("500", "false") if i % 89 == 0 else ("200", "true")
                buf.append(f"{ts},{elapsed},{label},{code},OK,{thread},text,{ok},,220,100,50,50,"
                           f"http://127.0.0.1:8765/api/items,{max(1, elapsed - 1)},0,{1 if i % 500 == 0 else 0}\n")
            if len(buf) >= 100_000:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))


def make_xml(path: Path, rows: int) -> None:
    rng = random.Random(1)
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testResults version="1.2">\n')
        buf: list[str] = []
        for i in range(rows):
            ts = T0 + i // 4
            thread = f"shopper 1-{i % 50 + 1}"
            if i % 5 == 4:
                buf.append(f'<sample t="{rng.randint(20, 90)}" it="12" lt="30" ct="0" ts="{ts}" s="true" lb="checkout" '
                           f'rc="200" rm="Number of samples in transaction : 4, number of failing samples : 0" '
                           f'tn="{thread}" dt="" by="900" sby="400" ng="50" na="50"/>\n')
                continue
            elapsed = int(rng.expovariate(1 / 20)) + 1
            ok = "false" if i % 97 == 0 or i % 89 == 0 else "true"
            code = "500" if i % 89 == 0 else "200"
            head = (f'<httpSample t="{elapsed}" it="0" lt="{max(1, elapsed - 1)}" ct="0" ts="{ts}" s="{ok}" '
                    f'lb="{XML_LABELS[i % 4]}" rc="{code}" rm="OK" tn="{thread}" dt="text" by="220" sby="100" '
                    f'ng="50" na="50"')
            if i % 97 == 0:
                buf.append(head + ">\n  <assertionResult>\n    <name>contains</name>\n    <failure>true</failure>\n"
                           f"    <error>false</error>\n    <failureMessage>{XML_FAILURE}</failureMessage>\n"
                           "  </assertionResult>\n</httpSample>\n")
            elif i % 50 == 0:
                buf.append(head + f'>\n  <httpSample t="2" lt="2" ts="{ts}" s="true" lb="http://127.0.0.1/r" rc="302" '
                           f'rm="Found" tn="{thread}" dt="" by="155" ng="50" na="50"/>\n</httpSample>\n')
            else:
                buf.append(head + "/>\n")
            if len(buf) >= 100_000:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf) + "</testResults>\n")


PERFORCH = """
import resource, sys, time
from pathlib import Path
from perforch.adapters.jmeter.ingest import ingest_files
from perforch.analysis.stats import step_stats
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
frame = ingest_files([Path(sys.argv[1])]).samples
read = time.perf_counter() - t
stats = step_stats(frame, method="nearest-rank")
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(frame), elapsed, base * 1024, peak * 1024, read, int((~frame["ok"]).sum()), stats["max_ms"].iloc[-1])
"""

NAIVE_CSV = """
import resource, sys, time
import pandas as pd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
df = pd.read_csv(sys.argv[1])
df = df[df["dataType"].notna()]
read = time.perf_counter() - t
g = df.groupby("label")["elapsed"]
stats = g.agg(["count", "mean", "min", "max"])
quantiles = g.quantile([0.5, 0.9, 0.95, 0.99, 0.999])
errors = (~df["success"]).groupby(df["label"]).sum()
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(df), elapsed, base * 1024, peak * 1024, read, int(errors.sum()), df["elapsed"].max())
"""

NAIVE_XML = """
import resource, sys, time
import xml.etree.ElementTree as ET
import pandas as pd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
root = ET.parse(sys.argv[1]).getroot()
rows = [(e.get("lb"), int(e.get("t")), e.get("s") == "true") for e in root
        if not (e.tag == "sample" and e.get("rm", "").startswith("Number of samples in transaction"))]
df = pd.DataFrame(rows, columns=["label", "elapsed", "success"])
read = time.perf_counter() - t
g = df.groupby("label")["elapsed"]
stats = g.agg(["count", "mean", "min", "max"])
quantiles = g.quantile([0.5, 0.9, 0.95, 0.99, 0.999])
errors = (~df["success"]).groupby(df["label"]).sum()
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(df), elapsed, base * 1024, peak * 1024, read, int(errors.sum()), df["elapsed"].max())
"""


def measure(code: str, path: Path, python: str = sys.executable) -> dict:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    out = subprocess.run([python, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    rows, elapsed, base, peak, read, errors, max_ms = out.split()
    return {"rows": int(rows), "s": float(elapsed), "read": float(read), "base": int(base), "peak": int(peak),
            "errors": int(errors), "max": float(max_ms), "load": load, "wall": wall}


def best(runs: int, code: str, path: Path) -> dict:
    return min((measure(code, path) for _ in range(runs)), key=lambda r: r["s"])


def line(who: str, r: dict) -> str:
    return (f"  {who:9} {r['s']:7.2f} s (read {r['read']:6.2f} s) {r['rows'] / r['s']:11,.0f} rows/s  "
            f"peak RSS {r['peak'] / MB:6.0f} MB  [load {r['load']:.2f}]")


def pandas_version(python: str) -> str:
    return subprocess.run([python, "-c", "import pandas; print(pandas.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()


def report(name: str, path: Path, naive: dict, ours: dict, other: tuple[str, dict] | None = None) -> None:
    print(f"\n{name}: {path.stat().st_size / MB:,.0f} MB, {ours['rows']:,} requests")
    print(line("naive", naive) + f"  (pandas {pandas_version(sys.executable)})")
    if other is not None:
        print(line("naive", other[1]) + f"  (pandas {pandas_version(other[0])}: ratio {other[1]['s'] / ours['s']:.2f}x)")
    print(line("perforch", ours))
    same = (naive["rows"], naive["errors"], naive["max"]) == (ours["rows"], ours["errors"], ours["max"])
    print(f"  ratio {naive['s'] / ours['s']:.2f}x (target >= 1.5x); peak {ours['peak'] / MB:.0f} MB; "
          f"same requests, errors and max as naive: {'yes' if same else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, nargs="*", default=[1_000_000, 5_000_000],
                        help="rows per synthetic file")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/perforch-bench"))
    parser.add_argument("--runs", type=int, default=2, help="perforch runs per file; the fastest is shown")
    parser.add_argument("--xml", type=int, default=1_000_000, help="rows of the XML file (0: skip)")
    parser.add_argument("--naive-python", help="also run the naive code with this interpreter (another pandas)")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for rows in args.requests:
        path = args.dir / f"jmeter-5x-{rows}.jtl"
        if not path.exists():
            print(f"writing {path} ...", flush=True)
            make_csv(path, rows)
        naive = measure(NAIVE_CSV, path)
        other = (args.naive_python, measure(NAIVE_CSV, path, args.naive_python)) if args.naive_python else None
        ours = best(args.runs, PERFORCH, path)
        report(f"JMeter 5.x default CSV, {rows:,} rows", path, naive, ours, other)
    if args.xml:
        path = args.dir / f"jmeter-{args.xml}.xml.jtl"
        if not path.exists():
            print(f"writing {path} ...", flush=True)
            make_xml(path, args.xml)
        naive = measure(NAIVE_XML, path)
        ours = best(args.runs, PERFORCH, path)
        report(f"JMeter XML, {args.xml:,} rows", path, naive, ours)


if __name__ == "__main__":
    main()
