"""The report room's door: write_reports(run_dir, ...) and compare_dirs(base, new).

write_reports reads a run directory (run.json, samples.parquet, aggregates.parquet and
system.parquet when present), analyses it once and writes report.md, report.html (charts embedded),
junit.xml and summary.json beside it, plus charts/*.png. It knows no tool: every run directory gets
the same report. Missing or damaged data files become problems the report states, never a crash.

Importing this module is cheap (the CLI imports it to list formats): numpy, pandas, matplotlib and
the analysis load when a report is written.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perforch import store
from perforch.analysis import METHODS
from perforch.errors import ReportError

if TYPE_CHECKING:
    from perforch.analysis.compare import Comparison
    from perforch.analysis.run import RunAnalysis
    from perforch.analysis.slo import SloResult
    from perforch.report.load import LoadedRun

FORMATS = ("md", "html", "junit", "json")
FILES = {"md": "report.md", "html": "report.html", "junit": "junit.xml", "json": "summary.json"}
EXIT_OK, EXIT_UNJUDGED, EXIT_FAILED = 0, 1, 3


@dataclass(frozen=True, slots=True)
class ReportResult:
    run_dir: Path
    paths: Mapping[str, Path]  # format -> file written
    slos: tuple[SloResult, ...]
    verdict: str  # SLO MET | SLO NOT MET | NO SLOS DECLARED
    headline: str
    problems: tuple[str, ...]  # what was missing or damaged
    comparison: Comparison | None = None
    compare_notes: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)  # stage -> seconds
    analysis: RunAnalysis | None = None
    unjudged: str | None = None  # the run's results could not be read: nothing was judged

    @property
    def all_met(self) -> bool:
        return all(s.ok for s in self.slos)

    @property
    def regression(self) -> bool:
        return self.comparison is not None and self.comparison.has_regression

    @property
    def exit_code(self) -> int:
        """1 when the results could not be read (perforch could not judge the run: not an SLO
        failure), 3 when an SLO is not met or the baseline comparison found a regression."""
        if self.unjudged:
            return EXIT_UNJUDGED
        return EXIT_FAILED if (not self.all_met or self.regression) else EXIT_OK


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = tuple(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ReportError(f"unknown report format {', '.join(unknown) or repr(text)}",
                          hint=f"choose from {','.join(FORMATS)} (comma-separated)")
    return formats


def write_reports(run_dir: Path, formats: Iterable[str] = FORMATS, percentile: str = "linear",
                  baseline: Path | None = None, *, min_effect: float = 0.10, alpha: float = 0.01,
                  step_summary: Path | None | bool = True) -> ReportResult:
    """Write the reports into `run_dir`. `step_summary`: True appends report.md to the file named by
    $GITHUB_STEP_SUMMARY when it is set; a Path appends there; False/None does not."""
    from perforch.report.load import load_run
    from perforch.report.view import build_view, headline, verdict

    formats = parse_formats(formats)
    if percentile not in METHODS:
        raise ReportError(f"unknown percentile method {percentile!r}", hint=f"use one of {', '.join(METHODS)}")
    run_dir = Path(run_dir)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    charting = "html" in formats or "md" in formats
    preload = _preload_matplotlib() if charting else None
    loaded = load_run(run_dir)
    lap("read")
    analysis = analyze(loaded, percentile)
    lap("analysis")
    comparison, base_record, notes = None, None, ()
    if baseline is not None:
        base = load_run(Path(baseline))
        comparison, notes = compare_loaded(base, loaded, percentile, min_effect, alpha)
        base_record = base.record
        lap("compare")
    charts = ()
    if charting:
        preload.join()
        from perforch.report.charts import render_charts

        charts = render_charts(analysis)
        chart_dir = run_dir / "charts"
        chart_dir.mkdir(exist_ok=True)
        for old in chart_dir.glob("*.png"):
            old.unlink()
        for chart in charts:
            (chart_dir / f"{chart.name}.png").write_bytes(chart.png)
        lap("charts")
    view = build_view(loaded.record, analysis, charts, comparison, base_record, notes, generated_at=store.utc_now())
    paths: dict[str, Path] = {}
    if "md" in formats:
        from perforch.report.render import render_markdown

        paths["md"] = _write(run_dir / FILES["md"], render_markdown(view))
        lap("markdown")
    if "html" in formats:
        from perforch.report.render import render_html

        paths["html"] = _write(run_dir / FILES["html"], render_html(view))
        lap("html")
    if "junit" in formats:
        from perforch.report.junit import render_junit

        paths["junit"] = _write(run_dir / FILES["junit"], render_junit(loaded.record, analysis, comparison,
                                                                       view["headline"]))
        lap("junit")
    if "json" in formats:
        from perforch.report.summary import render_summary

        files = {fmt: str(p.relative_to(run_dir)) for fmt, p in paths.items()}
        files["json"] = FILES["json"]
        files["charts"] = [f"charts/{c.name}.png" for c in charts]
        paths["json"] = _write(run_dir / FILES["json"], render_summary(loaded.record, analysis, view["verdict"],
                                                                       comparison, base_record, files))
        lap("json")
    problems = analysis.problems
    target = _step_summary_path(step_summary)
    if target is not None:
        from perforch.report.render import render_markdown

        summary_md = render_markdown(view, with_charts=False)  # images would not resolve in a job summary
        problem = _append_step_summary(target, summary_md, run_dir / FILES["md"])
        problems = (*problems, problem) if problem else problems
    return ReportResult(run_dir, paths, analysis.slos, verdict(analysis), headline(analysis), problems,
                        comparison, tuple(notes), timings, analysis, loaded.unjudged)


def prewarm() -> None:
    """Import what write_reports uses and compile its templates (~1 s), for a caller with time to
    spare: `perforch run` calls it in a thread while the test runs. Errors are left for the real
    use to report."""
    import importlib

    for name in ("perforch.analysis.run", "perforch.analysis.compare", "perforch.report.load",
                 "perforch.report.view", "perforch.report.junit", "perforch.report.summary",
                 "perforch.report.charts", "matplotlib.figure", "matplotlib.patches", "matplotlib.ticker",
                 "matplotlib.backends.backend_agg", "PIL.PngImagePlugin", "perforch.report.render"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001
            continue
    try:
        from perforch.report.render import compile_templates

        compile_templates()
    except Exception:  # noqa: BLE001
        pass


def _preload_matplotlib() -> threading.Thread:
    """Import matplotlib (half a second) while the run is read and analysed: reading parquet and
    sorting release the GIL, so the import mostly overlaps with them. Errors surface later, at
    the real import."""

    def load() -> None:
        try:
            import matplotlib.backends.backend_agg  # noqa: F401
            import matplotlib.figure  # noqa: F401
            import matplotlib.patches  # noqa: F401
            import matplotlib.ticker  # noqa: F401
            import PIL.PngImagePlugin  # noqa: F401 - savefig's encoder: imported before charts fork

            from perforch.report import charts  # noqa: F401
        except Exception:  # noqa: BLE001 - the charts stage imports again and reports it
            pass

    thread = threading.Thread(target=load, name="perforch-import-matplotlib", daemon=True)
    thread.start()
    return thread


def analyze(loaded: LoadedRun, percentile: str = "linear") -> RunAnalysis:
    from perforch.analysis.run import analyze_run
    from perforch.spec.slo import rules_from_record

    record = loaded.record
    problems = list(loaded.problems)
    try:
        rules = rules_from_record(record.slos)
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"the SLOs in run.json cannot be read ({exc}); none were judged")
        rules = ()
    return analyze_run(loaded.samples, rules, percentile, aggregates=loaded.aggregates, system=loaded.system,
                       model=load_model(record.load), planned_duration_s=record.planned_duration_s,
                       interrupted=record.status == "interrupted", problems=problems)


def load_model(load: str) -> str | None:
    """closed / open / None from the run's load description ("ramping-vus: ...")."""
    profile = load.split(":", 1)[0].strip()
    if profile in ("constant-vus", "ramping-vus", "iterations"):
        return "closed"
    if profile in ("constant-arrival-rate", "ramping-arrival-rate"):
        return "open"
    return None


