"""Benchmark: ingest + per-step stats of a synthetic 1M-request k6 CSV and k6 JSON, against naive pandas.

    python benchmarks/k6_ingest.py [--requests 1000000] [--dir /tmp/perforch-bench] [--skip-json]

Files are shaped like k6 v1.1.0 with its default system tags plus vu/iter metadata (reference
§1.3/§1.4): per request the nine HTTP rows in k6's order, a check (failed when the request got a
500) and a data_received row (11 rows), a `vus` gauge row every second, unix-microsecond CSV
timestamps (perforch's K6_CSV_TIME_FORMAT), Go-style RFC 3339 JSON times (trailing zeros trimmed),
`{"type":"Metric"}` lines just before each metric's first point, metadata keys in random order, a
label with a comma, quotes and non-ASCII text. Each measurement runs in a fresh process so that its
peak RSS is its own. Prints rows/s, peak RSS, the frame's size and the ratio to naive pandas
(read_csv of the whole file + filter + groupby; for JSON, json.loads per line + DataFrame + groupby).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

LABELS = ["http://sut/auth/login", "http://sut/api/items?page=1", 'http://sut/api/slow, "q" ü', "http://sut/api/flaky"]
HEADER = ("metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,"
          "proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n")
HTTP_METRICS = ["http_reqs", "http_req_duration", "http_req_blocked", "http_req_connecting",
                "http_req_tls_handshaking", "http_req_sending", "http_req_waiting", "http_req_receiving",
                "http_req_failed"]
T0_US = 1_795_000_000_000_000
STEP_US = 250  # 4000 requests/s
VUS = 50


def _cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def _request(i: int, rng: random.Random) -> tuple[str, bool, list[float]]:
    """Status, whether its check passed, and the nine HTTP values of request i. The flaky endpoint
    (every 4th request) fails 1 request in 25 with a 500 and 1 in 50 of its 200s fails a body check
    (1.5% of all requests); new connections for the first requests of each VU."""
    flaky = i % 4 == 3
    status = "500" if flaky and (i // 4) % 25 == 0 else "200"
    passed = status == "200" and not (flaky and (i // 4) % 50 == 7)
    dur = round(rng.expovariate(1 / 20) + 0.2, 6)
    new_conn = i < VUS
    values = [1.0, dur, 0.35 if new_conn else 0.01, 0.25 if new_conn else 0.0, 0.0, 0.02,
              round(dur * 0.9, 6), round(dur * 0.08, 6), 1.0 if status == "500" else 0.0]
    return status, passed, values


def make_csv(path: Path, requests: int) -> None:
    rng = random.Random(1)
    with Path(path).open("w", encoding="utf-8") as out:
        out.write(HEADER)
        buf = []
        for i in range(requests):
            label = LABELS[i % 4]
            cell = _cell(label)
            status, passed, values = _request(i, rng)
            expected = "false" if status == "500" else "true"
            code = "1500" if status == "500" else ""
            ts = T0_US + i * STEP_US
            vu, it = i % VUS, i // VUS
            tags = f",,,{code},{expected},::api,GET,{cell},HTTP/1.1,default,,{status},,,{cell},,"
            metas = (f"vu={vu}&iter={it}", f"iter={it}&vu={vu}")  # k6's key order is random per row
            if i % 4000 == 0:
                buf.append(f"vus,{ts},{VUS:.6f},,,,,,,,,,,,,,,,\n")
            for k, (metric, value) in enumerate(zip(HTTP_METRICS, values)):
                buf.append(f"{metric},{ts},{value:.6f}{tags}{metas[(i + k) % 2]}\n")
            buf.append(f"checks,{ts + 40},{float(passed):.6f},{_cell(label + ': as expected')},,,,::api,,{cell},,default,,,,,,,{metas[i % 2]}\n")
            buf.append(f"data_received,{ts + 50},1234.000000,,,,,::api,,,,default,,,,,,,{metas[i % 2]}\n")
            if len(buf) > 100_000:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))


def _rfc3339(us: int) -> str:
    sec, frac = divmod(us, 1_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    digits = f"{frac * 1000 + 123:09d}".rstrip("0")  # Go's RFC3339Nano drops trailing zeros
    return text + (f".{digits}" if digits else "") + "Z"


def _metric_line(metric: str, kind: str, contains: str) -> str:
    return json.dumps({"type": "Metric", "data": {"name": metric, "type": kind, "contains": contains,
                       "thresholds": [], "submetrics": None}, "metric": metric}, separators=(",", ":")) + "\n"


def _num(value: float) -> str:
    return repr(value) if value != int(value) else str(int(value))


def make_json(path: Path, requests: int) -> None:
    rng = random.Random(1)
    kinds = {"http_reqs": ("counter", "default"), "http_req_failed": ("rate", "default"), "checks": ("rate", "default"),
             "data_received": ("counter", "data"), "vus": ("gauge", "default")}
    seen = set()

    def point(metric: str, line: str) -> None:
        if metric not in seen:  # k6 writes a metric's description just before its first point
            seen.add(metric)
            buf.append(_metric_line(metric, *kinds.get(metric, ("trend", "time"))))
        buf.append(line)

    with Path(path).open("w", encoding="utf-8") as out:
        buf = []
        for i in range(requests):
            label = LABELS[i % 4]
            status, passed, values = _request(i, rng)
            us = T0_US + i * STEP_US
            stamp = _rfc3339(us)
            tags = {"expected_response": "false" if status == "500" else "true", "group": "::api", "method": "GET",
                    "name": label, "proto": "HTTP/1.1", "scenario": "default", "status": status, "url": label}
            if status == "500":
                tags["error_code"] = "1500"
            tag_text = json.dumps(dict(sorted(tags.items())), ensure_ascii=False, separators=(",", ":"))
            vu, it = i % VUS, i // VUS
            metas = (f'{{"vu":"{vu}","iter":"{it}"}}', f'{{"iter":"{it}","vu":"{vu}"}}')
            if i % 4000 == 0:
                point("vus", f'{{"metric":"vus","type":"Point","data":{{"time":"{stamp}","value":{VUS},"tags":{{}}}}}}\n')
            for k, (metric, value) in enumerate(zip(HTTP_METRICS, values)):
                point(metric, f'{{"metric":"{metric}","type":"Point","data":{{"time":"{stamp}","value":{_num(value)},'
                              f'"tags":{tag_text},"metadata":{metas[(i + k) % 2]}}}}}\n')
            check_tags = json.dumps({"check": label + ": as expected", "group": "::api", "name": label, "scenario": "default"},
                                    ensure_ascii=False, separators=(",", ":"))
            point("checks", f'{{"metric":"checks","type":"Point","data":{{"time":"{_rfc3339(us + 40)}","value":{int(passed)},'
                            f'"tags":{check_tags},"metadata":{metas[i % 2]}}}}}\n')
            point("data_received", f'{{"metric":"data_received","type":"Point","data":{{"time":"{_rfc3339(us + 50)}","value":1234,'
                                   f'"tags":{{"group":"::api","scenario":"default"}},"metadata":{metas[i % 2]}}}}}\n')
            if len(buf) > 100_000:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))


PERFORCH = """
import resource, sys, time
from pathlib import Path
from perforch.adapters.k6 import ingest
from perforch.analysis.stats import step_stats
path, fast = Path(sys.argv[1]), sys.argv[2] == "fast"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if fast:
    frame = ingest.ingest_files([path]).samples
