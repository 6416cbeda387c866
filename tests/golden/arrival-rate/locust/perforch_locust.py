"""perforch's runtime for generated locustfiles: flows, exact samples, and the load shape.

`perforch generate --tool locust` writes this file beside locustfile.py (with perforch_wire.py).
It gives every generated locustfile the same behaviour as perforch's k6 script:

- FlowUser: a user runs its flow's steps in order, one iteration per task run; `send()` makes a
  request with catch_response and judges it with the step's expectations; a failed extraction
  fails the step and ends the iteration; `think()` pauses after a step.
- Samples: a listener on Locust's request event appends one CSV row per request to the file
  named by --perforch-samples (default locust-requests.csv), written out every second, so a
  killed run loses at most the last second. Locust's own percentiles are rounded (its
  bucket_response_time); these rows are exact.
- The load: FlowShape (a LoadTestShape) and FlowDispatcher give each flow exactly its share of
  the users; arrival-rate flows start iterations on a pacing schedule (iteration k at the time the
  integral of the rate reaches k) with max_users users available; an iterations load stops each
  flow after its quota.

Nothing here is specific to one scenario: the scenario lives in locustfile.py as literals.
"""

from __future__ import annotations

import atexit
import bisect
import csv
import json
import logging
import math
import os
import random
import sys
import time

import gevent
import gevent.event
from locust import FastHttpUser, LoadTestShape, constant, events
from locust.exception import CatchResponseError, StopUser
from locust.runners import MasterRunner, WorkerRunner

from perforch_wire import Body, Step, extract_value, wire_headers

__all__ = [
    "ArrivalRate", "DataFile", "FlowShape", "FlowUser", "Iterations", "RampingUsers", "Step", "read_env",
]

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES_HEADER = "start_time,response_time_ms,status,ok,bytes,users,flow,method,label,error\n"
FLUSH_EVERY_S = 1.0
GRACE_S = 30.0  # iterations still running when the load ends may finish for this long (k6's gracefulStop)
LATE_S = 1.0  # an arrival-rate start later than this (every user busy) is dropped, as k6 drops it
log = logging.getLogger("perforch")

ACTIVE = [0]  # users running an iteration right now, in this process (the samples' users column)


# --- setup ------------------------------------------------------------------------------------------


def read_env(names: list[str]) -> dict[str, str]:
    """${env.NAME} values, read from the environment when the test starts (never written anywhere)."""
    for name in names:
        if name not in os.environ:
            sys.exit(f"perforch: environment variable {name} is not set (the scenario reads ${{env.{name}}})")
    values = {name: os.environ[name] for name in names}
    SECRETS.extend(sorted((v for v in values.values() if len(v) >= 4), key=len, reverse=True))
    return values


SECRETS: list[str] = []  # ${env.X} values: replaced by *** in every error text perforch or Locust writes


def _redact(text: str) -> str:
    for secret in SECRETS:
        text = text.replace(secret, "***")
    return text


class DataFile:
    """A CSV data source: iteration i of a flow takes row i mod n (sequential) or a random row."""

    def __init__(self, path: str, order: str = "sequential") -> None:
        try:
            with open(os.path.join(HERE, path), newline="", encoding="utf-8-sig") as fh:
                self.rows = list(csv.DictReader(fh, restval=""))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            sys.exit(f"perforch: cannot read data file {path}: {exc}")
        if not self.rows:
            sys.exit(f"perforch: data file {path} has a header but no rows")
        self.random = order == "random"

    def row(self, i: int) -> dict[str, str]:
        return random.choice(self.rows) if self.random else self.rows[i % len(self.rows)]


# --- the load each flow gets ------------------------------------------------------------------------


class RampingUsers:
    """Closed model: users go from `start` to each stage's target linearly over its duration."""

    def __init__(self, start: int, stages: list[tuple[float, int]]) -> None:
        self.start = start
        self.stages = stages
        self.duration_s = sum(d for d, _ in stages)


