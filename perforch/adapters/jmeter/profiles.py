"""A flow's load as JMeter thread groups, with k6's timing.

Core JMeter only has the plain Thread Group: N threads that start after a delay (whole seconds),
spread evenly over a ramp-up (whole seconds: thread k of N starts at delay + k·ramp/N), and stop
after a duration. Each profile becomes thread groups (`Users`) whose threads have their own start
and end times in k6's plan; the plan then adds, at the top of each iteration:

* a pause before its first iteration that moves each thread's start from JMeter's ramp-up to k6's
  exact time (a fraction of a second at most for a linear ramp);
* a gate that stops the thread at the top of the first iteration due after its end time, so an
  iteration in progress completes, as k6 lets it (gracefulStop / gracefulRampDown, 30 s);
* for shared iterations, a ticket from a counter shared by the group's threads;
* for arrival rates, a timer that holds each iteration until its start time in k6's schedule.

ramping-vus follows k6's steps (lib/executor/ramping_vus.go): in a stage going from a to b users
over d seconds the user count changes by one at a + d·i/|b−a|; the users that leave are the last
ones that came. One thread group per stage that adds users, plus one for start_vus.

Each user of a flow has a number, its place in k6's order (the users a stage adds follow the ones
already there): a distributed run gives user u to load generator u mod N, as k6's execution
segments do. A group's threads are users first, first + 1, ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perforch.spec import model as m

GRACE_S = 30  # k6's default gracefulStop / gracefulRampDown: how long an iteration may run on


@dataclass(frozen=True, slots=True)
class Users:
    """Threads of one thread group; thread k starts iterations from starts_s[k] until ends_s[k]
    (seconds since the test started)."""

    delay_s: int
    ramp_s: int
    starts_s: tuple[float, ...]
    ends_s: tuple[float, ...]
    iterations: int | None = None  # shared-iterations: the pool all these threads draw from
    arrival: tuple[float, ...] | None = None  # (start rate/s, duration s, rate/s, duration s, rate/s, ...)
    first: int = 0  # the flow's user number of the first thread (the others follow)

    @property
    def threads(self) -> int:
        return len(self.starts_s)

    @property
    def hard_stop_s(self) -> int:
        """The thread group's duration: the last end plus k6's grace for a running iteration."""
        return max(1, math.ceil(max(self.ends_s)) + GRACE_S - self.delay_s)


def users_for(load: m.Load) -> list[Users]:
    if isinstance(load, m.ConstantVus):
        return [_same(load.vus, load.duration)]
    if isinstance(load, m.RampingVus):
        return ramping_users(load.start_vus, [(s.duration, s.target) for s in load.stages])
    if isinstance(load, m.Iterations):
        return [_same(load.vus, load.max_duration, iterations=load.iterations)]
    if isinstance(load, m.ConstantArrivalRate):
        return [_same(load.max_vus, load.duration, arrival=(load.rate, load.duration, load.rate))]
    assert isinstance(load, m.RampingArrivalRate)
    schedule: list[float] = [load.start_rate]
    for stage in load.stages:
        schedule += [stage.duration, stage.target]
    return [_same(load.max_vus, sum(s.duration for s in load.stages), arrival=tuple(schedule))]


def _same(threads: int, end_s: float, **extra: object) -> Users:
    return Users(0, 0, (0.0,) * threads, (end_s,) * threads, **extra)  # type: ignore[arg-type]


def ramping_users(start_vus: int, stages: list[tuple[float, int]]) -> list[Users]:
    """k6 ramping-vus: one thread group per stage that adds users (and one for start_vus)."""
    active: list[tuple[int, float]] = [(-1, 0.0)] * start_vus  # (stage that added the user, start)
    spans: list[tuple[int, float, float]] = []
    stage_start: dict[int, tuple[float, float]] = {-1: (0.0, 0.0)}
    first: dict[int, int] = {-1: 0}  # the user number of the first user a stage adds
    t, current = 0.0, start_vus
    for index, (duration, target) in enumerate(stages):
        diff = target - current
        stage_start[index] = (t, duration)
        first[index] = current
        for i in range(1, abs(diff) + 1):
            at = t + duration * i / abs(diff)
            if diff > 0:
                active.append((index, at))
            else:
                added_by, start = active.pop()
                spans.append((added_by, start, at))
        t += duration
        current = target
    spans += [(added_by, start, t) for added_by, start in active]
    out = []
    for index in sorted({s[0] for s in spans}):
        mine = sorted((start, end) for added_by, start, end in spans if added_by == index and end > start)
        if not mine:
            continue
        begin, duration = stage_start[index]
        out.append(Users(math.floor(begin), math.floor(duration + begin - math.floor(begin)) if index >= 0 else 0,
                         tuple(round(s, 6) for s, _ in mine), tuple(round(e, 6) for _, e in mine), first=first[index]))
    return out
