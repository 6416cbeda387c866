"""Durations, rates and think times, parsed once, here.

Durations accept k6's spelling ("500ms", "30s", "2m", "1h30m", "1m30.5s") or a plain number of
seconds. Rates are iterations per time unit ("50/s", "600/m", "2/100ms").
"""

from __future__ import annotations

import re

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h)\s*$")


def parse_duration(value: object) -> float:
    """Return seconds. Raises ValueError with the expected form."""
    if isinstance(value, bool):
        raise ValueError(f'expected a duration like "30s", got {value!r}')
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f'expected a duration like "30s", got {value!r}')
    text = value.strip()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f'expected a duration like "30s", "500ms" or "1m30s", got {value!r}')
    return total


def parse_rate(value: object) -> float:
    """Return iterations per second from "50/s", "600/m", "5/100ms"."""
    if isinstance(value, bool):
        raise ValueError(f'expected a rate like "50/s", got {value!r}')
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a rate cannot be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _RATE.match(value)
        if match:
            per = float(match.group(2) or 1) * _UNIT_S[match.group(3)]
            if per > 0:
                return float(match.group(1)) / per
    raise ValueError(f'expected a rate like "50/s" or "600/m", got {value!r}')


def parse_think(value: object) -> tuple[float, float]:
    """Return (min_s, max_s) from "2s" (fixed) or "1s..3s" (uniform)."""
    if isinstance(value, str) and ".." in value:
        low_text, _, high_text = value.partition("..")
        low, high = parse_duration(low_text), parse_duration(high_text)
        if high < low:
            raise ValueError(f"think range must go from low to high, got {value!r}")
        return low, high
    fixed = parse_duration(value)
    return fixed, fixed


def format_duration(seconds: float) -> str:
    """The shortest k6-style spelling: 90 -> "1m30s", 0.25 -> "250ms"."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    frac = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs or frac or not out:
        out += f"{secs + frac:g}s"
    return out
