"""Charts for the report (matplotlib, Agg, no pyplot state): PNG bytes from the aggregated series.

Every chart is titled and has units on its axes; a step keeps its colour in every chart and in the
HTML tables (step_colors). Charts are drawn only from data that exists: no samples, no latency
or a single second of data means fewer charts, never an empty or misleading one.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import pickle
import signal
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perforch.analysis.run import RunAnalysis
from perforch.analysis.slo import SloResult

# tab10 without its red (kept for errors) and grey (kept for users / all requests), then tab20's
# lighter shades: one colour per step, in label order.
STEP_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
                "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")
ERROR_COLOR = "#d62728"
RPS_COLOR = "#1f4e79"
USERS_COLOR = "#7f7f7f"
PERCENTILE_STYLE = {"p50": ("#9ecae1", 1.2), "p90": ("#6baed6", 1.2), "p95": ("#2171b5", 1.5), "p99": ("#08306b", 1.7)}
TARGET_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
WIDTH_IN, HEIGHT_IN, DPI = 10.0, 3.6, 110
STYLE = {
    "font.size": 9, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.titlelocation": "left",
    "axes.labelsize": 9, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#e5e5e5", "grid.linewidth": 0.8, "legend.fontsize": 8, "legend.frameon": False,
    "figure.facecolor": "white", "axes.facecolor": "white", "axes.edgecolor": "#888888",
    "xtick.color": "#444444", "ytick.color": "#444444", "axes.labelcolor": "#222222",
}


@dataclass(frozen=True, slots=True)
class Chart:
    name: str  # file stem: latency_over_time
    title: str
    caption: str  # what to read in it, for alt text and the figure caption
    png: bytes


@dataclass(frozen=True, slots=True)
class Drawn:
    """A chart before rasterising: tests read its axes (labels, titles), never pixels."""

    name: str
    title: str
    caption: str
    figure: object  # matplotlib.figure.Figure


MAX_CHART_STEPS = 12  # more lines than this is spaghetti: chart the slowest, say so


def charted_steps(analysis: RunAnalysis) -> list[str]:
    """The steps the per-step charts show: all of them, or the MAX_CHART_STEPS slowest by p95."""
    steps = analysis.steps
    if len(steps) > MAX_CHART_STEPS:
        steps = steps.sort_values("p95", ascending=False, na_position="last", kind="stable").head(MAX_CHART_STEPS)
    return sorted(str(x) for x in steps["label"])


def step_colors(labels: Sequence[str]) -> dict[str, str]:
    """One colour per charted step, in label order: the same in every chart and in the HTML tables."""
    return {label: STEP_PALETTE[i % len(STEP_PALETTE)] for i, label in enumerate(sorted(labels))}


def _only(frame: pd.DataFrame, colors: dict[str, str]) -> pd.DataFrame:
    return frame[frame["label"].astype(str).isin(colors)] if len(frame) else frame


def _subset_note(analysis: RunAnalysis, colors: dict[str, str]) -> str:
    total = len(analysis.steps)
    return f" (the {len(colors)} slowest of {total} steps)" if total > len(colors) else ""


# Drawn in a forked child process while this one draws the others: about half the work each.
FORKED = ("throughput", "distribution", "system")


def render_charts(analysis: RunAnalysis, parallel: bool = True) -> tuple[Chart, ...]:
    """Every chart the data supports, as PNG.

    Drawing and rasterising hold the GIL (threads would not help), so with `parallel`, fork and a
    second core, a forked child renders the FORKED charts while this process renders the rest:
    the same code on the same data, so the same bytes, in about half the time. Should the child
    fail, its charts are rendered here (and any error is raised here).
    """
    import matplotlib

    with matplotlib.rc_context(STYLE):
        builders = _builders(analysis)
        child = None
        if parallel and _can_fork():
            child = _ChartChild.start([(i, build) for i, (key, build) in enumerate(builders) if key in FORKED])
        done: dict[int, Chart | None] = {}
        try:
            for i, (_, build) in enumerate(builders):
                if child is None or i not in child.indices:
                    done[i] = _render(build)
            if child is not None:
                done.update(child.collect())
        finally:
            if child is not None:
                child.close()
        for i, (_, build) in enumerate(builders):
            if i not in done:
                done[i] = _render(build)
    return tuple(c for i, c in sorted(done.items()) if c is not None)


def draw_charts(analysis: RunAnalysis) -> tuple[Drawn, ...]:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        charts = [build() for _, build in _builders(analysis)]
    return tuple(c for c in charts if c is not None)


def _builders(analysis: RunAnalysis) -> list[tuple[str, Callable[[], Drawn | None]]]:
    """Every chart in report order, as (key, function drawing it or returning None)."""
    colors = step_colors(charted_steps(analysis))
    return [
        ("latency_over_time", lambda: _latency_over_time(analysis)),
        ("throughput", lambda: _throughput(analysis)),
        ("steps_over_time", lambda: _steps_over_time(analysis, colors)),
        ("distribution", lambda: _distribution(analysis, colors)),
        ("steps", lambda: _step_bars(analysis, colors)),
        ("load_curve", lambda: _load_curve(analysis, colors)),
        ("system", lambda: _system(analysis)),
    ]


def _render(build: Callable[[], Drawn | None]) -> Chart | None:
    drawn = build()
    return None if drawn is None else Chart(drawn.name, drawn.title, drawn.caption, _png(drawn.figure))


def _can_fork() -> bool:
    if not hasattr(os, "fork"):
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores > 1


class _ChartChild:
    """A forked process rendering some charts and sending them back through a pipe."""

    def __init__(self, pid: int, fd: int, indices: set[int]) -> None:
        self.pid: int | None = pid
        self.fd: int | None = fd
        self.indices = indices

    @classmethod
    def start(cls, builders: list[tuple[int, Callable[[], Drawn | None]]]) -> _ChartChild:
        read, write = os.pipe()
        with warnings.catch_warnings():
            # Python >= 3.12 warns when other threads exist: the child only draws (no locks those
            # threads could hold: imports are done, matplotlib's own lock is untouched until here)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: render, send, leave without running any exit handler
            code = 1
            try:
                os.close(read)
                gc.disable()  # short-lived: no collection walking (and copying) the parent's pages
                out = {}
                for i, build in builders:
                    chart = _render(build)
                    out[i] = None if chart is None else (chart.name, chart.title, chart.caption, chart.png)
                with os.fdopen(write, "wb") as fh:
                    fh.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        return cls(pid, read, {i for i, _ in builders})

    def collect(self) -> dict[int, Chart | None]:
        """The child's charts; {} when it failed."""
        with os.fdopen(self.fd, "rb") as fh:
            self.fd = None
            payload = fh.read()
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        if status != 0:
            return {}
        try:
            out = pickle.loads(payload)
        except Exception:  # noqa: BLE001 - rendered again here
            return {}
        return {i: None if c is None else Chart(*c) for i, c in out.items()}

    def close(self) -> None:
        """Stop a child still running (an error or Ctrl-C here) and reap it."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None


# --- helpers -------------------------------------------------------------------------------------


def _figure(rows: int = 1, cols: int = 1, height: float = HEIGHT_IN, left_in: float = 0.75,
            right_in: float = 0.35, **kwargs):
    """A figure with fixed margins (inches): much faster than a layout engine, and the charts line
    up in the report because they share width and left margin."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    axes = fig.subplots(rows, cols, **kwargs)
    for ax in np.atleast_1d(axes):
        # fewer ticks: each one is several artists to lay out and draw (the main cost of a chart)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=7))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
    fig.subplots_adjust(left=left_in / WIDTH_IN, right=1 - right_in / WIDTH_IN, top=1 - 0.42 / height,
                        bottom=0.55 / height, wspace=0.22, hspace=0.12)
    return fig, axes


