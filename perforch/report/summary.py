"""summary.json: every number of the report, machine-readable and versioned.

Format history (bump SUMMARY_VERSION and say how to upgrade when a field changes meaning):
  1  2026-11-28  first version.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd

from perforch import __version__
from perforch.analysis.compare import Comparison
from perforch.analysis.run import RunAnalysis
from perforch.analysis.stats import METHOD_TEXT, OVERALL
from perforch.store import RunRecord

SUMMARY_VERSION = 1


def render_summary(record: RunRecord, analysis: RunAnalysis, verdict: str, comparison: Comparison | None = None,
                   baseline: RunRecord | None = None, files: dict[str, str] | None = None) -> str:
    stats = analysis.stats
    data = {
        "format_version": SUMMARY_VERSION,
        "generator": f"perforch {__version__}",
        "run": {
            "run_id": record.run_id, "name": record.name, "tool": record.tool, "tool_version": record.tool_version,
            "runner": record.runner, "workers": record.workers, "status": record.status,
            "started_at": record.started_at, "ended_at": record.ended_at, "host": record.host,
            "load": record.load, "planned_duration_s": record.planned_duration_s,
            "scenario_sha256": record.scenario_sha256, "exit_codes": record.exit_codes,
        },
        "response_time": record.response_time,
        "source": analysis.source,
        "percentile_method": analysis.method,
        "percentile_method_text": METHOD_TEXT.get(analysis.method, analysis.method),
        "verdict": verdict,
        "all_met": analysis.all_met if analysis.slos else None,
        "duration_s": analysis.duration_s,
        "requests": analysis.requests,
        "untimed": analysis.untimed,
        "slos": [{**dataclasses.asdict(s), "headroom": s.headroom} for s in analysis.slos],
        "overall": _records(stats[stats["label"] == OVERALL])[0] if (stats["label"] == OVERALL).any() else None,
        "steps": _records(analysis.steps),
        "errors": _errors(analysis),
        "degradation": dataclasses.asdict(analysis.degradation) if analysis.degradation else None,
        "saturation": dataclasses.asdict(analysis.saturation) if analysis.saturation else None,
        "load_levels": {"unit": analysis.load_unit, "levels": [dataclasses.asdict(lv) for lv in analysis.levels]},
        "system": [dataclasses.asdict(t) for t in analysis.targets],
        "observations": [dataclasses.asdict(f) for f in analysis.observations],
        "recommendations": [dataclasses.asdict(f) for f in analysis.recommendations],
        "problems": list(analysis.problems),
        "warnings": list(record.warnings) + list(record.events),
        "comparison": _comparison(comparison, baseline),
        "files": files or {},
    }
    data = _clean(data)
    data["timeseries"] = {"bucket_s": 1.0, **_columns(analysis.series)}  # already JSON-ready
    data["chart_data"] = {  # what the other charts draw
        "steps_over_time": _columns(analysis.steps_over_time),
        "steps_by_load": _columns(analysis.steps_by_load),
        "distribution": _columns(analysis.distribution),
    }
    # compact: the time series alone is thousands of numbers (jq or any JSON viewer indents it)
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _scalar(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _columns(frame: pd.DataFrame) -> dict[str, list]:
    """Column arrays as JSON-ready lists (NaN -> null), vectorised: a long run has many seconds."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column.dtype):
            values = column.to_numpy(dtype=float)
            cells = values.astype(object)
            cells[~np.isfinite(values)] = None
            out[name] = cells.tolist()
        elif pd.api.types.is_integer_dtype(column.dtype) and not column.isna().any():
            out[name] = column.to_numpy(dtype=np.int64).tolist()
        else:
            out[name] = [_scalar(v) for v in column.astype(object).tolist()]
    return out


def _errors(analysis: RunAnalysis) -> dict | None:
    e = analysis.errors
    if e is None:
        return None
    return {
        "failures": e.failures, "requests": e.requests, "rate": e.rate, "first_s": e.first_s,
        "first_ts": e.first_ts.isoformat() if e.first_ts is not None else None,
        "by_step": [{**dataclasses.asdict(s), "rate": s.rate} for s in e.by_step],
        "kinds": [{**dataclasses.asdict(k), "text": k.text} for k in e.kinds],
        "burst": {**dataclasses.asdict(e.burst), "start_ts": e.burst.start_ts.isoformat() if e.burst.start_ts is not None else None}
        if e.burst else None,
    }


def _comparison(comparison: Comparison | None, baseline: RunRecord | None) -> dict | None:
    if comparison is None:
        return None
    def change(c):
        return {**dataclasses.asdict(c), "p50_ratio": c.p50_ratio, "p95_ratio": c.p95_ratio, "p99_ratio": c.p99_ratio}
    return {
        "baseline_run_id": baseline.run_id if baseline else None,
        "min_effect": comparison.min_effect, "alpha": comparison.alpha, "method": comparison.method,
        "regression": comparison.has_regression,
        "overall": change(comparison.overall),
        "steps": [change(c) for c in comparison.steps],
    }


def _scalar(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return _scalar(value)
