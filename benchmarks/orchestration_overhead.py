"""Orchestration overhead: wall time of `perforch run` minus the test's planned duration.

Targets (issue 6): a 30-second k6 test costs at most 2 s more with --runner local and at most 5 s
more with --runner docker (images present). Measured as a user sees it: the whole `perforch run`
command (Python start-up, generation, tool start, supervision, ingest, report), against the demo
API on 127.0.0.1 with light load (5 users, 100 ms think) so that the box's CPU does not distort it.

    python benchmarks/orchestration_overhead.py [--duration 30] [--repeat 2] [--runner local,docker]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """\
version: 1
name: overhead
target: {{base_url: "{url}", environment: demo}}
flows:
  - name: reader
    think: 100ms
    steps: [{{name: health, get: /health}}]
load: {{profile: constant-vus, vus: 5, duration: {duration}s}}
"""
TARGETS = {"local": 2.0, "docker": 5.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--runner", default="local,docker")
    parser.add_argument("--image", default="perforch/k6:1.1.0")
    args = parser.parse_args()

    from perforch.cli.cmd_run import conclude
    from perforch.demo.server import running_demo_api
    from perforch.pipeline import RunOptions, run_scenario

    perforch = [sys.executable, "-m", "perforch"]
    started = time.perf_counter()
    subprocess.run([*perforch, "--version"], check=True, capture_output=True)
    startup = time.perf_counter() - started
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; a {args.duration} s k6 test, "
          f"best of {args.repeat}")
    print(f"  perforch --version (Python start-up, CLI import): {startup:.2f} s")
    work = Path(tempfile.mkdtemp(prefix="perforch-overhead-"))
    try:
        with running_demo_api() as url:
            spec = work / "overhead.yaml"
            spec.write_text(SPEC.format(url=url, duration=args.duration), encoding="utf-8")
            for runner in args.runner.split(","):
                extra = ["--image", args.image] if runner == "docker" else []
                inner, reports, walls = [], [], []
                for _ in range(args.repeat):
                    # in-process: what runners/ and pipeline.run_scenario add (start, supervise, clean up, ingest)
                    began = time.perf_counter()
                    result = run_scenario(spec, RunOptions(tool="k6", runner=runner, image=extra[-1] if extra else None,
                                                           runs_root=work / "runs"))
                    inner.append(time.perf_counter() - began - args.duration)
                    began = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):
                        conclude(result, "linear")
                    reports.append(time.perf_counter() - began)
                    # as a user sees it: the whole command
                    began = time.perf_counter()
                    out = subprocess.run([*perforch, "run", str(spec), "--runner", runner, *extra, "--out", str(work / "runs")],
                                         capture_output=True, text=True, env={**os.environ, "CI": "1"})
                    walls.append(time.perf_counter() - began - args.duration)
                    if out.returncode not in (0, 3):
                        print(out.stdout[-2000:], out.stderr[-2000:])
                        raise SystemExit(f"perforch run --runner {runner} failed ({out.returncode})")
                target = TARGETS[runner]
                verdict = "ok" if min(walls) <= target else "OVER TARGET"
                print(f"  --runner {runner}:")
                print(f"    run_scenario (generate, start, supervise, stop/remove, ingest, save): "
                      f"+{min(inner):.2f} s (worst +{max(inner):.2f})")
                print(f"    conclude (verdict, reports and charts):                               "
                      f"{min(reports):.2f} s")
                print(f"    perforch run, whole command:  wall - {args.duration} s = {min(walls):.2f} s "
                      f"(worst {max(walls):.2f}); target <= {target:.0f} s: {verdict}")
                print(f"    every run: {', '.join(f'+{w:.2f}' for w in walls)}; "
                      f"load average now {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
