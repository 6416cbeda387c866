"""Printing a run's headline numbers: per-step table, SLO verdicts, where the files are."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from perforch.analysis.slo import SloResult
from perforch.analysis.stats import OVERALL
from perforch.cli import console


def _ms(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def step_table(stats: pd.DataFrame, method: str) -> None:
    if stats.empty:
        console.warn("no requests were recorded")
        return
    rows = []
    for row in stats.to_dict("records"):
        rows.append([
            row["label"] or "all requests", f"{row['count']:,}", f"{row['rps']:.1f}",
            f"{row['error_rate'] * 100:.2f}%", _ms(row["avg_ms"]), _ms(row["p50"]), _ms(row["p95"]),
            _ms(row["p99"]), _ms(row["max_ms"]),
        ])
    console.table(f"per step (latency in ms; percentiles {method})",
                  ["step", "requests", "req/s", "errors", "avg", "p50", "p95", "p99", "max"], rows)


def slo_lines(results: tuple[SloResult, ...]) -> None:
    for r in results:
        mark = "MET    " if r.ok else "NOT MET"
        note = f" ({r.note})" if r.note else ""
        console.info(f"  {mark}  {r.rule}   observed {r.observed_text}{note}")


def overall(stats: pd.DataFrame) -> dict | None:
    rows = stats[stats["label"] == OVERALL]
    return rows.iloc[0].to_dict() if len(rows) else None


def run_footer(run_dir: Path) -> None:
    console.info(f"run directory: {run_dir}")
