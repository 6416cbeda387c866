"""Time series and distributions over the samples frame: the data behind every chart.

All of it is aggregated (1-second buckets, a few hundred points per step, a fixed grid for the
distributions), so a 5M-request run charts as fast as a small one. Percentiles per bucket are
exact over the bucket's requests, with the report's method.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from perforch.analysis.stats import Grouped, group_by_label, segment_percentiles, sorted_by_label

SERIES_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}
SERIES_COLUMNS = ["t_s", "requests", "errors", "rps", "errors_per_s", "avg_ms", *SERIES_PERCENTILES, "max_ms",
                  "vus", "slowdown", "extra_ms"]


def typical_latency(samples: pd.DataFrame, stats: pd.DataFrame) -> np.ndarray:
    """Per request, the median latency of its step over the whole run (from a step_stats() table)."""
    labels = samples["label"]
    if not isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.astype("category")
    medians = dict(zip(stats["label"], stats["p50"]))
    by_code = np.array([medians.get(str(c), np.nan) for c in labels.cat.categories] + [np.nan], dtype=float)
    return by_code[labels.cat.codes.to_numpy()]


def time_series(samples: pd.DataFrame, method: str = "linear", bucket_s: float = 1.0,
                typical: np.ndarray | None = None) -> pd.DataFrame:
    """One row per bucket of `bucket_s` seconds from the first to the last request (empty buckets
    included, with NaN latencies): t_s (bucket start, seconds since the run started), requests,
    errors, rps, errors_per_s, avg/p50/p90/p95/p99/max latency (ms), vus (most active users seen).

    With `typical` (typical_latency(), one value per request) two columns that do not depend on
    the mix of steps: slowdown, the geometric mean of latency / its step's median, and extra_ms,
    the mean of latency − its step's median."""
    if typical is not None and len(samples) and samples["elapsed_s"].isna().any():
        typical = typical[samples["elapsed_s"].notna().to_numpy()]
    samples = _with_time(samples)
    if not len(samples):
        return pd.DataFrame(columns=SERIES_COLUMNS)
    elapsed = samples["elapsed_s"].to_numpy(dtype=float)
    latency = samples["latency_ms"].to_numpy(dtype=float)
    failed = ~samples["ok"].to_numpy(dtype=bool)
    vus = _vus(samples)
    first = math.floor(np.nanmin(elapsed) / bucket_s)
    index = _bucket_index(elapsed, bucket_s, first)
    if len(index) > 1 and (index[1:] < index[:-1]).any():  # not in time order: gather buckets first
        order = np.argsort(index, kind="stable")
        index, latency, failed = index[order], latency[order], failed[order]
        vus = vus[order] if vus is not None else None
        typical = typical[order] if typical is not None else None
    buckets = int(index[-1]) + 1
    counts = np.bincount(index, minlength=buckets)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    per_bucket = _bucket_latency(latency, index, counts, starts, method)
    frame = pd.DataFrame({
        "t_s": (np.arange(buckets) + first) * bucket_s,
        "requests": counts,
        "errors": np.bincount(index, weights=failed, minlength=buckets).astype(np.int64),
    })
    frame["rps"] = frame["requests"] / bucket_s
    frame["errors_per_s"] = frame["errors"] / bucket_s
    for name, values in per_bucket.items():
        frame[name] = values
    if vus is not None:
        frame["vus"] = _bucket_max(vus, counts, starts)
    else:
        frame["vus"] = np.nan
    frame["slowdown"], frame["extra_ms"] = _slowdown(latency, typical, index, buckets)
    return frame[SERIES_COLUMNS]


def _bucket_index(elapsed: np.ndarray, bucket_s: float, first: int) -> np.ndarray:
    if bucket_s == 1.0 and first >= 0:  # truncation is floor for non-negative times, and cheaper
        index = elapsed.astype(np.int64)
    else:
        index = np.floor(elapsed / bucket_s).astype(np.int64)
    if first:
        index -= first
    return index


