"""How numbers read in prose and tables: one place, so the report, the JSON and the terminal agree."""

from __future__ import annotations

import math

import pandas as pd


def missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def ms(value: float | None) -> str:
    """A latency in prose: '0.42 ms', '12.3 ms', '1.23 s'."""
    if missing(value):
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def ms_cell(value: float | None) -> str:
    """A latency in a table whose header says ms."""
    if missing(value):
        return "-"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def pct(rate: float | None) -> str:
    """A fraction as a percentage: 0 -> '0%', 0.00004 -> '0.004%', 0.0408 -> '4.08%'."""
    if missing(rate):
        return "-"
    if rate == 0:
        return "0%"
    if rate < 0.001:
        return f"{rate * 100:.3f}%"
    return f"{rate * 100:.2f}%"


def share(fraction: float) -> str:
    """A share of a whole, rounded: '78%'."""
    return "-" if missing(fraction) else f"{fraction * 100:.0f}%"


def headroom(fraction: float | None) -> str:
    """Distance to an SLO limit: '38%', '-22%'; never rounded to a misleading 0% or 100%."""
    if missing(fraction):
        return "-"
    value = fraction * 100
    if 0 < abs(value) < 0.05:
        return f"{value:.2g}%"  # 0.002%, not 0.0%
    if 0 < abs(value) < 1 or 99 < abs(value) < 100:
        return f"{value:.1f}%"
    return f"{value:.0f}%"


def rps(value: float | None) -> str:
    return "-" if missing(value) else f"{value:,.1f} req/s"


def count(value: int | float | None) -> str:
    return "-" if missing(value) else f"{int(value):,}"


def seconds(value: float | None) -> str:
    """A duration: '20.5 s', '5 min 03 s', '1 h 02 min'."""
    if missing(value):
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    total = int(round(value))
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


def at(seconds_since_start: float | None) -> str:
    """A point in the run: 't = 31.2 s'."""
    return "-" if missing(seconds_since_start) else f"t = {seconds_since_start:,.1f} s"


def clock(ts: pd.Timestamp | None) -> str:
    """A UTC time of day with milliseconds: '12:28:37.412 UTC'."""
    if ts is None or ts is pd.NaT:
        return "-"
    ts = pd.Timestamp(ts)
    ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
    return ts.strftime("%H:%M:%S.") + f"{ts.microsecond // 1000:03d} UTC"


def ratio(value: float) -> str:
    return "-" if missing(value) else f"×{value:.1f}" if value >= 10 else f"×{value:.2f}"


def load(value: float, unit: str) -> str:
    if missing(value):
        return "-"
    if unit == "users":
        return f"{value:,.0f} users"
    return f"{value:,.0f} {unit}"


def mib(value: float | None) -> str:
    return "-" if missing(value) else f"{value / 2**20:,.0f} MiB"
