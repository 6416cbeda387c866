"""Where and when requests failed: per step, per status/error, first failure, bursts."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

BURST_SHARE = 0.8  # a burst holds this share of all failures ...
BURST_MAX_SPAN = 0.5  # ... within at most this fraction of the run ...
BURST_P = 0.001  # ... and would hardly happen by chance if failures were spread like the requests
BURST_MIN = 5


@dataclass(frozen=True, slots=True)
class StepErrors:
    label: str
    failures: int
    requests: int

    @property
    def rate(self) -> float:
        return self.failures / self.requests if self.requests else float("nan")


@dataclass(frozen=True, slots=True)
class ErrorKind:
    status: int  # 0 = no response
    error: str  # the tool's error text ("" when the status alone failed it)
    count: int
    labels: tuple[str, ...]  # steps where it happened, most frequent first

    @property
    def text(self) -> str:
        if self.status == 0:
            return f"no response ({self.error})" if self.error else "no response"
        if 200 <= self.status < 400:
            return f"HTTP {self.status} failing an expectation" + (f" ({self.error})" if self.error else "")
        return f"HTTP {self.status}" + (f" ({self.error})" if self.error and self.error != f"HTTP {self.status}" else "")


@dataclass(frozen=True, slots=True)
class Burst:
    start_s: float  # first failure inside the burst, seconds since the run started
    end_s: float  # end of the last second holding a failure of the burst
    failures: int
    rate_inside: float  # error rate within the burst window
    rate_outside: float
    start_ts: pd.Timestamp | None = None


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    failures: int
    requests: int
    by_step: tuple[StepErrors, ...]  # steps with failures, most failures first
    kinds: tuple[ErrorKind, ...]  # most frequent first
    first_s: float | None
    first_ts: pd.Timestamp | None
    burst: Burst | None

    @property
    def rate(self) -> float:
        return self.failures / self.requests if self.requests else float("nan")


def summarize_errors(samples: pd.DataFrame, series: pd.DataFrame | None = None) -> ErrorSummary:
    """`series` (a 1-second time_series() of the same samples) locates bursts."""
    n = len(samples)
    ok = samples["ok"].to_numpy(dtype=bool) if n else np.array([], dtype=bool)
    where = np.flatnonzero(~ok)
    if not len(where):
        return ErrorSummary(0, n, (), (), None, None, None)
    labels = samples["label"]
    if not isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.astype("category")
    names = [str(c) for c in labels.cat.categories] + ["(no label)"]
    codes = labels.cat.codes.to_numpy().astype(np.int64)
    codes = np.where(codes < 0, len(names) - 1, codes)
    totals = np.bincount(codes, minlength=len(names))
    fails = np.bincount(codes[where], minlength=len(names))
    order = sorted(np.flatnonzero(fails), key=lambda i: (-fails[i], names[i]))
    by_step = tuple(StepErrors(names[i], int(fails[i]), int(totals[i])) for i in order)
    failed = pd.DataFrame({  # only the failed rows, only the columns needed
        "status": samples["status"].to_numpy()[where],
        "error": _texts(samples["error"], where) if "error" in samples.columns else "",
        "label": np.asarray(names, dtype=object)[codes[where]],
    })
    kinds_frame = failed.groupby(["status", "error", "label"]).size().reset_index(name="count")
    kinds = []
    for (status, error), part in kinds_frame.groupby(["status", "error"]):
        part = part.sort_values("count", ascending=False, kind="stable")
        kinds.append(ErrorKind(int(status), str(error), int(part["count"].sum()), tuple(part["label"])))
    kinds.sort(key=lambda k: (-k.count, k.status, k.error))
    elapsed = samples["elapsed_s"].to_numpy(dtype=float)[where]
    first = int(np.nanargmin(elapsed)) if not np.isnan(elapsed).all() else 0
    first_s = float(elapsed[first])
    first_ts = samples["ts"].iloc[int(where[first])]
    burst = find_burst(series) if series is not None and len(series) else None
    if burst is not None:  # the burst starts at its first failure, not at its bucket's start
        inside = (elapsed >= burst.start_s) & (elapsed < burst.end_s)
        k = int(np.flatnonzero(inside)[np.argmin(elapsed[inside])])
        burst = replace(burst, start_s=float(elapsed[k]), start_ts=samples["ts"].iloc[int(where[k])])
    return ErrorSummary(len(where), n, by_step, tuple(kinds), first_s, first_ts, burst)


def _texts(column: pd.Series, where: np.ndarray) -> np.ndarray:
    """column[where] as strings, without converting the whole (categorical) column."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        names = np.asarray([str(c) for c in column.cat.categories] + [""], dtype=object)
        codes = column.cat.codes.to_numpy()[where]
        return names[np.where(codes < 0, len(names) - 1, codes)]
    return column.iloc[where].fillna("").astype(str).to_numpy()


