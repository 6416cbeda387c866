"""Charts by their titles and axis labels (never pixels), and which charts the data supports."""

import numpy as np

from perforch.analysis.run import analyze_run
from perforch.report.charts import MAX_CHART_STEPS, draw_charts
from perforch.spec.slo import parse_slo
from tests.unit.analysis.synthetic import frame_from, staircase


def drawn(df, *rules):
    return {d.name: d.figure for d in draw_charts(analyze_run(df, [parse_slo(r) for r in rules], model="closed"))}


def labels(fig):
    return [(ax.get_title(loc="left"), ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes]


def test_every_chart_has_a_title_and_units():
    figures = drawn(staircase(), "p99 < 500ms")
    assert sorted(figures) == ["distribution", "latency_over_time", "load_curve", "steps", "steps_over_time",
                               "throughput"]
    assert labels(figures["latency_over_time"])[0] == (
        "Response time over time, all requests (per second)", "time since start (s)", "response time (ms)")
    throughput = labels(figures["throughput"])
    assert throughput[0] == ("Throughput, errors and active users (per second)", "time since start (s)",
                             "requests per second")
    assert throughput[1][2] == "active users"
    assert labels(figures["distribution"])[0][1:] == ("response time (ms, log scale)", "requests at or below (%)")
    assert labels(figures["load_curve"])[0][:2] == ("p95 per step vs active users", "active users")
    for fig in figures.values():
        for title, xlabel, ylabel in labels(fig):
            assert xlabel or ylabel
    # the SLO limit is drawn where it applies
    legend = [t.get_text() for t in figures["latency_over_time"].axes[0].get_legend().get_texts()]
    assert "SLO p99 < 500ms" in legend and "slower beyond\n~40 users" in legend


def test_a_step_keeps_its_colour_in_every_chart():
    figures = drawn(staircase(labels=("login", "search", "checkout")))
    def colour_of(fig, label):
        ax = fig.axes[0]
        line = next(line for line in ax.get_lines() if line.get_label() == label)
        return line.get_color()
    for label in ("checkout", "login", "search"):
        assert colour_of(figures["steps_over_time"], label) == colour_of(figures["distribution"], label)


def test_many_steps_chart_only_the_slowest():
    n = 6000
    names = np.array([f"step {i:02d}" for i in range(40)])[np.arange(n) % 40]
    latency = 10.0 + (np.arange(n) % 40) + np.random.default_rng(0).random(n)
    figures = drawn(frame_from(np.linspace(0, 60, n), names, latency))
    assert figures["steps"].axes[0].get_title(loc="left").endswith(f"(the {MAX_CHART_STEPS} slowest of 40 steps)")
    shown = {t.get_text() for t in figures["distribution"].axes[0].get_legend().get_texts()}
    assert shown == {f"step {i:02d}" for i in range(40 - MAX_CHART_STEPS, 40)}


def test_labels_cannot_become_mathtext():
    figures = drawn(frame_from(np.linspace(0, 10, 100), np.array(["$x^2$", "a"])[np.arange(100) % 2],
                               np.linspace(1, 50, 100)))
    texts = [t.get_text() for t in figures["distribution"].axes[0].get_legend().get_texts()]
    assert r"\$x^2\$" in texts


def test_no_latency_chart_without_timing():
    figures = drawn(frame_from(np.linspace(0, 30, 300), "a", np.zeros(300)))
    assert sorted(figures) == ["throughput"]
