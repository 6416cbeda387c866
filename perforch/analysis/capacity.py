"""Capacity: judge the SLOs level by level on a staircase run and find where they first break.

A staircase holds each load level for a while; each hold window is judged on its own (the ramp
between levels is left out), so the breaking point is the first level whose window misses an SLO.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from perforch.analysis.slo import SloResult, all_met, evaluate_slos
from perforch.analysis.stats import OVERALL, step_stats
from perforch.spec.slo import SloRule


@dataclass(frozen=True, slots=True)
class Level:
    load: float  # users, or iterations per second
    start_s: float  # hold window, seconds since the run started
    end_s: float


@dataclass(frozen=True, slots=True)
class LevelVerdict:
    level: Level
    requests: int
    rps: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    slos: tuple[SloResult, ...]

    @property
    def ok(self) -> bool:
        return self.requests > 0 and all_met(self.slos)


@dataclass(frozen=True, slots=True)
class Capacity:
    levels: tuple[LevelVerdict, ...]
    unit: str  # "users" or "iterations/s"

    @property
    def breaking(self) -> LevelVerdict | None:
        """The first level that missed an SLO (None: every level held)."""
        return next((v for v in self.levels if not v.ok), None)

    @property
    def last_good(self) -> LevelVerdict | None:
        good = None
        for verdict in self.levels:
            if not verdict.ok:
                break
            good = verdict
        return good


def judge_levels(samples: pd.DataFrame, levels: Sequence[Level], rules: Sequence[SloRule], unit: str,
                 method: str = "linear") -> Capacity:
    verdicts = []
    elapsed = samples["elapsed_s"].to_numpy() if len(samples) else None
    for level in levels:
        if elapsed is None:
            window = samples
        else:
            window = samples[(elapsed >= level.start_s) & (elapsed < level.end_s)]
        duration = max(level.end_s - level.start_s, 1e-9)
        stats = step_stats(window, method, duration_s=duration)
        overall = stats[stats["label"] == OVERALL]
        row = overall.iloc[0] if len(overall) else None
        verdicts.append(LevelVerdict(
            level=level,
            requests=int(row["count"]) if row is not None else 0,
            rps=float(row["rps"]) if row is not None else 0.0,
            p95_ms=float(row["p95"]) if row is not None else float("nan"),
            p99_ms=float(row["p99"]) if row is not None else float("nan"),
            error_rate=float(row["error_rate"]) if row is not None else float("nan"),
            slos=evaluate_slos(window, rules, method, stats),
        ))
    return Capacity(tuple(verdicts), unit)
