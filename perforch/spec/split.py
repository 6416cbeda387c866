"""Split the scenario's load across flows by weight, the same way for every tool.

Users (and total iterations) are whole numbers: each share is rounded with the largest-remainder
method, so the parts always add up to the whole. Rates are split exactly.
"""

from __future__ import annotations

import math

from perforch.spec import model as m


def split_counts(total: int, weights: list[int]) -> list[int]:
    """Largest-remainder apportionment: sum(result) == total; ties go to the earlier flow."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def split_load(load: m.Load, weights: list[int]) -> list[m.Load | None]:
    """One load per flow (None when the flow gets no users or iterations at all)."""
    n = len(weights)
    share = [w / sum(weights) for w in weights]
    out: list[m.Load | None] = []
    if isinstance(load, m.ConstantVus):
        counts = split_counts(load.vus, weights)
        return [load.model_copy(update={"vus": c}) if c else None for c in counts]
    if isinstance(load, m.RampingVus):
        starts = split_counts(load.start_vus, weights)
        targets = [split_counts(stage.target, weights) for stage in load.stages]
        for i in range(n):
            stages = [s.model_copy(update={"target": t[i]}) for s, t in zip(load.stages, targets)]
            if starts[i] == 0 and all(s.target == 0 for s in stages):
                out.append(None)
            else:
                out.append(load.model_copy(update={"start_vus": starts[i], "stages": stages}))
        return out
    if isinstance(load, (m.ConstantArrivalRate, m.RampingArrivalRate)):
        max_vus = [max(1, math.ceil(load.max_vus * s)) for s in share]
        pre = [None if load.pre_allocated_vus is None else max(1, math.ceil(load.pre_allocated_vus * s))
               for s in share]
        for i in range(n):
            update: dict = {"max_vus": max_vus[i], "pre_allocated_vus": pre[i]}
            if isinstance(load, m.ConstantArrivalRate):
                update["rate"] = load.rate * share[i]
            else:
                update["start_rate"] = load.start_rate * share[i]
                update["stages"] = [s.model_copy(update={"target": s.target * share[i]})
                                    for s in load.stages]
            out.append(load.model_copy(update=update))
        return out
    assert isinstance(load, m.Iterations)
    iterations = split_counts(load.iterations, weights)
    vus = split_counts(load.vus, weights)
    return [load.model_copy(update={"iterations": it, "vus": max(1, v)}) if it else None
            for it, v in zip(iterations, vus)]
