#!/usr/bin/env bash
# A Debian root filesystem made with debootstrap (--variant=minbase, no recommends) and imported as
# an image: no registry, no base image to pull. Usage:
#   images/debian.sh TAG "pkg1,pkg2,..." [HOOK]
# HOOK (optional) is a script run as `HOOK ROOTFS` before the import (to add files, install wheels).
# Cached: skipped when TAG exists (PERFORCH_REBUILD=1 forces). Needs root.
source "$(dirname "$0")/lib.sh"
TAG="$1"; PACKAGES="$2"; HOOK="${3:-}"
skip_if_present "$TAG"
need_root "debootstrap"
command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install debootstrap"; exit 1; }

rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/perforch-rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT
bootstrap() {
  debootstrap --variant=minbase --include="$PACKAGES" "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" \
    >"$rootfs.log" 2>&1 || { tail -30 "$rootfs.log" >&2; rm -f "$rootfs.log"; return 1; }
  rm -f "$rootfs.log"
}
timed "debootstrap $DEBIAN_SUITE ($PACKAGES)" bootstrap
if [ -n "$HOOK" ]; then
  timed "hook $(basename "$HOOK")" bash "$HOOK" "$rootfs"
fi
# slim down: apt lists and caches, docs, man pages, locales other than C
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
       "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log "$rootfs"/tmp/*
timed "docker import $TAG" sh -c "tar -C '$rootfs' --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD [\"/bin/bash\"]' - '$TAG' >/dev/null"