def _title(ax, title: str) -> None:
    """A fixed title position: matplotlib otherwise measures every tick label to place it."""
    ax.set_title(title, y=1.0, pad=8)


def _log_axis(axis) -> None:
    """Log scale with plain tick labels (1, 2, 5, 10, 20 ...): no mathtext, easier to read."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_locator(NullLocator())  # every tick costs drawing time; the 1-2-5 grid is enough


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    # zlib level 1: a third of the encoding time of the default level, files barely larger (charts are
    # mostly flat colour)
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def text(value: str, limit: int = 40) -> str:
    """A user's label, safe for matplotlib (no mathtext) and short enough for a legend."""
    value = " ".join(str(value).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value.replace("$", r"\$")


def _time_axis(ax, series_t: np.ndarray) -> tuple[np.ndarray, str]:
    """Seconds since the start, or minutes for runs longer than 15 minutes."""
    span = float(np.nanmax(series_t) - np.nanmin(series_t)) if len(series_t) else 0.0
    if span > 900:
        return series_t / 60.0, "time since start (min)"
    return series_t, "time since start (s)"


def _scale(t: np.ndarray, unit_label: str) -> np.ndarray:
    return t / 60.0 if "min" in unit_label else t


def _log_if_wide(ax, values: np.ndarray, label: str) -> None:
    finite = values[np.isfinite(values) & (values > 0)]
    if len(finite) and finite.max() / max(finite.min(), 1e-9) > 30:
        ax.set_yscale("log")
        _log_axis(ax.yaxis)
        ax.set_ylabel(f"{label}, log scale")
    else:
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)


