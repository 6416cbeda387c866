"""Image choice and the errors that say how to get an image without a registry."""

from __future__ import annotations

from types import SimpleNamespace

from perforch.runners.images import choose_image, image_version, missing_image_error


def test_cli_beats_scenario_beats_default():
    assert choose_image("k6", "a:1", "b:2", "grafana/k6:1.1.0") == ("a:1", True)
    assert choose_image("k6", None, "b:2", "grafana/k6:1.1.0") == ("b:2", True)
    assert choose_image("k6", None, None, "grafana/k6:1.1.0") == ("grafana/k6:1.1.0", False)


def test_missing_tool_image_names_the_build_script():
    err = missing_image_error("k6", "grafana/k6:1.1.0", "no such host")
    assert err.message == "the k6 image grafana/k6:1.1.0 is not on this machine and could not be pulled (no such host)"
    assert err.hint == ("build a local k6 image without a registry: images/k6.sh (tags perforch/k6:1.1.0), "
                        "then pass --image perforch/k6:1.1.0 or set tools.k6.image in the scenario")
    assert "images/locust.sh" in missing_image_error("locust", "x").hint
    assert "images/jmeter.sh" in missing_image_error("jmeter", "x").hint


def test_missing_sut_image():
    err = missing_image_error("sut", "myorg/api:1.4")
    assert err.message.startswith("the system under test's image myorg/api:1.4 is not on this machine")
    assert "target.start.image" in err.hint


def test_version_from_label_else_tag():
    labelled = SimpleNamespace(labels={"org.opencontainers.image.version": "1.1.0"})
    assert image_version(labelled, "perforch/k6:whatever") == "1.1.0"
    assert image_version(SimpleNamespace(labels={}), "registry:5000/grafana/k6:1.2.3") == "1.2.3"
    assert image_version(SimpleNamespace(labels=None), "grafana/k6:latest") is None
    assert image_version(SimpleNamespace(labels=None), "grafana/k6") is None
