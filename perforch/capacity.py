"""`perforch capacity`: one staircase run, each load level judged on its own SLO window.

The scenario's load is replaced by a staircase (closed model: users; open model: iterations/s)
that ramps to each level in `ramp_s` and holds it for `hold_s`. The first second(s) of each hold
are left out of its window so the ramp does not blur the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from perforch.analysis.capacity import Level
from perforch.errors import PerforchError
from perforch.spec import model as m


@dataclass(frozen=True, slots=True)
class Staircase:
    start: float
    step: float
    maximum: float
    hold_s: float = 30.0
    ramp_s: float = 5.0
    open_model: bool = False  # iterations/s instead of users
    max_vus: int = 500  # open model: users available to sustain the rate

    def levels(self) -> list[float]:
        if self.start <= 0 or self.step <= 0 or self.maximum < self.start:
            raise PerforchError("capacity needs 0 < start, 0 < step and start <= max",
                                hint="e.g. --start 10 --step 10 --max 100")
        out, level = [], self.start
        while level <= self.maximum + 1e-9:
            out.append(level)
            level += self.step
        return out

    @property
    def unit(self) -> str:
        return "iterations/s" if self.open_model else "users"


def staircase_scenario(scenario: m.Scenario, plan: Staircase) -> tuple[m.Scenario, list[Level]]:
    """The scenario with its load replaced by the staircase, and each level's hold window."""
    levels, windows, t = plan.levels(), [], 0.0
    settle = min(2.0, plan.hold_s * 0.2)
    for level in levels:
        t += plan.ramp_s
        windows.append(Level(level, t + settle, t + plan.hold_s))
        t += plan.hold_s
    if plan.open_model:
        stages = []
        for level in levels:
            stages += [m.RateStage(duration=plan.ramp_s, target=level), m.RateStage(duration=plan.hold_s, target=level)]
        load = m.RampingArrivalRate(profile="ramping-arrival-rate", start_rate=0, stages=stages, max_vus=plan.max_vus)
    else:
        stages = []
        for level in levels:
            if int(level) != level:
                raise PerforchError(f"users are whole numbers, got level {level:g}", hint="use whole --start/--step")
            stages += [m.VuStage(duration=plan.ramp_s, target=int(level)), m.VuStage(duration=plan.hold_s, target=int(level))]
        load = m.RampingVus(profile="ramping-vus", start_vus=0, stages=stages)
    return scenario.model_copy(update={"load": load}), windows