def _slowdown(latency: np.ndarray, typical: np.ndarray | None, index: np.ndarray,
              buckets: int) -> tuple[np.ndarray, np.ndarray]:
    if typical is None:
        return np.full(buckets, np.nan), np.full(buckets, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = latency / typical
        log_ratio = np.log(ratio, out=ratio)  # NaN for a NaN latency, ±inf for zeros
        usable = np.isfinite(log_ratio)
        log_ratio[~usable] = 0.0
        extra = latency - typical
        extra[~usable] = 0.0
        n = np.bincount(index, weights=usable, minlength=buckets)
        slowdown = np.exp(np.bincount(index, weights=log_ratio, minlength=buckets) / n)
        extra_ms = np.bincount(index, weights=extra, minlength=buckets) / n
    return np.where(n > 0, slowdown, np.nan), np.where(n > 0, extra_ms, np.nan)


def _with_time(samples: pd.DataFrame) -> pd.DataFrame:
    """Rows without a time cannot be placed in a bucket (they still count in the step table)."""
    if len(samples) and samples["elapsed_s"].isna().any():
        return samples[samples["elapsed_s"].notna()]
    return samples


def _vus(samples: pd.DataFrame) -> np.ndarray | None:
    if "vus" not in samples.columns:
        return None
    vus = samples["vus"].to_numpy(dtype=float, na_value=np.nan)
    return None if np.isnan(vus).all() else vus


def _bucket_max(values: np.ndarray, counts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    out = np.full(len(counts), np.nan)
    nonempty = counts > 0
    if nonempty.any():
        filled = np.where(np.isnan(values), -np.inf, values)
        peaks = np.maximum.reduceat(filled, starts[nonempty])
        out[nonempty] = np.where(np.isinf(peaks), np.nan, peaks)
    return out


def _bucket_latency(latency: np.ndarray, index: np.ndarray, counts: np.ndarray, starts: np.ndarray,
                    method: str) -> dict[str, np.ndarray]:
    """Sort each bucket on its own (NaN last), then read percentiles off all buckets at once."""
    ordered = latency.copy()
    for i in np.flatnonzero(counts > 1):
        ordered[starts[i]:starts[i] + counts[i]].sort()
    nonempty = np.flatnonzero(counts > 0)
    nan = np.isnan(ordered)
    timed, values = counts, ordered
    if nan.any():  # the sort put them last in each bucket
        timed = counts.copy()
        timed[nonempty] -= np.add.reduceat(nan, starts[nonempty]).astype(np.int64)
        values = np.where(nan, 0.0, ordered)
    qs = segment_percentiles(ordered, starts, timed, list(SERIES_PERCENTILES.values()), method)
    sums = np.zeros(len(counts))
    if len(nonempty):
        sums[nonempty] = np.add.reduceat(values, starts[nonempty])
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(timed > 0, sums / np.maximum(timed, 1), np.nan)
    last = np.clip(starts + timed - 1, 0, max(len(ordered) - 1, 0))
    peak = np.where(timed > 0, ordered[last] if len(ordered) else np.nan, np.nan)
    out = {"avg_ms": avg, "max_ms": peak}
    out.update({name: qs[:, i] for i, name in enumerate(SERIES_PERCENTILES)})
    return out


def step_series(samples: pd.DataFrame, method: str = "linear", max_points: int = 240,
                grouped: Grouped | None = None) -> pd.DataFrame:
    """Per step over time, in buckets of a whole number of seconds chosen so that each step has at
    most `max_points` points: label, t_s, bucket_s, requests, p50, p95 (ms)."""
    columns = ["label", "t_s", "bucket_s", "requests", "p50", "p95"]
    if len(samples) and samples["elapsed_s"].isna().any():
        samples, grouped = _with_time(samples), None
    if not len(samples):
        return pd.DataFrame(columns=columns)
    elapsed = samples["elapsed_s"].to_numpy(dtype=float)
    span = float(np.nanmax(elapsed) - np.nanmin(elapsed))
    bucket_s = float(max(1, math.ceil(span / max_points)))
    first = math.floor(np.nanmin(elapsed) / bucket_s)
    grouped = grouped or group_by_label(samples)
    index = _bucket_index(elapsed, bucket_s, first)[grouped.order]
    latency = samples["latency_ms"].to_numpy(dtype=float)[grouped.order]
    # One pass over all steps (a run may have thousands of labels): rows keyed by (step, bucket).
    buckets = int(index.max()) + 1
    step = np.repeat(np.arange(len(grouped.names), dtype=np.int64), np.diff(grouped.bounds))
    key = step * buckets + index
    if (np.diff(key) < 0).any():  # rows of a step come in time order, unless a clock went back
        order = np.argsort(key, kind="stable")
        key, latency = key[order], latency[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1])
    counts = np.diff(np.append(starts, len(key)))
    values = _bucket_latency(latency, key, counts, starts, method)
    seg = key[starts]
    return pd.DataFrame({
        "label": np.asarray(grouped.names, dtype=object)[seg // buckets],
        "t_s": ((seg % buckets) + first) * bucket_s, "bucket_s": bucket_s,
        "requests": counts, "p50": values["p50"], "p95": values["p95"],
    })


def distributions(samples: pd.DataFrame, points: int = 160, grouped: Grouped | None = None,
                  ordered: np.ndarray | None = None) -> pd.DataFrame:
    """Cumulative distribution of latency per step on a shared log-spaced grid:
    label, latency_ms, share (fraction of the step's timed requests at or below latency_ms)."""
    columns = ["label", "latency_ms", "share"]
    if not len(samples):
        return pd.DataFrame(columns=columns)
    grouped = grouped or group_by_label(samples)
    ordered = ordered if ordered is not None else sorted_by_label(samples, grouped)
    # each label's run of `ordered` is ascending with NaN last: its ends give min and max for free
    runs = []
    for i, name in enumerate(grouped.names):
        values = ordered[grouped.bounds[i]:grouped.bounds[i + 1]]
        values = values[: np.searchsorted(values, np.nan)]
        if len(values):
            runs.append((name, values))
    if not runs:
        return pd.DataFrame(columns=columns)
    lowest, highest = min(v[0] for _, v in runs), max(v[-1] for _, v in runs)
    if lowest == highest:  # one value: no distribution to show
        return pd.DataFrame(columns=columns)
    positives = [v[np.searchsorted(v, 0.0, side="right")] for _, v in runs if v[-1] > 0]
    low = max(min(positives) if positives else 0.01, 0.01)
    grid = np.geomspace(low, max(highest, low * 1.01), points)
    parts = [pd.DataFrame({"label": name, "latency_ms": grid,
                           "share": np.searchsorted(values, grid, side="right") / len(values)})
             for name, values in runs]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def step_load_profile(samples: pd.DataFrame, method: str = "linear", max_levels: int = 30,
                      grouped: Grouped | None = None) -> pd.DataFrame:
    """Per step and load level (the active users each request saw): label, users, requests, p50,
    p95 (ms). Levels are the distinct user counts, or `max_levels` equal bins (users = the bin's
    centre) when there are more."""
    columns = ["label", "users", "requests", "p50", "p95"]
    vus = _vus(samples) if len(samples) else None
    if vus is None:
        return pd.DataFrame(columns=columns)
    known = ~np.isnan(vus)
    distinct = np.unique(vus[known])
    if len(distinct) < 2:
        return pd.DataFrame(columns=columns)
    level = np.full(len(vus), -1, dtype=np.int16)  # 16-bit: numpy sorts it by radix
    if len(distinct) <= max_levels:
        level[known] = np.searchsorted(distinct, vus[known])
        centers = distinct
    else:
        edges = np.linspace(distinct[0], distinct[-1], max_levels + 1)
        level[known] = np.clip(np.searchsorted(edges, vus[known], side="right") - 1, 0, max_levels - 1)
        centers = None
    grouped = grouped or group_by_label(samples)
    level = level[grouped.order]
    latency = samples["latency_ms"].to_numpy(dtype=float)[grouped.order]
    count = len(centers) if centers is not None else max_levels
    at = centers if centers is not None else (edges[:-1] + edges[1:]) / 2
    parts = []
    for i, name in enumerate(grouped.names):
        lo, hi = grouped.bounds[i], grouped.bounds[i + 1]
        lv, lat = level[lo:hi], latency[lo:hi]
        order = np.argsort(lv, kind="stable")  # 16-bit keys: a radix sort
        lv, lat = lv[order].astype(np.int64), lat[order]
        skip = int(np.searchsorted(lv, 0))  # requests without a user count sort first (level -1)
        lv, lat = lv[skip:], lat[skip:]
        if not len(lv):
            continue
        counts = np.bincount(lv, minlength=count)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        values = _bucket_latency(lat, lv, counts, starts, method)
        present = counts > 0
        parts.append(pd.DataFrame({"label": name, "users": np.asarray(at, dtype=float)[present],
                                   "requests": counts[present], "p50": values["p50"][present],
                                   "p95": values["p95"][present]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
