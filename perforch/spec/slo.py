"""The SLO mini-language: `p99 < 200ms`, `avg <= 0.1s`, `error_rate < 0.1%`, `rps >= 100`.

Metrics: pNN (any percentile, e.g. p95, p99.9), avg (alias mean), med, min, max — latency, with a
unit ms or s (ms if none); error_rate — a fraction or a percentage; rps — requests per second.
Operators: < <= > >=. A rule may be scoped to one step: `{step: login, rule: "p95 < 300ms"}`.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from decimal import Decimal

_RULE = re.compile(
    r"^\s*(?P<metric>p\d+(?:\.\d+)?|avg|mean|med|min|max|error_rate|rps)\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|%|/s)?\s*$"
)
OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
LATENCY_METRICS = ("avg", "med", "min", "max")


@dataclass(frozen=True, slots=True)
class SloRule:
    text: str  # as the user wrote it (without the step scope)
    metric: str  # p99, p99.9, avg, med, min, max, error_rate, rps
    op: str
    threshold: float  # ms for latency metrics, a fraction for error_rate, 1/s for rps
    step: str | None = None

    @property
    def percentile(self) -> float | None:
        return float(self.metric[1:]) if self.metric.startswith("p") else None

    @property
    def display(self) -> str:
        return f"{self.step}: {self.text}" if self.step else self.text

    def holds(self, observed: float) -> bool:
        return bool(OPERATORS[self.op](observed, self.threshold))


def parse_slo(text: str, step: str | None = None) -> SloRule:
    match = _RULE.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(
            f"cannot read SLO {text!r}: expected '<metric> <op> <value>', e.g. 'p99 < 200ms', "
            "'error_rate < 0.1%', 'rps >= 100' (metrics: pNN, avg, med, min, max, error_rate, rps)"
        )
    # Scaled as decimals, then rounded once: 0.7% is the float nearest 0.007 (as 7/1000 is), not
    # 0.7/100 = 0.006999…, so a value exactly at the limit is judged as the operator says.
    metric, op, value, unit = match["metric"], match["op"], Decimal(match["value"]), match["unit"]
    if metric == "mean":
        metric = "avg"
    if metric.startswith("p"):
        q = float(metric[1:])
        if not 0 < q <= 100:
            raise ValueError(f"percentile must be between 0 and 100 in {text!r}")
    if metric == "error_rate":
        if unit not in (None, "%"):
            raise ValueError(f"error_rate takes a fraction or a percentage, got {text!r}")
        threshold = float(value / 100 if unit == "%" else value)
        if threshold > 1:
            raise ValueError(f"error_rate above 100% in {text!r}; write 0.1% or 0.001")
    elif metric == "rps":
        if unit not in (None, "/s"):
            raise ValueError(f"rps takes a number of requests per second, got {text!r}")
        threshold = float(value)
    else:
        if unit not in (None, "ms", "s"):
            raise ValueError(f"latency takes ms or s, got {text!r}")
        threshold = float(value * 1000 if unit == "s" else value)
    return SloRule(text=" ".join(text.split()), metric=metric, op=op, threshold=threshold, step=step)


def rules_from_record(items: list[dict] | tuple[dict, ...]) -> tuple[SloRule, ...]:
    """SLOs as stored in run.json ({"rule", "step"}) -> rules."""
    return tuple(parse_slo(item["rule"], step=item.get("step")) for item in items)
