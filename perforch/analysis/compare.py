"""Compare two runs per step: ratio plus significance plus a minimum effect (pyperf, asv).

For each step (and all requests) three questions, each needing both a significant test and an
effect of at least `min_effect` (relative) and `min_abs_ms` (absolute):
  typical latency  Mann-Whitney U on all latencies (normal approximation, tie-corrected), ratio of medians;
  tail latency     p95 with distribution-free 99% confidence intervals (order statistics); the
                   intervals must not overlap;
  errors           two-proportion z-test on the error rates (and at least +/- 0.5 points).
Verdicts, as asv's compare: worse, better, same, "changed (not significant)", not comparable
(too few samples, or a step present in one run only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perforch.analysis.stats import OVERALL, group_by_label, sorted_percentiles

WORSE, BETTER, SAME, CHANGED, NOT_COMPARABLE = "worse", "better", "same", "changed (not significant)", "not comparable"
MAX_TEST_SAMPLES = 200_000  # per side for the U test (a fixed-seed subsample beyond that)
Z_99 = 2.5758293035489004


@dataclass(frozen=True, slots=True)
class StepChange:
    label: str  # "" = all requests
    verdict: str
    reasons: tuple[str, ...]  # what made it worse / better / changed, with numbers
    base_count: int
    new_count: int
    base_p50: float
    new_p50: float
    base_p95: float
    new_p95: float
    base_p99: float
    new_p99: float
    base_error_rate: float
    new_error_rate: float
    p_value: float  # Mann-Whitney U, two-sided (NaN when not tested)

    @property
    def p50_ratio(self) -> float:
        return _ratio(self.new_p50, self.base_p50)

    @property
    def p95_ratio(self) -> float:
        return _ratio(self.new_p95, self.base_p95)

    @property
    def p99_ratio(self) -> float:
        return _ratio(self.new_p99, self.base_p99)


@dataclass(frozen=True, slots=True)
class Comparison:
    steps: tuple[StepChange, ...]  # sorted by label
    overall: StepChange
    min_effect: float
    alpha: float
    method: str

    @property
    def regressions(self) -> tuple[StepChange, ...]:
        return tuple(c for c in (*self.steps, self.overall) if c.verdict == WORSE)

    @property
    def has_regression(self) -> bool:
        return bool(self.regressions)


def compare_runs(base: pd.DataFrame, new: pd.DataFrame, method: str = "linear", min_effect: float = 0.10,
                 alpha: float = 0.01, min_abs_ms: float = 1.0, min_samples: int = 20) -> Comparison:
    base_groups, new_groups = _by_label(base), _by_label(new)
    labels = sorted(set(base_groups) | set(new_groups))
    args = (method, min_effect, alpha, min_abs_ms, min_samples)
    steps = tuple(_compare(label, base_groups.get(label), new_groups.get(label), *args) for label in labels)
    overall = _compare(OVERALL, _arrays(base), _arrays(new), *args)
    return Comparison(steps, overall, min_effect, alpha, method)


def _by_label(samples: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not len(samples):
        return {}
    grouped = group_by_label(samples)
    latency = samples["latency_ms"].to_numpy(dtype=float)[grouped.order]
    ok = samples["ok"].to_numpy(dtype=bool)[grouped.order]
    out = {}
    for i, name in enumerate(grouped.names):
        lo, hi = grouped.bounds[i], grouped.bounds[i + 1]
        if hi > lo:
            out[name] = (latency[lo:hi], ok[lo:hi])
    return out


def _arrays(samples: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    if not len(samples):
        return None
    return samples["latency_ms"].to_numpy(dtype=float), samples["ok"].to_numpy(dtype=bool)


def _compare(label: str, base, new, method: str, min_effect: float, alpha: float, min_abs_ms: float,
             min_samples: int) -> StepChange:
    b_lat, b_ok = base if base is not None else (np.array([]), np.array([], dtype=bool))
    n_lat, n_ok = new if new is not None else (np.array([]), np.array([], dtype=bool))
    b_sorted, n_sorted = np.sort(b_lat[~np.isnan(b_lat)]), np.sort(n_lat[~np.isnan(n_lat)])
    qs = [50.0, 95.0, 99.0]
    bq, nq = sorted_percentiles(b_sorted, qs, method), sorted_percentiles(n_sorted, qs, method)
    b_err = float((~b_ok).mean()) if len(b_ok) else float("nan")
    n_err = float((~n_ok).mean()) if len(n_ok) else float("nan")

    def change(verdict: str, reasons: tuple[str, ...], p: float = float("nan")) -> StepChange:
        return StepChange(label, verdict, reasons, len(b_lat), len(n_lat), float(bq[0]), float(nq[0]),
                          float(bq[1]), float(nq[1]), float(bq[2]), float(nq[2]), b_err, n_err, p)

    if base is None:
        return change(NOT_COMPARABLE, ("only in the new run",))
    if new is None:
        return change(NOT_COMPARABLE, ("only in the baseline",))
    if len(b_sorted) < min_samples or len(n_sorted) < min_samples:
        return change(NOT_COMPARABLE, (f"too few timed samples ({len(b_sorted)} vs {len(n_sorted)}; "
                                       f"need {min_samples})",))
    p = mann_whitney_p(b_sorted, n_sorted)
    worse, better, changed = [], [], []

    def judge(what: str, old: float, now: float, significant: bool) -> None:
        ratio = _ratio(now, old)
        big = abs(now - old) >= min_abs_ms and (ratio >= 1 + min_effect or ratio <= 1 / (1 + min_effect))
        if not big:
            return
        text = f"{what} {old:.1f} → {now:.1f} ms (×{ratio:.2f})"
        if not significant:
            changed.append(text + ", not significant")
        elif now > old:
            worse.append(text)
        else:
            better.append(text)

    judge("median", float(np.median(b_sorted)), float(np.median(n_sorted)), p < alpha)
    b_ci, n_ci = quantile_ci(b_sorted, 95.0), quantile_ci(n_sorted, 95.0)
    judge("p95", float(bq[1]), float(nq[1]), n_ci[0] > b_ci[1] or n_ci[1] < b_ci[0])
    ep = two_proportion_p(int((~b_ok).sum()), len(b_ok), int((~n_ok).sum()), len(n_ok))
    if abs(n_err - b_err) >= 0.005:
        text = f"error rate {b_err * 100:.2f}% → {n_err * 100:.2f}%"
        if ep >= alpha:
            changed.append(text + ", not significant")
        elif n_err > b_err:
            worse.append(text)
        else:
            better.append(text)
    if worse:
        return change(WORSE, tuple(worse), p)
    if better:
        return change(BETTER, tuple(better), p)
    if changed:
        return change(CHANGED, tuple(changed), p)
    return change(SAME, (), p)


def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the Mann-Whitney U test, normal approximation with tie correction and
    continuity correction (what scipy.stats.mannwhitneyu(method="asymptotic") computes)."""
    a, b = _subsample(a), _subsample(b)
    n1, n2 = len(a), len(b)
    if not n1 or not n2:
        return float("nan")
    values, inverse, counts = np.unique(np.concatenate([a, b]), return_inverse=True, return_counts=True)
    del values
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0
    r1 = float(avg_rank[inverse[:n1]].sum())
    u1 = r1 - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    ties = float((counts.astype(float) ** 3 - counts).sum())
    sigma = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))) if n > 1 else 0.0
    if sigma == 0:
        return 1.0
    mu = n1 * n2 / 2.0
    u = max(u1, n1 * n2 - u1)
    z = (u - mu - 0.5) / sigma
    return float(min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2))))


