"""Every way a scenario can be wrong gives one clear message with file:line and a hint."""

from pathlib import Path

import pytest

from perforch.errors import SpecError
from perforch.spec import check_environment, check_environment_allowed, load_scenario
from perforch.spec.schema import scenario_schema

GOOD = """\
version: 1
name: t
target: {base_url: "http://127.0.0.1:9"}
flows:
  - name: f
    steps:
      - {name: a, get: /a, extract: {tok: {json: $.token}}}
      - {name: b, get: "/b/${tok}"}
load: {profile: constant-vus, vus: 1, duration: 1s}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_scenario(path)
    return info.value


def test_good_scenario_loads(tmp_path):
    scenario = load_scenario(write(tmp_path, GOOD))
    assert scenario.labels == ("a", "b")
    assert scenario.duration_s == 1.0


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "version: 1\nname: [unclosed\ntarget: x\n")
    err = error_of(path)
    assert err.message.startswith(f"{path}:3: invalid YAML")
    assert "indentation" in err.hint


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = write(tmp_path, GOOD.replace("  - name: f\n", "  - name: f\n    wieght: 2\n"))
    err = error_of(path)
    assert err.message == f"{path}:6: flows[0].wieght: unknown key 'wieght'"
    assert err.hint == "did you mean 'weight'?"


def test_wrong_type(tmp_path):
    path = write(tmp_path, GOOD.replace("vus: 1,", "vus: many,"))
    err = error_of(path)
    assert err.message.startswith(f"{path}:9: load.vus: Input should be a valid integer")
    assert "'many'" in err.message
    assert "perforch schema" in err.hint


def test_bad_duration(tmp_path):
    path = write(tmp_path, GOOD.replace("duration: 1s", "duration: five"))
    err = error_of(path)
    assert err.message == (f'{path}:9: load.duration: expected a duration like "30s", "500ms" or "1m30s", '
                           "got 'five'")
    assert err.hint.startswith("durations take ms, s, m or h")


def test_unknown_profile(tmp_path):
    path = write(tmp_path, GOOD.replace("constant-vus", "constant-users"))
    err = error_of(path)
    assert "load: unknown profile 'constant-users'" in err.message
    assert "'ramping-vus'" in err.message


def test_bad_rate(tmp_path):
    text = GOOD.replace("load: {profile: constant-vus, vus: 1, duration: 1s}",
                        "load:\n  profile: constant-arrival-rate\n  rate: fast\n  duration: 1s\n")
    err = error_of(write(tmp_path, text))
    assert ":11: load.rate: expected a rate like \"50/s\"" in err.message
    assert err.hint == 'rates are iterations per second or minute: "50/s", "600/m"'


def test_broken_slo(tmp_path):
    path = write(tmp_path, GOOD + "slos:\n  - p99 < 200ms\n  - p99 <<< 2\n")
    err = error_of(path)
    assert err.message.startswith(f"{path}:12: slos[1]: cannot read SLO 'p99 <<< 2'")
    assert err.hint.startswith("rules look like p99 < 200ms")


def test_slo_on_unknown_step(tmp_path):
    path = write(tmp_path, GOOD + "slos:\n  - {step: bb, rule: p95 < 1s}\n")
    err = error_of(path)
    assert err.message == f"{path}:11: slos[0].step: no step named 'bb'"
    assert err.hint == "did you mean 'b'?"


def test_missing_data_file(tmp_path):
    text = GOOD.replace("flows:", "data:\n  users: {file: nope.csv}\nflows:")
    err = error_of(write(tmp_path, text))
    assert ":5: data.users.file: data file 'nope.csv' not found" in err.message
    assert err.hint == "paths are relative to the scenario file"


def test_unknown_data_column(tmp_path):
    (tmp_path / "users.csv").write_text("email,password\na@b,c\n", encoding="utf-8")
    text = GOOD.replace("flows:", "data:\n  users: {file: users.csv}\nflows:").replace('"/b/${tok}"', '"/b/${users.mail}"')
    err = error_of(write(tmp_path, text))
    assert "data file 'users.csv' has no column 'mail'" in err.message
    assert err.hint == "columns: email, password"


def test_reference_used_before_extraction(tmp_path):
    text = GOOD.replace('{name: a, get: /a,', '{name: a, get: "/a/${tok}",')
    err = error_of(write(tmp_path, text))
    assert err.message.endswith(":7: flows[0].steps[0].get: ${tok} is not defined before this step")


def test_duplicate_key(tmp_path):
    err = error_of(write(tmp_path, GOOD + "name: again\n"))
    assert err.message.endswith(":10: key 'name' appears twice")


def test_missing_required_key(tmp_path):
    err = error_of(write(tmp_path, GOOD.replace("load: {profile: constant-vus, vus: 1, duration: 1s}\n", "")))
    assert err.message.endswith(": load: missing required key 'load'")


def test_step_needs_one_method(tmp_path):
    err = error_of(write(tmp_path, GOOD.replace("{name: b, get:", "{name: b, post: /x, get:")))
    assert "a step needs exactly one of get, post" in err.message


def test_file_not_found(tmp_path):
    err = error_of(tmp_path / "absent.yaml")
    assert err.message.endswith("absent.yaml: no such file")
    assert "perforch init" in err.hint


def test_unset_env_variable():
    import textwrap

    scenario = load_scenario(Path(__file__).parents[3] / "scenarios" / "wire.yaml")
    with pytest.raises(SpecError) as info:
        check_environment(scenario, environ={})
    assert info.value.message == ("environment variable PERFORCH_DEMO_SECRET not set "
                                  "(used as ${env.PERFORCH_DEMO_SECRET} in the scenario)")
    check_environment(scenario, environ={"PERFORCH_DEMO_SECRET": "x"})
    del textwrap


def test_production_is_refused_unless_allowed(tmp_path):
    scenario = load_scenario(write(tmp_path, GOOD.replace('"http://127.0.0.1:9"}', '"http://127.0.0.1:9", environment: production}')))
    with pytest.raises(SpecError, match="production"):
        check_environment_allowed(scenario, allow_production=False)
    check_environment_allowed(scenario, allow_production=True)


def test_schema_covers_every_profile():
    text = str(scenario_schema())
    for profile in ("constant-vus", "ramping-vus", "constant-arrival-rate", "ramping-arrival-rate", "iterations"):
        assert profile in text


def test_flow_names_that_differ_only_by_dash_and_underscore(tmp_path):
    text = GOOD.replace("load:", "  - name: f-x\n    steps: [{get: /a}]\n  - name: f_x\n    steps: [{get: /b}]\nload:")
    path = write(tmp_path, text)
    err = error_of(path)
    assert err.message == f"{path}:11: flows[2].name: flow names 'f-x' and 'f_x' differ only by '-' and '_'"


def test_data_source_names_are_ascii(tmp_path):
    (tmp_path / "u.csv").write_text("email\na@b\n", encoding="utf-8")
    path = write(tmp_path, GOOD.replace("flows:", "data: {u²: {file: u.csv}}\nflows:"))
    err = error_of(path)
    assert "names here are ASCII identifiers" in err.message and "'u²'" in err.message


def test_a_step_twice_in_a_flow_needs_names(tmp_path):
    path = write(tmp_path, GOOD.replace('get: "/b/${tok}"}', 'get: "/b/${tok}"}\n      - {get: /a}\n      - {get: /a}'))
    err = error_of(path)
    assert err.message == f"{path}:10: flows[0].steps[3]: step 'GET /a' appears twice in flow 'f'"
    assert "distinct names" in err.hint


@pytest.mark.parametrize("regex", [r"(?i)token=(\w+)", r"(?P<id>\d+)", r"\Aid=(\d+)", r"(?<id>\d+)"])
def test_regex_syntax_the_tools_read_differently_is_refused(tmp_path, regex):
    path = write(tmp_path, GOOD.replace("{json: $.token}", "{regex: '" + regex + "'}"))
    err = error_of(path)
    assert "read differently" in err.message and err.message.startswith(f"{path}:7:")


def test_a_yaml_date_is_sent_as_written(tmp_path):
    scenario = load_scenario(write(tmp_path, GOOD.replace("get: /a,", "post: /a, json: {d: 2024-01-01},")))
    assert scenario.flows[0].steps[0].json_body == {"d": "2024-01-01"}


def test_target_headers_read_variables_not_data_rows(tmp_path):
    (tmp_path / "u.csv").write_text("email\na@b\n", encoding="utf-8")
    text = GOOD.replace('target: {base_url: "http://127.0.0.1:9"}',
                        'target: {base_url: "http://127.0.0.1:9", headers: {X-User: "${u.email}"}}')
    err = error_of(write(tmp_path, text.replace("flows:", "data: {u: {file: u.csv}}\nflows:")))
    assert "target headers are set once for the whole test and cannot read a data row" in err.message
    ok = GOOD.replace('target: {base_url: "http://127.0.0.1:9"}',
                      'target: {base_url: "http://127.0.0.1:9", headers: {X-Key: "k ${key}"}}')
    assert load_scenario(write(tmp_path, ok.replace("flows:", "variables: {key: abc}\nflows:"))).target.headers
