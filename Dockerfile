# sealgate's container image. Build: buildah bud (or docker build) --build-arg VERSION=... --build-arg REVISION=... .
# BASE is any Debian-like Python >= 3.11 image with `python3 -m venv`; the same base is used in every stage, so the
# virtual environment copied into the last one finds the interpreter it was made with.
ARG BASE=python:3.11-slim

# 1. wheels: the project and all its runtime dependencies, built (or downloaded) once
FROM ${BASE} AS wheels
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY verifier ./verifier
COPY webhook ./webhook
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip wheel --no-cache-dir --wheel-dir /wheels /src

# 2. install: the runtime environment from those wheels only (no index, no build tools), then pip and setuptools removed.
#    The bytecode is compiled once here, hash-based and unchecked (PEP 552: the same bytes on every build, nothing
#    stat'ed at run time): the runtime user cannot write the environment, so without it every `sealgate` run and
#    every webhook start would compile each module it imports again.
FROM ${BASE} AS install
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY --from=wheels /wheels /wheels
RUN python3 -m venv /opt/sealgate \
 && /opt/sealgate/bin/pip install --no-cache-dir --no-compile --no-index --find-links /wheels sealgate \
 && /opt/sealgate/bin/pip uninstall --yes pip setuptools \
 && find /opt/sealgate -name __pycache__ -prune -exec rm -rf {} + \
 && /opt/sealgate/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/sealgate/lib

# 3. runtime: the base plus the environment; no RUN, so no shell is needed or used
FROM ${BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/sealgate/sealgate
LABEL org.opencontainers.image.title="sealgate" \
      org.opencontainers.image.description="Kubernetes admission webhook and CLI verifying cosign signatures and Sigstore bundles" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=install /opt/sealgate /opt/sealgate
ENV PATH=/opt/sealgate/bin:${PATH} PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["sealgate"]
CMD ["serve"]