def compare_loaded(base: LoadedRun, new: LoadedRun, percentile: str = "linear", min_effect: float = 0.10,
                   alpha: float = 0.01) -> tuple[Comparison, tuple[str, ...]]:
    from perforch.analysis.compare import compare_runs

    notes = list(metadata_notes(base.record, new.record))
    for which, run in (("baseline", base), ("new run", new)):
        for problem in run.problems:
            notes.append(f"{which}: {problem}")
        if not len(run.samples):
            notes.append(f"the {which} has no per-request samples: its steps are not comparable")
    comparison = compare_runs(base.samples, new.samples, percentile, min_effect=min_effect, alpha=alpha)
    return comparison, tuple(notes)


def metadata_notes(base: store.RunRecord, new: store.RunRecord) -> tuple[str, ...]:
    """What differs between two runs beyond the code under test (pyperf refuses; we warn)."""
    notes = []
    if base.tool != new.tool:
        notes.append(f"the runs used different tools ({base.tool} vs {new.tool}), which define response time "
                     "differently")
    if base.scenario_sha256 and new.scenario_sha256 and base.scenario_sha256 != new.scenario_sha256:
        notes.append("the scenario file changed between the runs")
    if base.load and new.load and base.load != new.load:
        notes.append(f"the load differs: {base.load!r} vs {new.load!r}")
    if base.host != new.host:
        notes.append(f"the runs were made on different hosts ({base.host} vs {new.host})")
    return tuple(notes)


