"""Distributed load: requests/s of 3 k6 workers against 1, on k6's execution segments.

Target (issue 6): 3 workers reach >= 2.5x the requests/s of 1 worker against a target that is not
the bottleneck — or an explanation, with numbers, of what the box limits. The load is a closed
model (VUs with no think time: each VU sends as fast as it can), split over the workers, against
the demo API started by perforch as the SUT (target.start.command), so that system.parquet has the
CPU of the SUT and of every generator.

Two settings:
- docker, each generator capped with --cpus (a small load-generator machine): the generators are
  the bottleneck by construction, the box has room for three of them and the SUT;
- local, uncapped: on a 2-core box the generators and the SUT share the same two cores.

    python benchmarks/distributed_scaling.py [--duration 10] [--vus 30] [--cpus 0.25] [--modes docker,local]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pandas as pd

SPEC = """\
version: 1
name: scaling
target:
  base_url: http://127.0.0.1:{port}
  environment: demo
  start: {{command: "{python} -m perforch.demo.app {port}", ready: /health}}
flows:
  - name: reader
    steps: [{{name: health, get: /health}}]
load: {{profile: constant-vus, vus: {vus}, duration: {duration}s}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(spec: Path, runner: str, workers: int, cpus: float | None, work: Path, duration: float) -> dict:
    from perforch.pipeline import RunOptions, run_scenario

    result = run_scenario(spec, RunOptions(tool="k6", runner=runner, workers=workers, image="perforch/k6:1.1.0",
                                           cpus=cpus, runs_root=work))
    samples = result.samples
    system = pd.read_parquet(result.run_dir / "system.parquet")
    busy = system[(system["elapsed_s"] > 2) & (system["elapsed_s"] < duration - 1)]  # steady state
    per_target = busy.groupby("target", observed=True)["cpu_pct"].mean()
    generators = per_target.drop("sut", errors="ignore")
    return {
        "rps": len(samples) / duration,
        "p95": float(samples["latency_ms"].quantile(0.95)),
        "gen_cpu": float(generators.sum()),
        "gen_cpu_each": ", ".join(f"{v:.0f}" for v in generators),
        "sut_cpu": float(per_target.get("sut", float("nan"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--vus", type=int, default=30)
    parser.add_argument("--cpus", type=float, default=0.25, help="CPU cap of each generator container")
    parser.add_argument("--modes", default="docker,local")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="perforch-scaling-"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; closed model, {args.vus} VUs, "
          f"no think, {args.duration} s, GET /health on the demo API (aiohttp, one process)")
    try:
        spec = work / "scaling.yaml"
        for mode in args.modes.split(","):
            cpus = args.cpus if mode == "docker" else None
            rows = {}
            for workers in (1, 3):
                spec.write_text(SPEC.format(port=free_port(), python=sys.executable, vus=args.vus,
                                            duration=args.duration), encoding="utf-8")
                rows[workers] = m = measure(spec, mode, workers, cpus, work / "runs", args.duration)
                cap = f", each capped at {cpus:g} CPU" if cpus else ""
                print(f"  {mode:6} {workers} worker(s){cap}: {m['rps']:8.0f} req/s  p95 {m['p95']:6.2f} ms  "
                      f"generators {m['gen_cpu']:5.0f} % CPU ({m['gen_cpu_each']})  SUT {m['sut_cpu']:4.0f} %")
            ratio = rows[3]["rps"] / rows[1]["rps"]
            total = rows[3]["gen_cpu"] + rows[3]["sut_cpu"]
            verdict = "ok" if ratio >= 2.5 else f"below 2.5x: 3 workers + SUT used {total:.0f} % of {os.cpu_count() * 100} %"
            print(f"  {mode:6} 3 workers / 1 worker = {ratio:.2f}x ({verdict})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