def quantile_ci(sorted_values: np.ndarray, q: float, z: float = Z_99) -> tuple[float, float]:
    """Distribution-free confidence interval of a percentile from order statistics (binomial,
    normal approximation): ranks n·p ± z·sqrt(n·p·(1−p))."""
    n = len(sorted_values)
    p = q / 100.0
    half = z * math.sqrt(n * p * (1 - p))
    lo = int(max(0, math.floor(n * p - half) - 1))
    hi = int(min(n - 1, math.ceil(n * p + half)))
    return float(sorted_values[lo]), float(sorted_values[hi])


def two_proportion_p(fail_a: int, n_a: int, fail_b: int, n_b: int) -> float:
    if not n_a or not n_b:
        return float("nan")
    pooled = (fail_a + fail_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0
    z = abs(fail_a / n_a - fail_b / n_b) / se
    return float(math.erfc(z / math.sqrt(2)))


def _subsample(values: np.ndarray) -> np.ndarray:
    if len(values) <= MAX_TEST_SAMPLES:
        return values
    rng = np.random.default_rng(0)
    return values[rng.choice(len(values), MAX_TEST_SAMPLES, replace=False)]


def _ratio(new: float, old: float) -> float:
    if not (old > 0) or math.isnan(new):
        return float("nan")
    return new / old
