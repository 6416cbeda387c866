"""Printing a run's headline numbers: per-step table, SLO verdicts, report files, comparisons."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from perforch.analysis import fmt
from perforch.analysis.compare import WORSE
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
            row["label"] or "all requests", fmt.count(row["count"]), "-" if fmt.missing(row["rps"]) else f"{row['rps']:.1f}",
            fmt.pct(row["error_rate"]), _ms(row["avg_ms"]), _ms(row["p50"]), _ms(row["p95"]),
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


def report(result) -> None:  # perforch.report.ReportResult
    """Step table, SLO verdicts, the headline, what was missing, the files written."""
    analysis = result.analysis
    if analysis is not None and len(analysis.stats):
        method = analysis.method if analysis.source == "samples" else "as the tool reported them"
        step_table(analysis.stats, method)
    for problem in result.problems:
        console.warn(problem)
    if result.slos:
        slo_lines(result.slos)
    if result.comparison is not None:
        comparison_lines(result.comparison, result.compare_notes)
    console.info(result.headline)
    for name, path in result.paths.items():
        console.info(f"  {name:<5}  {path}")
    run_footer(result.run_dir)


def comparison_lines(comparison, notes: tuple[str, ...] = ()) -> None:  # perforch.analysis.compare.Comparison
    rows = []
    for c in (*comparison.steps, comparison.overall):
        rows.append([c.label or "all requests", c.verdict, f"{_ms(c.base_p50)} → {_ms(c.new_p50)}",
                     f"{_ms(c.base_p95)} → {_ms(c.new_p95)}", f"{fmt.pct(c.base_error_rate)} → {fmt.pct(c.new_error_rate)}",
                     "; ".join(c.reasons) or "-"])
    console.table(f"compared with the baseline (min effect {fmt.share(comparison.min_effect)}, "
                  f"p < {comparison.alpha:g})", ["step", "verdict", "p50 ms", "p95 ms", "errors", "why"], rows)
    for note in notes:
        console.warn(note)
    worse = [c for c in comparison.steps if c.verdict == WORSE]
    if comparison.has_regression:
        names = ", ".join(c.label for c in worse) or "all requests"
        console.info(f"REGRESSION: {names}")
    else:
        console.info("no regression")
