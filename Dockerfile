# taskraft node image.
#   docker build -t taskraft:dev .
#   docker build --build-arg PYTHON_IMAGE=localhost/debian-python:bookworm -t taskraft:dev .
# The base must provide python3 (>= 3.11) with venv and pip; the default is the official slim image.
# The final image runs as uid 10001 and works with a read-only root filesystem: it writes only to
# /tmp (HOME, TMPDIR, gunicorn's worker heartbeat) and to the Raft data volume.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Optional, for a private index or a TLS-intercepting proxy; they exist in this build stage only.
ARG PIP_INDEX_URL
ARG PIP_CERT
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
# Build the project wheel, then install it (with cryptography, which pymysql needs for MySQL 8's
# caching_sha2_password over TCP) into a self-contained virtual environment.
RUN python3 -m venv /opt/taskraft \
 && /opt/taskraft/bin/pip install --no-cache-dir "pip>=24" "setuptools>=68" "wheel>=0.42" \
 && /opt/taskraft/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/wheels . \
 && /opt/taskraft/bin/pip install --no-cache-dir /tmp/wheels/taskraft-*.whl "cryptography>=42" \
 && /opt/taskraft/bin/python -c "import cryptography, pymysql, pysyncobj, taskraft.wsgi" \
 && /opt/taskraft/bin/taskraft --version \
 && find /opt/taskraft -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="taskraft" \
      org.opencontainers.image.description="Replicated task service: Raft (PySyncObj) in front of one MySQL per replica" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/taskraft/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TASKRAFT_HTTP_PORT=8080 \
    TASKRAFT_RAFT_PORT=7000 \
    TASKRAFT_DATA_DIR=/var/lib/taskraft/raft \
    TASKRAFT_WORKER_TMP_DIR=/tmp
RUN groupadd --system --gid 10001 taskraft \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin taskraft \
 && mkdir -p /var/lib/taskraft/raft \
 && chown -R 10001:10001 /var/lib/taskraft
COPY --from=builder /opt/taskraft /opt/taskraft
COPY gunicorn.conf.py /app/gunicorn.conf.py
WORKDIR /app
USER 10001:10001
EXPOSE 8080 7000
ENTRYPOINT ["gunicorn", "-c", "/app/gunicorn.conf.py"]
CMD ["taskraft.wsgi:app"]