def _latency_slos(slos: Sequence[SloResult], step: str | None = None) -> list[SloResult]:
    return [s for s in slos if s.unit == "ms" and s.step == step and s.metric.startswith("p")]


def _usable(series: pd.DataFrame) -> bool:
    return len(series) >= 2 and bool(series["requests"].sum())


def _timed(values: pd.Series) -> bool:
    """Latencies worth a chart: some known, not all zero."""
    return bool(values.notna().any()) and float(values.max()) > 0


def _mark_events(ax, analysis: RunAnalysis, unit_label: str) -> None:
    """Shade an error burst; mark where degradation began (the first second at that load)."""
    errors = analysis.errors
    if errors is not None and errors.burst is not None:
        b = errors.burst
        ax.axvspan(*_scale(np.array([b.start_s, b.end_s]), unit_label), color=ERROR_COLOR, alpha=0.08, lw=0,
                   label="error burst")
    d = analysis.degradation
    if d is not None and d.knee and len(analysis.series):
        key = analysis.series["vus"] if d.unit == "users" else analysis.series["rps"]
        beyond = analysis.series.loc[key > d.load * 1.001, "t_s"]  # flat up to d.load, slower beyond it
        if len(beyond):
            x = float(_scale(np.array([beyond.iloc[0]]), unit_label)[0])
            ax.axvline(x, color="#444444", ls=":", lw=1.2, label=f"slower beyond\n~{d.load:,.0f} {d.unit}")


# --- the charts ----------------------------------------------------------------------------------

LEGEND_IN = 1.9  # right margin holding the legend of time charts, so that their x axes line up


