# perforch with k6, Locust and JMeter inside, so a CI pipeline can run
#   docker run --rm --network host -v "$PWD:/work" perforch/perforch run scenario.yaml --tool k6
#
# Offline, from the local images (no registry): images/perforch.sh (builds the bases with images/*.sh,
# downloads the Python wheels into images/wheels/ on the host, then builds this file with --network none).
# Online, from public images:
#   docker build --build-arg BASE=debian:bookworm-slim --build-arg K6_IMAGE=grafana/k6:1.1.0 -t perforch .
# BASE must be Debian 12 (bookworm): python3, Java 17 and Debian's JMeter 2.13 come from it (present in
# the local base perforch/debian-jre:bookworm, installed from the Debian mirror otherwise).
ARG BASE=perforch/debian-jre:bookworm
ARG K6_IMAGE=perforch/k6:1.1.0
FROM ${K6_IMAGE} AS k6

FROM ${BASE}
RUN if ! command -v python3 >/dev/null || ! command -v java >/dev/null || [ ! -d /usr/share/jmeter ]; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv ca-certificates openjdk-17-jre-headless jmeter jmeter-http \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=k6 /usr/bin/k6 /usr/local/bin/k6
COPY images/wheels/ /wheels/
COPY pyproject.toml README.md /src/
COPY perforch /src/perforch
# with a wheelhouse (images/perforch.sh fills it): install offline; without: from PyPI
RUN set -e; pip_wheel="$(ls /wheels/pip-*.whl 2>/dev/null | head -n 1)"; \
    if [ -n "$pip_wheel" ]; then \
      python3 -m venv --without-pip /opt/perforch; \
      /opt/perforch/bin/python "$pip_wheel/pip" install --quiet --no-cache-dir --no-index --find-links /wheels /src locust; \
    else \
      python3 -m venv /opt/perforch; \
      /opt/perforch/bin/pip install --quiet --no-cache-dir /src locust; \
    fi; \
    rm -rf /wheels /src
ENV PATH=/opt/perforch/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 HOME=/tmp PYTHONDONTWRITEBYTECODE=1
WORKDIR /work
LABEL org.opencontainers.image.title="perforch" \
      org.opencontainers.image.description="One neutral load-test scenario -> k6, Locust or JMeter; one exact report"
ENTRYPOINT ["perforch"]
CMD ["--help"]
