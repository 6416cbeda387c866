"""Exact statistics over the samples frame, per step and overall.

Percentiles are computed over every sample (no histogram). Two definitions:
  linear        numpy's default, rank p·(n−1) interpolated between neighbours — what k6 reports;
  nearest-rank  k = round(n·p) (half up), the k-th smallest — JMeter's Aggregate Report.

Speed: a label's samples are gathered with one stable sort of the small integer label codes and
then sorted on their own (sorting many short arrays is much cheaper than one lexsort over
(label, latency)); percentiles are then read off the sorted arrays, vectorised over p.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from perforch.analysis import METHODS

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}
METHOD_TEXT = {
    "linear": "exact, linear interpolation between closest ranks (k6's definition, numpy's default)",
    "nearest-rank": "exact, nearest rank k = round(n·p) (JMeter Aggregate Report's definition)",
}
OVERALL = ""  # the label of the all-requests row
STAT_COLUMNS = ["label", "count", "failures", "error_rate", "rps", "avg_ms", "min_ms",
                *PERCENTILES, "max_ms", "timed"]


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


def sorted_percentiles(sorted_values: np.ndarray, qs: np.ndarray | list[float], method: str = "linear") -> np.ndarray:
    """Several percentiles (q in 0..100) of an ascending array without NaN; bit-identical to
    numpy.percentile (linear) and to percentile() (nearest-rank). NaN for an empty array."""
    qs = np.asarray(qs, dtype=float)
    n = len(sorted_values)
    if n == 0:
        return np.full(qs.shape, np.nan)
    return segment_percentiles(sorted_values, np.array([0]), np.array([n]), qs, method)[0]


def segment_percentiles(values: np.ndarray, starts: np.ndarray, counts: np.ndarray,
                        qs: np.ndarray | list[float], method: str = "linear") -> np.ndarray:
    """Percentiles of many segments at once: `values[starts[i]:starts[i]+counts[i]]` must each be
    ascending without NaN. Returns (segments × qs); NaN rows for empty segments."""
    qs = np.asarray(qs, dtype=float)
    starts = np.asarray(starts, dtype=np.int64)[:, None]
    counts = np.asarray(counts, dtype=np.int64)[:, None]
    if not len(values):
        return np.full((len(starts), len(qs)), np.nan)
    empty = counts[:, 0] == 0
    last = np.maximum(counts - 1, 0)
    if method == "linear":
        vi = (counts - 1) * np.true_divide(qs, 100)[None, :]  # numpy's virtual index
        above = vi >= counts - 1
        prev = np.where(above, last, np.floor(vi)).astype(np.int64)
        nxt = np.where(above, last, prev + 1)
        gamma = vi - np.where(above, -1, prev)  # numpy computes gamma after clamping to -1
        a = values[np.clip(starts + prev, 0, len(values) - 1)]
        b = values[np.clip(starts + nxt, 0, len(values) - 1)]
        diff = b - a
        out = a + diff * gamma
        upper = gamma >= 0.5
        out[upper] = (b - diff * (1 - gamma))[upper]  # numpy's _lerp, bit for bit
    elif method == "nearest-rank":
        k = np.floor(counts * qs[None, :] / 100.0 + 0.5).astype(np.int64)
        k = np.where(qs[None, :] >= 100, counts, k)
        k = np.clip(k, 1, np.maximum(counts, 1))
        out = values[np.clip(starts + k - 1, 0, len(values) - 1)].astype(float)
    else:
        raise ValueError(f"unknown percentile method {method!r}; use one of {', '.join(METHODS)}")
    out[empty] = np.nan
    return out


@dataclass(frozen=True, slots=True)
class Window:
    """What the statistics cover: from the first request start to the last request end."""

    start: pd.Timestamp | None
    duration_s: float


def run_window(samples: pd.DataFrame) -> Window:
    if not len(samples):
        return Window(None, 0.0)
    starts_ns = samples["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    latency_ns = np.nan_to_num(samples["latency_ms"].to_numpy(dtype=float) * 1e6, nan=0.0)
    first_ns = int(starts_ns.min())
    end_ns = float(np.max(starts_ns - first_ns + latency_ns))  # relative: float64 keeps ns there
    return Window(pd.Timestamp(first_ns, tz="UTC"), max(end_ns / 1e9, 1e-9))


@dataclass(frozen=True, slots=True)
class Grouped:
    """Samples gathered by label: label i's rows are `order[bounds[i]:bounds[i+1]]`, in time order."""

    names: tuple[str, ...]
    order: np.ndarray
    bounds: np.ndarray