else:  # the general (tolerant) path, which the fast path falls back to
    columns, _ = ingest._assemble(ingest.read_raw(path, ingest.sniff(path), fast=False), path, "")
    frame = ingest.frame_of(columns)
read = time.perf_counter() - t
stats = step_stats(frame)
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(frame), elapsed, base * 1024, peak * 1024, int(frame.memory_usage(deep=True).sum()),
      stats["p99"].iloc[-1], read)
"""

NAIVE_CSV = """
import resource, sys, time
import pandas as pd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
df = pd.read_csv(sys.argv[1])
d = df[df.metric_name == "http_req_duration"]
stats = d.groupby("name")["metric_value"].quantile(0.99)
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(d), elapsed, base * 1024, peak * 1024, int(d.memory_usage(deep=True).sum()), d.metric_value.quantile(0.99), elapsed)
"""

NAIVE_JSON = """
import json, resource, sys, time
import pandas as pd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
rows = []
with open(sys.argv[1]) as fh:
    for line in fh:
        doc = json.loads(line)
        if doc.get("type") == "Point" and doc["metric"] == "http_req_duration":
            rows.append((doc["data"]["time"], doc["data"]["value"], doc["data"]["tags"].get("name")))
d = pd.DataFrame(rows, columns=["time", "value", "name"])
stats = d.groupby("name")["value"].quantile(0.99)
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(d), elapsed, base * 1024, peak * 1024, int(d.memory_usage(deep=True).sum()), d.value.quantile(0.99), elapsed)
"""

MB = 1024 * 1024


def measure(code: str, path: Path, *args: str, python: str = sys.executable) -> dict:
    load = os.getloadavg()[0]
    out = subprocess.run([python, "-c", code, str(path), *args], capture_output=True, text=True, check=True).stdout
    rows, elapsed, base, peak, frame_bytes, p99, read = out.split()
    return {"rows": int(rows), "s": float(elapsed), "read": float(read), "base": int(base), "peak": int(peak),
            "frame": int(frame_bytes), "p99": float(p99), "load": load}


def best(runs: int, code: str, path: Path, *args: str) -> dict:
    results = [measure(code, path, *args) for _ in range(runs)]
    return min(results, key=lambda r: r["s"])


def line(who: str, r: dict) -> str:
    return (f"  {who:16} {r['s']:7.2f} s (read {r['read']:5.2f} s) {r['rows'] / r['s']:11,.0f} requests/s  "
            f"peak RSS {r['peak'] / MB:6.0f} MB (+{(r['peak'] - r['base']) / MB:5.0f} MB)  p99 {r['p99']:.4f}  "
            f"[load {r['load']:.2f}]")


def pandas_version(python: str) -> str:
    return subprocess.run([python, "-c", "import pandas; print(pandas.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()


def other_naive(name: str, naive: dict | None, ours: dict, python: str) -> None:
    """The same naive code under another interpreter (e.g. pandas 2.x, whose read_csv builds Python
    string objects; pandas 3 reads strings into Arrow and is several times faster)."""
    if naive is not None:
        print(f"  {name} naive with pandas {pandas_version(python)}: {naive['s']:.2f} s, peak RSS "
              f"{naive['peak'] / MB:.0f} MB; speed-up vs it {naive['s'] / ours['s']:.1f}x")


def report(name: str, size: int, naive: dict, ours: dict, general: dict | None) -> None:
    print(f"\n{name}: {size / MB:,.0f} MB, {ours['rows']:,} requests")
    print(line(f"naive (pandas {pandas_version(sys.executable)})", naive))
    print(line("perforch", ours))
    if general:
        print(line("perforch general", general))
    growth = (ours["peak"] - ours["base"]) / ours["frame"]
    print(f"  frame in memory {ours['frame'] / MB:.0f} MB; perforch peak growth / frame = {growth:.2f}x "
          f"(target <= 2x); speed-up vs naive {naive['s'] / ours['s']:.1f}x"
          + (f" (general path {naive['s'] / general['s']:.1f}x)" if general else ""))
    if abs(ours["p99"] - naive["p99"]) > 1e-6:
        print(f"  !! overall p99 differs from naive: {ours['p99']} vs {naive['p99']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/perforch-bench"))
    parser.add_argument("--runs", type=int, default=3, help="perforch runs per file; the fastest is shown")
    parser.add_argument("--skip-json", action="store_true")
    parser.add_argument("--skip-naive-json", action="store_true", help="the naive JSON parse takes minutes")
    parser.add_argument("--general", action="store_true", help="also time the general (fallback) path")
    parser.add_argument("--naive-python", help="also run the naive code with this interpreter (another pandas)")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.dir / f"k6-{args.requests}.csv"
    json_path = args.dir / f"k6-{args.requests}.json"
    if not csv_path.exists():
        print(f"writing {csv_path} ...", flush=True)
        make_csv(csv_path, args.requests)
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    naive = measure(NAIVE_CSV, csv_path)
    ours = best(args.runs, PERFORCH, csv_path, "fast")
    general = measure(PERFORCH, csv_path, "general") if args.general else None
    report("k6 CSV", csv_path.stat().st_size, naive, ours, general)
    if args.naive_python:
        other_naive("k6 CSV", measure(NAIVE_CSV, csv_path, python=args.naive_python), ours, args.naive_python)
    if not args.skip_json:
        if not json_path.exists():
            print(f"writing {json_path} ...", flush=True)
            make_json(json_path, args.requests)
        ours = best(args.runs, PERFORCH, json_path, "fast")
        general = measure(PERFORCH, json_path, "general") if args.general else None
        naive = ours if args.skip_naive_json else measure(NAIVE_JSON, json_path)
        report("k6 JSON", json_path.stat().st_size, naive, ours, general)
        if args.naive_python and not args.skip_naive_json:
            other_naive("k6 JSON", measure(NAIVE_JSON, json_path, python=args.naive_python), ours, args.naive_python)


if __name__ == "__main__":
    main()
