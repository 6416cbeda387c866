"""SLO verdicts from the samples: perforch is the judge, whatever the tool's own exit code was."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perforch.analysis.stats import OVERALL, percentile, step_stats
from perforch.spec.slo import SloRule


@dataclass(frozen=True, slots=True)
class SloResult:
    rule: str  # as the user wrote it ("login: p95 < 300ms" for a step rule)
    metric: str
    threshold: float
    observed: float | None  # None when there was nothing to measure
    ok: bool
    unit: str  # "ms", "%" or "/s", for display
    note: str = ""
    op: str = ""  # < <= > >=
    step: str | None = None

    @property
    def headroom(self) -> float | None:
        """How far the observed value is from the limit, as a fraction of the limit: positive on
        the good side (0.38 = 38% below a `<` limit), negative when the SLO is not met."""
        if self.observed is None or not self.op or self.threshold == 0:
            return None
        if self.op in ("<", "<="):
            return (self.threshold - self.observed) / self.threshold
        return (self.observed - self.threshold) / self.threshold

    @property
    def threshold_text(self) -> str:
        """The limit as written: 150 ms, 0.1%, 100/s."""
        if self.unit == "%":
            return f"{self.threshold * 100:g}%"
        if self.unit == "/s":
            return f"{self.threshold:g}/s"
        return f"{self.threshold:g} ms"

    @property
    def observed_text(self) -> str:
        if self.observed is None:
            return "no data"
        text = _value_text(self.observed, self.unit)
        extra = 0
        while self.observed != self.threshold and text == _value_text(self.threshold, self.unit, extra) and extra < 9:
            extra += 1  # 199.96 ms is not "200.0 ms" next to a 200 ms limit: show the digits that differ
            text = _value_text(self.observed, self.unit, extra)
        return text


def _value_text(value: float, unit: str, extra: int = 0) -> str:
    """`extra` more significant digits than usual."""
    if unit == "%":
        return f"{value * 100:.{3 + extra}g}%"
    if unit == "/s":
        return f"{value:.{1 + extra}f}/s"
    return f"{value:.{1 + extra}f} ms" if value >= 10 else f"{value:.{3 + extra}g} ms"


def evaluate_slos(samples: pd.DataFrame, rules: Sequence[SloRule], method: str = "linear",
                  stats: pd.DataFrame | None = None) -> tuple[SloResult, ...]:
    """Judge each rule on the samples. `stats` (a step_stats() table of the same samples and method)
    is reused when given, so the verdict uses exactly the numbers the report shows."""
    if stats is None:
        stats = step_stats(samples, method)
    by_label = {row["label"]: row for row in stats.to_dict("records")}
    results = []
    for rule in rules:
        row = by_label.get(OVERALL if rule.step is None else rule.step)
        unit = "%" if rule.metric == "error_rate" else "/s" if rule.metric == "rps" else "ms"
        value = _observed(row, rule) if row else None
        if row and value is None and len(samples):  # a percentile the table does not carry
            subset = samples if rule.step is None else samples[samples["label"] == rule.step]
            values = np.sort(subset["latency_ms"].dropna().to_numpy(dtype=float))
            value = percentile(values, rule.percentile, method)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            why = "no requests" if row is None else "no timed requests"
            if row is not None and not len(samples) and rule.percentile is not None:
                why = f"the tool did not report {rule.metric}"
            results.append(SloResult(rule.display, rule.metric, rule.threshold, None, False, unit, why,
                                     rule.op, rule.step))
        else:
            results.append(SloResult(rule.display, rule.metric, rule.threshold, float(value), rule.holds(value), unit,
                                     "", rule.op, rule.step))
    return tuple(results)


def _observed(row: dict, rule: SloRule) -> float | None:
    if rule.metric == "error_rate":
        return row["error_rate"]
    if rule.metric == "rps":
        return row["rps"]
    if rule.metric in ("avg", "min", "max"):
        return row[f"{rule.metric}_ms"]
    if rule.metric == "med":
        return row["p50"]
    q = rule.percentile
    key = {50.0: "p50", 90.0: "p90", 95.0: "p95", 99.0: "p99", 99.9: "p99_9"}.get(q)
    if key is not None:
        return row[key]
    return None


def all_met(results: Sequence[SloResult]) -> bool:
    return all(r.ok for r in results)