def group_by_label(samples: pd.DataFrame) -> Grouped:
    labels = samples["label"]
    if not isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.astype("category")
    codes = labels.cat.codes.to_numpy()
    names = tuple(str(c) for c in labels.cat.categories)
    if (codes < 0).any():  # a missing label: name it "(no label)"
        codes = np.where(codes < 0, len(names), codes)
        names = (*names, "(no label)")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return Grouped(names, order, bounds)


def sorted_by_label(samples: pd.DataFrame, grouped: Grouped) -> np.ndarray:
    """Latencies gathered by label (grouped.bounds), each label's run ascending with NaN last."""
    ordered = samples["latency_ms"].to_numpy(dtype=float)[grouped.order]
    for i in range(len(grouped.names)):
        ordered[grouped.bounds[i]:grouped.bounds[i + 1]].sort()
    return ordered


def step_stats(samples: pd.DataFrame, method: str = "linear", duration_s: float | None = None,
               grouped: Grouped | None = None, ordered: np.ndarray | None = None) -> pd.DataFrame:
    """One row per label plus an overall row (label ""): count, failures, error_rate, rps, mean, min,
    p50..p99_9, max (ms). Requests with a NaN latency (no timing) are counted but not timed.
    `grouped`/`ordered` (group_by_label(), sorted_by_label() of these samples) save recomputing them."""
    if method not in METHODS:
        raise ValueError(f"unknown percentile method {method!r}; use one of {', '.join(METHODS)}")
    if not len(samples):
        return pd.DataFrame(columns=STAT_COLUMNS)
    duration = duration_s if duration_s is not None else run_window(samples).duration_s
    latency = samples["latency_ms"].to_numpy(dtype=float)
    failed = ~samples["ok"].to_numpy(dtype=bool)
    grouped = grouped or group_by_label(samples)
    ordered = ordered if ordered is not None else sorted_by_label(samples, grouped)
    steps = _rows(grouped.names, grouped.bounds, ordered, failed[grouped.order], duration, method)
    everything = _rows((OVERALL,), np.array([0, len(latency)]), np.sort(latency), failed, duration, method)
    return pd.concat([steps.sort_values("label", kind="stable"), everything], ignore_index=True)[STAT_COLUMNS]


def _rows(names: tuple[str, ...], bounds: np.ndarray, ordered: np.ndarray, failed: np.ndarray, duration: float,
          method: str) -> pd.DataFrame:
    """One statistics row per name, all at once (a run may have thousands of steps): name i's
    latencies are `ordered[bounds[i]:bounds[i+1]]`, ascending with NaN last (untimed: counted, not
    timed); `failed` holds the same requests in the same order. Names without requests are left out."""
    counts = np.diff(bounds)
    keep = np.flatnonzero(counts > 0)
    starts, counts = bounds[:-1][keep], counts[keep]
    nan = np.isnan(ordered)
    timed = counts - (np.add.reduceat(nan, starts).astype(np.int64) if len(starts) else 0)
    sums = np.add.reduceat(np.where(nan, 0.0, ordered), starts) if len(starts) else np.zeros(0)
    failures = np.add.reduceat(failed, starts).astype(np.int64) if len(starts) else counts * 0
    has = timed > 0
    last = np.clip(starts + timed - 1, 0, max(len(ordered) - 1, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame({
            "label": np.asarray(names, dtype=object)[keep],
            "count": counts,
            "failures": failures,
            "error_rate": failures / counts,
            "rps": counts / duration if duration > 0 else np.nan,
            "avg_ms": np.where(has, sums / np.maximum(timed, 1), np.nan),
            "min_ms": np.where(has, ordered[starts] if len(ordered) else np.nan, np.nan),
            "max_ms": np.where(has, ordered[last] if len(ordered) else np.nan, np.nan),
            "timed": timed,
        })
    qs = segment_percentiles(ordered, starts, timed, list(PERCENTILES.values()), method)
    for i, name in enumerate(PERCENTILES):
        frame[name] = qs[:, i]
    return frame
