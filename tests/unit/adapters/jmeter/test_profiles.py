"""Load profiles as thread groups with k6's start and end times."""

from __future__ import annotations

import pytest

from perforch.adapters.jmeter.profiles import GRACE_S, Users, ramping_users, users_for
from perforch.spec import model as m


def test_a_ramp_up_hold_and_ramp_down_is_one_group_with_k6_times() -> None:
    (group,) = ramping_users(0, [(5, 6), (10, 6), (5, 0)])
    assert group.threads == 6 and group.delay_s == 0 and group.ramp_s == 5
    # k6: the user count rises by one every 5/6 s and falls the same way; the last to come leaves first
    assert group.starts_s == pytest.approx([5 * i / 6 for i in range(1, 7)], abs=1e-6)
    assert group.ends_s == pytest.approx([15 + 5 * (7 - i) / 6 for i in range(1, 7)], abs=1e-6)
    assert group.hard_stop_s == 20 + GRACE_S
    # JMeter's ramp-up starts thread k at k·5/6 s: never after k6's time
    assert all(k * group.ramp_s / 6 <= start for k, start in enumerate(group.starts_s))


def test_start_vus_and_each_rising_stage_get_their_own_group() -> None:
    groups = ramping_users(2, [(2, 4), (1, 1), (2, 3), (1, 0)])
    assert [g.threads for g in groups] == [2, 2, 2]
    start_vus, first, second = groups
    assert start_vus.starts_s == (0.0, 0.0) and start_vus.delay_s == 0
    assert first.starts_s == (1.0, 2.0) and first.ends_s == (2.666667, 2.333333)
    assert second.delay_s == 3 and second.starts_s == pytest.approx((4.0, 5.0))
    # at every moment the active users match k6's plan
    for t in [0.5, 1.5, 2.1, 2.5, 2.9, 3.5, 4.5, 5.5]:
        active = sum(1 for g in groups for s, e in zip(g.starts_s, g.ends_s) if s <= t < e)
        assert active == _k6_users(2, [(2, 4), (1, 1), (2, 3), (1, 0)], t), t


def test_an_instant_stage_changes_users_at_once() -> None:
    groups = ramping_users(0, [(0, 3), (4, 3)])
    assert [g.starts_s for g in groups] == [(0.0, 0.0, 0.0)] and groups[0].ends_s == (4.0, 4.0, 4.0)


def test_other_profiles() -> None:
    (constant,) = users_for(m.ConstantVus(profile="constant-vus", vus=3, duration=7.5))
    assert constant == Users(0, 0, (0.0,) * 3, (7.5,) * 3)
    (pool,) = users_for(m.Iterations(profile="iterations", vus=2, iterations=6, max_duration=30))
    assert pool.iterations == 6 and pool.threads == 2 and pool.ends_s == (30.0, 30.0)
    (rate,) = users_for(m.ConstantArrivalRate(profile="constant-arrival-rate", rate=15, duration=8, max_vus=20))
    assert rate.threads == 20 and rate.arrival == (15, 8, 15)
    (ramp,) = users_for(m.RampingArrivalRate(profile="ramping-arrival-rate", start_rate=5, max_vus=30, stages=[
        m.RateStage(duration=3, target=15), m.RateStage(duration=4, target=15), m.RateStage(duration=2, target=0)]))
    assert ramp.arrival == (5, 3, 15, 4, 15, 2, 0) and ramp.ends_s == (9.0,) * 30


def _k6_users(start: int, stages: list[tuple[float, int]], t: float) -> int:
    at, current = 0.0, start
    for duration, target in stages:
        if t < at + duration:
            diff = target - current
            steps = int((t - at) / duration * abs(diff) + 1e-9) if duration else abs(diff)
            return current + (steps if diff > 0 else -steps)
        at += duration
        current = target
    return current