class ArrivalRate:
    """Open model: iterations started per second, linear between stages, with max_users users."""

    def __init__(self, start: float, stages: list[tuple[float, float]], max_users: int) -> None:
        self.start = start
        self.stages = stages
        self.max_users = max_users
        self.duration_s = sum(d for d, _ in stages)
        self._segments = []  # (t0, duration, rate0, rate1, iterations before t0)
        t = total = 0.0
        rate = start
        for duration, target in stages:
            self._segments.append((t, duration, rate, target, total))
            total += (rate + target) / 2 * duration
            t += duration
            rate = target
        self._cursor = 0

    def start_time(self, k: float) -> float | None:
        """Seconds from the start at which iteration k starts (the rate's integral reaches k)."""
        while self._cursor < len(self._segments):
            t0, d, r0, r1, n0 = self._segments[self._cursor]
            n1 = n0 + (r0 + r1) / 2 * d
            if k < n1 and d > 0:
                left = k - n0
                if r1 == r0:
                    s = left / r0
                else:  # n0 + r0 s + (r1 - r0) s^2 / 2d = k, in the form that stays exact as r1 -> r0
                    a = (r1 - r0) / (2 * d)
                    s = 2 * left / (r0 + math.sqrt(max(r0 * r0 + 4 * a * left, 0.0)))
                return t0 + min(s, d)
            self._cursor += 1
        return None


class Iterations:
    """A fixed number of flow iterations shared by `users` users, ended after max_duration at most."""

    def __init__(self, total: int, users: int, max_duration: float) -> None:
        self.total = total
        self.users = users
        self.duration_s = max_duration


# --- which iterations a user runs (per flow, per process) ----------------------------------------


class _Plan:
    """Hands out iteration numbers for one flow in this process; None means: no more."""

    def __init__(self, flow: str, load: object, worker: int, workers: int) -> None:
        self.flow = flow
        self.load = load
        self.worker, self.workers = worker, workers
        self.claimed = 0
        self.dropped = 0
        self.waiting = 0  # users holding a start time that has not come yet
        self.finished = False
        if isinstance(load, Iterations):  # this process's share of the quota
            self.quota = load.total // workers + (1 if worker < load.total % workers else 0)

    def claim(self) -> int | None:
        load = self.load
        if isinstance(load, ArrivalRate):
            return self._paced(load)
        if isinstance(load, Iterations) and self.workers > 1:  # one count for all workers, on the master
            i = _claim_from_master(self.flow)
            self.finished = i is None
            self.claimed += i is not None
            return i
        if isinstance(load, Iterations) and self.claimed >= self.quota:
            self.finished = True
            return None
        i = self.claimed * self.workers + self.worker
        self.claimed += 1
        return i

    def _paced(self, load: ArrivalRate) -> int | None:
        while True:
            k = self.claimed * self.workers + self.worker  # workers take every workers-th start
            at = load.start_time(k)
            if at is None or at >= load.duration_s:
                self.finished = True
                return None
            self.claimed += 1
            late = (time.monotonic() - _clock()) - at
            if late > LATE_S:
                self.dropped += 1
                continue
            if late < 0:
                self.waiting += 1
                try:
                    gevent.sleep(-late)
                finally:
                    self.waiting -= 1
            return k


# An iterations load spread over workers: the master hands out the flow's iteration numbers, so
# that the total is exact however Locust spread the users (a worker may have none of a flow).
_CLAIMS: dict[int, gevent.event.AsyncResult] = {}
_ISSUED: dict[str, int] = {}


def _claim_from_master(flow: str) -> int | None:
    ticket = len(_CLAIMS) + 1
    answer = _CLAIMS[ticket] = gevent.event.AsyncResult()
    RUN.runner.send_message("perforch_claim", {"flow": flow, "ticket": ticket})
    try:
        return answer.get(timeout=60)
    finally:
        _CLAIMS.pop(ticket, None)


