"""Each engine's part of the plan in a distributed run (--workers N), as JMeter properties.

Every jmeter-server engine runs the same plan.jmx. Thread group i asks for ${__P(perforch.threads.i,n)}
threads and the setUp group waits for ${__P(perforch.threads.ready,r)} of them (generate.py); one
JMeter uses the plan's own numbers n and r. Engine w of N gets, like k6's N equal execution
segments, the flow's users u with u mod N == w: of a group whose threads are users first .. first+n-1,
the threads k with (first + k) mod N == w. The rest of its part (which arrival-rate and iteration
tickets, which data rows) perforch.js works out from perforch.worker and perforch.workers.
"""

from __future__ import annotations

from perforch.adapters.jmeter.generate import READY_PROPERTY, THREADS_PROPERTY, thread_groups
from perforch.spec import model as m

WORKER = "perforch.worker"  # the engine's index; also the sample variable that tags its samples
WORKERS = "perforch.workers"


def own_threads(threads: int, first: int, index: int, engines: int) -> range:
    """The threads (0 .. threads-1) of a group starting at user `first` that engine `index` runs."""
    return range((index - first) % engines, threads, engines)


def engine_properties(scenario: m.Scenario, index: int, engines: int) -> dict[str, str]:
    """The JMeter properties (-J) that give engine `index` of `engines` its part of the plan."""
    props = {WORKER: str(index), WORKERS: str(engines)}
    ready = 0
    for _, users, group in thread_groups(scenario):
        mine = own_threads(users.threads, users.first, index, engines)
        props[f"{THREADS_PROPERTY}{group}"] = str(len(mine))
        ready += sum(1 for k in mine if users.starts_s[k] == 0)
    props[READY_PROPERTY] = str(ready)
    return props
