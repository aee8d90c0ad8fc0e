# syntax=docker/dockerfile:1
# Build a virtualenv from the hashed lock in one stage; the runtime stage only copies it: no
# wheels kept in a layer, no pip run, no package index reachable from the final image's build.
#
# The base is pinned by digest (a tag alone floats). Refresh both stages together with:
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{json .Manifest.Digest}}'
# and run `make test` (tests/foundation/test_container.py checks the pin is present).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/sync-worker
COPY requirements/runtime.lock requirements/build.lock requirements/
RUN /opt/sync-worker/bin/pip install --require-hashes -r requirements/build.lock \
    -r requirements/runtime.lock
COPY pyproject.toml README.md LICENSE ./
COPY sync_worker ./sync_worker
COPY connectors ./connectors
COPY mappings ./mappings
COPY hubspot_sandbox ./hubspot_sandbox
# The project itself, without resolving anything: every dependency came from the lock above.
RUN /opt/sync-worker/bin/pip install --no-deps --no-build-isolation . \
 && /opt/sync-worker/bin/pip uninstall --yes setuptools pip

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="shared-deal-sync" \
      org.opencontainers.image.description="Keeps shared deals consistent between a partner's HubSpot and the rep CRM." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="python:3.11-slim-bookworm"
# tini as PID 1: forwards SIGTERM to the worker and reaps children, so `once`/`backfill`
# (which install no signal handler of their own) stop on `docker stop` instead of being killed.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/sync-worker sync
COPY --from=build /opt/sync-worker /opt/sync-worker
USER sync
WORKDIR /var/lib/sync-worker
# Config by path (mount it); secrets by environment, e.g. SYNC_WORKER_ENDPOINTS__REP__TOKEN,
# or token_file pointing at a mounted secret. State defaults to a SQLite file in the volume.
ENV PATH=/opt/sync-worker/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SYNC_WORKER_CONFIG=/etc/sync-worker/config.toml \
    SYNC_WORKER_WORKER__METRICS_HOST=0.0.0.0 \
    SYNC_WORKER_WORKER__LOG_FORMAT=json
VOLUME ["/var/lib/sync-worker"]
EXPOSE 9464
# Cheap: one HTTP GET of the daemon's /healthz (the [worker] address only, no config
# validation); it exits 0 or 1, never 2 (reserved by Docker).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["sync-worker", "health"]
ENTRYPOINT ["tini", "--", "sync-worker"]
CMD ["run"]
