"""Where latency started to rise with load, and where throughput stopped growing.

Both work on load levels built from the 1-second series: the seconds are grouped by how much load
was applied (active users for a closed model; requests/s for an open model), and each level keeps
its typical latency (the median over its seconds of the per-second p95) and its mean requests/s.
A two-segment ("hinge") least-squares fit over the levels finds the load at which the slope of
latency changes the most, like a knee in a capacity curve.

Detection uses the mix-independent slowdown (each request's latency over its step's median,
geometric mean per second), so that a level with more requests of a slow step does not look like
degradation; the p95 of all requests is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_LEVELS = 4
MAX_LEVELS = 30
MIN_RISE = 0.5  # latency must rise by 50% ...
MIN_RISE_MS = 5.0  # ... and by 5 ms at least, to count as degradation
SATURATION_GAIN = 0.1  # throughput grows by less than 10% ...
SATURATION_LOAD = 1.5  # ... while the load grows by 50% or more


@dataclass(frozen=True, slots=True)
class Level:
    load: float  # users (closed model) or requests/s (open model)
    seconds: int
    rps: float
    p50_ms: float
    p95_ms: float
    slowdown: float  # typical latency relative to each step's median over the run
    extra_ms: float  # mean latency above each step's median


@dataclass(frozen=True, slots=True)
class Degradation:
    unit: str  # "users" or "req/s"
    knee: bool  # True: flat, then rising from `load`; False: rising steadily from the start
    load: float  # where it began
    rps: float  # requests/s at that point
    base_ms: float  # typical p95 up to that point
    peak_load: float
    peak_ms: float  # typical p95 at the highest load
    factor: float  # how much slower requests were at the peak than at the start of the rise


@dataclass(frozen=True, slots=True)
class Saturation:
    unit: str
    load: float  # from where throughput stopped growing
    rps: float
    peak_load: float
    peak_rps: float


def load_levels(series: pd.DataFrame, by: str = "users") -> tuple[Level, ...]:
    """Group the seconds of a time_series() by load. `by`: "users" (the vus column) or "rps".
    The first and last buckets (often partial) and empty seconds are left out."""
    if len(series) < 3:
        return ()
    inner = series.iloc[1:-1]
    inner = inner[(inner["requests"] > 0) & inner["p95"].notna() & inner["slowdown"].notna()]
    key = inner["vus"] if by == "users" else inner["rps"]
    inner = inner[key.notna()]
    key = key[key.notna()].to_numpy(dtype=float)
    if len(inner) < MIN_LEVELS:
        return ()
    distinct = np.unique(key)
    if by == "users" and len(distinct) <= MAX_LEVELS:
        groups = np.searchsorted(distinct, key)
        count = len(distinct)
    else:
        low, high = float(key.min()), float(key.max())
        if high <= low:
            return ()
        count = MAX_LEVELS if by == "users" else min(MAX_LEVELS, max(MIN_LEVELS, len(key) // 5))
        edges = np.linspace(low, high, count + 1)
        groups = np.clip(np.searchsorted(edges, key, side="right") - 1, 0, count - 1)
    levels = []
    rps, p50, p95, slow, extra = (inner[c].to_numpy(dtype=float) for c in ("rps", "p50", "p95", "slowdown", "extra_ms"))
    for g in range(count):
        mask = groups == g
        if mask.any():
            levels.append(Level(float(key[mask].mean()), int(mask.sum()), float(rps[mask].mean()),
                                float(np.median(p50[mask])), float(np.median(p95[mask])),
                                float(np.median(slow[mask])), float(np.median(extra[mask]))))
    return tuple(levels)


def find_degradation(levels: tuple[Level, ...], unit: str = "users") -> Degradation | None:
    """None unless requests at the highest load are MIN_RISE slower than at the lowest (and
    MIN_RISE_MS more on average). `knee` tells a flat-then-rising curve from a steady climb."""
    if len(levels) < MIN_LEVELS:
        return None
    levels = tuple(sorted(levels, key=lambda lv: lv.load))
    x = np.array([lv.load for lv in levels])
    y = np.array([lv.slowdown for lv in levels])
    extra = np.array([lv.extra_ms for lv in levels])
    w = np.sqrt(np.array([lv.seconds for lv in levels], dtype=float))
    if x.max() < 1.5 * x.min() or x.max() - x.min() < 2:
        return None
    line = _fit_line(x, y, w)
    start = max(min(line(x.min()), float(np.median(y[:2]))), 1e-9)
    end = max(line(x.max()), float(np.median(y[-2:])))
    extra_line = _fit_line(x, extra, w)
    if end < start * (1 + MIN_RISE) or extra_line(x.max()) - extra_line(x.min()) < MIN_RISE_MS:
        return None
    best = None
    for k in x[1:-2]:  # at least two levels after the knee
        design = np.column_stack([np.ones_like(x), x, np.maximum(0.0, x - k)])
        coef, *_ = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)
        sse = float((((design @ coef) - y) * w) @ (((design @ coef) - y) * w))
        if best is None or sse < best[0]:
            best = (sse, float(k), coef)
    peak = levels[int(np.argmax(x))]
    line_sse = _sse(x, y, w)
    if best is not None:
        sse, k, (a, b, c) = best
        before = b * (k - x.min())
        after = (b + c) * (x.max() - k)
        if c > 0 and after > 3 * max(before, 0.0) and sse < 0.5 * line_sse:
            at = levels[int(np.argmin(np.abs(x - k)))]
            flat = [lv for lv in levels if lv.load <= k]
            base_ms = float(np.median([lv.p95_ms for lv in flat]))
            factor = peak.slowdown / max(float(np.median([lv.slowdown for lv in flat])), 1e-9)
            return Degradation(unit, True, k, at.rps, base_ms, peak.load, peak.p95_ms, factor)
    first = levels[0]
    return Degradation(unit, False, first.load, first.rps, first.p95_ms, peak.load, peak.p95_ms,
                       peak.slowdown / max(first.slowdown, 1e-9))


def find_saturation(levels: tuple[Level, ...], unit: str = "users") -> Saturation | None:
    """Throughput that stops growing while the load keeps rising: from the first level reaching
    90% of the best requests/s (smoothed over neighbours), the load still grows by SATURATION_LOAD
    or more but requests/s by less than SATURATION_GAIN. Only meaningful for a closed model."""
    if len(levels) < MIN_LEVELS:
        return None
    ordered = sorted(levels, key=lambda lv: lv.load)
    x = np.array([lv.load for lv in ordered])
    r = _smooth(np.array([lv.rps for lv in ordered]))
    top = float(r.max())
    i = int(np.argmax(r >= 0.9 * top))
    if i == 0 or r[i] < 1.5 * r[0] or x[-1] < SATURATION_LOAD * x[i]:
        return None
    if r[-1] > r[i] * (1 + SATURATION_GAIN):
        return None
    return Saturation(unit, float(x[i]), float(ordered[i].rps), float(x[-1]), float(ordered[-1].rps))


def _smooth(values: np.ndarray) -> np.ndarray:
    if len(values) < 5:
        return values
    padded = np.concatenate([values[:1], values, values[-1:]])
    return (padded[:-2] + padded[1:-1] + padded[2:]) / 3


def _fit_line(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    design = np.column_stack([np.ones_like(x), x])
    (a, b), *_ = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)
    return lambda v: float(a + b * v)


def _sse(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    line = _fit_line(x, y, w)
    residual = (np.array([line(v) for v in x]) - y) * w
    return float(residual @ residual)
