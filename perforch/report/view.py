"""The view model: every string the Markdown and HTML templates show, built once from the analysis.

Templates only lay out; all wording and number formatting happen here (and in analysis.fmt), so
that report.md and report.html say exactly the same thing.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pandas as pd

from perforch import __version__
from perforch.analysis import fmt
from perforch.analysis.compare import WORSE, Comparison
from perforch.analysis.run import AGGREGATES, NOTHING, RunAnalysis
from perforch.analysis.stats import METHOD_TEXT, OVERALL
from perforch.report.charts import Chart, charted_steps, step_colors
from perforch.store import RunRecord

MET, NOT_MET, NO_SLOS = "SLO MET", "SLO NOT MET", "NO SLOS DECLARED"
INCOMPLETE = {  # run.json status -> what the report says about the figures
    "interrupted": "the run was interrupted",
    "failed": "the load tool failed during the run",
    "running": "perforch stopped before the run finished",
}


def verdict(analysis: RunAnalysis) -> str:
    if not analysis.slos:
        return NO_SLOS
    return MET if analysis.all_met else NOT_MET


def headline(analysis: RunAnalysis) -> str:
    """One line for the terminal: the verdict and the key figures."""
    row = analysis.overall
    word = verdict(analysis)
    if analysis.slos and not analysis.all_met:
        failed = sum(not s.ok for s in analysis.slos)
        word += f" ({failed} of {len(analysis.slos)} failed)"
    if row is None or not row["count"]:
        return f"{word}: no requests recorded"
    requests = f"{fmt.count(row['count'])} request{'s' if row['count'] != 1 else ''}"
    return (f"{word}: p99 {fmt.ms(row['p99'])}, average {fmt.ms(row['avg_ms'])}, errors {fmt.pct(row['error_rate'])}, "
            f"{fmt.rps(row['rps'])} ({requests} in {fmt.seconds(analysis.duration_s)})")


def build_view(record: RunRecord, analysis: RunAnalysis, charts: Sequence[Chart] = (),
               comparison: Comparison | None = None, baseline: RunRecord | None = None,
               compare_notes: Sequence[str] = (), generated_at: str = "") -> dict:
    steps = analysis.steps
    colors = step_colors(charted_steps(analysis))
    overall = analysis.overall
    tool = f"{record.tool} {record.tool_version}" if record.tool_version else record.tool
    planned = f" (planned {fmt.seconds(record.planned_duration_s)})" if record.planned_duration_s else ""
    method = (METHOD_TEXT.get(analysis.method, analysis.method) if analysis.source != AGGREGATES
              else f"the tool's own figures ({record.tool} aggregates), not recomputed by perforch")
    return {
        "title": record.name,
        "run_id": record.run_id,
        "test_date": _date(record.started_at),
        "status": record.status,
        "incomplete": record.status in INCOMPLETE,
        "incomplete_text": INCOMPLETE.get(record.status, ""),
        "scenario": {
            "load": record.load or "-",
            "duration": fmt.seconds(analysis.duration_s) + planned,
            "tool": tool,
            "runner": record.runner + (f", {record.workers} load generators" if record.workers > 1 else ""),
            "host": record.host,
            "requests": fmt.count(analysis.requests),
            "steps": len(steps),
        },
        "response_time": record.response_time or "as the tool defines it",
        "method": analysis.method,
        "method_text": method,
        "source": analysis.source,
        "verdict": verdict(analysis),
        "verdict_ok": None if not analysis.slos else analysis.all_met,
        "headline": headline(analysis),
        "slos": [{
            "rule": s.rule,
            "observed": s.observed_text + (f" ({s.note})" if s.note else ""),
            "ok": s.ok,
            "verdict": "MET" if s.ok else "NOT MET",
            "headroom": fmt.headroom(s.headroom),
        } for s in analysis.slos],
        "key": _key_figures(overall, analysis.duration_s),
        "steps": [_step_row(row, colors.get(str(row["label"]), "")) for row in steps.to_dict("records")],
        "overall": _step_row(overall, "") if overall is not None else None,
        "observations": [f.text for f in analysis.observations],
        "recommendations": [f.text for f in analysis.recommendations],
        "problems": list(analysis.problems),
        "warnings": list(record.warnings) + list(record.events),
        "exit_codes": ", ".join(f"{k}: {v}" for k, v in record.exit_codes.items()) or "-",
        "commands": [" ".join(v) for v in record.commands.values()],
        "charts": [{
            "name": c.name, "title": c.title, "caption": c.caption, "file": f"charts/{c.name}.png",
            "data_uri": "data:image/png;base64," + base64.b64encode(c.png).decode("ascii"),
        } for c in charts],
        "chart_note": _chart_note(analysis),
        "comparison": _comparison(comparison, baseline, compare_notes) if comparison is not None else None,
        "generator": f"perforch {__version__}",
        "generated_at": generated_at,
    }


def _date(iso: str) -> str:
    try:
        ts = pd.Timestamp(iso)
    except (ValueError, TypeError):
        return iso or "-"
    ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def _key_figures(row: dict | None, duration_s: float) -> list[dict]:
    if row is None:
        return []
    return [
        {"name": "p99", "value": fmt.ms(row["p99"])},
        {"name": "p95", "value": fmt.ms(row["p95"])},
        {"name": "average", "value": fmt.ms(row["avg_ms"])},
        {"name": "error rate", "value": fmt.pct(row["error_rate"])},
        {"name": "throughput", "value": fmt.rps(row["rps"])},
        {"name": "requests", "value": fmt.count(row["count"])},
    ]


def _step_row(row: dict, color: str) -> dict:
    return {
        "label": "All requests" if row["label"] == OVERALL else str(row["label"]),
        "color": color,
        "count": fmt.count(row["count"]),
        "rps": "-" if fmt.missing(row["rps"]) else f"{row['rps']:,.1f}",
        "errors": fmt.count(row["failures"]),
        "error_rate": fmt.pct(row["error_rate"]),
        **{name: fmt.ms_cell(row[key]) for name, key in (
            ("avg", "avg_ms"), ("min", "min_ms"), ("p50", "p50"), ("p90", "p90"), ("p95", "p95"), ("p99", "p99"),
            ("p99_9", "p99_9"), ("max", "max_ms"))},
    }


def _chart_note(analysis: RunAnalysis) -> str:
    if analysis.source == NOTHING:
        return "No charts: the run recorded no requests."
    if analysis.source == AGGREGATES:
        return "No charts over time: only the tool's aggregates are available, not per-request samples."
    if analysis.requests and analysis.untimed == analysis.requests:
        return "No latency charts: no request has a response time."
    if len(analysis.series) < 2:
        return "No charts over time: the requests span less than two seconds."
    return ""


def _comparison(comparison: Comparison, baseline: RunRecord | None, notes: Sequence[str]) -> dict:
    rows = []
    for change in (*comparison.steps, comparison.overall):
        rows.append({
            "label": "All requests" if change.label == OVERALL else change.label,
            "verdict": change.verdict,
            "worse": change.verdict == WORSE,
            "base_p50": fmt.ms_cell(change.base_p50), "new_p50": fmt.ms_cell(change.new_p50),
            "p50_ratio": fmt.ratio(change.p50_ratio),
            "base_p95": fmt.ms_cell(change.base_p95), "new_p95": fmt.ms_cell(change.new_p95),
            "p95_ratio": fmt.ratio(change.p95_ratio),
            "base_errors": fmt.pct(change.base_error_rate), "new_errors": fmt.pct(change.new_error_rate),
            "reasons": "; ".join(change.reasons) or "-",
        })
    worse = [c for c in comparison.steps if c.verdict == WORSE]
    better = [c for c in comparison.steps if c.verdict == "better"]
    parts = []
    if comparison.has_regression:
        parts.append(f"REGRESSION: {len(worse)} step{'s' if len(worse) != 1 else ''} worse"
                     + (" (and all requests)" if comparison.overall.verdict == WORSE else ""))
    else:
        parts.append("No regression")
    if better:
        parts.append(f"{len(better)} better")
    return {
        "baseline": baseline.run_id if baseline else "baseline",
        "baseline_date": _date(baseline.started_at) if baseline else "-",
        "summary": ", ".join(parts),
        "regression": comparison.has_regression,
        "rule": (f"worse/better = significant (p < {comparison.alpha:g}; Mann-Whitney U on all latencies, 99% "
                 f"confidence intervals for p95, z-test on error rates) and at least {fmt.share(comparison.min_effect)}"
                 " apart"),
        "rows": rows,
        "notes": list(notes),
    }