def _on_claim(environment, msg, **_kwargs) -> None:  # noqa: ANN001  (on the master)
    flow = msg.data["flow"]
    total = next((c.load.total for c in environment.user_classes if getattr(c, "flow", None) == flow
                  and isinstance(c.load, Iterations)), 0)
    i = _ISSUED.get(flow, 0)
    _ISSUED[flow] = i + 1
    environment.runner.send_message("perforch_grant", {"ticket": msg.data["ticket"], "i": i if i < total else None},
                                    client_id=msg.node_id)


def _on_grant(environment, msg, **_kwargs) -> None:  # noqa: ANN001  (on a worker)
    answer = _CLAIMS.get(msg.data["ticket"])
    if answer is not None:
        answer.set(msg.data["i"])


_T0: list[float] = []


def _clock() -> float:
    """When this process started pacing (the first iteration start of any flow)."""
    if not _T0:
        _T0.append(time.monotonic())
    return _T0[0]


# --- users ------------------------------------------------------------------------------------------


class FlowUser:
    """Mixin for a generated flow class (with FastHttpUser or HttpUser): one task runs the flow."""

    flow = ""  # the flow's name, written in every sample row
    load: object = None
    timeout_s = 60.0
    wait_time = constant(0)
    _plan: _Plan | None = None

    def context(self) -> dict:
        return {"flow": self.flow}

    def start_iteration(self) -> _Iteration:
        """`with self.start_iteration() as i:` waits for this iteration's start (arrival rates) and
        gives its number (for data rows); no more iterations for this flow: the user stops."""
        cls = type(self)
        plan = cls.__dict__.get("_plan")
        if plan is None:
            plan = cls._plan = _Plan(cls.flow, cls.load, RUN.worker, RUN.workers)
            PLANS[cls.flow] = plan
        i = plan.claim()
        if i is None:
            raise StopUser()
        return _Iteration(i)

    def send(self, step: Step, v: dict, url: str, headers: dict, body: str | None = None,
             contains: str | None = None) -> bool:
        """One request, judged by the step's expectations; False when an extraction failed."""
        data = None if body is None else body.encode("utf-8")
        if _is_fast(self):
            # FastHttpUser: the target's timeout is the client's (network_timeout, per socket
            # operation); a step's own timeout bounds the whole request.
            if step.timeout_s is None:
                response = self.client.request(step.method, url, name=step.label, data=data,
                                               headers=wire_headers(headers), catch_response=True)
            else:
                with gevent.Timeout(step.timeout_s, TimeoutError("request timeout")):
                    response = self.client.request(step.method, url, name=step.label, data=data,
                                                   headers=wire_headers(headers), catch_response=True)
        else:
            response = self.client.request(step.method, url, name=step.label, data=data, headers=wire_headers(headers),
                                           catch_response=True, timeout=step.timeout_s or self.timeout_s)
        with response:
            status = response.status_code or 0
            if not status:  # no response: Locust records the network error; nothing to extract
                if SECRETS:  # its text may quote the URL, which may carry a secret
                    error = getattr(response, "request_meta", {}).get("exception") or getattr(response, "error", None)
                    if error is not None and _redact(repr(error)) != repr(error):
                        response.failure(_redact(repr(error)))
                return not step.extract
            if step.status_only and contains is None:  # no need to look at the body
                failure = None if status in step.statuses else step.check(status, _NO_BODY)
                if failure is None:
                    response.success()
                else:
                    response.failure(failure)
                return True
            body_ = Body(response.content)
            failure = step.check(status, body_, contains)
            extracted = True
            for name, kind, arg, group in step.extract:
                value = extract_value(kind, arg, group, body_, response.headers)
                if value is None:
                    failure = failure or f"check failed: {step.label}: extract {name}"
                    extracted = False
                    break
                v[name] = value
            if failure:
                response.failure(failure)
            else:
                response.success()
        return extracted

    def think(self, low: float, high: float) -> None:
        gevent.sleep(low if high <= low else low + random.random() * (high - low))


