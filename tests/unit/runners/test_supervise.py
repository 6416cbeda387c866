"""Supervision of a run's processes with scripted fakes: ends, deaths, policies, timeouts."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from perforch.runners import supervise as sv
from perforch.runners.local import ProcessResult


class Fake:
    """A process that exits by itself after `ends_after` s with `code`, or when signalled."""

    def __init__(self, name: str, ends_after: float | None, code: int = 0, stubborn: bool = False) -> None:
        self.name = name
        self.argv = (name,)
        self.born = time.monotonic()
        self.ends_after = ends_after
        self.code = code
        self.stubborn = stubborn  # ignores SIGINT
        self.signals: list[int] = []
        self.ended: int | None = None
        self.stopped = False

    def poll(self) -> int | None:
        if self.ended is None and self.ends_after is not None and time.monotonic() - self.born >= self.ends_after:
            self.ended = self.code
        return self.ended

    def signal(self, sig: int) -> None:
        self.signals.append(sig)
        if not self.stubborn and self.ended is None:
            self.ended = 130

    def wait(self, timeout_s: float) -> int | None:
        deadline = time.monotonic() + timeout_s
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.poll()

    def kill(self) -> None:
        self.signals.append(signal.SIGKILL)
        self.ended = -9

    def result(self, interrupted: bool = False, timed_out: bool = False) -> ProcessResult:
        return ProcessResult(self.name, self.argv, self.poll(), interrupted, timed_out, Path("o"), Path("e"),
                             0.0, 0.0, self.stopped)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sv, "TICK_S", 0.01)
    monkeypatch.setattr(sv, "AFTER_MAIN_WAIT_S", 0.05)


def test_ends_when_every_main_process_has_ended():
    a, b = Fake("k6-0", 0.05), Fake("k6-1", 0.1)
    out = sv.supervise([a, b], workers=[0, 1], timeout_s=5)
    assert [r.exit_code for r in out.results] == [0, 0]
    assert not (out.interrupted or out.timed_out or out.died or out.events)


def test_the_rest_is_stopped_when_the_coordinator_ends():
    master, worker = Fake("master", 0.05), Fake("worker-0", None)
    out = sv.supervise([master, worker], main=[True, False], workers=[None, 0], timeout_s=5)
    assert worker.signals == [signal.SIGINT] and out.results[1].stopped
    assert out.died == ()  # stopped by perforch is not a death


def test_a_dead_worker_is_reported_and_the_run_goes_on():
    a, b, c = Fake("k6-0", 0.3), Fake("k6-1", 0.05, code=137), Fake("k6-2", 0.3)
    out = sv.supervise([a, b, c], workers=[0, 1, 2], ok_codes=(0, 99), timeout_s=5)
    assert out.died == ("k6-1",) and not out.stopped_by_policy
    assert out.events[0].startswith("worker 1 (k6-1) died 0.")
    assert "(exit code 137); 2 of 3 load generators left" in out.events[0]
    assert "went on with 2 of 3" in out.events[1]
    assert [r.exit_code for r in out.results] == [0, 137, 0]


def test_a_dead_worker_stops_the_run_when_asked():
    a, b = Fake("k6-0", None), Fake("k6-1", 0.05, code=1)
    out = sv.supervise([a, b], workers=[0, 1], timeout_s=5, on_worker_failure="stop")
    assert out.stopped_by_policy and out.died == ("k6-1",)
    assert a.signals == [signal.SIGINT]
    assert "stopped because a worker died" in out.events[-1]


def test_a_single_process_failing_is_not_a_worker_death():
    out = sv.supervise([Fake("k6", 0.02, code=107)], timeout_s=5)
    assert out.died == () and out.results[0].exit_code == 107


def test_timeout_stops_and_kills_what_ignores_sigint(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sv, "GRACE_S", 0.1)
    stubborn = Fake("k6", None, stubborn=True)
    out = sv.supervise([stubborn], timeout_s=0.05)
    assert out.timed_out and stubborn.signals == [signal.SIGINT, signal.SIGKILL]
    assert "timeout" in out.events[0]


def test_ctrl_c_stops_everything_and_says_so():
    a, b = Fake("k6-0", None), Fake("k6-1", None)

    def tick(elapsed: float) -> None:
        raise KeyboardInterrupt

    out = sv.supervise([a, b], workers=[0, 1], timeout_s=5, on_tick=tick)
    assert out.interrupted and a.signals == b.signals == [signal.SIGINT]
    assert all(r.interrupted for r in out.results)
    assert "Ctrl-C" in out.events[0]
