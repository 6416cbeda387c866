#!/usr/bin/env bash
# perforch/jmeter:2.13 — Debian 12's JMeter 2.13 on Java 17, from a debootstrap root filesystem
# (perforch/debian-jre:bookworm: python3, openjdk-17-jre-headless, jmeter, jmeter-http; also the base
# of the perforch image). Debian's /usr/bin/jmeter cannot load plans on Debian 12 (XStream allow-list,
# see shared/reference/tool-outputs.md 3.2), so `jmeter` and `jmeter-server` in this image start
# JMeter through perforch's launcher (perforch/adapters/jmeter/launcher/PerforchJMeter.java).
# Usage: images/jmeter.sh   (cached: skipped when the tag exists; needs root for debootstrap)
source "$(dirname "$0")/lib.sh"
TAG="perforch/jmeter:2.13"
skip_if_present "$TAG"
"$IMAGES_DIR/debian.sh" "$JRE_BASE" "$JRE_PACKAGES"

launcher="$REPO_DIR/perforch/adapters/jmeter/launcher/PerforchJMeter.java"
[ -f "$launcher" ] || { log "$launcher missing"; exit 1; }
ctx="$(mktemp -d)"; trap 'rm -rf "$ctx"' EXIT
cp "$launcher" "$ctx/"
cat > "$ctx/jmeter" <<'SH'
#!/bin/sh
# JMeter 2.13 through perforch's launcher (XStream permissions for Debian 12); arguments as for jmeter
home=/usr/share/jmeter
cp="$home/bin/ApacheJMeter.jar$(for j in "$home"/lib/*.jar "$home"/lib/ext/*.jar; do printf ':%s' "$j"; done)"
exec java ${JVM_ARGS:-} -Djmeter.home="$home" -cp "$cp" /opt/perforch/PerforchJMeter.java "$@"
SH
cat > "$ctx/jmeter-server" <<'SH'
#!/bin/sh
# a JMeter remote engine (jmeter -s); -Dserver_port=PORT and -Djava.rmi.server.hostname=NAME as needed
exec jmeter -s -Jserver.rmi.ssl.disable=true "$@"
SH
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM $JRE_BASE
COPY PerforchJMeter.java /opt/perforch/PerforchJMeter.java
COPY jmeter jmeter-server /usr/local/bin/
ENV HOME=/tmp
WORKDIR /tmp
LABEL org.opencontainers.image.title="jmeter" org.opencontainers.image.version="2.13" \\
      org.opencontainers.image.description="Debian's JMeter 2.13 on Java 17, built offline by perforch images/jmeter.sh"
ENTRYPOINT ["jmeter"]
DOCKERFILE
chmod 755 "$ctx/jmeter" "$ctx/jmeter-server"
timed "built $TAG" docker_build --network none -t "$TAG" "$ctx"
