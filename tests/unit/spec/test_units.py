import pytest

from perforch.spec.units import format_duration, parse_duration, parse_rate, parse_think


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30.0), ("500ms", 0.5), ("2m", 120.0), ("1h30m", 5400.0), ("1m30.5s", 90.5), (15, 15.0), (0.25, 0.25),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["five", "30", "30 s", "-1s", "1m30", "", True, None, -3])
def test_bad_durations_say_what_is_expected(bad):
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(bad)


@pytest.mark.parametrize("text, per_s", [("50/s", 50.0), ("600/m", 10.0), ("5/100ms", 50.0), ("1/2s", 0.5), (7, 7.0)])
def test_rates(text, per_s):
    assert parse_rate(text) == pytest.approx(per_s)


@pytest.mark.parametrize("bad", ["50", "50/x", "/s", "fast"])
def test_bad_rates(bad):
    with pytest.raises(ValueError, match="rate"):
        parse_rate(bad)


def test_think_fixed_and_range():
    assert parse_think("2s") == (2.0, 2.0)
    assert parse_think("1s..3s") == (1.0, 3.0)
    with pytest.raises(ValueError, match="low to high"):
        parse_think("3s..1s")


@pytest.mark.parametrize("seconds, text", [(90, "1m30s"), (0.25, "250ms"), (3600, "1h"), (5, "5s"), (0, "0s")])
def test_format_duration_round_trips(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds
