"""Exact statistics over the samples frame, per step and overall.

Percentiles are computed over every sample (no histogram). Two definitions:
  linear        numpy's default, rank p·(n−1) interpolated between neighbours — what k6 reports;
  nearest-rank  k = round(n·p) (half up), the k-th smallest — JMeter's Aggregate Report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}
METHODS = ("linear", "nearest-rank")
METHOD_TEXT = {
    "linear": "exact, linear interpolation between closest ranks (k6's definition, numpy's default)",
    "nearest-rank": "exact, nearest rank k = round(n·p) (JMeter Aggregate Report's definition)",
}
OVERALL = ""  # the label of the all-requests row


def percentile(sorted_values: np.ndarray, q: float, method: str = "linear") -> float:
    """q in 0..100 over an ascending array."""
    n = len(sorted_values)
    if n == 0:
        return float("nan")
    if method == "linear":
        return float(np.percentile(sorted_values, q, method="linear"))
    if method == "nearest-rank":
        if q >= 100:
            return float(sorted_values[-1])
        k = int(np.floor(n * q / 100.0 + 0.5))
        return float(sorted_values[min(max(k, 1), n) - 1])
    raise ValueError(f"unknown percentile method {method!r}; use one of {', '.join(METHODS)}")


@dataclass(frozen=True, slots=True)
class Window:
    """What the statistics cover: from the first request start to the last request start."""

    start: pd.Timestamp | None
    duration_s: float


def run_window(samples: pd.DataFrame) -> Window:
    if not len(samples):
        return Window(None, 0.0)
    first, last = samples["ts"].min(), samples["ts"].max()
    end = last + pd.to_timedelta(samples["latency_ms"].max(skipna=True) or 0, unit="ms")
    return Window(first, max((end - first).total_seconds(), 1e-9))


def step_stats(samples: pd.DataFrame, method: str = "linear", duration_s: float | None = None) -> pd.DataFrame:
    """One row per label plus an overall row (label ""): count, failures, error_rate, rps, mean, min,
    p50..p99_9, max (ms). Requests with a NaN latency (no timing) are counted but not timed."""
    columns = ["label", "count", "failures", "error_rate", "rps", "avg_ms", "min_ms",
               *PERCENTILES, "max_ms", "timed"]
    if not len(samples):
        return pd.DataFrame(columns=columns)
    duration = duration_s if duration_s is not None else run_window(samples).duration_s
    labels = samples["label"].astype("category")
    codes = labels.cat.codes.to_numpy()
    latency = samples["latency_ms"].to_numpy(dtype=float)
    failed = ~samples["ok"].to_numpy(dtype=bool)
    order = np.lexsort((latency, codes))  # by label, then latency (NaN last within a label)
    sorted_codes, sorted_lat = codes[order], latency[order]
    bounds = np.searchsorted(sorted_codes, np.arange(len(labels.cat.categories) + 1))
    rows = []
    for i, name in enumerate(labels.cat.categories):
        lo, hi = bounds[i], bounds[i + 1]
        if hi > lo:
            rows.append(_row(str(name), sorted_lat[lo:hi], failed[codes == i].sum(), hi - lo, duration, method))
    rows.sort(key=lambda r: r["label"])
    rows.append(_row(OVERALL, np.sort(latency), failed.sum(), len(latency), duration, method))
    return pd.DataFrame(rows, columns=columns)


def _row(label: str, values: np.ndarray, failures: int, count: int, duration: float, method: str) -> dict:
    timed = values[~np.isnan(values)]
    row = {
        "label": label,
        "count": int(count),
        "failures": int(failures),
        "error_rate": failures / count if count else float("nan"),
        "rps": count / duration if duration > 0 else float("nan"),
        "avg_ms": float(timed.mean()) if len(timed) else float("nan"),
        "min_ms": float(timed[0]) if len(timed) else float("nan"),
        "max_ms": float(timed[-1]) if len(timed) else float("nan"),
        "timed": int(len(timed)),
    }
    for name, q in PERCENTILES.items():
        row[name] = percentile(timed, q, method)
    return row
