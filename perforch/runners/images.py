"""Which container image runs a tool, and how to get it when it is not on this machine.

Order: the command line (--image), the scenario (tools.<tool>.image), the adapter's default (the
official image). A missing image is pulled when a registry answers; when it cannot be pulled, the
image of the same tool built locally by images/<tool>.sh is used (with a warning), else an error
that names the script to build it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from perforch.errors import ToolNotFound

# What the scripts in images/ build, without a registry (see images/README.md).
LOCAL_IMAGES = {
    "k6": ("perforch/k6:1.1.0", "images/k6.sh"),
    "locust": ("perforch/locust:2.47.0", "images/locust.sh"),
    "jmeter": ("perforch/jmeter:2.13", "images/jmeter.sh"),
}
DEMO_API_IMAGE = ("perforch/demo-api:1", "images/demo-api.sh")
VERSION_LABEL = "org.opencontainers.image.version"


class ImageMissing(ToolNotFound):
    """A container image is not on this machine and cannot be pulled."""


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    ref: str  # what the containers run
    version: str | None  # the tool version the image carries (label or tag), if known
    warning: str | None = None  # e.g. "used the local build because the official image is missing"


def choose_image(tool: str, cli_image: str | None, scenario_image: str | None, default: str) -> tuple[str, bool]:
    """(image, explicit): explicit when the user named it (then no substitute is taken)."""
    if cli_image:
        return cli_image, True
    if scenario_image:
        return scenario_image, True
    return default, False


def resolve_image(client: object, tool: str, ref: str, explicit: bool,
                  on_pull: Callable[[str], None] | None = None) -> ResolvedImage:
    """Make sure `ref` is present (pull if possible); fall back to the local build if not explicit."""
    image = _local(client, ref)
    warning = None
    if image is None:
        pull_error = _pull(client, ref, on_pull)
        image = _local(client, ref)
        if image is None:
            local_ref, script = LOCAL_IMAGES.get(tool, (None, None))
            substitute = _local(client, local_ref) if local_ref and not explicit else None
            if substitute is None:
                raise missing_image_error(tool, ref, pull_error)
            warning = (f"image {ref} is not on this machine and could not be pulled; "
                       f"used the local build {local_ref} ({script})")
            ref, image = local_ref, substitute
    return ResolvedImage(ref, image_version(image, ref), warning)


def missing_image_error(tool: str, ref: str, reason: str | None = None) -> ImageMissing:
    local_ref, script = LOCAL_IMAGES.get(tool, DEMO_API_IMAGE if tool == "sut" else (None, None))
    why = f" ({reason})" if reason else ""
    if tool == "sut":
        return ImageMissing(f"the system under test's image {ref} is not on this machine and could not be pulled{why}",
                            hint="build or load it first (docker build / docker load), or fix target.start.image")
    hint = "build or load it first (docker load), or pass --image with an image that is present"
    if script:
        hint = (f"build a local {tool} image without a registry: {script} (tags {local_ref}), then "
                f"pass --image {local_ref} or set tools.{tool}.image in the scenario")
    return ImageMissing(f"the {tool} image {ref} is not on this machine and could not be pulled{why}", hint=hint)


def image_version(image: object, ref: str) -> str | None:
    labels = (getattr(image, "labels", None) or {})
    if labels.get(VERSION_LABEL):
        return str(labels[VERSION_LABEL])
    tag = ref.rsplit("/", 1)[-1].partition(":")[2]
    return tag if tag and tag != "latest" else None


def _local(client: object, ref: str | None):  # noqa: ANN202
    import docker.errors

    if not ref:
        return None
    try:
        return client.images.get(ref)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError:
        return None


def _pull(client: object, ref: str, on_pull: Callable[[str], None] | None) -> str | None:
    """Try to pull; return why it failed (None when it worked)."""
    import docker.errors

    if on_pull:
        on_pull(ref)
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    try:
        client.images.pull(repo, tag=tag or "latest")  # type: ignore[attr-defined]
        return None
    except docker.errors.DockerException as exc:
        text = str(getattr(exc, "explanation", None) or exc)
        return text.splitlines()[0][:160] if text else type(exc).__name__
