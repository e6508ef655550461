# syntax=docker/dockerfile:1
# One image for the three services; the command picks the service:
#   docker run IMAGE fetcher | extractor | sink | topics ensure | config show sink | ...
# Build: docker build -t newsflow .        (dependencies come from requirements.lock: scripts/lock)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the hashed, pinned dependencies and newsflow itself -----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/newsflow
COPY requirements.lock /src/requirements.lock
# Every file is checked against the lock's sha256; wheels only, so no compiler is ever needed.
RUN /opt/newsflow/bin/pip install --require-hashes --no-deps --only-binary=:all: -r /src/requirements.lock
COPY pyproject.toml README.md /src/
COPY services /src/services
# newsflow itself: built with the locked setuptools (no build isolation = nothing unhashed fetched),
# then the build tools leave the virtualenv and the bytecode is compiled once, here.
RUN /opt/newsflow/bin/pip install --no-deps --no-build-isolation --no-index /src \
 && /opt/newsflow/bin/pip uninstall --yes setuptools \
 && /opt/newsflow/bin/python -m compileall -q /opt/newsflow/lib \
 && /opt/newsflow/bin/newsflow --help >/dev/null

# --- runtime: the virtualenv, tini, a non-root user; no compilers, no build inputs ------------------
FROM ${PYTHON_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to newsflow at any moment, even before the service has installed
# its own handler, and reaps children.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 newsflow \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin newsflow \
 && mkdir -p /data /etc/newsflow \
 && chown 10001:10001 /data
COPY --from=build /opt/newsflow /opt/newsflow
ENV PATH=/opt/newsflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/data \
    NEWSFLOW_DATA_DIR=/data \
    NEWSFLOW_FEEDS_FILE=/etc/newsflow/feeds.txt \
    NEWSFLOW_METRICS_HOST=0.0.0.0 \
    NEWSFLOW_LOG_FORMAT=json
USER 10001:10001
WORKDIR /data
# /metrics, /healthz, /readyz of fetcher, extractor, sink (NEWSFLOW_METRICS_PORT overrides).
EXPOSE 9101 9102 9103
STOPSIGNAL SIGTERM
# Liveness of whichever service this container runs: NEWSFLOW_METRICS_PORT if set, else the
# service's default port, read from the command line of PID 1 (tini -- newsflow SERVICE).
# urlopen raises on a non-2xx answer or no answer, so the exit code is the verdict.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; argv = open('/proc/1/cmdline').read().split('\\0'); defaults = {'fetcher': '9101', 'extractor': '9102', 'sink': '9103'}; port = os.environ.get('NEWSFLOW_METRICS_PORT') or next((p for s, p in defaults.items() if s in argv), '9101'); u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
ENTRYPOINT ["tini", "--", "newsflow"]
CMD ["--help"]
