#!/usr/bin/env bash
# perforch/demo-api:1 — perforch's demo API (perforch/demo/app.py, aiohttp) listening on 0.0.0.0:8000:
# a system under test to run in a container (target.start.image). Built offline like locust.sh.
source "$(dirname "$0")/lib.sh"
TAG="perforch/demo-api:1"
skip_if_present "$TAG"
image_exists "$PYTHON_BASE" || "$IMAGES_DIR/python.sh"

ctx="$(mktemp -d)"; trap 'rm -rf "$ctx"' EXIT
timed "pip download aiohttp" pip_wheels "$ctx/wheels" "aiohttp>=3.9,<4"
cp "$REPO_DIR/perforch/demo/app.py" "$ctx/app.py"
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM $PYTHON_BASE
COPY wheels /wheels
$VENV_INSTALL aiohttp && rm -rf /wheels
COPY app.py /app/app.py
EXPOSE 8000
LABEL org.opencontainers.image.title="perforch demo API" org.opencontainers.image.version="1"
CMD ["/opt/venv/bin/python", "-c", "import sys; sys.path.insert(0, '/app'); import app; app.serve('0.0.0.0', 8000)"]
DOCKERFILE
timed "built $TAG" docker_build --network none -t "$TAG" "$ctx"
