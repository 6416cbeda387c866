"""Benchmark: the generated locustfile (one GET step, perforch's per-request listener on) against a
bare hand-written FastHttpUser doing the same GET, side by side, at Locust's maximum rate.

    python benchmarks/locust_listener.py [--users 10] [--seconds 10] [--rounds 3]

Both run with the same Locust options perforch uses (headless, --csv, --only-summary) against the
demo API (python -m perforch.demo.app in a child process), no think time; rounds alternate
bare/generated so that drift on a shared machine hits both. Measured in the steady state (from 2 s
after the start to 1 s before the end): requests/s the demo API counted, and the Locust process's
CPU time per request (steadier than requests/s when other work shares the cores). Target:
generated >= 0.9 x bare (issue 4). Prints each round, the medians and both ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perforch.adapters.base import Launch  # noqa: E402
from perforch.adapters.locust.tool import LocustAdapter  # noqa: E402
from perforch.demo.server import running_demo_api  # noqa: E402
from perforch.spec.load import parse_scenario  # noqa: E402

BARE = '''
from locust import FastHttpUser, constant, task


class Bare(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/health")
'''

SCENARIO = """
version: 1
name: listener-benchmark
target: {{base_url: "{url}"}}
flows:
  - name: get
    steps:
      - {{name: health, get: /health}}
load: {{profile: constant-vus, vus: {users}, duration: {seconds}s}}
"""


def _server(url: str, path: str, method: str = "GET") -> dict:
    with urllib.request.urlopen(urllib.request.Request(url + path, method=method), timeout=10) as response:
        return json.loads(response.read())


def _run(argv: list[str], url: str, cwd: Path, seconds: float) -> tuple[float, float]:
    """Steady state, from 2 s after the start to 1 s before the end: requests/s the server counted,
    and Locust's CPU time (user + system) per request in µs (start-up, imports and shutdown excluded)."""
    _server(url, "/__reset", "POST")
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        locust = psutil.Process(proc.pid)
        time.sleep(2.0)
        t0, n0, c0 = time.monotonic(), _count(url), sum(locust.cpu_times()[:2])
        time.sleep(seconds - 3.0)
        t1, n1, c1 = time.monotonic(), _count(url), sum(locust.cpu_times()[:2])
        _, stderr = proc.communicate(timeout=seconds + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"locust failed ({proc.returncode}): {' '.join(argv)}\n{stderr[-3000:]}")
    return (n1 - n0) / (t1 - t0), (c1 - c0) / max(n1 - n0, 1) * 1e6


def _count(url: str) -> int:
    return _server(url, "/__stats")["requests"].get("GET /health", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    adapter = LocustAdapter()
    binary = adapter.find_binary()
    print(f"Locust {adapter.version(binary)}, {args.users} users, no think time, {args.seconds:g} s per run, "
          f"{args.rounds} rounds")
    with running_demo_api() as url, tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        spec_path = tmp_dir / "bench.yaml"
        spec_path.write_text(SCENARIO.format(url=url, users=args.users, seconds=f"{args.seconds:g}"))
        script_dir, raw_dir = tmp_dir / "generated", tmp_dir / "raw"
        adapter.generate(parse_scenario(spec_path.read_text(), spec_path)).write(script_dir)
        generated = adapter.command(Launch(script_dir, raw_dir, binary))
        bare_dir = tmp_dir / "bare"
        bare_dir.mkdir()
        (bare_dir / "locustfile.py").write_text(BARE)
        bare = [binary, "-f", str(bare_dir / "locustfile.py"), "--headless", "--only-summary",
                "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds:g}s", "-H", url,
                "--csv", str(tmp_dir / "bare-csv" / "locust"), "--csv-full-history"]
        rates: dict[str, list[float]] = {"bare": [], "generated": []}
        cpu: dict[str, list[float]] = {"bare": [], "generated": []}
        for round_ in range(1, args.rounds + 1):
            for name, argv, cwd in (("bare", bare, bare_dir), ("generated", generated, script_dir)):
                rps, us = _run(argv, url, cwd, args.seconds)
                rates[name].append(rps)
                cpu[name].append(us)
            rows = sum(1 for _ in (raw_dir / "locust-requests.csv").open()) - 1
            print(f"round {round_}: bare {rates['bare'][-1]:7.1f} req/s ({cpu['bare'][-1]:4.0f} µs CPU/req)   "
                  f"generated {rates['generated'][-1]:7.1f} req/s ({cpu['generated'][-1]:4.0f} µs CPU/req)   "
                  f"ratio {rates['generated'][-1] / rates['bare'][-1]:.3f}   ({rows} rows written)")
    bare_rps, generated_rps = statistics.median(rates["bare"]), statistics.median(rates["generated"])
    ratio = generated_rps / bare_rps
    cpu_ratio = statistics.median(cpu["bare"]) / statistics.median(cpu["generated"])
    print(f"median: bare {bare_rps:.1f} req/s, generated with the sample listener {generated_rps:.1f} req/s, "
          f"ratio {ratio:.3f} (target >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'})")
    print(f"Locust CPU per request: bare {statistics.median(cpu['bare']):.0f} µs, generated "
          f"{statistics.median(cpu['generated']):.0f} µs; the rate that CPU allows, generated / bare: {cpu_ratio:.3f} "
          "(steadier than req/s on a shared machine)")


if __name__ == "__main__":
    main()
