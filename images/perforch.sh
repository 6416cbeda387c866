#!/usr/bin/env bash
# perforch/perforch:VERSION — the repository's Dockerfile (perforch + k6 + Locust + JMeter), built
# offline: the local bases (images/k6.sh, the Debian JRE base of images/jmeter.sh) and a wheelhouse
# downloaded on the host into images/wheels/; `docker build --network none`.
# Usage: images/perforch.sh   (cached: skipped when the tag exists; PERFORCH_REBUILD=1 forces)
source "$(dirname "$0")/lib.sh"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO_DIR/pyproject.toml" | head -n 1)"
TAG="perforch/perforch:$VERSION"
skip_if_present "$TAG"
image_exists perforch/k6:1.1.0 || "$IMAGES_DIR/k6.sh"
image_exists "$JRE_BASE" || "$IMAGES_DIR/debian.sh" "$JRE_BASE" "$JRE_PACKAGES"

wheels="$IMAGES_DIR/wheels"
# the project's runtime dependencies + Locust + the build backend (perforch is built from source inside)
deps="$("$PYTHON" - "$REPO_DIR/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))
print("\n".join(project["project"]["dependencies"] + project["build-system"]["requires"]))
PY
)"
mapfile -t reqs <<<"$deps"
timed "pip download (perforch dependencies, locust)" pip_wheels "$wheels" "${reqs[@]}" "locust==2.47.0" wheel
timed "built $TAG" docker_build --network none -t "$TAG" -t perforch/perforch:latest "$REPO_DIR"
