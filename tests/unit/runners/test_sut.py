"""Where the load tool and perforch reach a system under test, decided before it starts."""

from __future__ import annotations

from perforch.runners.sut import plan_address
from perforch.spec.model import StartSpec


def test_a_command_sut_is_reached_as_written():
    start = StartSpec(command="uvicorn app:app --port 8000")
    address = plan_address(start, "http://127.0.0.1:8000/api", tool_in_container=False)
    assert (address.tool_url, address.check_url, address.host_port) == ("http://127.0.0.1:8000/api",) * 2 + (None,)


def test_a_container_sut_is_reached_by_name_from_tool_containers_and_on_a_free_port_from_here():
    start = StartSpec(image="myorg/api:1.4", port=8080)
    inside = plan_address(start, "http://localhost:9999/v1", tool_in_container=True)
    assert inside.tool_url == "http://sut:8080/v1"
    assert inside.check_url == f"http://127.0.0.1:{inside.host_port}/v1"
    local = plan_address(start, "http://localhost:9999/v1", tool_in_container=False)
    assert local.tool_url == local.check_url == f"http://127.0.0.1:{local.host_port}/v1"