class _Iteration:
    """Counts the user as busy (the samples' users column) while its iteration runs."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i

    def __enter__(self) -> int:
        ACTIVE[0] += 1
        return self.i

    def __exit__(self, *exc: object) -> None:
        ACTIVE[0] -= 1


_NO_BODY = Body(b"")
_FAST: dict[type, bool] = {}


def _is_fast(user: object) -> bool:
    cls = type(user)
    fast = _FAST.get(cls)
    if fast is None:
        fast = _FAST[cls] = issubclass(cls, FastHttpUser)
    return fast


# --- the load shape and user dispatch --------------------------------------------------------------


class UserPlan:
    """How many users each flow class should have over time: (seconds from the start, users) steps
    per flow. Closed model: k6's ramping-vus schedule, computed per flow (in a ramp from a to b over
    d seconds, the k-th change happens at k*d/|b-a|); open models: all users at once."""

    def __init__(self) -> None:
        self.t0: float | None = None  # time.perf_counter() when the shape started
        self.steps: dict[str, list[tuple[float, int]]] = {}
        self.times: list[float] = []

    def build(self, t0: float, flows: list) -> None:
        self.t0 = t0
        for flow in flows:
            load = flow.load
            if isinstance(load, RampingUsers):
                steps = _ramp_steps(load.start, load.stages)
            else:
                steps = [(0.0, load.max_users if isinstance(load, ArrivalRate) else load.users)]
            self.steps[flow.__name__] = steps
        self.times = sorted({at for steps in self.steps.values() for at, _ in steps})

    def elapsed(self) -> float:
        return time.perf_counter() - (self.t0 or time.perf_counter())

    def users_at(self, name: str, t: float) -> int:
        steps = self.steps.get(name, ())
        index = bisect.bisect_right([at for at, _ in steps], t + 1e-9) - 1
        return steps[index][1] if index >= 0 else 0


def _ramp_steps(start: int, stages: list[tuple[float, int]]) -> list[tuple[float, int]]:
    steps = [(0.0, start)]
    begin, users = 0.0, start
    for duration, target in stages:
        change = target - users
        if change and duration == 0:
            steps.append((begin, target))
        elif change:
            sign = 1 if change > 0 else -1
            steps += [(begin + duration * k / abs(change), users + sign * k) for k in range(1, abs(change) + 1)]
        begin += duration
        users = target
    return steps


PLAN = UserPlan()


class FlowShape(LoadTestShape):
    """Drives the run: each flow's users follow the plan (closed model: the stages; arrival rates:
    max_users, whose pacing starts the iterations; iterations: users until the quotas are done)."""

    abstract = True
    flows: tuple = ()  # the generated flow classes, in scenario order

    def __init__(self) -> None:
        super().__init__()
        self._seen_users = False

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        flows = [f for f in self.flows if f.load is not None]
        if not flows:
            return None
        if PLAN.t0 is None or PLAN.t0 != self.start_time:
            PLAN.build(self.start_time, flows)
        load = flows[0].load
        if isinstance(load, RampingUsers):
            return self._closed(t, flows)
        if self._done(t, load):
            return None
        total = sum(PLAN.users_at(f.__name__, 0.0) for f in flows)
        return total, float(max(total, 1))

    def _closed(self, t: float, flows: list) -> tuple[int, float] | None:
        """The users at the end of the current stage and the stage's pace (what Locust logs);
        FlowDispatcher follows the plan's exact steps."""
        begin = 0.0
        stages = flows[0].load.stages
        for j, (duration, _) in enumerate(stages):
            if t < begin + duration:
                break
            begin += duration
        else:
            return None
        total = sum(f.load.stages[j][1] for f in flows)
        before = sum(f.load.stages[j - 1][1] if j else f.load.start for f in flows)
        duration = stages[j][0]
        rate = abs(total - before) / duration if total != before and duration > 0 else float(max(total, 1))
        return total, rate

    def _done(self, t: float, load: object) -> bool:
        running = self.runner.user_count if self.runner is not None else 0
        self._seen_users = self._seen_users or running > 0
        if isinstance(load, ArrivalRate) and t >= load.duration_s + GRACE_S:
            return True
        if isinstance(load, Iterations) and t >= load.duration_s:
            return True
        if isinstance(self.runner, MasterRunner):  # the flows run on the workers
            return self._seen_users and running == 0 and (t >= load.duration_s or isinstance(load, Iterations))
        plans = [PLANS.get(f.flow) for f in self.flows if f.load is not None]
        return all(p is not None and p.finished and not p.waiting for p in plans) and ACTIVE[0] == 0


