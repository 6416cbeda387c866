"""Watch the processes of one run (local processes or containers) until the run is over.

The run is over when every main process has ended (the others are then stopped), at the timeout,
or on Ctrl-C (everything is asked to stop and may write its results; a second Ctrl-C kills at
once). A load generator that dies mid-run is an event with its name and time; the run goes on
(`on_worker_failure="continue"`) or is stopped (`"stop"`).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from perforch.runners.local import GRACE_S, ProcessResult

TICK_S = 0.5
AFTER_MAIN_GRACE_S = 10.0  # after the main processes ended: how long the others get once asked to stop
AFTER_MAIN_WAIT_S = 2.0  # ... and how long they may first end by themselves (Locust workers do)
WORKER_FAILURE = ("continue", "stop")


class Handle(Protocol):
    name: str
    argv: tuple[str, ...]

    def poll(self) -> int | None: ...

    def signal(self, sig: int) -> None: ...

    def wait(self, timeout_s: float) -> int | None: ...

    def kill(self) -> None: ...

    def result(self, interrupted: bool = False, timed_out: bool = False) -> ProcessResult: ...


@dataclass(frozen=True, slots=True)
class Supervised:
    results: tuple[ProcessResult, ...]
    interrupted: bool
    timed_out: bool
    events: tuple[str, ...]  # what happened, in words, with times
    died: tuple[str, ...]  # names of load generators that died mid-run
    stopped_by_policy: bool  # a worker died and on_worker_failure="stop" ended the run


def supervise(
    handles: Sequence[Handle],
    *,
    main: Sequence[bool] | None = None,
    workers: Sequence[int | None] | None = None,
    ok_codes: Sequence[int] = (0,),
    timeout_s: float,
    on_tick: Callable[[float], None] | None = None,
    on_worker_failure: str = "continue",
    started: float | None = None,
) -> Supervised:
    """Wait for the run to end; see the module doc. `started` is time.monotonic() at load start."""
    main = list(main) if main is not None else [True] * len(handles)
    workers = list(workers) if workers is not None else [None] * len(handles)
    start = started if started is not None else time.monotonic()
    ended: dict[str, float] = {}
    events: list[str] = []
    died: list[str] = []
    interrupted = timed_out = by_policy = False
    distributed = sum(w is not None for w in workers) > 1
    try:
        while True:
            elapsed = time.monotonic() - start
            for i, h in enumerate(handles):
                if h.name in ended:
                    continue
                code = h.poll()
                if code is None:
                    continue
                ended[h.name] = elapsed
                if distributed and workers[i] is not None and code not in ok_codes:
                    died.append(h.name)
                    alive = sum(1 for j, w in enumerate(workers) if w is not None and handles[j].poll() is None)
                    total = sum(w is not None for w in workers)
                    events.append(f"worker {workers[i]} ({h.name}) died {elapsed:.1f} s into the run "
                                  f"(exit code {code}); {alive} of {total} load generators left")
                    if on_worker_failure == "stop":
                        by_policy = True
                        events.append("the run was stopped because a worker died (--on-worker-failure stop)")
                    elif alive:
                        events.append(f"the run went on with {alive} of {total} load generators: from "
                                      f"{elapsed:.1f} s the load was lower than planned")
            if by_policy:
                _stop_all(handles)
                break
            if all(h.name in ended for i, h in enumerate(handles) if main[i]):
                rest = [h for h in handles if h.name not in ended]
                if rest:
                    _stop_all(rest, grace_s=AFTER_MAIN_GRACE_S, wait_first=True)
                break
            if elapsed > timeout_s:
                timed_out = True
                events.append(f"stopped after the timeout of {timeout_s:.0f} s")
                _stop_all(handles)
                break
            if on_tick:
                on_tick(elapsed)
            # sleep until the next tick, or less: wake up as soon as a running main process ends
            waiter = next((h for i, h in enumerate(handles) if main[i] and h.name not in ended), None)
            if waiter is not None:
                waiter.wait(TICK_S)
            else:
                time.sleep(TICK_S)
    except KeyboardInterrupt:
        interrupted = True
        events.append(f"interrupted by the user (Ctrl-C) {time.monotonic() - start:.1f} s into the run; "
                      "the results written until then are kept")
        try:
            _stop_all(handles)
        except KeyboardInterrupt:  # second Ctrl-C: no more waiting
            events.append("second Ctrl-C: the load generators were killed")
            with ignoring_sigint():
                for h in handles:
                    h.kill()
    results = tuple(h.result(interrupted=interrupted, timed_out=timed_out) for h in handles)
    return Supervised(results, interrupted, timed_out, tuple(events), tuple(died), by_policy)


def _stop_all(handles: Sequence[Handle], grace_s: float | None = None, wait_first: bool = False) -> None:
    """SIGINT every process still running, wait up to `grace_s` in total, kill the rest."""
    grace_s = GRACE_S if grace_s is None else grace_s
    if wait_first:  # e.g. Locust workers quit by themselves once the master is gone
        deadline = time.monotonic() + min(grace_s, AFTER_MAIN_WAIT_S)
        for h in handles:
            h.wait(max(0.0, deadline - time.monotonic()))
    for h in handles:
        if h.poll() is None:
            _mark_stopped(h)
            h.signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for h in handles:
        if h.wait(max(0.1, deadline - time.monotonic())) is None:
            h.kill()


def _mark_stopped(h: Handle) -> None:
    try:
        h.stopped = True  # type: ignore[attr-defined]
    except AttributeError:
        pass


class ignoring_sigint:
    """Within the block, Ctrl-C is noted but does not interrupt (cleanup must finish)."""

    def __init__(self) -> None:
        self.previous = None
        self.pressed = False

    def __enter__(self) -> ignoring_sigint:
        try:
            self.previous = signal.signal(signal.SIGINT, self._note)
        except ValueError:  # not the main thread: signals go elsewhere anyway
            self.previous = None
        return self

    def _note(self, signum: int, frame: object) -> None:
        self.pressed = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class deferring_sigint(ignoring_sigint):
    """Within the block, Ctrl-C waits: the block completes, then KeyboardInterrupt is raised.

    For calls that create something (a container, a network, a process): interrupted half-way,
    the engine or the kernel would create it after we stopped looking, and it would be left over."""

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if self.pressed and exc[0] is None:
            raise KeyboardInterrupt
