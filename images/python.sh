#!/usr/bin/env bash
# perforch/python:bookworm — Debian's python3 on a debootstrap root filesystem (minbase), imported
# with `docker import`. The base of the Locust and demo-API images. Cached; needs root.
source "$(dirname "$0")/lib.sh"
exec "$IMAGES_DIR/debian.sh" "$PYTHON_BASE" "python3,ca-certificates"
