# syntax=docker/dockerfile:1
#
# One build, three images, one per long-running role (deploy/README.md shows how they fit):
#
#   docker build --target api   -t hotline-api   .   # the default target (last stage)
#   docker build --target voice -t hotline-voice .
#   docker build --target rasa  -t hotline-rasa  .
#
# Every image runs as the same unprivileged user (UID/GID 10001) in production mode, with its
# writable state under /data. Production refuses to start without its secrets
# (deploy/hotline.env.example lists them). The schema is migrated once per release by
# `hotline db upgrade` (deploy/compose.yaml `migrate`, deploy/kubernetes/base/migrate-job.yaml);
# the workers only check it.
#
# Debian packages follow the base image's security updates rather than pinned versions:
# hadolint global ignore=DL3008

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------
# builder: the project and all its dependencies as wheels, then a venv installed from them
# (no dev extras). Compilers stay in this stage.
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS builder
ARG PYTHON_VERSION
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY knowledge_base knowledge_base
COPY nlu nlu
COPY voice voice
# python3.X by its versioned name: the venv's interpreter link then names the versioned binary,
# which the rasa stage grafts onto its Python 3.10 image.
RUN pip wheel --wheel-dir /wheels . \
 && "python${PYTHON_VERSION}" -m venv /opt/hotline \
 && /opt/hotline/bin/pip install --no-index --find-links /wheels hotline \
 && /opt/hotline/bin/pip uninstall -y pip

# ---------------------------------------------------------------------------------------------
# rasa-builder: Rasa 3.6 (Python 3.10) from the frozen lock, as scripts/setup_rasa.sh does.
FROM python:3.10-slim-${DEBIAN_RELEASE} AS rasa-builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
COPY nlu/requirements-rasa.lock /tmp/requirements-rasa.lock
RUN python3.10 -m venv /opt/rasa \
 && /opt/rasa/bin/python -m pip install --upgrade pip \
 && /opt/rasa/bin/python -m pip install -r /tmp/requirements-rasa.lock

# ---------------------------------------------------------------------------------------------
# runtime: what the API and the voice workers share. libgomp1: LightGBM's OpenMP runtime.
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 hotline \
 && useradd --system --uid 10001 --gid hotline --home-dir /data --shell /usr/sbin/nologin hotline \
 && install -d -o hotline -g hotline -m 0750 /data
COPY --from=builder /opt/hotline /opt/hotline
ENV PATH=/opt/hotline/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOTLINE_ENVIRONMENT=production \
    HOTLINE_DATA_DIR=/data
WORKDIR /data
USER 10001:10001

# ---------------------------------------------------------------------------------------------
# voice: the AudioSocket worker (`hotline voice serve`), with espeak-ng for speech.
FROM runtime AS voice
# root for the install, then back to the service's user
USER 0:0
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001
ENV HOTLINE_AUDIOSOCKET_HOST=0.0.0.0 \
    HOTLINE_AUDIOSOCKET_PORT=9092 \
    HOTLINE_VOICE_METRICS_PORT=9093
EXPOSE 9092 9093
# /healthz of the worker's metrics port; slow start: the worker builds the search index first
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HOTLINE_VOICE_METRICS_PORT', '9093'), timeout=4)"]
CMD ["hotline", "voice", "serve"]

# ---------------------------------------------------------------------------------------------
# rasa: Rasa 3.6 runs on Python 3.10, but the `hotline` command that trains it and writes its
# endpoints (action webhook, SQL tracker store, Redis lock store) needs Python 3.11. Both
# official images are built alike on the same Debian release, so the 3.11 interpreter, its
# standard library and libpython are grafted onto the 3.10 image; /opt/hotline is the same venv
# as in the API image.
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS python-main
FROM python:3.10-slim-${DEBIAN_RELEASE} AS rasa
ARG PYTHON_VERSION
COPY --from=python-main /usr/local/bin/python${PYTHON_VERSION} /usr/local/bin/
COPY --from=python-main /usr/local/lib/python${PYTHON_VERSION} /usr/local/lib/python${PYTHON_VERSION}
COPY --from=python-main /usr/local/lib/libpython${PYTHON_VERSION}.so.1.0 /usr/local/lib/
RUN ldconfig \
 && apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 hotline \
 && useradd --system --uid 10001 --gid hotline --home-dir /data --shell /usr/sbin/nologin hotline \
 && install -d -o hotline -g hotline -m 0750 /data
COPY --from=rasa-builder /opt/rasa /opt/rasa
COPY --from=builder /opt/hotline /opt/hotline
COPY deploy/docker/rasa_serve.py /opt/hotline/rasa_serve.py
# HOTLINE_RASA_VENV: where nlu/runtime.py rasa_executable() finds `rasa` (default .venv-rasa)
ENV PATH=/opt/hotline/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false \
    HOTLINE_RASA_VENV=/opt/rasa \
    HOTLINE_ENVIRONMENT=production \
    HOTLINE_DATA_DIR=/data
WORKDIR /data
USER 10001:10001
# Train at build time, so replicas start in seconds and never train at once: the model lands in
# /data/rasa/models under the hash of the Rasa project, which is what `serve` looks for.
# (development: the build has no production secrets; the model does not depend on them)
RUN HOTLINE_ENVIRONMENT=development hotline rasa train
EXPOSE 5005
# Rasa answers "/" once its model is loaded
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5005/', timeout=4)"]
# `hotline rasa serve` on all interfaces (it binds 127.0.0.1 itself); see rasa_serve.py
ENTRYPOINT ["/opt/hotline/bin/python", "/opt/hotline/rasa_serve.py"]
CMD ["--port", "5005", "--api-url", "http://api:8000"]

# ---------------------------------------------------------------------------------------------
# api: the FastAPI service (`hotline serve`); the last stage, so `docker build .` gives it.
FROM runtime AS api
EXPOSE 8000
# /readyz: the index is loaded and the database answers (the first start builds the index)
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["hotline", "serve", "--host", "0.0.0.0", "--port", "8000"]
