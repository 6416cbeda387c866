from perforch.spec import model as m
from perforch.spec.split import split_counts, split_load


def test_largest_remainder_adds_up():
    assert split_counts(8, [3, 1]) == [6, 2]
    assert split_counts(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(split_counts(7, [5, 3, 2])) == 7


def test_rates_split_exactly():
    load = m.ConstantArrivalRate(profile="constant-arrival-rate", rate="20/s", duration="8s", max_vus=20)
    parts = split_load(load, [3, 1])
    assert [p.rate for p in parts] == [15.0, 5.0]
    assert [p.max_vus for p in parts] == [15, 5]


def test_flow_without_users_is_none():
    load = m.ConstantVus(profile="constant-vus", vus=1, duration="5s")
    assert split_load(load, [3, 1])[1] is None
