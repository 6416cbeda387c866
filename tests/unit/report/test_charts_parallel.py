"""Charts rendered in two processes are the very bytes one process renders; a failing child costs nothing."""

import os

import pytest

from perforch.analysis.run import analyze_run
from perforch.report import charts
from perforch.spec.slo import parse_slo
from tests.unit.analysis.synthetic import staircase

pytestmark = pytest.mark.skipif(not charts._can_fork(), reason="needs fork and two cores")


def analysis():
    return analyze_run(staircase(labels=("login", "search")), [parse_slo("p99 < 500ms")], model="closed")


def test_parallel_charts_are_the_serial_bytes_in_report_order():
    a = analysis()
    serial = charts.render_charts(a, parallel=False)
    parallel = charts.render_charts(a)
    assert [c.name for c in parallel] == ["latency_over_time", "throughput", "steps_over_time", "distribution",
                                          "steps", "load_curve"]
    assert parallel == serial


def test_a_child_that_fails_is_replaced_by_rendering_here(monkeypatch):
    a = analysis()
    serial = charts.render_charts(a, parallel=False)
    parent = os.getpid()
    real = charts._render

    def dies_in_child(build):
        if os.getpid() != parent:
            raise RuntimeError("child broke")
        return real(build)

    monkeypatch.setattr(charts, "_render", dies_in_child)
    assert charts.render_charts(a) == serial


def test_an_error_here_stops_and_reaps_the_child(monkeypatch):
    a = analysis()
    started = []
    real_start = charts._ChartChild.start.__func__

    def start(cls, builders):
        child = real_start(cls, builders)
        started.append(child.pid)
        return child

    def broken(build):
        raise ValueError("bad chart")

    monkeypatch.setattr(charts._ChartChild, "start", classmethod(start))
    monkeypatch.setattr(charts, "_render", lambda build: broken(build) if os.getpid() == parent else None)
    parent = os.getpid()
    with pytest.raises(ValueError, match="bad chart"):
        charts.render_charts(a)
    assert started
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(started[0], os.WNOHANG)
