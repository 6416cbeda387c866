"""Benchmark: what the outputs perforch asks k6 to write cost in k6's maximum request rate.

    python benchmarks/k6_overhead.py [--rounds 3] [--seconds 8] [--vus 10] [--variants]

Against the demo API on 127.0.0.1, a closed loop of VUs without think time GETs /health. Runs
alternate, side by side: k6 with no output at all (`k6 run`), then k6 with exactly the command line
and environment perforch uses (K6Adapter.command/environment: --out csv, --summary-export,
--system-tags, K6_CSV_TIME_FORMAT=unix_micro). The request rate is what the server counted (its
/__stats), so both sides are measured the same way; k6's own CPU time per request is printed too
(on a shared 2-core box the Python demo server and other processes limit the rate, the CPU cost
does not depend on them). Prints each run, the medians and the ratio (target: perforch's outputs
>= 0.9x no output). `--variants` also times a few alternatives (JSON
output, k6's default system tags, fewer tags) to show what each choice costs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from perforch.adapters.base import Launch
from perforch.adapters.k6 import generate
from perforch.adapters.k6.tool import K6Adapter
from perforch.demo.server import running_demo_api

SCRIPT = """import http from "k6/http";
export default function () { http.get(__ENV.PERFORCH_BENCH_URL + "/health"); }
"""


def served(base_url: str) -> int:
    with urllib.request.urlopen(base_url + "/__stats", timeout=5) as response:
        return int(json.loads(response.read())["requests"].get("GET /health", 0))


def reset(base_url: str) -> None:
    request = urllib.request.Request(base_url + "/__reset", method="POST")
    urllib.request.urlopen(request, timeout=5).read()


def run(argv: list[str], env: dict[str, str], base_url: str, seconds: float) -> tuple[float, float]:
    """One k6 run -> (requests per second as the server counted them, k6's CPU µs per request)."""
    reset(base_url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"k6 failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-2000:]}")
    count = served(base_url)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return count / seconds, cpu / max(count, 1) * 1e6


def variants(adapter: K6Adapter, binary: str, work: Path, base_url: str, vus: int, seconds: float,
             extra: bool) -> dict[str, tuple[list[str], dict[str, str]]]:
    script_dir, raw_dir = work / "script", work / "raw"
    script_dir.mkdir(parents=True, exist_ok=True)
    raw_dir.mkdir(parents=True, exist_ok=True)
    (script_dir / generate.SCRIPT).write_text(SCRIPT)
    load = ["--vus", str(vus), "--duration", f"{seconds:g}s"]
    base_env = {**os.environ, "K6_NO_USAGE_REPORT": "true", "PERFORCH_BENCH_URL": base_url}
    perforch = adapter.command(Launch(script_dir=script_dir, raw_dir=raw_dir, binary=binary))
    perforch = perforch[:-1] + load + perforch[-1:]
    perforch_env = {**base_env, **adapter.environment(Launch(script_dir, raw_dir, binary))}
    script = str(script_dir / generate.SCRIPT)
    out = {
        "no output": ([binary, "run", "--quiet", "--no-color", *load, script], base_env),
        "perforch outputs": (perforch, perforch_env),
    }
    if extra:
        csv = ["--out", f"csv={raw_dir / 'v.csv'}", "--summary-export", str(raw_dir / "v.json")]
        out["csv, k6 default tags"] = ([binary, "run", "--quiet", "--no-color", *csv, *load, script],
                                       {**base_env, "K6_CSV_TIME_FORMAT": "unix_micro"})
        out["csv, 4 tags"] = ([binary, "run", "--quiet", "--no-color", *csv, "--system-tags",
                               "name,status,expected_response,scenario", *load, script],
                              {**base_env, "K6_CSV_TIME_FORMAT": "unix_micro"})
        out["json, perforch tags"] = ([binary, "run", "--quiet", "--no-color", "--out", f"json={raw_dir / 'v.jsonl'}",
                                       "--summary-export", str(raw_dir / "v.json"), "--system-tags",
                                       perforch[perforch.index("--system-tags") + 1], *load, script], base_env)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--vus", type=int, default=10)
    parser.add_argument("--variants", action="store_true", help="also time a few alternative outputs")
    args = parser.parse_args()
    adapter = K6Adapter()
    binary = adapter.find_binary()
    print(f"k6 {adapter.version(binary)}; {os.cpu_count()} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.vus} VUs, {args.seconds:g} s per run, "
          f"{args.rounds} rounds, GET /health, no think time")
    work = Path(tempfile.mkdtemp(prefix="perforch-overhead-"))
    try:
        with running_demo_api() as base_url:
            runs = variants(adapter, binary, work, base_url, args.vus, args.seconds, args.variants)
            print("perforch's command: " + " ".join(runs["perforch outputs"][0]))
            warm, env = runs["no output"]
            run([arg if arg != f"{args.seconds:g}s" else "2s" for arg in warm], env, base_url, 2)
            rates: dict[str, list[float]] = {name: [] for name in runs}
            costs: dict[str, list[float]] = {name: [] for name in runs}
            for round_ in range(args.rounds):
                for name, (argv, env) in runs.items():
                    rate, cost = run(argv, env, base_url, args.seconds)
                    rates[name].append(rate)
                    costs[name].append(cost)
                    print(f"  round {round_ + 1}  {name:22} {rate:9,.0f} req/s  k6 CPU {cost:5.1f} µs/request  "
                          f"[load {os.getloadavg()[0]:.2f}]", flush=True)
                    for leftover in (work / "raw").iterdir():
                        leftover.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    baseline = statistics.median(rates["no output"])
    print("\nmedians (ratio to no output; k6's own CPU per request shows the cost even when the server or a busy")
    print("machine limits the rate):")
    for name, values in rates.items():
        print(f"  {name:22} {statistics.median(values):9,.0f} req/s  {statistics.median(values) / baseline:5.2f}x   "
              f"k6 CPU {statistics.median(costs[name]):5.1f} µs/request")
    ratio = statistics.median(rates["perforch outputs"]) / baseline
    print(f"\nperforch outputs / no output = {ratio:.2f}x (target >= 0.90x)")


if __name__ == "__main__":
    main()