def _flow_dispatcher():
    """Locust's UsersDispatcher, playing the UserPlan instead of spreading users by weight at a
    spawn rate: each flow gets exactly its split of the users (the split k6 and JMeter get), at the
    moments k6 would start or stop them. Relies on the dispatcher's internals (Locust 2.4x); when
    they are missing, Locust's own weighted dispatch is kept and a warning is logged."""
    from locust.dispatch import UsersDispatcher

    assigned = UsersDispatcher.__init__.__code__.co_names  # attributes the dispatcher sets up
    needed = ("_users_on_workers", "_active_users", "_worker_nodes", "_rebalance", "_dispatch_in_progress")
    if not hasattr(UsersDispatcher, "_dispatcher") or not all(name in assigned for name in needed):
        log.warning("perforch: this Locust's dispatcher is unknown; users are split by Locust's weights")
        return None

    class FlowDispatcher(UsersDispatcher):
        def _dispatcher(self):
            if not PLAN.steps:  # not driven by FlowShape (e.g. -u/-r on the command line): Locust's way
                yield from super()._dispatcher()
                return
            self._dispatch_in_progress = True
            if self._rebalance:
                self._rebalance = False
                yield self._users_on_workers
            now = PLAN.elapsed()
            self._apply(now)
            yield self._users_on_workers
            for at in [at for at in PLAN.times if at > now]:
                delay = at - PLAN.elapsed()
                if delay > 0:
                    gevent.sleep(delay)
                if self._apply(at):
                    yield self._users_on_workers
            self._dispatch_in_progress = False

        def _apply(self, t: float) -> bool:
            """Add or remove users so that each flow has what the plan says at time t."""
            changed = False
            for name in PLAN.steps:
                want = PLAN.users_at(name, t)
                have = sum(per_worker.get(name, 0) for per_worker in self._users_on_workers.values())
                for _ in range(want - have):
                    # the worker with the fewest users of this flow: each worker paces its share of an
                    # arrival rate's starts with its own users of the flow, so every worker needs some
                    worker_node = min(self._worker_nodes, key=lambda w: self._users_on_workers[w.id].get(name, 0))
                    self._users_on_workers[worker_node.id][name] = self._users_on_workers[worker_node.id].get(name, 0) + 1
                    self._active_users.append((worker_node, name))
                    changed = True
                for _ in range(have - want):
                    for index in range(len(self._active_users) - 1, -1, -1):  # the latest user of the flow
                        if self._active_users[index][1] == name:
                            worker_node, _ = self._active_users.pop(index)
                            self._users_on_workers[worker_node.id][name] -= 1
                            changed = True
                            break
            self._current_user_count = self.get_current_user_count()
            return changed

    return FlowDispatcher


# --- samples ------------------------------------------------------------------------------------------


class _Run:
    """What this process learned at start: where samples go, which worker it is."""

    samples: SampleFile | None = None
    runner = None
    summary_path = ""
    worker = 0
    workers = 1


RUN = _Run()
PLANS: dict[str, _Plan] = {}


