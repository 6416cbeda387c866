"""Re-capture the k6 outputs in this folder from real k6 runs against the demo API.

    python tests/data/k6/capture.py        (needs k6 on PATH or PERFORCH_K6; see README.md)

Runs capture.yaml (generated into a k6 script by perforch) three ways and copies what k6 wrote here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from perforch.adapters.k6.tool import SYSTEM_TAGS, K6Adapter
from perforch.demo.server import running_demo_api
from perforch.spec import load_scenario

HERE = Path(__file__).resolve().parent


def main() -> None:
    adapter = K6Adapter()
    binary = adapter.find_binary()
    print("k6", adapter.version(binary))
    work = Path(tempfile.mkdtemp(prefix="perforch-capture-"))
    try:
        adapter.generate(load_scenario(HERE / "capture.yaml")).write(work)
        with running_demo_api() as base_url:
            script = work / "script.js"
            script.write_text(script.read_text().replace('"http://127.0.0.1:8765"', json.dumps(base_url)))
            env = {"PATH": os.environ["PATH"], "K6_NO_USAGE_REPORT": "true"}
            runs = {
                # perforch's own outputs (tool.py): its system tags, microsecond timestamps; JSON too
                "perforch": (["--out", "csv=perforch.csv", "--out", "json=perforch.json",
                              "--summary-export", "perforch-summary.json", "--system-tags", SYSTEM_TAGS],
                             {"K6_CSV_TIME_FORMAT": "unix_micro"}),
                # what a user gets from plain `k6 run --out csv=...`: every default tag, whole seconds
                "defaults": (["--out", "csv=defaults.csv"], {}),
                # RFC 3339 text timestamps with nanoseconds (trailing zeros trimmed)
                "rfc3339": (["--out", "csv=rfc3339.csv", "--system-tags", SYSTEM_TAGS],
                            {"K6_CSV_TIME_FORMAT": "rfc3339_nano"}),
            }
            for name, (args, extra) in runs.items():
                argv = [binary, "run", "--quiet", "--no-color", *args, "script.js"]
                print("$", " ".join(f"{k}={v}" for k, v in extra.items()), " ".join(argv[1:]))
                subprocess.run(argv, cwd=work, env={**env, **extra}, check=True, capture_output=True)
        for path in work.iterdir():
            if path.suffix in (".csv", ".json") and path.name != "script.js":
                shutil.copyfile(path, HERE / path.name)
                print(f"{path.name}: {path.stat().st_size:,} bytes")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
