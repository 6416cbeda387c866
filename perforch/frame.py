"""The unified samples frame: one row per request, whatever tool produced it (DESIGN.md §4).

Declared once here; every ingest ends with `validate_frame()`. `latency_ms` is the tool's own
response time so that perforch's numbers equal the tool's summary; the tools define it
differently (k6 excludes connection setup; Locust and JMeter include it), see RESPONSE_TIME.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pandas load where a frame is built: the CLI starts without them
    import pandas as pd

SAMPLE_COLUMNS: dict[str, str] = {
    "ts": "datetime64[ns, UTC]",  # request start
    "elapsed_s": "float64",  # seconds since the run started
    "tool": "category",
    "flow": "category",  # user type
    "label": "category",  # step name
    "method": "category",
    "status": "int16",  # 0 = no response
    "ok": "bool",  # passed its expectations
    "latency_ms": "float64",
    "ttfb_ms": "float64",
    "connect_ms": "float64",
    "bytes_in": "Int64",
    "bytes_out": "Int64",
    "vus": "Int32",  # active users when the request started
    "error": "category",  # "" when ok
    "worker": "category",  # load generator
}

AGGREGATE_COLUMNS: dict[str, str] = {
    "label": "string",  # "" = all requests
    "count": "int64",
    "failures": "int64",
    "avg_ms": "float64",
    "min_ms": "float64",
    "max_ms": "float64",
    "p50": "float64",
    "p90": "float64",
    "p95": "float64",
    "p99": "float64",
    "p99_9": "float64",
    "rps": "float64",
}

# What each tool's response time covers, quoted in reports.
RESPONSE_TIME = {
    "k6": "k6 http_req_duration: sending + waiting + receiving; excludes connection setup",
    "locust": "Locust response_time: the whole client call, connect + send + full body read",
    "jmeter": "JMeter elapsed: from just before connecting to the last byte (includes connect)",
}

_CATEGORICAL = [c for c, t in SAMPLE_COLUMNS.items() if t == "category"]


def _optional_defaults() -> dict[str, object]:
    import numpy as np
    import pandas as pd

    return {
        "flow": "",
        "method": "",
        "ttfb_ms": np.nan,
        "connect_ms": np.nan,
        "bytes_in": pd.NA,
        "bytes_out": pd.NA,
        "vus": pd.NA,
        "error": "",
        "worker": "",
    }


def empty_frame() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in SAMPLE_COLUMNS.items()})


def make_frame(columns: dict[str, object], run_start: pd.Timestamp | None = None) -> pd.DataFrame:
    """Build a samples frame from column arrays (or scalars, repeated); fill optional columns,
    derive elapsed_s, sort by ts.

    Required: ts, tool, label, status, ok, latency_ms. `elapsed_s` is derived from `run_start`
    (default: the first request) unless given.
    """
    import pandas as pd

    n = len(columns["ts"])  # type: ignore[arg-type]
    data: dict[str, object] = {}
    optional = _optional_defaults()
    for name, dtype in SAMPLE_COLUMNS.items():
        if name in columns:
            value = columns[name]
        elif name == "elapsed_s":
            continue
        elif name in optional:
            value = optional[name]
        else:
            raise ValueError(f"samples frame needs column {name!r}")
        data[name] = _repeat(value, n, dtype) if _is_scalar(value) else value
    frame = pd.DataFrame(data)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    if "elapsed_s" not in columns:
        start = run_start if run_start is not None else (frame["ts"].min() if n else pd.Timestamp(0, tz="UTC"))
        frame["elapsed_s"] = (frame["ts"] - start).dt.total_seconds()
    frame = frame.sort_values("ts", kind="stable", ignore_index=True)
    return validate_frame(frame[list(SAMPLE_COLUMNS)])


def _is_scalar(value: object) -> bool:
    import numpy as np
    import pandas as pd

    return value is pd.NA or np.isscalar(value)


def _repeat(value: object, n: int, dtype: str) -> object:
    """A constant column without building n Python objects."""
    import numpy as np
    import pandas as pd

    if dtype == "category":
        return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[str(value)])
    if dtype in ("Int64", "Int32"):
        numpy_type = np.int64 if dtype == "Int64" else np.int32
        if value is pd.NA:
            return pd.arrays.IntegerArray(np.zeros(n, dtype=numpy_type), np.ones(n, dtype=bool))
        return pd.array(np.full(n, value, dtype=numpy_type), dtype=dtype)
    return np.full(n, value)


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Merge frames (e.g. one per load generator) into one, elapsed_s from the earliest request."""
    import pandas as pd

    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame()
    if len(frames) == 1:
        return frames[0]
    merged = pd.concat(frames, ignore_index=True)
    merged = merged.sort_values("ts", kind="stable", ignore_index=True)
    merged["elapsed_s"] = (merged["ts"] - merged["ts"].iloc[0]).dt.total_seconds()
    merged = validate_frame(merged)
    merged["vus"] = total_users(merged)
    return merged


def total_users(frame: pd.DataFrame) -> pd.Series:
    """Active users over all load generators when each request started: each generator counts its
    own users, so at every request the last count each generator reported is added up (a
    generator counts from its first request to its last: one that died stops counting)."""
    import numpy as np
    import pandas as pd

    vus = frame["vus"]
    workers = frame["worker"].cat.codes.to_numpy()
    if vus.isna().all() or len(np.unique(workers)) < 2:
        return vus
    own = vus.to_numpy(dtype=float, na_value=np.nan)
    total = np.zeros(len(frame))
    for code in np.unique(workers):
        mine = np.where(workers == code, own, np.nan)
        counted = pd.Series(mine).ffill().fillna(0.0).to_numpy(copy=True)
        counted[np.flatnonzero(workers == code)[-1] + 1:] = 0.0  # after its last request (or its death): none
        total += counted
    return pd.Series(np.rint(total), index=frame.index).astype("Int32")


def validate_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check columns, coerce dtypes; raise ValueError naming what is wrong."""
    import pandas as pd

    missing = [c for c in SAMPLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"samples frame lacks column(s): {', '.join(missing)}")
    out = {}
    for name, dtype in SAMPLE_COLUMNS.items():
        col = frame[name]
        if str(col.dtype) != dtype:
            if dtype == "category":
                col = col.astype("string").fillna("").astype("category")
            elif dtype == "bool":
                col = col.fillna(False).astype(bool)
            elif dtype == "int16":
                col = pd.to_numeric(col, errors="coerce").fillna(0).astype("int16")
            else:
                col = col.astype(dtype)
        elif dtype == "category" and col.cat.categories.dtype != object and str(col.cat.categories.dtype) != "str":
            col = col.astype("string").astype("category")
        out[name] = col
    out["label"] = _named_labels(out["label"])
    return pd.DataFrame(out, copy=False)


NO_LABEL = "(no label)"


def _named_labels(labels: pd.Series) -> pd.Series:
    """An empty label becomes "(no label)": "" is the all-requests row of every statistics table."""
    if "" not in labels.cat.categories:
        return labels
    if NO_LABEL in labels.cat.categories:
        return labels.astype("string").replace("", NO_LABEL).astype("category")
    return labels.cat.rename_categories({"": NO_LABEL})


def make_aggregates(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Aggregates as a tool reported them (no per-request rows available)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(AGGREGATE_COLUMNS))
    return frame.astype(AGGREGATE_COLUMNS)
