# Shared helpers for the image build scripts (sourced, not run).
# Every image is built from what is on this machine or on PyPI / the Debian mirror: no registry.
set -euo pipefail

IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$IMAGES_DIR")"
# The Debian release and mirror the root filesystems come from (override for another mirror).
DEBIAN_SUITE="${PERFORCH_DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${PERFORCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PYTHON="${PYTHON:-python3}"

log() { printf '[images] %s\n' "$*" >&2; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# skip_if_present TAG: exit 0 (cached) unless PERFORCH_REBUILD=1
skip_if_present() {
  if [ "${PERFORCH_REBUILD:-0}" != 1 ] && image_exists "$1"; then
    log "$1 present, skipped (PERFORCH_REBUILD=1 rebuilds)"
    exit 0
  fi
}

docker_build() {  # legacy builder: FROM scratch and local images only, never pulls (no buildx needed)
  DOCKER_BUILDKIT=0 docker build --quiet --pull=false "$@" 2> >(grep -v -e "DEPRECATED" -e "BuildKit is currently" -e "environment-variable" -e "^ *$" >&2) >/dev/null
}

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "$1 needs root (debootstrap, chroot); run it with sudo"
    exit 1
  fi
}

timed() {  # timed LABEL CMD...: run CMD, log how long it took
  local label="$1"; shift
  local start=$SECONDS
  "$@"
  log "$label: $((SECONDS - start)) s"
}

PYTHON_BASE="perforch/python:bookworm"
JRE_BASE="perforch/debian-jre:bookworm"
JRE_PACKAGES="python3,ca-certificates,openjdk-17-jre-headless,jmeter,jmeter-http"

# pip_wheels DIR SPEC...: download wheels (and pip itself) for CPython 3.11 on x86_64 Linux into DIR,
# on the host, so that the image installs them with no network (pip install --no-index)
pip_wheels() {
  local dest="$1"; shift
  "$PYTHON" -m pip download --quiet --dest "$dest" --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 pip "$@"
}

# the Dockerfile lines that install the wheels in /wheels into a venv at /opt/venv, offline
VENV_INSTALL='RUN python3 -m venv --without-pip /opt/venv \
 && /opt/venv/bin/python "$(ls /wheels/pip-*.whl)/pip" install --quiet --no-index --no-cache-dir --find-links /wheels'
