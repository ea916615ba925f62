# The model API image: the exported artifact served by `mlops-template serve`, and nothing of training.
#
# Build with `make image` (scripts/image.py): it first puts the locked wheels of the `serve` extra and
# the project's own wheel in build/image/wheels/, then runs `docker build --network none`: the build
# installs only those files, so it needs no index and resolves nothing anew.
#
# Run (read-only root: the app writes only to /tmp and to the prediction-log volume):
#   docker run --read-only --tmpfs /tmp -p 8000:8000 -e MLOPS_API_KEYS=... mlops-template:latest
# Environment: MLOPS_HOST, MLOPS_PORT, WEB_CONCURRENCY (uvicorn workers), MLOPS_API_KEYS or
# MLOPS_API_KEYS_FILE, MLOPS_PREDICTION_LOG, PROMETHEUS_MULTIPROC_DIR.

# python:3.11-slim-bookworm matches the wheelhouse (CPython 3.11, glibc 2.36). Where no registry is
# reachable, scripts/debian_base.py makes the same base from Debian's mirror with debootstrap.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- builder: a venv with exactly the locked wheels, and the model files made world-readable --------
FROM ${BASE_IMAGE} AS builder

COPY build/image/wheels/ /wheels/
# --no-index --no-deps: the pinned closure from uv.lock and nothing else; `pip check` proves it is whole.
# pip and setuptools leave the venv afterwards: the runtime installs nothing.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links=/wheels --no-deps --disable-pip-version-check \
        --requirement /wheels/requirements.txt /wheels/mlops_template-*.whl \
    && /opt/venv/bin/pip check --disable-pip-version-check \
    && /opt/venv/bin/pip uninstall --yes --disable-pip-version-check pip setuptools

# The exported artifact (model.onnx, contract.json, served.json) and, when evaluate has written it, the
# model card: the [n] glob matches nothing instead of failing when the card is absent (the directory
# MODEL_CARD_DIR itself must exist; reports/ is in git).
ARG MODEL_DIR=models/served MODEL_CARD_DIR=reports
COPY ${MODEL_DIR}/ ${MODEL_CARD_DIR}/model_card.jso[n] /model/
# COPY keeps the context's modes (a 0600 file would be unreadable by the app user): normalise them.
RUN chmod -R u=rwX,go=rX /model

# --- runtime: the base, a non-root user, the venv, the model -----------------------------------------
FROM ${BASE_IMAGE} AS runtime

# A fixed uid/gid, so volumes and Kubernetes' runAsUser can name it; no home, no login shell.
# /var/lib/mlops-template holds the prediction log (SQLite and its WAL beside it): a volume.
RUN useradd --no-log-init --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin mlops \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/mlops-template

# The settings come before the large COPYs: each instruction snapshots the file system, and the
# snapshot is cheapest while the image is still only the base (and stays cached across models).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MLOPS_HOST=0.0.0.0 \
    MLOPS_PORT=8000 \
    MLOPS_MODEL_DIR=/opt/model \
    MLOPS_PREDICTION_LOG=/var/lib/mlops-template/predictions.sqlite3 \
    WEB_CONCURRENCY=1
VOLUME ["/var/lib/mlops-template"]
EXPOSE 8000
# Python's own HTTP client: the image needs no curl. A non-2xx answer or no answer exits non-zero.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:' + os.environ.get('MLOPS_PORT', '8000') + '/health', timeout=2)"]
# exec: the server is PID 1 and gets SIGTERM itself (graceful shutdown); the shell only expands the env.
CMD ["/bin/sh", "-c", "exec mlops-template serve --model-dir \"$MLOPS_MODEL_DIR\" --host \"$MLOPS_HOST\" --port \"$MLOPS_PORT\""]
USER 10001:10001

# Owned by root and read-only to the app: the server cannot alter its own code or model.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /model /opt/model

# Last, so a new commit or model changes only this metadata, not the cached layers above. `created` is
# the commit's time, not the clock's: the same commit and model give the same labels.
ARG SOURCE="" REVISION=unknown CREATED=1970-01-01T00:00:00Z VERSION=0.0.0 MODEL_VERSION=unknown DATA_VERSION=unknown
LABEL org.opencontainers.image.title="mlops-template" \
      org.opencontainers.image.description="Scoring API serving the exported ONNX model (see its model card)" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.version="${VERSION}" \
      mlops-template.model.version="${MODEL_VERSION}" \
      mlops-template.data.version="${DATA_VERSION}"