@dataclass(frozen=True, slots=True)
class CompareResult:
    base: store.RunRecord
    new: store.RunRecord
    comparison: Comparison
    notes: tuple[str, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.comparison.has_regression else EXIT_OK


def compare_dirs(base_dir: Path, new_dir: Path, percentile: str = "linear", min_effect: float = 0.10,
                 alpha: float = 0.01) -> CompareResult:
    from perforch.report.load import load_run

    if percentile not in METHODS:
        raise ReportError(f"unknown percentile method {percentile!r}", hint=f"use one of {', '.join(METHODS)}")
    base, new = load_run(Path(base_dir)), load_run(Path(new_dir))
    comparison, notes = compare_loaded(base, new, percentile, min_effect, alpha)
    return CompareResult(base.record, new.record, comparison, notes)


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


STEP_SUMMARY_MAX_BYTES = 1_000_000  # GitHub drops a job summary above 1 MiB whole


def _append_step_summary(target: Path, markdown: str, full: Path) -> str | None:
    """Append the report to a GitHub job summary, cut to fit its size limit; a problem text when
    that fails (the report itself is written: a CI summary must not cost the verdict)."""
    data = markdown.encode("utf-8")
    if len(data) > STEP_SUMMARY_MAX_BYTES:
        cut = data[:STEP_SUMMARY_MAX_BYTES].rsplit(b"\n", 1)[0].decode("utf-8", errors="ignore")
        markdown = f"{cut}\n\n*(cut to fit GitHub's job summary limit; the whole report is {full})*"
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    except OSError as exc:
        return f"could not append the report to GITHUB_STEP_SUMMARY ({target}): {exc.strerror or exc}"
    return None


def _step_summary_path(option: Path | None | bool) -> Path | None:
    if option is True:
        value = os.environ.get("GITHUB_STEP_SUMMARY")
        return Path(value) if value else None
    if option in (False, None):
        return None
    return Path(option)


def __getattr__(name: str) -> object:
    if name in ("MET", "NOT_MET"):  # verdict words, kept importable from here
        from perforch.report import view

        return getattr(view, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FORMATS", "MET", "NOT_MET", "CompareResult", "ReportResult", "compare_dirs", "parse_formats",
           "prewarm", "write_reports"]
