"""Synthetic samples frames with a known answer, for the analysis and report tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perforch.frame import make_frame

START = pd.Timestamp("2026-11-28 10:00:00", tz="UTC")


def frame_from(elapsed_s, labels, latency_ms, ok=None, vus=None, status=None, error=None) -> pd.DataFrame:
    elapsed = np.asarray(elapsed_s, dtype=float)
    n = len(elapsed)
    columns = {
        "ts": START + pd.to_timedelta(elapsed, unit="s"), "elapsed_s": elapsed, "tool": "k6",
        "label": list(labels) if not isinstance(labels, str) else [labels] * n,
        "status": status if status is not None else np.full(n, 200, dtype=np.int16),
        "ok": ok if ok is not None else np.ones(n, dtype=bool),
        "latency_ms": np.asarray(latency_ms, dtype=float),
    }
    if vus is not None:
        columns["vus"] = np.asarray(vus, dtype=np.int32)
    if error is not None:
        columns["error"] = error
    return make_frame(columns)


def staircase(knee_users: int = 40, stage_users: int = 10, top_users: int = 80, stage_s: int = 20,
              per_user_rps: float = 2.0, base_ms: float = 50.0, slope_ms: float = 6.0, seed: int = 1,
              labels: tuple[str, ...] = ("login", "search")) -> pd.DataFrame:
    """A closed-model staircase: users step up by `stage_users` every `stage_s` seconds; latency is
    flat (base_ms, lognormal noise) up to `knee_users`, then grows by slope_ms per extra user."""
    rng = np.random.default_rng(seed)
    parts = []
    for stage, users in enumerate(range(stage_users, top_users + 1, stage_users)):
        n = int(users * per_user_rps * stage_s)
        start = stage * stage_s
        elapsed = np.sort(rng.uniform(start, start + stage_s, n))
        typical = base_ms + slope_ms * max(0, users - knee_users)
        latency = typical * rng.lognormal(0.0, 0.25, n)
        label = rng.choice(labels, n)
        parts.append(pd.DataFrame({"elapsed": elapsed, "label": label, "latency": latency, "vus": users}))
    data = pd.concat(parts, ignore_index=True)
    return frame_from(data["elapsed"], data["label"], data["latency"], vus=data["vus"])


def steady(seconds: int = 120, rps: int = 50, users: int = 10, seed: int = 2, error_rate: float = 0.0,
           burst: tuple[float, float] | None = None, burst_rate: float = 0.5) -> pd.DataFrame:
    """Constant load; failures at `error_rate` everywhere and `burst_rate` inside `burst`."""
    rng = np.random.default_rng(seed)
    n = seconds * rps
    elapsed = np.sort(rng.uniform(0, seconds, n))
    labels = rng.choice(["browse", "checkout", "login"], n, p=[0.5, 0.2, 0.3])
    latency = np.where(labels == "checkout", 120.0, 30.0) * rng.lognormal(0.0, 0.3, n)
    failed = rng.random(n) < error_rate
    if burst is not None:
        inside = (elapsed >= burst[0]) & (elapsed < burst[1]) & (labels == "checkout")
        failed |= inside & (rng.random(n) < burst_rate)
    status = np.where(failed, 503, 200).astype(np.int16)
    error = np.where(failed, "HTTP 503", "")
    return frame_from(elapsed, labels, latency, ok=~failed, vus=np.full(n, users), status=status, error=error)
