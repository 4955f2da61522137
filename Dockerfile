# syntax=docker/dockerfile:1
# dmp-gateway production image: multi-stage, non-root, for a read-only root filesystem.
#
#   docker run --read-only --tmpfs /tmp:size=64m -v gateway-data:/data \
#     -e GATEWAY_SECRETS_DIR=/run/secrets ... dmp-gateway
#
# Only /data (the volume: SQLite when there is no PostgreSQL, export files) and /tmp
# (a tmpfs: the Prometheus multiprocess files) are written. See docker-compose.yml.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN python -m venv /opt/gateway \
    && /opt/gateway/bin/pip install --upgrade pip \
    && /opt/gateway/bin/pip install . \
    && /opt/gateway/bin/python -m compileall -q /opt/gateway/lib

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_DATA_DIR=/data \
    PROMETHEUS_MULTIPROC_DIR=/tmp/gateway-metrics
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /data --shell /usr/sbin/nologin gateway \
    && mkdir -p /data && chown gateway:gateway /data
COPY --from=build /opt/gateway /opt/gateway
COPY profiles /opt/gateway/profiles
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["dmp-gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