def find_burst(series: pd.DataFrame) -> Burst | None:
    """The shortest window of whole seconds holding BURST_SHARE of the failures, when it spans at
    most BURST_MAX_SPAN of the run, its error rate is at least 3x the rate outside it, and so many
    failures in a window with that share of the requests is unlikely by chance (binomial tail)."""
    errors = series["errors"].to_numpy(dtype=np.int64)
    requests = series["requests"].to_numpy(dtype=np.int64)
    total = int(errors.sum())
    if total < BURST_MIN:
        return None
    need = int(np.ceil(total * BURST_SHARE))
    cum = np.concatenate([[0], np.cumsum(errors)])
    # for each start i, the first end j with cum[j] - cum[i] >= need
    ends = np.searchsorted(cum, cum[:-1] + need, side="left")
    valid = ends <= len(errors)
    if not valid.any():
        return None
    starts = np.flatnonzero(valid)
    spans = ends[valid] - starts
    best = int(np.argmin(spans))
    i, j = int(starts[best]), int(ends[valid][best])
    if (j - i) > BURST_MAX_SPAN * len(errors):
        return None
    rate_in, rate_out = _rates(errors, requests, i, j)
    if rate_in < 3 * rate_out or binomial_tail(int(errors[i:j].sum()), total,
                                               int(requests[i:j].sum()) / max(int(requests.sum()), 1)) > BURST_P:
        return None
    # the shortest window may leave out the edges of the burst: widen it over neighbouring seconds
    # whose error rate is still far above the rate outside
    def elevated(k: int) -> bool:
        return errors[k] > 0 and errors[k] / max(requests[k], 1) >= max(3 * rate_out, rate_in / 4)

    while i > 0 and elevated(i - 1):
        i -= 1
    while j < len(errors) and elevated(j):
        j += 1
    inside_err = int(errors[i:j].sum())
    rate_in, rate_out = _rates(errors, requests, i, j)
    t = series["t_s"].to_numpy(dtype=float)
    step = float(t[1] - t[0]) if len(t) > 1 else 1.0
    return Burst(float(t[i]), float(t[j - 1] + step), inside_err, rate_in, rate_out)


def _rates(errors: np.ndarray, requests: np.ndarray, i: int, j: int) -> tuple[float, float]:
    inside_err, inside_req = int(errors[i:j].sum()), int(requests[i:j].sum())
    out_err, out_req = int(errors.sum()) - inside_err, int(requests.sum()) - inside_req
    return (inside_err / inside_req if inside_req else 0.0), (out_err / out_req if out_req else 0.0)


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): exact up to n = 2000, normal approximation beyond."""
    if k <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    if n <= 2000:
        log_p, log_q = math.log(p), math.log1p(-p)
        terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
                 for i in range(k, n + 1)]
        top = max(terms)
        return float(min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms)))
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    return float(0.5 * math.erfc((k - 0.5 - mean) / (sd * math.sqrt(2))))