def _legend(ax, handles=None, labels=None, x: float = 1.01, **kwargs) -> None:
    """Legend outside the plot, top right: it never hides data."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(x, 1.0), borderaxespad=0.0, **kwargs)


def _latency_over_time(analysis: RunAnalysis) -> Drawn | None:
    s = analysis.series
    if not _usable(s) or not _timed(s["p99"]):
        return None
    fig, ax = _figure(right_in=LEGEND_IN)
    t, xlabel = _time_axis(ax, s["t_s"].to_numpy(dtype=float))
    values = []
    for name, (color, width) in PERCENTILE_STYLE.items():
        y = s[name].to_numpy(dtype=float)
        values.append(y)
        ax.plot(t, y, color=color, lw=width, label=name, marker="o" if len(t) < 5 else None, ms=3)
    for slo in _latency_slos(analysis.slos):
        ax.axhline(slo.threshold, color=ERROR_COLOR, ls="--", lw=1, label=f"SLO {text(slo.rule, 24)}")
        values.append(np.array([slo.threshold]))
    _mark_events(ax, analysis, xlabel)
    _log_if_wide(ax, np.concatenate(values), "response time (ms)")
    _headroom(ax)
    ax.set_xlabel(xlabel)
    _title(ax, "Response time over time, all requests (per second)")
    _legend(ax)
    return Drawn("latency_over_time", "Response time over time",
                 "p50, p90, p95 and p99 of all requests, second by second, with the latency SLO limits.", fig)


def _headroom(ax) -> None:
    """A little room above the highest line (or SLO limit) so it does not touch the frame."""
    low, high = ax.get_ylim()
    if ax.get_yscale() == "log":
        ax.set_ylim(low, high * 1.5)
    else:
        ax.set_ylim(0, high * 1.08)


def _throughput(analysis: RunAnalysis) -> Drawn | None:
    s = analysis.series
    if not _usable(s):
        return None
    fig, ax = _figure(right_in=LEGEND_IN)
    t, xlabel = _time_axis(ax, s["t_s"].to_numpy(dtype=float))
    width = float(t[1] - t[0]) if len(t) > 1 else 1.0
    handles = list(ax.plot(t, s["rps"], color=RPS_COLOR, lw=1.6, label="requests/s"))
    errors = s["errors_per_s"].to_numpy(dtype=float)
    if errors.any():  # one filled step polygon: thousands of bars would take seconds to draw
        edges = np.append(t, t[-1] + width)
        handles.append(ax.fill_between(edges, np.append(errors, errors[-1]), step="post", color=ERROR_COLOR,
                                       alpha=0.75, lw=0, label="errors/s"))
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0, top=max(float(np.nanmax(s["rps"])), 1.0) * 1.1)
    ax.set_xlabel(xlabel)
    legend_x = 1.01
    if s["vus"].notna().any():
        ax2 = ax.twinx()
        users = s["vus"].to_numpy(dtype=float)
        ax2.fill_between(t, users, step="post", color=USERS_COLOR, alpha=0.13, lw=0)
        handles += ax2.plot(t, users, drawstyle="steps-post", color=USERS_COLOR, lw=1, label="active users")
        ax2.set_ylabel("active users")
        ax2.set_ylim(bottom=0, top=max(float(np.nanmax(users)) * 1.1, 1))
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
        legend_x = 1.09
    _title(ax, "Throughput, errors and active users (per second)")
    _legend(ax, handles, [h.get_label() for h in handles], x=legend_x)
    return Drawn("throughput", "Throughput, errors and active users",
                 "Requests and failed requests per second, with the number of active users (right axis).",
                 fig)


def _steps_over_time(analysis: RunAnalysis, colors: dict[str, str]) -> Drawn | None:
    frame = _only(analysis.steps_over_time, colors)
    if not len(frame) or not _timed(frame["p95"]) or frame["t_s"].nunique() < 2:
        return None
    fig, ax = _figure(right_in=LEGEND_IN)
    _, xlabel = _time_axis(ax, frame["t_s"].to_numpy(dtype=float))
    bucket = float(frame["bucket_s"].iloc[0])
    for label, part in frame.groupby("label", sort=True):
        t = _scale(part["t_s"].to_numpy(dtype=float), xlabel)
        ax.plot(t, part["p95"], color=colors.get(str(label), USERS_COLOR), lw=1.4, label=text(label, 24))
    _log_if_wide(ax, frame["p95"].to_numpy(dtype=float), "p95 response time (ms)")
    _headroom(ax)
    ax.set_xlabel(xlabel)
    per = "second" if bucket == 1 else f"{bucket:g} seconds"
    _title(ax, f"p95 response time per step over time (per {per}){_subset_note(analysis, colors)}")
    _legend(ax, title="step")
    return Drawn("steps_over_time", "p95 per step over time",
                 f"The p95 response time of each step, per {per}: which step moves when.", fig)


def _distribution(analysis: RunAnalysis, colors: dict[str, str]) -> Drawn | None:
    frame = _only(analysis.distribution, colors)
    if not len(frame):
        return None
    fig, ax = _figure(right_in=LEGEND_IN)
    for label, part in frame.groupby("label", sort=True):
        ax.plot(part["latency_ms"], part["share"] * 100, color=colors.get(str(label), USERS_COLOR), lw=1.6,
                label=text(label, 24), drawstyle="steps-post")
    for q in (50, 95, 99):
        ax.axhline(q, color="#aaaaaa", lw=0.8, ls=":")
        ax.annotate(f"p{q}", xy=(0.0, q), xycoords=("axes fraction", "data"), xytext=(3, 2),
                    textcoords="offset points", va="bottom", fontsize=7, color="#777777")
    ax.set_xscale("log")
    _log_axis(ax.xaxis)
    ax.set_xlabel("response time (ms, log scale)")
    ax.set_ylabel("requests at or below (%)")
    ax.set_ylim(0, 101)
    _title(ax, f"Response-time distribution per step (cumulative){_subset_note(analysis, colors)}")
    _legend(ax, title="step")
    return Drawn("distribution", "Response-time distribution per step",
                 "For each step, the share of requests that completed within a given time (read p50, p95 and "
                 "p99 where a curve crosses the dotted lines).", fig)


def _step_bars(analysis: RunAnalysis, colors: dict[str, str]) -> Drawn | None:
    from matplotlib.patches import Patch

    steps = _only(analysis.steps, colors)
    steps = steps[steps["p50"].notna()]
    if not len(steps) or not (steps["p99"] > 0).any():
        return None
    steps = steps.sort_values("p95", ascending=True, kind="stable")
    height = max(2.4, 0.6 * len(steps) + 1.1)
    longest = max(len(text(x, 32)) for x in steps["label"])
    fig, ax = _figure(height=height, left_in=min(3.2, 0.35 + 0.068 * longest), right_in=LEGEND_IN)
    y = np.arange(len(steps))
    bar = 0.26
    shades = (("p50", 0.35), ("p95", 0.65), ("p99", 1.0))
    for offset, (name, alpha) in zip((-bar, 0.0, bar), shades):
        values = steps[name].to_numpy(dtype=float)
        ax.barh(y + offset, values, height=bar * 0.95,
                color=[colors.get(str(x), USERS_COLOR) for x in steps["label"]], alpha=alpha)
        for yy, v in zip(y + offset, values):
            if np.isfinite(v):
                ax.annotate(f"{name} {v:,.1f}" if v >= 10 else f"{name} {v:.2f}", xy=(v, yy), xytext=(3, 0),
                            textcoords="offset points", va="center", fontsize=7, color="#333333")
    handles = [Patch(color=USERS_COLOR, alpha=alpha, label=name) for name, alpha in shades]
    limits = []
    for slo in _latency_slos(analysis.slos):
        handles.append(ax.axvline(slo.threshold, color=ERROR_COLOR, ls="--", lw=1, label=f"SLO {text(slo.rule, 24)}"))
        limits.append(slo.threshold)
    ax.set_yticks(y, [text(x, 32) for x in steps["label"]])
    ax.grid(axis="y", visible=False)
    values = steps[["p50", "p95", "p99"]].to_numpy(dtype=float)
    top = float(np.nanmax(np.concatenate([values.ravel(), limits]))) if limits else float(np.nanmax(values))
    low = float(np.nanmin(values[:, 0]))
    if low > 0 and top / low > 30:
        ax.set_xscale("log")
        _log_axis(ax.xaxis)
        ax.set_xlabel("response time (ms, log scale)")
        ax.set_xlim(low / 2, top * 4)
    else:
        ax.set_xlabel("response time (ms)")
        ax.set_xlim(0, top * 1.25)
    _title(ax, f"Response time per step: p50, p95, p99{_subset_note(analysis, colors)}")
    _legend(ax, handles, [h.get_label() for h in handles])
    return Drawn("steps", "Response time per step",
                 "p50 (light), p95 and p99 (full colour) of each step, slowest at the top.", fig)


def _load_curve(analysis: RunAnalysis, colors: dict[str, str]) -> Drawn | None:
    levels = analysis.levels
    by_step = _only(analysis.steps_by_load, colors)
    if len(levels) < 4:
        return None
    ordered = sorted(levels, key=lambda lv: lv.load)
    x = np.array([lv.load for lv in ordered])
    fig, (left, right) = _figure(1, 2, right_in=LEGEND_IN)
    unit = analysis.load_unit
    xlabel = "active users" if unit == "users" else "requests per second (achieved)"
    d, s = analysis.degradation, analysis.saturation
    if unit == "users" and len(by_step) and by_step["users"].nunique() >= 2:
        for label, part in by_step.groupby("label", sort=True):
            part = part[part["requests"] >= 5]
            left.plot(part["users"], part["p95"], color=colors.get(str(label), USERS_COLOR), marker="o", ms=2.5,
                      lw=1.4, label=text(label, 24))
        _log_if_wide(left, by_step["p95"].to_numpy(dtype=float), "p95 response time (ms)")
        _title(left, "p95 per step vs active users")
    else:
        left.plot(x, [lv.p95_ms for lv in ordered], color=PERCENTILE_STYLE["p95"][0], marker="o", ms=3, lw=1.6,
                  label="p95, all requests")
        _log_if_wide(left, np.array([lv.p95_ms for lv in ordered]), "p95 response time (ms)")
        _title(left, "Response time vs load")
    if d is not None and d.knee:
        left.axvline(d.load, color="#444444", ls=":", lw=1.2, label=f"slower beyond\n~{d.load:,.0f} {unit}")
    left.set_xlabel(xlabel)
    right.plot(x, [lv.rps for lv in ordered], color=RPS_COLOR, marker="o", ms=3, lw=1.6, label="requests/s")
    right.set_ylim(bottom=0, top=max(lv.rps for lv in ordered) * 1.15)
    right.set_xlabel(xlabel)
    right.set_ylabel("requests per second")
    _title(right, "Throughput vs load")
    if s is not None:
        right.axvline(s.load, color="#444444", ls=":", lw=1.2, label=f"throughput plateau\nfrom ~{s.load:,.0f} {unit}")
        right.legend(loc="lower right")
    handles, labels = left.get_legend_handles_labels()
    _legend(right, handles, labels, title="step" if len(by_step) else None)
    return Drawn("load_curve", "Response time and throughput vs load",
                 "Per load level: the p95 of each step and the requests per second — where latency starts rising "
                 "and where throughput stops growing.", fig)


def _system(analysis: RunAnalysis) -> Drawn | None:
    system = analysis.system
    if system is None or len(system) < 2:
        return None
    fig, (cpu, mem) = _figure(2, 1, height=4.6, sharex=True, right_in=LEGEND_IN)
    fig.subplots_adjust(hspace=0.25)
    _, xlabel = _time_axis(cpu, system["t_s"].to_numpy(dtype=float))
    for i, (name, part) in enumerate(system.groupby("target", sort=True)):
        part = part.sort_values("t_s")
        t = _scale(part["t_s"].to_numpy(dtype=float), xlabel)
        color = TARGET_PALETTE[i % len(TARGET_PALETTE)]
        label = "system under test" if name == "sut" else f"generator {text(name, 14)}"
        cpu.plot(t, part["cpu_pct"], color=color, lw=1.4, label=label)
        mem.plot(t, part["mem_bytes"].astype(float) / 2**20, color=color, lw=1.4, label=label)
    cpu.set_ylabel("CPU (%, 100 = one core)")
    cpu.set_ylim(bottom=0)
    _headroom(cpu)
    _title(cpu, "CPU and memory of the system under test and the load generators")
    _legend(cpu)
    mem.set_ylabel("memory (MiB)")
    mem.set_ylim(bottom=0)
    _headroom(mem)
    mem.set_xlabel(xlabel)
    return Drawn("system", "CPU and memory",
                 "CPU and resident memory, sampled once a second, on the same clock as the requests.", fig)
