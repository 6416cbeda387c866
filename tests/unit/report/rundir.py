"""Write synthetic run directories (run.json + parquet files) for the report tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from perforch import store


def write_run(root: Path, samples: pd.DataFrame | None, slos=("p99 < 500ms",), name: str = "checkout",
              load: str = "ramping-vus: users 0 → 80 (2m); flows: shopper ×1", status: str = "complete",
              aggregates: pd.DataFrame | None = None, system: pd.DataFrame | None = None,
              run_id: str = "20261128-100000-checkout-k6", **record) -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    slo_items = tuple({"rule": s, "step": None} if isinstance(s, str) else {"rule": s[1], "step": s[0]} for s in slos)
    store.write_record(run_dir, store.RunRecord(
        run_id=run_id, name=name, tool="k6", status=status, started_at="2026-11-28T10:00:00.000Z",
        ended_at="2026-11-28T10:02:00.000Z", tool_version="1.1.0", load=load, slos=slo_items, host="testhost",
        planned_duration_s=120.0, exit_codes={"k6": 0},
        response_time="k6 http_req_duration: sending + waiting + receiving; excludes connection setup", **record))
    if samples is not None:
        store.write_frame(run_dir, store.SAMPLES, samples)
    if aggregates is not None:
        store.write_frame(run_dir, store.AGGREGATES, aggregates)
    if system is not None:
        store.write_frame(run_dir, store.SYSTEM, system)
    return run_dir
