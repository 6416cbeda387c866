"""Benchmark: the full report (stats + charts + md + html + junit + json) of a 5M-request run.

    python benchmarks/report_5m.py [--requests 5000000] [--dir /tmp/perforch-report-bench] [--repeat 1]

A synthetic run directory is written once (not timed): one hour of a closed-model test, users
ramping 1 -> 200 over 40 minutes then holding, 10 steps, latency flat up to 120 users then rising,
0.5% errors plus a burst of 503s at minute 50, and a system.parquet. Then write_reports() runs in a
fresh process (cold imports included, as `perforch report` would) and prints the time of each
stage, the total against the 5 s target, and the machine's load (the box may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 5.0


def make_run(run_dir: Path, requests: int) -> None:
    import numpy as np
    import pandas as pd

    from perforch import store
    from perforch.frame import make_frame

    rng = np.random.default_rng(1)
    duration = 3600.0
    elapsed = np.sort(rng.uniform(0, duration, requests))
    users = np.minimum(1 + (elapsed / 2400.0) * 199, 200).astype(np.int32)
    labels = np.array([f"step {i:02d} /api/endpoint/{i}" for i in range(10)])
    code = rng.integers(0, 10, requests)
    base = np.array([5, 8, 12, 20, 30, 45, 60, 80, 120, 200], dtype=float)[code]
    latency = base * (1 + 0.02 * np.maximum(0, users - 120)) * rng.lognormal(0, 0.35, requests)
    failed = rng.random(requests) < 0.005
    failed |= (elapsed >= 3000) & (elapsed < 3060) & (code == 3) & (rng.random(requests) < 0.6)
    status = np.where(failed, 503, 200).astype(np.int16)
    frame = make_frame({
        "ts": pd.Timestamp("2026-11-28 10:00:00", tz="UTC") + pd.to_timedelta(elapsed, unit="s"),
        "elapsed_s": elapsed, "tool": "k6", "flow": "shopper",
        "label": pd.Categorical.from_codes(code, labels), "method": "GET", "status": status, "ok": ~failed,
        "latency_ms": latency, "vus": users, "error": np.where(failed, "HTTP 503", ""),
    })
    run_dir.mkdir(parents=True, exist_ok=True)
    store.write_frame(run_dir, store.SAMPLES, frame)
    seconds = np.arange(3600)
    store.write_frame(run_dir, store.SYSTEM, pd.DataFrame({
        "ts": pd.Timestamp("2026-11-28 10:00:00", tz="UTC") + pd.to_timedelta(seconds, unit="s"),
        "elapsed_s": seconds.astype(float), "cpu_pct": np.minimum(100, 20 + seconds / 30.0),
        "mem_bytes": (300 + seconds / 36.0) * 2**20, "target": "api",
    }))
    store.write_record(run_dir, store.RunRecord(
        run_id=run_dir.name, name="bench-5m", tool="k6", status="complete", tool_version="1.1.0",
        started_at="2026-11-28T10:00:00.000Z", ended_at="2026-11-28T11:00:00.000Z", planned_duration_s=duration,
        load="ramping-vus: users 1 → 200 (40m) → 200 (20m); flows: shopper ×1",
        slos=({"rule": "p99 < 1s", "step": None}, {"rule": "error_rate < 1%", "step": None},
              {"rule": "p95 < 300ms", "step": str(labels[0])}),
        response_time="k6 http_req_duration: sending + waiting + receiving; excludes connection setup"))


def measure(run_dir: Path) -> None:
    """In a fresh process: time write_reports end to end, with its own stage split."""
    started, cpu_started = time.perf_counter(), time.process_time()
    from perforch.report import write_reports

    imported = time.perf_counter() - started
    result = write_reports(run_dir, step_summary=False)
    total = time.perf_counter() - started
    print(json.dumps({"total_s": total, "cpu_s": time.process_time() - cpu_started, "import_s": imported,
                      "stages": dict(result.timings),
                      "requests": result.analysis.requests if result.analysis else 0,
                      "charts": len(list((run_dir / "charts").glob("*.png"))),
                      "html_bytes": (run_dir / "report.html").stat().st_size}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/perforch-report-bench"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    run_dir = args.dir / f"run-{args.requests}"
    if not (run_dir / "samples.parquet").exists():
        print(f"writing a synthetic run of {args.requests:,} requests to {run_dir} (not timed) ...", flush=True)
        make_run(run_dir, args.requests)
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(1/5/15 min; other work on the box slows these figures down)")
    for i in range(args.repeat):
        out = subprocess.run([sys.executable, __file__, "--measure", str(run_dir)], check=True,
                             capture_output=True, text=True).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        stages = "  ".join(f"{k} {v:.2f}s" for k, v in figures["stages"].items())
        verdict = "within" if figures["total_s"] <= TARGET_S else "OVER"
        print(f"run {i + 1}: {figures['requests']:,} requests -> {figures['charts']} charts, "
              f"report.html {figures['html_bytes'] / 1024:,.0f} KiB")
        print(f"  total {figures['total_s']:.2f}s ({verdict} the {TARGET_S:.0f} s target; CPU time "
              f"{figures['cpu_s']:.2f}s)  = imports {figures['import_s']:.2f}s  {stages}")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
