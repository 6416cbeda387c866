#!/usr/bin/env bash
# perforch/locust:VERSION — Locust in a venv on perforch/python:bookworm. The wheels are downloaded
# on the host (pip download) and installed inside with no network (docker build --network none).
# Usage: images/locust.sh [VERSION]   (default 2.47.0; cached: skipped when the tag exists)
source "$(dirname "$0")/lib.sh"
VERSION="${1:-${LOCUST_VERSION:-2.47.0}}"
TAG="perforch/locust:$VERSION"
skip_if_present "$TAG"
image_exists "$PYTHON_BASE" || "$IMAGES_DIR/python.sh"

ctx="$(mktemp -d)"; trap 'rm -rf "$ctx"' EXIT
timed "pip download locust==$VERSION" pip_wheels "$ctx/wheels" "locust==$VERSION"
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM $PYTHON_BASE
COPY wheels /wheels
$VENV_INSTALL "locust==$VERSION" && rm -rf /wheels
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
WORKDIR /tmp
LABEL org.opencontainers.image.title="locust" org.opencontainers.image.version="$VERSION" \\
      org.opencontainers.image.description="Locust on Debian, built offline by perforch images/locust.sh"
ENTRYPOINT ["locust"]
DOCKERFILE
timed "built $TAG" docker_build --network none -t "$TAG" "$ctx"
