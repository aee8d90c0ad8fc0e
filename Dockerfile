# syntax=docker/dockerfile:1
# Build a wheel in one stage, install it in a slim runtime stage as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sync_worker ./sync_worker
COPY connectors ./connectors
COPY mappings ./mappings
COPY hubspot_sandbox ./hubspot_sandbox
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/sync-worker sync
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER sync
WORKDIR /var/lib/sync-worker
# Config by path (mount it); secrets by environment, e.g. SYNC_WORKER_ENDPOINTS__REP__TOKEN,
# or token_file pointing at a mounted secret. State defaults to a SQLite file in the volume.
ENV PYTHONUNBUFFERED=1 \
    SYNC_WORKER_CONFIG=/etc/sync-worker/config.toml \
    SYNC_WORKER_WORKER__METRICS_HOST=0.0.0.0 \
    SYNC_WORKER_WORKER__LOG_FORMAT=json
VOLUME ["/var/lib/sync-worker"]
EXPOSE 9464
# `sync-worker health` asks the daemon's own /healthz on the configured metrics port.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["sync-worker", "health"]
ENTRYPOINT ["sync-worker"]
CMD ["run"]