class SampleFile:
    """One CSV row per request, kept in memory and written out every second in whole rows."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.rows: list[str] = []
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self.fh = open(path, "w", encoding="utf-8", newline="")
        self.fh.write(SAMPLES_HEADER)
        self.fh.flush()
        self.writer = gevent.spawn(self._every_second)
        atexit.register(self.close)

    def _every_second(self) -> None:
        while True:
            gevent.sleep(FLUSH_EVERY_S)
            self.flush()

    def flush(self) -> None:
        if self.rows and not self.fh.closed:
            rows, self.rows = self.rows, []
            self.fh.write("".join(rows))
            self.fh.flush()

    def close(self) -> None:
        if not self.fh.closed:
            self.flush()
            self.fh.close()


_CELLS: dict[str, str] = {}


def _cell(text: str) -> str:
    """A CSV cell on one line (quoted when needed); cached, labels repeat."""
    cell = _CELLS.get(text)
    if cell is None:
        one_line = text.replace("\r", " ").replace("\n", " ")
        cell = '"' + one_line.replace('"', '""') + '"' if ("," in one_line or '"' in one_line) else one_line
        if len(_CELLS) < 10_000:
            _CELLS[text] = cell
    return cell


def _error_text(exception: BaseException) -> str:
    text = str(exception) if isinstance(exception, CatchResponseError) else repr(exception)
    return _redact(text)[:500] if SECRETS else text[:500]


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, response=None, context=None,  # noqa: ANN001
                exception=None, start_time=None, **_kwargs) -> None:
    samples = RUN.samples
    if samples is None:
        return
    if exception is None:
        ok, error = "1", ""
    else:
        ok, error = "0", _cell(_error_text(exception))
    status = getattr(response, "status_code", 0) or 0
    flow = context.get("flow", "") if context else ""
    samples.rows.append(
        f"{start_time or time.time():.6f},{response_time!r},{status},{ok},{response_length or 0},"
        f"{ACTIVE[0]},{flow},{request_type},{_cell(name)},{error}\n"
    )


@events.init_command_line_parser.add_listener
def _arguments(parser, **_kwargs) -> None:  # noqa: ANN001
    parser.add_argument("--perforch-samples", default="", include_in_web_ui=False,
                        help="File for perforch's per-request rows (default: locust-requests.csv)")
    parser.add_argument("--perforch-worker", default="", include_in_web_ui=False,
                        help="INDEX/COUNT of this worker among the load generators (distributed runs)")


@events.init.add_listener
def _on_init(environment, **_kwargs) -> None:  # noqa: ANN001
    # Read our options now: a worker's parsed options are later overwritten by the master's.
    options = environment.parsed_options
    dispatcher = _flow_dispatcher()
    if dispatcher is not None:
        environment.dispatcher_class = dispatcher
    RUN.runner = environment.runner
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("perforch_claim", _on_claim)
        return  # the master runs no users: no samples here
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("perforch_grant", _on_grant)
    samples = getattr(options, "perforch_samples", "") if options else ""
    worker = getattr(options, "perforch_worker", "") if options else ""
    if worker:
        index, _, count = worker.partition("/")
        RUN.worker, RUN.workers = int(index), max(1, int(count or 1))
    if not samples:
        suffix = f"-{worker.partition('/')[0] or os.getpid()}" if isinstance(environment.runner, WorkerRunner) else ""
        samples = f"locust-requests{suffix}.csv"
    RUN.samples = SampleFile(samples)
    stem = os.path.basename(samples)
    RUN.summary_path = os.path.join(os.path.dirname(samples), stem.replace("locust-requests", "locust-iterations", 1)
                                    if "locust-requests" in stem else os.path.splitext(stem)[0] + ".iterations")
    RUN.summary_path = os.path.splitext(RUN.summary_path)[0] + ".json"


@events.quitting.add_listener
def _on_quitting(environment, **_kwargs) -> None:  # noqa: ANN001
    if RUN.samples is None:
        return
    RUN.samples.close()
    summary = {"flows": {flow: {"iterations": plan.claimed - plan.dropped, "dropped": plan.dropped}
                         for flow, plan in PLANS.items()},
               "worker": RUN.worker, "workers": RUN.workers}
    with open(RUN.summary_path, "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
